"""The Keras "Knowledge Distillation" experiment on Fashion-MNIST, measured.

Teacher CNN (5 epochs, cached), student CNN from scratch and distilled (3 epochs,
alpha 0.1, T 10, "kl"), several student seeds; beside skkd it times the
teacher-on-every-batch way (``teacher_inference="per_batch"``) and a minimal
hand-written PyTorch loop; it chooses a better recipe with GridSearchCV on a
validation split of the training data (never the test set) and reports it at
the 3- and 10-epoch budgets.

    python benchmarks/keras_example.py            # the full run (~20 min on 2 cores)
    python benchmarks/keras_example.py --quick    # a smoke run on 6,000 images

Writes ``benchmarks/results/keras_example.{json,md}`` (``--quick``: ``*-quick.*``).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from common import RESULTS, checksum, cosine, log, machine, mean_std
from handwritten import accuracy, predict_logits, train_epoch
from sklearn.model_selection import GridSearchCV, PredefinedSplit, train_test_split
from teacher_cache import get_teacher

from skkd import DistilledClassifier
from skkd.datasets import load_fashion_mnist
from skkd.demo._experiments import run_phase
from skkd.models import cnn_student
from skkd.teachers import as_teacher

EXAMPLE = {"alpha": 0.1, "temperature": 10.0, "loss": "kl", "lr": 1e-3}


def grid(n_fit: int) -> list[dict]:
    """Candidates: (loss, alpha, T, lr, schedule); alpha=1 is training from scratch."""
    annealed = [[cosine(n_fit, 3)]]
    return [
        {"loss": ["kl"], "alpha": [0.3, 0.5, 0.7], "temperature": [1.0, 2.0, 4.0],
         "lr": [3e-3, 6e-3], "callbacks": annealed},
        {"loss": ["mse"], "alpha": [0.5], "lr": [3e-3], "callbacks": annealed},
        {"alpha": [1.0], "lr": [1e-3, 3e-3, 6e-3], "callbacks": annealed},
        # the constant-lr bests of the first grid (benchmarks/results/keras_example-constant-lr.md)
        {"loss": ["kl"], "alpha": [0.5], "temperature": [2.0], "lr": [3e-3]},
        {"alpha": [1.0], "lr": [1e-3, 3e-3]},
    ]


class _ReferencePool(torch.nn.Module):
    """The straightforward same-padding max pool (``F.max_pool2d``), as a port would write it."""

    def forward(self, x):
        return F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=float("-inf")), 2, stride=1)


def reference_copy(teacher: torch.nn.Module) -> torch.nn.Module:
    ref = copy.deepcopy(teacher)
    ref.features[2] = _ReferencePool()
    return ref.eval()


def time_pass(fn, n_images: int) -> dict:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "images_per_second": n_images / seconds}


def naive_pass(module, X, batch_size=32):
    with torch.no_grad():
        return torch.cat([module(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def _plain(params: dict) -> dict:
    """A candidate as JSON: the callbacks become a schedule name."""
    out = {k: v for k, v in params.items() if k != "callbacks"}
    out["schedule"] = "cosine" if params.get("callbacks") else "constant"
    return out


def choose_recipe(teacher, X, y, quick: bool) -> dict:
    """GridSearchCV on one stratified train/validation split of the training data."""
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=0.1 if quick else 10_000, stratify=y, random_state=0)
    X_all = np.concatenate([X_fit, X_val])
    y_all = np.concatenate([y_fit, y_val])
    split = PredefinedSplit(np.r_[np.full(len(X_fit), -1), np.zeros(len(X_val), int)])
    logits = as_teacher(teacher).logits(X_all, batch_size=32)
    search = GridSearchCV(
        DistilledClassifier(module="cnn-student", max_epochs=3, random_state=0),
        grid(len(X_fit)), cv=split, refit=False, error_score="raise", verbose=1,
    )
    start = time.perf_counter()
    search.fit(X_all, y_all, teacher_logits=logits)
    seconds = time.perf_counter() - start
    rows = [{**_plain(params), "val_accuracy": float(score)} for params, score in
            zip(search.cv_results_["params"], search.cv_results_["mean_test_score"],
                strict=True)]
    distilled = max((r for r in rows if r["alpha"] < 1), key=lambda r: r["val_accuracy"])
    scratch = max((r for r in rows if r["alpha"] == 1), key=lambda r: r["val_accuracy"])
    log(f"grid: {len(rows)} candidates in {seconds:.0f} s; best distilled "
        f"{distilled}; best scratch {scratch}")
    return {"candidates": rows, "best_distilled": distilled, "best_scratch": scratch,
            "seconds": seconds,
            "split": {"fit": len(X_fit), "validation": len(X_val)}}


def skkd_phase(name, X, y, Xt, yt, **params):
    clf = DistilledClassifier(module="cnn-student", random_state=params.pop("seed"), **params)
    result, clf = run_phase(name, clf, X, y, Xt, yt, progress=False, curve=False)
    epochs = list(clf.history_[:, "dur"])
    log(f"  {name}: {100 * result.test_accuracy:.2f} %  {result.fit_seconds:.1f} s  "
        f"(epochs {', '.join(f'{d:.1f}' for d in epochs)} s)")
    return {"test_accuracy": result.test_accuracy, "seconds": result.fit_seconds,
            "epoch_seconds": epochs, "n_params": result.n_params}


def handwritten_phase(name, seed, X, y, Xt, yt, epochs, teacher=None, alpha=1.0, T=1.0):
    torch.manual_seed(seed)
    model = cnn_student(X.shape[1], 10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    logits = predict_logits(teacher, X, batch_size=32) if teacher is not None else None
    epoch_seconds = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        train_epoch(model, opt, X, y, batch_size=32, teacher_logits=logits, alpha=alpha,
                    temperature=T)
        epoch_seconds.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - start
    acc = accuracy(model, Xt, yt)
    log(f"  {name}: {100 * acc:.2f} %  {seconds:.1f} s  "
        f"(epochs {', '.join(f'{d:.1f}' for d in epoch_seconds)} s)")
    return {"test_accuracy": acc, "seconds": seconds, "epoch_seconds": epoch_seconds}


def run_seed(seed, teacher, recipe, scratch, data, long_epochs, timing=True):
    X, y, Xt, yt = data
    Xtt, ytt, Xtet, ytet = (torch.as_tensor(a) for a in data)
    tuned = {k: recipe[k] for k in ("alpha", "temperature", "loss", "lr") if k in recipe}
    n = len(X)

    def schedule(row, epochs):
        return {"callbacks": [cosine(n, epochs)]} if row["schedule"] == "cosine" else {}

    out = {}
    log(f"seed {seed}")
    out["scratch"] = skkd_phase("scratch (skkd)", X, y, Xt, yt, seed=seed, max_epochs=3)
    out["distilled_example"] = skkd_phase(
        "distilled, example recipe (skkd)", X, y, Xt, yt, seed=seed, max_epochs=3,
        teacher=teacher, **EXAMPLE)
    if timing:
        out["distilled_example_per_batch"] = skkd_phase(
            "distilled, example recipe, teacher on every batch (skkd)", X, y, Xt, yt,
            seed=seed, max_epochs=3, teacher=teacher, teacher_inference="per_batch", **EXAMPLE)
        out["handwritten_scratch"] = handwritten_phase(
            "scratch (hand-written loop)", seed, Xtt, ytt, Xtet, ytet, 3)
        out["handwritten_distilled"] = handwritten_phase(
            "distilled, example recipe (hand-written loop)", seed, Xtt, ytt, Xtet, ytet, 3,
            teacher=teacher, alpha=EXAMPLE["alpha"], T=EXAMPLE["temperature"])
    out["distilled_tuned"] = skkd_phase(
        "distilled, tuned recipe (skkd)", X, y, Xt, yt, seed=seed, max_epochs=3,
        teacher=teacher, **tuned, **schedule(recipe, 3))
    out["scratch_tuned_lr"] = skkd_phase(
        "scratch, tuned lr (skkd)", X, y, Xt, yt, seed=seed, max_epochs=3, lr=scratch["lr"],
        **schedule(scratch, 3))
    if long_epochs:
        out[f"scratch_{long_epochs}"] = skkd_phase(
            f"scratch, {long_epochs} epochs", X, y, Xt, yt, seed=seed, max_epochs=long_epochs)
        out[f"scratch_tuned_lr_{long_epochs}"] = skkd_phase(
            f"scratch, tuned lr, {long_epochs} epochs", X, y, Xt, yt, seed=seed,
            max_epochs=long_epochs, lr=scratch["lr"], **schedule(scratch, long_epochs))
        out[f"distilled_tuned_{long_epochs}"] = skkd_phase(
            f"distilled, tuned recipe, {long_epochs} epochs", X, y, Xt, yt, seed=seed,
            max_epochs=long_epochs, teacher=teacher, **tuned, **schedule(recipe, long_epochs))
    return out


def summarize(report) -> str:
    runs = report["seeds"]
    keys = list(runs[0])
    m = report["machine"]
    lines = [
        "# The Keras example on Fashion-MNIST, measured",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} "
        f"({m['torch_threads']} threads), Python {m['python']}, skkd {m['skkd']}.",
        f"Teacher: one cached teacher (seed {report['teacher']['seed']}, protocol "
        f"{json.dumps(report['teacher']['protocol'])}), trained by the hand-written loop in "
        f"{report['teacher']['fit_seconds']:.0f} s; test accuracy "
        f"{100 * report['teacher']['test_accuracy']:.2f} %. Students: seeds "
        f"{', '.join(str(s) for s in report['student_seeds'])} (mean ± std).",
        "",
        "| phase | test accuracy (%) | wall time (s) |",
        "|---|---|---|",
    ]
    for key in keys:
        acc = mean_std([100 * r[key]["test_accuracy"] for r in runs])
        sec = mean_std([r[key]["seconds"] for r in runs])
        lines.append(f"| {key.replace('_', ' ')} | {acc[0]:.2f} ± {acc[1]:.2f} | "
                     f"{sec[0]:.1f} ± {sec[1]:.1f} |")
    t = report["targets"]
    lines += ["", "## Targets", ""]
    lines += [f"- {name}: {value}" for name, value in t.items()]
    g = report["grid"]
    lines += [
        "",
        f"## Recipe chosen on a validation split ({g['split']['fit']:,} fit / "
        f"{g['split']['validation']:,} validation images of the training set, student seed 0, "
        "3 epochs)",
        "",
        "| loss | alpha | T | lr | schedule | validation accuracy (%) |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(g["candidates"], key=lambda r: -r["val_accuracy"]):
        lines.append(f"| {row.get('loss', '-') if row['alpha'] < 1 else '(scratch)'} | "
                     f"{row['alpha']} | {row.get('temperature', '-')} | {row['lr']} | "
                     f"{row['schedule']} | "
                     f"{100 * row['val_accuracy']:.2f} |")
    p = report["teacher_pass"]
    lines += [
        "",
        "## Teacher inference pass over the 60,000 training images",
        "",
        "| pass | seconds | images/s |",
        "|---|---|---|",
    ]
    for name, row in p.items():
        lines.append(f"| {name.replace('_', ' ')} | {row['seconds']:.1f} | "
                     f"{row['images_per_second']:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--teacher-seed", type=int, default=0)
    parser.add_argument("--long-epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="6,000 images, 1 seed: a smoke run")
    parser.add_argument("--recipe", help="JSON of a recipe to use instead of the grid search")
    parser.add_argument("--teacher-recipe", choices=["example", "cosine"], default="example",
                        help="the example's teacher, or the same one trained with an annealed lr")
    parser.add_argument("--skip-timing", action="store_true",
                        help="accuracy only: skip the per-batch and hand-written phases")
    args = parser.parse_args(argv)

    X, y, Xt, yt = load_fashion_mnist()
    teacher, teacher_info = get_teacher(args.teacher_seed, X, y, Xt, yt, log=log,
                                        recipe=args.teacher_recipe)
    teacher_test = accuracy(teacher, torch.as_tensor(Xt), torch.as_tensor(yt))
    if args.quick:
        X, y, Xt, yt = X[:6000], y[:6000], Xt[:2000], yt[:2000]
        args.seeds, args.long_epochs = 1, 0
    data = (X, y, Xt, yt)
    before = checksum(teacher)
    report = {"machine": machine(), "quick": args.quick,
              "teacher": {"seed": args.teacher_seed, "test_accuracy": teacher_test,
                          "fit_seconds": teacher_info["fit_seconds"],
                          "epochs": teacher_info["protocol"]["epochs"], **teacher_info}}
    log(json.dumps(report["machine"]))

    X_t = torch.as_tensor(X)
    report["teacher_pass"] = {
        "batch_32_no_grad_reference_pool": time_pass(
            lambda: naive_pass(reference_copy(teacher), X_t), len(X)),
        "batch_32_no_grad": time_pass(lambda: naive_pass(teacher, X_t), len(X)),
        "skkd": time_pass(lambda: as_teacher(teacher).logits(X, batch_size=32), len(X)),
    }
    log("teacher pass:", json.dumps(report["teacher_pass"]))

    if args.recipe:
        report["grid"] = json.loads(Path(args.recipe).read_text())["grid"]
    else:
        report["grid"] = choose_recipe(teacher, X, y, args.quick)
    recipe = report["grid"]["best_distilled"]
    scratch = report["grid"]["best_scratch"]

    report["student_seeds"] = list(range(args.seeds))
    report["seeds"] = [run_seed(s, teacher, recipe, scratch, data, args.long_epochs,
                                timing=not args.skip_timing)
                       for s in report["student_seeds"]]
    report["teacher_unchanged"] = checksum(teacher) == before
    report["targets"] = targets(report)
    for line in report["targets"].items():
        log(*line)

    RESULTS.mkdir(exist_ok=True)
    stem = "keras_example" + ("-cosine-teacher" if args.teacher_recipe == "cosine" else "")
    stem += "-quick" if args.quick else ""
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"{stem}.md").write_text(summarize(report))
    log(f"wrote {RESULTS / stem}.json and .md")


def targets(report) -> dict:
    runs = report["seeds"]

    def acc(key):
        return mean_std([100 * r[key]["test_accuracy"] for r in runs])

    def fmt(pair):
        return f"{pair[0]:.2f} ± {pair[1]:.2f} %"

    passes = report["teacher_pass"]
    skkd_pass = passes["skkd"]["seconds"]
    out = {
        "example recipe: distilled vs scratch (3 epochs)":
            f"{fmt(acc('distilled_example'))} vs {fmt(acc('scratch'))}",
        "tuned recipe: distilled - scratch (3 epochs), target >= +0.5":
            f"{acc('distilled_tuned')[0] - acc('scratch')[0]:+.2f} points "
            f"({fmt(acc('distilled_tuned'))} vs {fmt(acc('scratch'))}); vs scratch at its own "
            f"tuned lr: {acc('distilled_tuned')[0] - acc('scratch_tuned_lr')[0]:+.2f}",
    }
    long_key = next((k for k in runs[0] if k.startswith("distilled_tuned_")), None)
    if long_key:
        n = long_key.rsplit("_", 1)[1]
        out[f"tuned recipe: distilled - scratch ({n} epochs)"] = (
            f"{acc(long_key)[0] - acc(f'scratch_{n}')[0]:+.2f} points "
            f"({fmt(acc(long_key))} vs {fmt(acc(f'scratch_{n}'))}); vs scratch at its tuned "
            f"lr: {acc(long_key)[0] - acc(f'scratch_tuned_lr_{n}')[0]:+.2f}")
    ratios = [r["distilled_example"]["seconds"] / (skkd_pass + r["scratch"]["seconds"])
              for r in runs]
    out["distillation wall / (teacher pass + scratch), target <= 1.1"] = (
        f"{statistics.fmean(ratios):.3f} (teacher pass {skkd_pass:.1f} s)")
    if "distilled_example_per_batch" in runs[0]:
        per_batch = [r["distilled_example_per_batch"]["seconds"]
                     / r["distilled_example"]["seconds"] for r in runs]
        out["teacher on every batch / skkd distillation"] = f"{statistics.fmean(per_batch):.2f}x"
    out["teacher pass / batch-32 no_grad pass of the reference port, target <= 0.8"] = (
        f"{skkd_pass / passes['batch_32_no_grad_reference_pool']['seconds']:.2f} "
        f"({passes['skkd']['images_per_second']:,.0f} vs "
        f"{passes['batch_32_no_grad_reference_pool']['images_per_second']:,.0f} images/s); "
        f"same pool: {skkd_pass / passes['batch_32_no_grad']['seconds']:.2f}")
    if "handwritten_scratch" in runs[0]:
        epoch_ratio = [statistics.fmean(r["scratch"]["epoch_seconds"])
                       / statistics.fmean(r["handwritten_scratch"]["epoch_seconds"])
                       for r in runs]
        out["skkd epoch / hand-written epoch, target <= 1.10"] = (
            f"{statistics.fmean(epoch_ratio):.3f}")
    out["teacher bit-for-bit unchanged"] = str(report["teacher_unchanged"])
    return out


if __name__ == "__main__":
    main()
