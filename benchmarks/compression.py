"""What the student saves: size and predict latency of teacher vs student (sklearn, ONNX).

Cases (teacher -> distilled student, recipes from the other benchmarks, no tuning here):

- ``flights-gbm`` / ``flights-forest``: ``flights_mlp.py``'s NYC-flights task (36,000
  training rows) and its validation-chosen gradient-boosting pipeline / random
  forest teacher; student: its MLP (64, 64), 80 epochs, lr 1e-2 cosine, batch
  256, alpha 0.5, T 1;
- ``flights-gbm-tabular``: the same task with origin/dest as category codes, the
  GBM reading them natively, and ``tabular_students.py``'s best student:
  ``tabular-mlp`` distilled with 36,000 real unlabeled flights;
- ``digits-forest``: scikit-learn's digits, a 300-tree random forest teacher;
  student: the default MLP, 60 epochs;
- ``fashion-cnn``: Fashion-MNIST, the Keras example's CNN teacher (cached,
  ``teacher_cache.py``, protocol given by ``--fashion-teacher``); student
  ``cnn-student``, 3 epochs, lr 6e-3 cosine.

For each: parameters (tree nodes for forests and boosting), bytes of the pickled
teacher, of the full ``DistilledClassifier`` pickle, of ``without_teacher()``
and of the ONNX file; predict latency for one row (median over repeated calls)
and per row in a batch of 1,000 — the teacher's ``predict_proba``, the student's
``predict_proba`` in scikit-learn, the student in onnxruntime — all on one
thread; test accuracy of teacher and student and their agreement. Target: the
ONNX student answers one row >= 10x faster than the teacher's ``predict_proba``.

    python benchmarks/compression.py --fashion-teacher short   # ~25 min on 2 cores
    python benchmarks/compression.py --quick    # smoke run (untrained CNN teacher)

Writes ``benchmarks/results/compression.{json,md}`` (``--quick``: ``*-quick.*``).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time

import numpy as np
import torch
from common import (
    RESULTS,
    cosine,
    latency,
    log,
    machine,
    n_parameters,
    onnx_probabilities,
    write_results,
)
from flights_mlp import HIDDEN, Data, forest, gbm
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from skkd import DistilledClassifier
from skkd.export import to_onnx


def flights(kind: str, quick: bool):
    data = Data(12_000 if quick else 60_000)
    teacher = (gbm(data.layout, max_iter=100, max_leaf_nodes=63) if kind == "gbm"
               else forest(n_estimators=200, max_features=0.3))
    teacher.fit(data.X, data.y)
    epochs = 5 if quick else 80
    student = DistilledClassifier(teacher, module="mlp", module__hidden_sizes=HIDDEN, lr=1e-2,
                                  max_epochs=epochs, batch_size=256, random_state=0,
                                  callbacks=[cosine(len(data.y), epochs, 256)])
    return teacher, student, data.X, data.y, data.Xt, data.yt


def flights_tabular(quick: bool):
    """The GBM on code columns, distilled into ``tabular-mlp`` with real unlabeled rows.

    ``tabular_students.py``'s best recipe on flights (chosen there on validation):
    periodic embeddings (sigma 3), alpha 0.1, T 1, lr 3e-3, 36,000 unlabeled flights,
    20 epochs (as many optimizer steps as 40 epochs of the training rows).
    """
    from tabular_data import load_flights

    table = load_flights(12_000 if quick else 60_000, 12_000 if quick else 36_000)
    teacher = HistGradientBoostingClassifier(
        max_iter=100, max_leaf_nodes=63, l2_regularization=1.0, early_stopping=False,
        categorical_features=table.categorical, random_state=0)
    with threadpool_limits(1):  # OpenMP threads spin on a busy 2-core VM
        teacher.fit(table.X, table.y)
    X = np.concatenate([table.X, table.U])
    y = np.concatenate([table.y, np.full(len(table.U), -1)])
    epochs = 2 if quick else 20
    student = DistilledClassifier(
        teacher, module="tabular-mlp", module__categorical=table.categorical,
        module__frequency_scale=3.0, alpha=0.1, temperature=1.0, lr=3e-3, unlabeled=-1,
        max_epochs=epochs, batch_size=256, random_state=0,
        callbacks=[cosine(len(X), epochs, 256)])
    return teacher, student, X, y, table.Xt, table.yt


def digits_forest(quick: bool):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    teacher = RandomForestClassifier(300, random_state=0).fit(X_train, y_train)
    epochs = 5 if quick else 60
    student = DistilledClassifier(teacher, max_epochs=epochs, random_state=0)
    return teacher, student, X_train, y_train, X_test, y_test


def fashion_cnn(quick: bool, protocol: str):
    from teacher_cache import get_teacher

    from skkd.datasets import load_fashion_mnist

    X, y, Xt, yt = load_fashion_mnist()
    if quick:  # an untrained teacher: never cache a teacher fitted on a subset
        from skkd.models import cnn_teacher

        torch.manual_seed(0)
        X, y, teacher = X[:3000], y[:3000], cnn_teacher(X.shape[1], 10).eval()
    else:
        teacher, _ = get_teacher(0, X, y, Xt, yt, log=log, recipe=protocol)
    epochs = 1 if quick else 3
    student = DistilledClassifier(teacher, module="cnn-student", lr=6e-3, max_epochs=epochs,
                                  random_state=0, callbacks=[cosine(len(y), epochs, 32)])
    return teacher, student, X, y, Xt, yt


def teacher_proba(teacher):
    if isinstance(teacher, torch.nn.Module):
        def fn(X):
            with torch.inference_mode():
                return torch.softmax(teacher(torch.from_numpy(X)), 1).numpy()
        return fn
    return teacher.predict_proba


def measure(name: str, teacher, student, X, y, Xt, yt, repeats: int) -> dict:
    start = time.perf_counter()
    student.fit(X, y)
    fit_seconds = time.perf_counter() - start
    slim = student.without_teacher()
    onx = to_onnx(slim, zipmap=False)
    onnx_proba = onnx_probabilities(onx)
    Xt = np.ascontiguousarray(Xt, dtype=np.float32)

    onnx_diff = float(np.max(np.abs(onnx_proba(Xt) - slim.predict_proba(Xt))))
    teacher_pred = np.argmax(teacher_proba(teacher)(Xt), axis=1)
    if hasattr(teacher, "classes_"):
        teacher_pred = teacher.classes_[teacher_pred]
    student_pred = slim.predict(Xt)
    params = n_parameters(teacher)
    unit = "weights" if isinstance(teacher, torch.nn.Module) else "tree nodes"
    with threadpool_limits(1):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            timing = {
                "teacher predict_proba": latency(teacher_proba(teacher), Xt, repeats),
                "student predict_proba (sklearn)": latency(slim.predict_proba, Xt, repeats),
                "student (onnxruntime)": latency(onnx_proba, Xt, repeats),
            }
        finally:
            torch.set_num_threads(threads)
    out = {
        "teacher": type(teacher).__name__ if not hasattr(teacher, "steps")
        else " -> ".join(type(s).__name__ for _, s in teacher.steps),
        "teacher_parameters": params, "teacher_parameter_unit": unit,
        "student_parameters": n_parameters(slim),
        "bytes": {"teacher pickle": len(pickle.dumps(teacher)),
                  "DistilledClassifier pickle": len(pickle.dumps(student)),
                  "without_teacher() pickle": len(pickle.dumps(slim)),
                  "student ONNX": len(onx.SerializeToString())},
        "latency": timing,
        "test_accuracy": {"teacher": float(np.mean(teacher_pred == yt)),
                          "student": float(np.mean(student_pred == yt))},
        "agreement": float(np.mean(teacher_pred == student_pred)),
        "onnx_max_abs_proba_diff": onnx_diff,
        "student_fit_seconds": fit_seconds,
        "rows": {"train": len(y), "test": len(yt)},
    }
    speedup = (timing["teacher predict_proba"]["one_row_ms"]
               / timing["student (onnxruntime)"]["one_row_ms"])
    out["one_row_speedup_onnx_vs_teacher"] = speedup
    log(f"{name}: teacher {100 * out['test_accuracy']['teacher']:.2f} %, student "
        f"{100 * out['test_accuracy']['student']:.2f} %, one row "
        f"{timing['teacher predict_proba']['one_row_ms']:.3f} ms vs ONNX "
        f"{timing['student (onnxruntime)']['one_row_ms']:.3f} ms ({speedup:.0f}x)")
    return out


def summarize(report: dict) -> str:
    m = report["machine"]
    by_cpu: dict[str, list[str]] = {}  # a --keep run mixes cases measured on other machines
    for name, case in report["cases"].items():
        by_cpu.setdefault(case.get("machine", m)["cpu"], []).append(name)
    where = "; ".join(f"{cpu} ({', '.join(names)})" for cpu, names in by_cpu.items())
    lines = [
        "# Shipping the student: size and latency against the teacher",
        "",
        f"Machines: {where}; {m['cores']} cores, torch {m['torch']}, onnxruntime "
        f"{report['onnxruntime']}, skkd {m['skkd']}. Every latency on one thread "
        "(torch, OpenMP/BLAS, onnxruntime); one row: median over "
        f"{report['repeats']} calls on different rows; batch: per row of a 1,000-row call.",
        "",
        "| case | model | parameters | bytes | one row (ms) | per row in 1,000 (µs) | test "
        "accuracy (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in report["cases"].items():
        t, b = r["latency"], r["bytes"]
        lines += [
            f"| {name} | teacher: {r['teacher']} | {r['teacher_parameters']:,} "
            f"{r['teacher_parameter_unit']} | {b['teacher pickle']:,} (pickle) | "
            f"{t['teacher predict_proba']['one_row_ms']:.3f} | "
            f"{t['teacher predict_proba']['per_row_in_1000_us']:.1f} | "
            f"{100 * r['test_accuracy']['teacher']:.2f} |",
            f"| | student, scikit-learn `predict_proba` | {r['student_parameters']:,} weights | "
            f"{b['without_teacher() pickle']:,} (`without_teacher()` pickle; with the teacher "
            f"{b['DistilledClassifier pickle']:,}) | "
            f"{t['student predict_proba (sklearn)']['one_row_ms']:.3f} | "
            f"{t['student predict_proba (sklearn)']['per_row_in_1000_us']:.1f} | "
            f"{100 * r['test_accuracy']['student']:.2f} |",
            f"| | student, onnxruntime | same | {b['student ONNX']:,} (ONNX) | "
            f"{t['student (onnxruntime)']['one_row_ms']:.3f} | "
            f"{t['student (onnxruntime)']['per_row_in_1000_us']:.1f} | same |",
        ]
    lines += ["", "## Target: the ONNX student answers one row >= 10x faster than the teacher",
              ""]
    for name, r in report["cases"].items():
        s = r["one_row_speedup_onnx_vs_teacher"]
        lines.append(f"- {name}: {s:.1f}x ({'met' if s >= 10 else 'not met'}); teacher-student "
                     f"agreement {100 * r['agreement']:.2f} %; ONNX vs scikit-learn max "
                     f"|probability difference| {r['onnx_max_abs_proba_diff']:.1e}")
    if "fashion_teacher" in report:
        lines += ["", f"Fashion-MNIST teacher: protocol {json.dumps(report['fashion_teacher'])}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    import onnxruntime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cases", nargs="*",
                        default=["flights-gbm", "flights-forest", "digits-forest",
                                 "fashion-cnn"])
    parser.add_argument("--keep", action="store_true",
                        help="keep the stored results of the cases not measured now")
    parser.add_argument("--fashion-teacher", default="cosine",
                        help="teacher_cache.py protocol of the CNN teacher")
    args = parser.parse_args()
    repeats = 20 if args.quick else 200
    makers = {
        "flights-gbm": lambda: flights("gbm", args.quick),
        "flights-forest": lambda: flights("forest", args.quick),
        "flights-gbm-tabular": lambda: flights_tabular(args.quick),
        "digits-forest": lambda: digits_forest(args.quick),
        "fashion-cnn": lambda: fashion_cnn(args.quick, args.fashion_teacher),
    }
    report = {"machine": machine(), "onnxruntime": onnxruntime.__version__,
              "quick": args.quick, "repeats": repeats, "cases": {}}
    suffix = "-quick" if args.quick else ""
    stored = RESULTS / f"compression{suffix}.json"
    if args.keep and stored.exists():  # measure some cases anew, keep the others
        report["cases"] = json.loads(stored.read_text())["cases"]
    started = time.perf_counter()
    for name in args.cases:
        report["cases"][name] = measure(name, *makers[name](), repeats=repeats)
        report["cases"][name]["machine"] = report["machine"]  # --keep mixes runs
    if "fashion-cnn" in args.cases and not args.quick:
        from teacher_cache import PROTOCOLS

        report["fashion_teacher"] = {"recipe": args.fashion_teacher,
                                     **PROTOCOLS[args.fashion_teacher]}
    report["seconds"] = time.perf_counter() - started
    write_results(f"compression{suffix}", report, summarize(report))


if __name__ == "__main__":
    main()
