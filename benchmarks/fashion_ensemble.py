"""Fashion-MNIST: a student distilled from a teacher ensemble with consistent "shift" teaching.

Teachers: the Keras example's CNN teacher trained with the ``cosine`` protocol
of ``teacher_cache.py`` for seeds 0, 1 and 2 (cached), and their ensemble
(``teacher=[t0, t1, t2]``, probabilities averaged). Student: ``cnn-student``
at 3 and 10 epochs, student seeds 0, 1, 2. Compared, each with its recipe
chosen by ``GridSearchCV`` on one validation split of the training set
(50,000 fit / 10,000 validation images; the test set is never used to choose):

- scratch with ``augment="shift"`` (lr tuned, cosine schedule);
- distilled from the ensemble with ``augment="shift"``: the teacher answers on
  every shifted batch the student sees (lr tuned at each budget; alpha and T
  tuned at 3 epochs and kept at 10).

Querying three CNN teachers on every batch costs ~1 min an epoch here, too
slow for a grid. The ensemble is deterministic, so its answers on every
shifted view of every training image (25 shifts of at most 2 pixels) are
computed once with ``skkd.teacher_logits`` and served by a lookup module
(:class:`ShiftMemo`); a lookup that misses falls back to the real ensemble and
is counted. The run checks, on real batches, that the memo returns what the
ensemble returns. skkd's per-batch speed is measured by ``augment_timing.py``.

    python benchmarks/fashion_ensemble.py            # ~40 min on 2 cores
    python benchmarks/fashion_ensemble.py --quick    # smoke run on 6,000 images

Writes ``benchmarks/results/fashion_ensemble.{json,md}`` (``--quick``: ``*-quick.*``).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

import numpy as np
import torch
from common import checksum, cosine, log, machine, mean_std, write_results
from sklearn.model_selection import GridSearchCV, PredefinedSplit, train_test_split
from teacher_cache import get_teacher

from skkd import DistilledClassifier, teacher_logits
from skkd.augmentations import Shift
from skkd.datasets import load_fashion_mnist

MAX_SHIFT = 2
TEACHER_SEEDS = (0, 1, 2)
LRS = (3e-3, 6e-3, 1e-2)


def shifted(X: np.ndarray, dy: int, dx: int, m: int = MAX_SHIFT) -> np.ndarray:
    """Every image of ``X`` (n, 784) moved by (dy, dx), zero-filled, as ``Shift`` does."""
    images = np.pad(X.reshape(-1, 28, 28), ((0, 0), (m, m), (m, m)))
    return np.ascontiguousarray(
        images[:, m + dy:m + dy + 28, m + dx:m + dx + 28].reshape(len(X), -1))


def _key(row: np.ndarray) -> bytes:
    # A 128-bit digest: storing 1.5 million 3 kB rows as keys would take 5 GB.
    return hashlib.blake2b(row.tobytes(), digest_size=16).digest()


class ShiftMemo(torch.nn.Module):
    """A teacher that looks up the ensemble's logits on every shifted training image.

    Returns exactly what ``teacher_logits(members, batch)`` returns for a
    batch of shifted training images; rows it has not seen are sent to the
    real ensemble and counted in ``misses``.
    """

    def __init__(self, members, X: np.ndarray, batch_size: int = 1000) -> None:
        super().__init__()
        self.members = members
        keys, blocks, offset = {}, [], 0
        for dy in range(-MAX_SHIFT, MAX_SHIFT + 1):
            for dx in range(-MAX_SHIFT, MAX_SHIFT + 1):
                views = shifted(X, dy, dx)
                blocks.append(teacher_logits(members, views, batch_size=batch_size))
                for i, row in enumerate(views):
                    keys.setdefault(_key(row), offset + i)
                offset += len(views)
        self.keys = keys
        self.table = torch.from_numpy(np.concatenate(blocks))
        self.misses = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.detach().cpu().numpy()
        index = [self.keys.get(_key(row), -1) for row in rows]
        out = self.table[torch.tensor([max(i, 0) for i in index])].clone()
        missing = [j for j, i in enumerate(index) if i < 0]
        if missing:
            self.misses += len(missing)
            out[missing] = torch.from_numpy(teacher_logits(self.members, rows[missing]))
        return out.to(x.device)


PHASES = {
    # name: (uses the ensemble, augment)
    "scratch_shift": (False, "shift"),
    "distilled_shift": (True, "shift"),
}


def estimator(phase: str, teacher, epochs: int, seed: int, **recipe) -> DistilledClassifier:
    uses_teacher, augment = PHASES[phase]
    return DistilledClassifier(
        teacher if uses_teacher else None, module="cnn-student", max_epochs=epochs,
        augment=augment, random_state=seed, **recipe)


def choose(phase: str, teacher, X_fit, y_fit, X_val, y_val, epochs: int, quick: bool,
           kd: dict | None = None) -> dict:
    """The recipe of ``phase`` with the best validation accuracy.

    The lr always; alpha and T too when the phase distills and ``kd`` (an
    earlier choice of them) is not given.
    """
    grid = {"lr": list(LRS[:2] if quick else LRS), "callbacks": [[cosine(len(X_fit), epochs)]]}
    if PHASES[phase][0]:
        if kd is None:
            grid.update(alpha=[0.3, 0.5], temperature=[1.0, 4.0])
        else:
            grid.update(alpha=[kd["alpha"]], temperature=[kd["temperature"]])
    split = PredefinedSplit(np.r_[np.full(len(X_fit), -1), np.zeros(len(X_val), int)])
    search = GridSearchCV(estimator(phase, teacher, epochs, 0), grid, cv=split, refit=False,
                          error_score="raise")
    start = time.perf_counter()
    search.fit(np.concatenate([X_fit, X_val]), np.concatenate([y_fit, y_val]))
    rows = [{**{k: v for k, v in p.items() if k != "callbacks"}, "val_accuracy": float(s)}
            for p, s in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"],
                            strict=True)]
    best = max(rows, key=lambda r: r["val_accuracy"])
    log(f"  {phase}, {epochs} epochs: {len(rows)} candidates in "
        f"{time.perf_counter() - start:.0f} s; best {best}")
    return {"candidates": rows, "best": best, "seconds": time.perf_counter() - start}


def run(phase, teacher, recipe, epochs, seed, data, teacher_test_pred) -> dict:
    X, y, Xt, yt = data
    params = {k: v for k, v in recipe.items() if k != "val_accuracy"}
    clf = estimator(phase, teacher, epochs, seed, callbacks=[cosine(len(X), epochs)], **params)
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    pred = clf.predict(Xt)
    out = {"test_accuracy": float(np.mean(pred == yt)),
           "fidelity": float(np.mean(pred == teacher_test_pred)), "seconds": seconds}
    log(f"  seed {seed} {phase} {epochs} epochs: {100 * out['test_accuracy']:.2f} % "
        f"(agreement with the ensemble {100 * out['fidelity']:.2f} %), {seconds:.0f} s")
    return out


def check_memo(memo: ShiftMemo, members, X: np.ndarray) -> float:
    """Largest |memo - ensemble| over shifted batches drawn as training draws them."""
    torch.manual_seed(123)
    worst = 0.0
    for start in range(0, 256, 32):
        batch, _ = Shift(MAX_SHIFT).augment_batch(torch.from_numpy(X[start:start + 32]),
                                                  torch.zeros(32, dtype=torch.long))
        real = teacher_logits(members, batch.numpy())
        worst = max(worst, float(np.abs(memo(batch).numpy() - real).max()))
    return worst


def summarize(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Fashion-MNIST: distilling a CNN ensemble with consistent shift teaching",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} "
        f"threads), Python {m['python']}, skkd {m['skkd']}. Run time {report['seconds'] / 60:.0f} "
        "min.",
        "",
        "Teachers (Keras example CNN teacher, `cosine` protocol of `teacher_cache.py`):",
        "",
        "| teacher | test accuracy (%) |",
        "|---|---|",
    ]
    for seed, acc in report["teachers"].items():
        lines.append(f"| seed {seed} | {100 * acc:.2f} |")
    lines += [f"| ensemble (mean probabilities) | {100 * report['ensemble_test']:.2f} |", "",
              f"Students: `cnn-student`, seeds {report['student_seeds']}, mean ± std; recipe "
              "chosen per phase and budget on the validation split (below). Fidelity: top-1 "
              "agreement with the ensemble on the test set.", "",
              "| phase | epochs | test accuracy (%) | fidelity (%) | fit (s) | recipe |",
              "|---|---|---|---|---|---|"]
    for epochs, phases in report["results"].items():
        for phase, runs in phases.items():
            acc = mean_std([100 * r["test_accuracy"] for r in runs])
            fid = mean_std([100 * r["fidelity"] for r in runs])
            sec = statistics.fmean(r["seconds"] for r in runs)
            recipe = report["grids"][epochs][phase]["best"]
            shown = ", ".join(f"{k} {v:g}" for k, v in recipe.items() if k != "val_accuracy")
            lines.append(f"| {phase} | {epochs} | {acc[0]:.2f} ± {acc[1]:.2f} | {fid[0]:.2f} ± "
                         f"{fid[1]:.2f} | {sec:.0f} | {shown} |")
    lines += ["", "## Target: distilled with shift ≥ scratch with shift + 0.5 points", ""]
    for epochs, phases in report["results"].items():
        d = statistics.fmean(r["test_accuracy"] for r in phases["distilled_shift"])
        s = statistics.fmean(r["test_accuracy"] for r in phases["scratch_shift"])
        verdict = "met" if 100 * (d - s) >= 0.5 else "not met"
        lines.append(f"- {epochs} epochs: {100 * (d - s):+.2f} points ({100 * d:.2f} % vs "
                     f"{100 * s:.2f} %): {verdict}")
    lines += ["", f"Memo check: the lookup and the real ensemble differ by at most "
              f"{report['memo_check']:.2e} on shifted training batches; {report['memo_misses']} "
              f"lookups missed (answered by the ensemble). Building the memo (25 views x "
              f"{report['n_train']} images x 3 teachers) took {report['memo_seconds']:.0f} s "
              f"({report['teacher_images_per_second']:,.0f} teacher images/s).",
              f"Teachers bit-for-bit unchanged: {report['teachers_unchanged']}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    X, y, Xt, yt = load_fashion_mnist()
    members = []
    report: dict = {"machine": machine(), "quick": args.quick, "teachers": {}}
    for seed in TEACHER_SEEDS:
        teacher, _ = get_teacher(seed, X, y, Xt, yt, log=log, recipe="cosine")
        members.append(teacher)
        report["teachers"][seed] = float(np.mean(
            teacher_logits(teacher, Xt).argmax(1) == yt))
    before = [checksum(t) for t in members]
    ensemble_test_pred = teacher_logits(members, Xt).argmax(1)
    report["ensemble_test"] = float(np.mean(ensemble_test_pred == yt))
    log(f"teachers {report['teachers']}, ensemble {report['ensemble_test']:.4f}")
    if args.quick:
        X, y = X[:6000], y[:6000]
    epochs_grid = (1, 2) if args.quick else (3, 10)
    student_seeds = (0, 1) if args.quick else (0, 1, 2)

    start = time.perf_counter()
    memo = ShiftMemo(members, X)
    report["memo_seconds"] = time.perf_counter() - start
    report["teacher_images_per_second"] = len(memo.table) * len(members) / report["memo_seconds"]
    report["memo_check"] = check_memo(memo, members, X)
    report["n_train"] = len(X)
    log(f"memo: {len(memo.table)} rows in {report['memo_seconds']:.0f} s, "
        f"max |memo - ensemble| {report['memo_check']:.2e}")

    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=0.1 if args.quick else 10_000, stratify=y, random_state=0)
    report["grids"], report["results"] = {}, {}
    kd = None  # alpha and T: chosen at the shorter budget, kept at the longer one
    for epochs in epochs_grid:
        grids = report["grids"][epochs] = {}
        results = report["results"][epochs] = {}
        for phase in PHASES:
            grids[phase] = choose(phase, memo, X_fit, y_fit, X_val, y_val, epochs, args.quick,
                                  kd=kd if PHASES[phase][0] else None)
            if PHASES[phase][0]:
                kd = grids[phase]["best"]
            results[phase] = [run(phase, memo, grids[phase]["best"], epochs, seed,
                                  (X, y, Xt, yt), ensemble_test_pred)
                              for seed in student_seeds]
    report["student_seeds"] = list(student_seeds)
    report["memo_misses"] = memo.misses
    report["teachers_unchanged"] = before == [checksum(t) for t in members]
    report["seconds"] = time.perf_counter() - started
    suffix = "-quick" if args.quick else ""
    write_results(f"fashion_ensemble{suffix}", report, summarize(report))


if __name__ == "__main__":
    main()
