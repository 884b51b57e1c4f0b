"""Choosing ``DistilledClassifier``'s default alpha and temperature by measurement.

Every (alpha, T) pair of a grid is scored on the **validation** split of four
tasks (the test sets are never read), with every other parameter at its
default (Adam, lr 1e-3, batch 32, 20 epochs; the Fashion-MNIST student 3):

- ``digits``: scikit-learn's 8x8 digits; teacher an RBF SVC; student the
  default MLP;
- ``synthetic``: ``make_classification`` (6,000 rows, 20 features, 5 classes);
  teacher a 300-tree random forest; student the default MLP;
- ``flights``: 12,000 NYC flights of 2013 (``benchmarks/tabular.py``'s data,
  11 airlines); teacher the gradient-boosting pipeline; student the default
  MLP;
- ``fashion-mnist``: 10,000 training images, 10,000 validation images of the
  training set; teacher the cached CNN teacher (``teacher_cache.py``, cosine
  protocol, seed 0); student ``cnn-student``, 3 epochs.

A pair's *regret* on a task is the best pair's validation accuracy minus its
own (mean of the student seeds); the default is the pair with the smallest
mean regret over the tasks.

    python benchmarks/defaults.py            # ~15 min on 2 cores
    python benchmarks/defaults.py --quick    # smoke run

Writes ``benchmarks/results/defaults.{json,md}`` (``--quick``: ``*-quick.*``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).parent))
from keras_example import RESULTS, log, machine  # noqa: E402

from skkd import DistilledClassifier, teacher_logits  # noqa: E402

ALPHAS = (0.1, 0.3, 0.5, 0.7, 0.9)
TEMPERATURES = (1.0, 2.0, 4.0, 10.0)
KERAS = (0.1, 10.0)


def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.25, stratify=y,
                                                  random_state=0)
    teacher = SVC(probability=True, random_state=0).fit(X_fit, y_fit)
    return X_fit, y_fit, X_val, y_val, teacher, {}


def synthetic():
    X, y = make_classification(6000, n_features=20, n_informative=12, n_classes=5,
                               n_clusters_per_class=2, class_sep=1.0, random_state=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.25, stratify=y,
                                                  random_state=0)
    teacher = RandomForestClassifier(300, n_jobs=-1, random_state=0).fit(X_fit, y_fit)
    return X_fit, y_fit, X_val, y_val, teacher, {}


def flights():
    from tabular import Data, gbm

    data = Data(12_000)  # its own validation split; its test split stays unread
    teacher = gbm(data.layout, max_iter=100, max_leaf_nodes=63).fit(data.X, data.y)
    return data.X, data.y, data.Xv, data.yv, teacher, {}


def fashion_mnist():
    from teacher_cache import get_teacher

    from skkd.datasets import load_fashion_mnist

    X, y, Xt, yt = load_fashion_mnist()
    teacher, _ = get_teacher(0, X, y, Xt, yt, log=log, recipe="cosine")
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, train_size=10_000, test_size=10_000,
                                                  stratify=y, random_state=0)
    return X_fit, y_fit, X_val, y_val, teacher, {"module": "cnn-student", "max_epochs": 3}


TASKS = {"digits": digits, "synthetic": synthetic, "flights": flights,
         "fashion-mnist": fashion_mnist}


def score_task(name, seeds, pairs) -> dict:
    start = time.perf_counter()
    X, y, Xv, yv, teacher, params = TASKS[name]()
    logits = teacher_logits(teacher, X, classes=np.unique(y))
    teacher_val = float(np.mean(teacher_logits(teacher, Xv, classes=np.unique(y)).argmax(1)
                                == np.searchsorted(np.unique(y), yv)))

    def val_accuracy(**kd):
        accs = [DistilledClassifier(random_state=s, **params, **kd).fit(
            X, y, teacher_logits=logits if kd.get("alpha", 0) < 1 else None).score(Xv, yv)
            for s in seeds]
        return float(statistics.fmean(accs))

    scratch = val_accuracy(alpha=1.0)
    scores = {}
    for alpha, T in pairs:
        scores[f"{alpha:g}/{T:g}"] = val_accuracy(alpha=alpha, temperature=T)
    seconds = time.perf_counter() - start
    best = max(scores.values())
    log(f"{name}: teacher {100 * teacher_val:.2f} %, scratch {100 * scratch:.2f} %, best pair "
        f"{max(scores, key=scores.get)} {100 * best:.2f} % ({seconds:.0f} s)")
    return {"teacher_val_accuracy": teacher_val, "scratch_val_accuracy": scratch,
            "val_accuracy": scores, "seconds": seconds, "n_fit": len(y), "n_val": len(yv)}


def summarize(report: dict) -> str:
    m = report["machine"]
    tasks = report["tasks"]
    names = list(tasks)
    regret = report["mean_regret"]
    ranked = sorted(regret, key=regret.get)
    lines = [
        "# Default alpha and temperature, chosen on validation splits",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} "
        f"threads), skkd {m['skkd']}. Student seeds {report['seeds']}; run time "
        f"{report['seconds'] / 60:.0f} min. Validation accuracy (%), mean over seeds; every "
        "other parameter at its default.",
        "",
        "| alpha / T | " + " | ".join(names) + " | mean regret (points) |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for key in ranked:
        cells = [f"{100 * tasks[n]['val_accuracy'][key]:.2f}" for n in names]
        mark = " (Keras example)" if key == f"{KERAS[0]:g}/{KERAS[1]:g}" else ""
        lines.append(f"| {key}{mark} | " + " | ".join(cells) + f" | {100 * regret[key]:.2f} |")
    lines.append("| scratch (alpha 1) | " + " | ".join(
        f"{100 * tasks[n]['scratch_val_accuracy']:.2f}" for n in names) + " | – |")
    lines.append("| teacher | " + " | ".join(
        f"{100 * tasks[n]['teacher_val_accuracy']:.2f}" for n in names) + " | – |")
    lines += ["", f"Chosen default: alpha / T = {report['chosen']} (smallest mean regret)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS))
    args = parser.parse_args()
    started = time.perf_counter()
    seeds = [0] if args.quick else [0, 1]
    pairs = ([(0.1, 10.0), (0.5, 1.0)] if args.quick
             else [(a, t) for a in ALPHAS for t in TEMPERATURES])
    report = {"machine": machine(), "quick": args.quick, "seeds": seeds, "tasks": {}}
    for name in args.tasks:
        report["tasks"][name] = score_task(name, seeds, pairs)
    keys = list(next(iter(report["tasks"].values()))["val_accuracy"])
    report["mean_regret"] = {k: statistics.fmean(
        max(t["val_accuracy"].values()) - t["val_accuracy"][k] for t in report["tasks"].values())
        for k in keys}
    report["chosen"] = min(report["mean_regret"], key=report["mean_regret"].get)
    report["seconds"] = time.perf_counter() - started
    suffix = "-quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"defaults{suffix}.json").write_text(json.dumps(report, indent=1))
    (RESULTS / f"defaults{suffix}.md").write_text(summarize(report))
    log(summarize(report))


if __name__ == "__main__":
    main()
