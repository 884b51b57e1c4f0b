"""Fashion-MNIST: does feature distillation (FitNets, attention transfer) help the Keras CNNs?

Teacher: the Keras example's CNN teacher, ``cosine`` protocol of
``teacher_cache.py``, seed 0 (cached). Student: ``cnn-student`` at 3 and 10
epochs, student seeds 0, 1, 2, batch 32, Adam with a cosine-annealed lr.
Three arms, all with the output-distillation recipe that
``keras_example.py`` chose on its validation split with this teacher
protocol (``kl``, alpha 0.3, T 4, lr 6e-3, cosine;
``results/keras_example-cosine-teacher.md``):

- ``kd``: output distillation alone;
- ``fitnets``: + FitNets hints (MSE through a learned 1x1-conv adapter);
- ``at``: + attention transfer.

Each hint arm's recipe (which layers, ``hint_weight``) is chosen on one
stratified validation split of the training set (50,000 fit / 10,000
validation images, student seed 0, 3 epochs), kept at 10 epochs; the test set
is never used to choose. Layers: ``block1`` pairs the first block's pooled
output (``features.2``: 16 vs 256 channels, 14x14); ``both`` adds the second
convolution (``features.3``: 32 vs 512 channels, 7x7).

The fits run in worker processes side by side (``--workers``), so their
fit times include contention; the cost of each arm alone is timed first, in
the main process, on one epoch over 10,000 images.

    python benchmarks/fashion_hints.py --device cuda --workers 12   # ~8 min on one H200
    python benchmarks/fashion_hints.py --quick                      # smoke run, CPU

Writes ``benchmarks/results/fashion_hints.{json,md}`` (``--quick``:
``*-quick.*``), and a copy plus one JSON line per fit into ``--out``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import RESULTS, checksum, cosine, log, machine, mean_std, write_results
from sklearn.model_selection import train_test_split
from teacher_cache import get_teacher

from skkd import DistilledClassifier
from skkd.datasets import load_fashion_mnist
from skkd.models import cnn_teacher

#: Chosen on the validation split by keras_example.py (cosine-teacher run).
KD = {"loss": "kl", "alpha": 0.3, "temperature": 4.0, "lr": 6e-3}
PAIRS = {
    "block1": [("features.2", "features.2")],
    "both": [("features.2", "features.2"), ("features.3", "features.3")],
}
WEIGHTS = {"fitnets": (0.1, 1.0, 10.0), "at": (1.0, 10.0, 100.0)}
ARMS = ("kd", "fitnets", "at")
SEEDS = (0, 1, 2)
BUDGETS = (3, 10)

# Set in each worker by _init.
_W: dict = {}


def estimator(job: dict, teacher, n_rows: int, device: str) -> DistilledClassifier:
    hint = {}
    if job["arm"] != "kd":
        hint = {"hints": PAIRS[job["pairs"]], "hint_loss": job["arm"],
                "hint_weight": job["hint_weight"]}
    return DistilledClassifier(
        teacher, module="cnn-student", max_epochs=job["epochs"], random_state=job["seed"],
        device=device, teacher_batch_size=1024, callbacks=[cosine(n_rows, job["epochs"])],
        **KD, **hint)


def _init(data_file: str, teacher_file: str, device: str, threads: int, workers: int) -> None:
    torch.set_num_threads(threads)
    _W["workers"] = workers
    blob = np.load(data_file)
    _W.update({k: blob[k] for k in blob.files})
    teacher = cnn_teacher(784, 10)
    teacher.load_state_dict(torch.load(teacher_file, weights_only=True))
    _W["teacher"] = teacher.to(device).eval()
    _W["checksum"] = checksum(_W["teacher"])
    _W["device"] = device


def fit_one(job: dict) -> dict:
    """Fit one student; score it on the validation split or on the test set."""
    w = _W
    if job["stage"] == "val":
        X, y = w["X"][w["fit_idx"]], w["y"][w["fit_idx"]]
        Xe, ye = w["X"][w["val_idx"]], w["y"][w["val_idx"]]
    else:
        X, y, Xe, ye = w["X"], w["y"], w["Xt"], w["yt"]
    clf = estimator(job, w["teacher"], len(X), w["device"])
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    pred = clf.predict(Xe)
    out = {**job, "accuracy": float(np.mean(pred == ye)), "seconds": seconds,
           "epoch_seconds": [float(d) for d in clf.history_[:, "dur"]], "pid": os.getpid(),
           "workers": w["workers"], "teacher_unchanged": checksum(w["teacher"]) == w["checksum"]}
    if job["stage"] == "test":
        out["fidelity"] = float(np.mean(pred == w["teacher_test_pred"]))
    return out


def time_arms(teacher, X, y, device: str, n_rows: int) -> list[dict]:
    """Seconds per training step of each arm alone: one epoch over ``n_rows`` images."""
    warm = {"arm": "at", "pairs": "both", "hint_weight": 1.0, "seed": 0, "epochs": 1}
    estimator(warm, teacher, 512, device).fit(X[:512], y[:512])  # CUDA/cuDNN start-up
    rows = []
    for arm, pairs in (("kd", None), ("fitnets", "block1"), ("fitnets", "both"),
                       ("at", "block1"), ("at", "both")):
        job = {"arm": arm, "pairs": pairs, "hint_weight": 1.0, "seed": 0, "epochs": 1}
        clf = estimator(job, teacher, n_rows, device)
        start = time.perf_counter()
        clf.fit(X[:n_rows], y[:n_rows])
        seconds = time.perf_counter() - start
        steps = -(-n_rows // clf.batch_size)
        rows.append({"arm": arm, "pairs": pairs, "rows": n_rows, "seconds": seconds,
                     "ms_per_step": 1000 * seconds / steps})
        log(f"  alone: {arm} {pairs or ''}: {seconds:.1f} s, {rows[-1]['ms_per_step']:.2f} "
            "ms/step")
    return rows


def _best(results: list[dict], arm: str) -> dict:
    rows = [r for r in results if r["stage"] == "val" and r["arm"] == arm]
    return max(rows, key=lambda r: r["accuracy"])


def _job_key(job: dict) -> tuple:
    return tuple(job[k] for k in ("stage", "arm", "pairs", "hint_weight", "seed", "epochs"))


def run_pool(args, data_file, teacher_file, deadline) -> tuple[list[dict], bool]:
    """Validation fits, then test fits as their recipes are known; stop at ``deadline``.

    Fits recorded in ``args.resume`` (a ``fits.jsonl`` of an earlier run that
    stopped at its deadline) are kept and not run again.
    """
    out_lines = Path(args.out) / "fits.jsonl" if args.out else None
    results: list[dict] = []
    if args.resume:
        results = [json.loads(line) for line in Path(args.resume).read_text().splitlines()]
        log(f"resuming: {len(results)} fits kept from {args.resume}")
    if out_lines:
        out_lines.write_text("".join(json.dumps(r) + "\n" for r in results))
    done_keys = {_job_key(r) for r in results}
    budgets = (1, 2) if args.quick else BUDGETS
    val_jobs = [{"stage": "val", "arm": "kd", "pairs": None, "hint_weight": None, "seed": 0,
                 "epochs": budgets[0]}]
    for arm in ("fitnets", "at"):
        for pairs in PAIRS:
            for weight in WEIGHTS[arm]:
                val_jobs.append({"stage": "val", "arm": arm, "pairs": pairs,
                                 "hint_weight": weight, "seed": 0, "epochs": budgets[0]})

    def test_jobs(arm, pairs=None, weight=None):
        return [{"stage": "test", "arm": arm, "pairs": pairs, "hint_weight": weight,
                 "seed": s, "epochs": e} for e in sorted(budgets, reverse=True) for s in SEEDS]

    def new(jobs):
        return [j for j in jobs if _job_key(j) not in done_keys]

    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init,
                                  initargs=(data_file, teacher_file, args.device, args.threads,
                                            args.workers))
    pending = {pool.submit(fit_one, j) for j in new(val_jobs + test_jobs("kd"))}
    n_val, chosen, complete = len(val_jobs), False, True
    while True:
        if not chosen and sum(r["stage"] == "val" for r in results) == n_val:
            chosen = True
            for arm in ("fitnets", "at"):
                best = _best(results, arm)
                log(f"chosen for {arm}: {best['pairs']}, hint_weight {best['hint_weight']} "
                    f"(validation {100 * best['accuracy']:.2f} %)")
                pending |= {pool.submit(fit_one, j)
                            for j in new(test_jobs(arm, best["pairs"], best["hint_weight"]))}
        if not pending:
            break
        timeout = None if deadline == float("inf") else max(deadline - time.perf_counter(), 0)
        done, pending = cf.wait(pending, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        if not done:  # the deadline passed
            complete = False
            log(f"deadline: {len(pending)} fits unfinished, stopping them")
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            break
        for future in done:
            r = future.result()
            results.append(r)
            log(f"  {r['stage']} {r['arm']} {r['pairs'] or ''} w={r['hint_weight']} "
                f"seed {r['seed']} {r['epochs']} ep: {100 * r['accuracy']:.2f} % "
                f"({r['seconds']:.0f} s)")
            if out_lines:
                with out_lines.open("a") as fh:
                    fh.write(json.dumps(r) + "\n")
    if complete:
        pool.shutdown()
    return results, complete


def _fit_seconds(rows: list[dict], workers: int) -> str:
    """Mean fit time of the fits that ran ``workers`` side by side; others listed apart."""
    main = [r["seconds"] for r in rows if r["workers"] == workers]
    text = f"{statistics.fmean(main):.0f}" if main else "-"
    for r in rows:
        if r["workers"] != workers:
            text += f" ({r['seconds']:.0f} with {r['workers']} side by side)"
    return text


def summarize(report: dict) -> str:
    m = report["machine"]
    fits = report["fits"]
    # the number of fits side by side that most fits ran with (a resumed run may differ)
    counts = [r["workers"] for r in fits]
    workers = max(set(counts), key=counts.count)
    lines = [
        "# Fashion-MNIST: feature distillation (FitNets, attention transfer) vs outputs alone",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m.get('gpu') or 'no GPU'}; torch "
        f"{m['torch']}, Python {m['python']}, skkd {m['skkd']}; device `{report['device']}`; "
        f"{workers} fits side by side, {report['threads']} torch thread(s) each. "
        f"Run time {report['seconds'] / 60:.1f} min"
        + ("." if report["complete"] else " (stopped at its deadline: missing fits are "
           "marked).")
        + (" **Smoke run on a subset: not a result.**" if report["quick"] else "")
        + (f" {report['resumed_fits']} of the {len(report['fits'])} fits come from an earlier "
           "run of this script that stopped at its deadline (`--resume`); the others ran in "
           f"a second run, {report['workers']} side by side." if report.get("resumed_fits")
           else ""),
        "",
        f"Teacher: Keras example CNN teacher, `cosine` protocol, seed 0, trained on "
        f"{report['teacher']['device']} in {report['teacher']['fit_seconds']:.0f} s; test "
        f"accuracy {100 * report['teacher']['test_accuracy']:.2f} %; bit-for-bit unchanged "
        f"after every fit: {report['teacher_unchanged']}.",
        "",
        f"Students: `cnn-student`, seeds {list(SEEDS)}, mean ± std. Every arm: `kl`, alpha "
        f"{KD['alpha']}, T {KD['temperature']}, lr {KD['lr']} cosine-annealed, batch 32. "
        "Fidelity: top-1 agreement with the teacher on the test set. Fit time: one fit, "
        f"measured while {workers} fits shared the machine (see the table of "
        "arms alone below for their own costs).",
        "",
        "| arm | hints | hint_weight | epochs | seeds | test accuracy (%) | fidelity (%) | "
        "fit (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    budgets = sorted({r["epochs"] for r in fits if r["stage"] == "test"})
    for epochs in budgets:
        for arm in ARMS:
            rows = [r for r in fits if r["stage"] == "test" and r["arm"] == arm
                    and r["epochs"] == epochs]
            if not rows:
                lines.append(f"| {arm} | | | {epochs} | 0 | (not run) | | |")
                continue
            acc, acc_sd = mean_std([100 * r["accuracy"] for r in rows])
            fid, fid_sd = mean_std([100 * r["fidelity"] for r in rows])
            lines.append(
                f"| {arm} | {rows[0]['pairs'] or '-'} | {rows[0]['hint_weight'] or '-'} | "
                f"{epochs} | {len(rows)} | {acc:.2f} ± {acc_sd:.2f} | {fid:.2f} ± {fid_sd:.2f} "
                f"| {_fit_seconds(rows, workers)} |")
    lines += ["", "## Hints against outputs alone (test accuracy, points)", ""]
    for epochs in budgets:
        kd = [100 * r["accuracy"] for r in fits if r["stage"] == "test" and r["arm"] == "kd"
              and r["epochs"] == epochs]
        for arm in ("fitnets", "at"):
            rows = [100 * r["accuracy"] for r in fits if r["stage"] == "test"
                    and r["arm"] == arm and r["epochs"] == epochs]
            if kd and rows:
                diff = statistics.fmean(rows) - statistics.fmean(kd)
                lines.append(f"- {epochs} epochs, kd + {arm} − kd: {diff:+.2f} "
                             f"({len(rows)} vs {len(kd)} seeds)")
    lines += ["", f"## Recipe chosen on the validation split ({report['split'][0]:,} fit / "
              f"{report['split'][1]:,} validation images of the training set, student seed 0, "
              f"{report['val_epochs']} epochs)", "",
              "| arm | hints | hint_weight | validation accuracy (%) |", "|---|---|---|---|"]
    for r in sorted((r for r in fits if r["stage"] == "val"), key=lambda r: -r["accuracy"]):
        lines.append(f"| {r['arm']} | {r['pairs'] or '-'} | {r['hint_weight'] or '-'} | "
                     f"{100 * r['accuracy']:.2f} |")
    runs = report["timing_runs"]
    lines += ["", f"## Each arm alone: one epoch over {runs[0][0]['rows']:,} images "
              "(hint_weight 1), nothing else running", "",
              "ms per training step, fit time over steps"
              + (", in each run of the script" if len(runs) > 1 else "") + ":", "",
              "| arm | hints | " + " | ".join(f"ms per step (run {i + 1}) | × kd"
                                             for i in range(len(runs))) + " |",
              "|---|---|" + "---|---|" * len(runs)]
    for k, t in enumerate(runs[0]):
        cells = " | ".join(f"{run[k]['ms_per_step']:.2f} | "
                           f"{run[k]['ms_per_step'] / run[0]['ms_per_step']:.2f}"
                           for run in runs)
        lines.append(f"| {t['arm']} | {t['pairs'] or '-'} | {cells} |")
    lines += ["", "`kd` queries the teacher once per fit (`teacher_inference=\"once\"`). "
              "The hint arms run it on every batch when its features of the training images "
              "exceed `skkd.hints.HINT_CACHE_BYTES` (1 GiB; the `both` pairs take 0.3 MB an "
              "image, so above ~3,500 images), and cache them otherwise.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run on a subset")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--data", default=None, help="directory of the Fashion-MNIST IDX files")
    parser.add_argument("--out", default=None, help="also copy the results here")
    parser.add_argument("--deadline", type=float, default=None,
                        help="seconds after which unfinished fits are stopped")
    parser.add_argument("--resume", default=None,
                        help="fits.jsonl of an earlier run: keep its fits, run the rest")
    args = parser.parse_args()
    start = time.perf_counter()
    deadline = start + (args.deadline or float("inf"))
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)

    X, y, Xt, yt = load_fashion_mnist(args.data)
    recipe = "cosine"
    if args.quick:
        X, y, Xt, yt = X[:1500], y[:1500], Xt[:500], yt[:500]
        recipe = "short"
        os.environ["SKKD_BENCH_CACHE"] = tempfile.mkdtemp()
    teacher, info = get_teacher(0, X, y, Xt, yt, log=log, recipe=recipe, device=args.device)
    with torch.no_grad():
        teacher_test_pred = teacher(torch.as_tensor(Xt, device=args.device)).argmax(1).cpu()
    teacher_acc = float((teacher_test_pred.numpy() == yt).mean())
    before = checksum(teacher)
    log(f"teacher: test accuracy {100 * teacher_acc:.2f} %")

    fit_idx, val_idx = train_test_split(np.arange(len(X)), test_size=0.2 if args.quick
                                        else 10_000, stratify=y, random_state=0)
    work = Path(tempfile.mkdtemp())
    data_file, teacher_file = str(work / "data.npz"), str(work / "teacher.pt")
    np.savez(data_file, X=X, y=y, Xt=Xt, yt=yt, fit_idx=fit_idx, val_idx=val_idx,
             teacher_test_pred=teacher_test_pred.numpy())
    torch.save({k: v.cpu() for k, v in teacher.state_dict().items()}, teacher_file)

    log("each arm alone:")
    timing = time_arms(teacher, X, y, args.device, min(10_000, len(X)))
    log("fits:")
    fits, complete = run_pool(args, data_file, teacher_file, deadline)
    shutil.rmtree(work, ignore_errors=True)

    info_m = machine()
    if args.device.startswith("cuda"):
        info_m["gpu"] = torch.cuda.get_device_name(args.device)
    report = {
        "machine": info_m, "device": args.device, "workers": args.workers,
        "threads": args.threads, "quick": args.quick, "complete": complete,
        "seconds": time.perf_counter() - start, "val_epochs": 1 if args.quick else BUDGETS[0],
        "teacher": {"test_accuracy": teacher_acc, "fit_seconds": info["fit_seconds"],
                    "device": info.get("device", "cpu"), "protocol": info["protocol"]},
        "teacher_unchanged": checksum(teacher) == before
        and all(r["teacher_unchanged"] for r in fits),
        "resumed_fits": sum(1 for _ in open(args.resume)) if args.resume else 0,
        "kd_recipe": KD, "split": [len(fit_idx), len(val_idx)], "timing_runs": [timing],
        "fits": fits,
    }
    stem = "fashion_hints" + ("-quick" if args.quick else "")
    write_results(stem, report, summarize(report))
    if args.out:
        for suffix in (".json", ".md"):
            shutil.copy(RESULTS / f"{stem}{suffix}", Path(args.out) / f"{stem}{suffix}")


if __name__ == "__main__":
    main()
