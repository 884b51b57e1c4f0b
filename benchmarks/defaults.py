"""Choosing ``DistilledClassifier``'s default alpha and temperature by measurement.

Every (alpha, T) pair of a grid is scored on the **validation** split of
three tasks (the test sets are never read), every other parameter at its
default (module "mlp", Adam, lr 1e-3, batch 32, 20 epochs):

- ``digits``: scikit-learn's 8x8 digits; teacher a calibrated RBF SVC;
- ``synthetic``: ``make_classification`` (4,000 rows, 20 features, 5
  classes); teacher a 300-tree random forest;
- ``flights``: 8,000 NYC flights of 2013 (``benchmarks/flights_mlp.py``'s data, 11
  airlines); teacher the gradient-boosting pipeline.

A pair's *regret* on a task is the best pair's validation accuracy minus its
own (mean over the student seeds); the default is the pair with the smallest
mean regret. A fourth column, Fashion-MNIST, is read from the validation grid
that ``keras_example.py --teacher-recipe cosine`` measured
(``results/keras_example-cosine-teacher.json``: CNN student, 3 epochs, best
lr per pair); it covers alpha 0.3-0.7 and T 1-4 only, so it is shown as a
check, not averaged.

    python benchmarks/defaults.py            # ~10 min on 2 cores (one process per core)
    python benchmarks/defaults.py --quick    # smoke run

Writes ``benchmarks/results/defaults.{json,md}`` (``--quick``: ``*-quick.*``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from common import RESULTS, log, machine, write_results
from joblib import Parallel, delayed
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

ALPHAS = (0.1, 0.3, 0.5, 0.7)
TEMPERATURES = (1.0, 2.0, 4.0, 10.0)
KERAS = "0.1/10"
FASHION_GRID = RESULTS / "keras_example-cosine-teacher.json"


def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.25, stratify=y,
                                                  random_state=0)
    teacher = CalibratedClassifierCV(SVC(), ensemble=False).fit(X_fit, y_fit)
    return X_fit, y_fit, X_val, y_val, teacher


def synthetic():
    X, y = make_classification(4000, n_features=20, n_informative=12, n_classes=5,
                               n_clusters_per_class=2, random_state=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.25, stratify=y,
                                                  random_state=0)
    teacher = RandomForestClassifier(300, n_jobs=1, random_state=0).fit(X_fit, y_fit)
    return X_fit, y_fit, X_val, y_val, teacher


def flights():
    from flights_mlp import Data, gbm

    data = Data(8_000)  # its own train/validation split; its test split stays unread
    teacher = gbm(data.layout, max_iter=100, max_leaf_nodes=63).fit(data.X, data.y)
    return data.X, data.y, data.Xv, data.yv, teacher


TASKS = {"digits": digits, "synthetic": synthetic, "flights": flights}


def key(alpha: float, temperature: float) -> str:
    return f"{alpha:g}/{temperature:g}"


def score_task(name: str, seed: int, pairs: list[tuple[float, float]]) -> dict:
    """Validation accuracy of every pair (and of scratch, and the teacher) for one seed."""
    import torch
    from threadpoolctl import threadpool_limits

    from skkd import DistilledClassifier, teacher_logits

    torch.set_num_threads(1)  # one process per core
    with threadpool_limits(1):
        start = time.perf_counter()
        X, y, Xv, yv, teacher = TASKS[name]()
        classes = np.unique(y)
        logits = teacher_logits(teacher, X, classes=classes)
        teacher_val = float(np.mean(classes[teacher_logits(teacher, Xv, classes=classes)
                                            .argmax(1)] == yv))

        def fit_score(**kd):
            soft = {"teacher_logits": logits} if kd.get("alpha", 0.0) < 1 else {}
            return float(DistilledClassifier(random_state=seed, **kd).fit(X, y, **soft)
                         .score(Xv, yv))

        out = {"task": name, "seed": seed, "teacher": teacher_val,
               "scratch": fit_score(alpha=1.0),
               "pairs": {key(a, t): fit_score(alpha=a, temperature=t) for a, t in pairs}}
    out["seconds"] = time.perf_counter() - start
    log(f"{name}, seed {seed}: teacher {100 * teacher_val:.2f} %, scratch "
        f"{100 * out['scratch']:.2f} %, best pair {max(out['pairs'], key=out['pairs'].get)} "
        f"({out['seconds']:.0f} s)")
    return out


def fashion_column() -> dict[str, float]:
    """Best validation accuracy per (alpha, T) over lr, from the committed Fashion-MNIST grid."""
    grid = json.loads(FASHION_GRID.read_text())["grid"]["candidates"]
    out: dict[str, float] = {}
    for row in grid:
        if row.get("loss") == "kl" and row["alpha"] < 1:
            k = key(row["alpha"], row["temperature"])
            out[k] = max(out.get(k, 0.0), row["val_accuracy"])
    return out


def summarize(report: dict) -> str:
    m = report["machine"]
    tasks = report["tasks"]
    names = list(tasks)
    regret = report["mean_regret"]
    fashion = report["fashion_mnist"]
    lines = [
        "# Default alpha and temperature, chosen on validation splits",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, skkd {m['skkd']}; one "
        f"process per core, one thread each. Student seeds {report['seeds']}; run time "
        f"{report['seconds'] / 60:.0f} min. Validation accuracy (%), mean over seeds; every "
        "other parameter at its default. Fashion-MNIST: best over lr in the committed grid "
        "of `keras_example.py` (CNN student, 3 epochs, seed 0); – where it has no such pair.",
        "",
        "| alpha / T | " + " | ".join(names) + " | mean regret (points) | Fashion-MNIST |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    for k in sorted(regret, key=regret.get):
        cells = [f"{100 * tasks[n]['pairs'][k]:.2f}" for n in names]
        mark = " (Keras example)" if k == KERAS else ""
        fm = f"{100 * fashion[k]:.2f}" if k in fashion else "–"
        lines.append(f"| {k}{mark} | " + " | ".join(cells) + f" | {100 * regret[k]:.2f} | {fm} |")
    for label, field in (("scratch (alpha 1)", "scratch"), ("teacher", "teacher")):
        lines.append(f"| {label} | " + " | ".join(
            f"{100 * tasks[n][field]:.2f}" for n in names) + " | – | – |")
    best_fashion = max(fashion, key=fashion.get)
    lines += ["", f"Chosen default: alpha / T = {report['chosen']} (smallest mean regret). "
              f"On Fashion-MNIST the best measured pair is {best_fashion} "
              f"({100 * fashion[best_fashion]:.2f} %)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    seeds = [0] if args.quick else [0, 1]
    pairs = ([(0.1, 10.0), (0.5, 1.0)] if args.quick
             else [(a, t) for a in ALPHAS for t in TEMPERATURES])
    runs = Parallel(n_jobs=2)(delayed(score_task)(name, seed, pairs)
                              for name in TASKS for seed in seeds)
    report = {"machine": machine(), "quick": args.quick, "seeds": seeds, "tasks": {},
              "fashion_mnist": fashion_column()}
    for name in TASKS:
        mine = [r for r in runs if r["task"] == name]
        report["tasks"][name] = {
            "teacher": mine[0]["teacher"],
            "scratch": statistics.fmean(r["scratch"] for r in mine),
            "pairs": {k: statistics.fmean(r["pairs"][k] for r in mine) for k in mine[0]["pairs"]},
            "per_seed": mine,
        }
    report["mean_regret"] = {k: statistics.fmean(
        max(t["pairs"].values()) - t["pairs"][k] for t in report["tasks"].values())
        for k in next(iter(report["tasks"].values()))["pairs"]}
    report["chosen"] = min(report["mean_regret"], key=report["mean_regret"].get)
    report["seconds"] = time.perf_counter() - started
    suffix = "-quick" if args.quick else ""
    write_results(f"defaults{suffix}", report, summarize(report))


if __name__ == "__main__":
    main()
