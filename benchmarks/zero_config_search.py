"""Choosing zero-config defaults by measurement, on validation rows of the tuning tables only.

Every candidate setting (``CANDIDATES``, each a dict of estimator parameters on top of
``teacher=...``) is fitted on the raw training frame of every table in
``raw_tables.TUNE`` and scored on its validation rows (never the test rows; the
held-out tables are never read here). Per table the gap to the teacher's validation
score is reported (points for classification, R² for regression), and the number of
tables within tolerance. One torch thread per process; ``--jobs 2`` runs two
candidates at a time.

    python benchmarks/zero_config_search.py --jobs 2

Writes ``results/zero_config_search.{json,md}`` with the machine.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from common import log, machine, write_results
from raw_tables import TUNE, load
from zero_config import TOLERANCE

_PLE_T2 = {"alpha": 0.1, "temperature": 2.0, "lr": 3e-3, "batch_size": 128, "max_epochs": 30,
           "module__numeric_encoding": "ple"}

#: The estimators' defaults before the "auto" settings, which every candidate but
#: "defaults" starts from (so that a candidate means what it meant when it was run).
BEFORE_AUTO = {"alpha": 0.5, "temperature": 1.0, "lr": 1e-3, "max_epochs": 20, "batch_size": 32,
               "lr_schedule": "constant"}

#: name -> parameters on top of teacher=... and BEFORE_AUTO; "defaults" is the
#: estimators' own (today's), nothing else.
CANDIDATES = {
    "defaults": {},
    "recipe": {"alpha": 0.1, "lr": 3e-3, "batch_size": 128, "max_epochs": 30},
    "a0.1": {"alpha": 0.1},
    "a0.1 b128 lr3e-3 e20": {"alpha": 0.1, "lr": 3e-3, "batch_size": 128, "max_epochs": 20},
    "a0.1 b256 lr3e-3 e40": {"alpha": 0.1, "lr": 3e-3, "batch_size": 256, "max_epochs": 40},
    "a0.1 b128 lr1e-3 e30": {"alpha": 0.1, "lr": 1e-3, "batch_size": 128, "max_epochs": 30},
    "a0.1 T2 b128 lr3e-3 e30": {"alpha": 0.1, "temperature": 2.0, "lr": 3e-3,
                                "batch_size": 128, "max_epochs": 30},
    "a0 b128 lr3e-3 e30": {"alpha": 0.0, "lr": 3e-3, "batch_size": 128, "max_epochs": 30},
    "recipe sigma0.3": {"alpha": 0.1, "lr": 3e-3, "batch_size": 128, "max_epochs": 30,
                        "module__frequency_scale": 0.3},
    "recipe sigma3": {"alpha": 0.1, "lr": 3e-3, "batch_size": 128, "max_epochs": 30,
                      "module__frequency_scale": 3.0},
    "recipe ple": {"alpha": 0.1, "lr": 3e-3, "batch_size": 128, "max_epochs": 30,
                   "module__numeric_encoding": "ple"},
    "recipe e60": {"alpha": 0.1, "lr": 3e-3, "batch_size": 128, "max_epochs": 60},
    # round 2: the first round's best parts together (T for classifiers only)
    "ple T2": {"alpha": 0.1, "temperature": 2.0, "lr": 3e-3, "batch_size": 128,
               "max_epochs": 30, "module__numeric_encoding": "ple"},
    "ple T4": {"alpha": 0.1, "temperature": 4.0, "lr": 3e-3, "batch_size": 128,
               "max_epochs": 30, "module__numeric_encoding": "ple"},
    "ple T2 e20": {"alpha": 0.1, "temperature": 2.0, "lr": 3e-3, "batch_size": 128,
                   "max_epochs": 20, "module__numeric_encoding": "ple"},
    "ple T2 a0.3": {"alpha": 0.3, "temperature": 2.0, "lr": 3e-3, "batch_size": 128,
                    "max_epochs": 30, "module__numeric_encoding": "ple"},
    "ple T2 bins-teacher": {"alpha": 0.1, "temperature": 2.0, "lr": 3e-3, "batch_size": 128,
                            "max_epochs": 30, "module__numeric_encoding": "ple",
                            "module__bins": "teacher"},
    "T2 sigma0.3": {"alpha": 0.1, "temperature": 2.0, "lr": 3e-3, "batch_size": 128,
                    "max_epochs": 30, "module__frequency_scale": 0.3},
    # round 3: an annealed learning rate (lr_schedule='cosine': a cosine to 0 over the epochs;
    # run as skorch's LRScheduler(CosineAnnealingLR) before lr_schedule existed), Adam's beta2
    "ple T2 cos": {**_PLE_T2, "lr_schedule": "cosine"},
    "ple T2 cos e60": {**_PLE_T2, "max_epochs": 60, "lr_schedule": "cosine"},
    "ple T2 cos b95": {**_PLE_T2, "lr_schedule": "cosine", "optimizer__betas": (0.9, 0.95)},
    "ple T2 cos lr1e-2": {**_PLE_T2, "lr": 1e-2, "lr_schedule": "cosine"},
    # round 4: around the best of round 3
    "ple T2 cos lr1e-2 e60": {**_PLE_T2, "lr": 1e-2, "max_epochs": 60,
                              "lr_schedule": "cosine"},
    "ple T2 cos lr3e-2": {**_PLE_T2, "lr": 3e-2, "lr_schedule": "cosine"},
    "ple T2 cos lr1e-2 b256": {**_PLE_T2, "lr": 1e-2, "batch_size": 256,
                               "lr_schedule": "cosine"},
    "ple T1 cos lr1e-2": {**_PLE_T2, "temperature": 1.0, "lr": 1e-2, "lr_schedule": "cosine"},
    "ple T2 cos lr1e-2 b95": {**_PLE_T2, "lr": 1e-2, "lr_schedule": "cosine",
                              "optimizer__betas": (0.9, 0.95)},
    "T2 cos lr1e-2": {**_PLE_T2, "module__numeric_encoding": "periodic", "lr": 1e-2,
                      "lr_schedule": "cosine"},
}


def _teacher(table):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    hgb = (HistGradientBoostingClassifier if table.task == "classification"
           else HistGradientBoostingRegressor)
    return hgb(categorical_features="from_dtype", random_state=0).fit(table.X, table.y)


def _evaluate(name: str, seeds: int = 1) -> dict:
    import torch

    from skkd import DistilledClassifier, DistilledRegressor

    torch.set_num_threads(1)
    scale = {"classification": 100, "regression": 1}
    out = {}
    for table_name in TUNE:
        table = load(table_name)
        teacher = _teacher(table)
        est = DistilledClassifier if table.task == "classification" else DistilledRegressor
        start = time.perf_counter()
        given = CANDIDATES[name] if name == "defaults" else {**BEFORE_AUTO, **CANDIDATES[name]}
        params = {k: v for k, v in given.items()  # a regressor takes no T
                  if not (k == "temperature" and table.task == "regression")}
        s = scale[table.task]
        scores = []
        for seed in range(seeds):
            student = est(teacher=teacher, random_state=seed, **params).fit(table.X, table.y)
            scores.append(s * student.score(table.Xv, table.yv))
        fit_s = (time.perf_counter() - start) / seeds
        out[table_name] = {"task": table.task, "teacher": s * teacher.score(table.Xv, table.yv),
                           "student": float(np.mean(scores)), "students": scores,
                           "fit_s": fit_s}
        log(f"{name} {table_name}: {out[table_name]}")
    return {"name": name, "params": CANDIDATES[name], "tables": out}


def _markdown(rows: list[dict], seeds: int = 1) -> str:
    tables = list(TUNE)
    lines = ["# Zero-config defaults: candidates on the tuning tables' validation rows", "",
             "Gap of the student to the teacher on the validation rows (points / R²), "
             f"mean of {seeds} student seed(s), one thread; `python "
             "benchmarks/zero_config_search.py`. Never the test "
             "rows; never the held-out tables.", "",
             "| candidate | " + " | ".join(tables) + " | within | fit (s) |",
             "|---|" + "---|" * (len(tables) + 2)]
    for row in rows:
        gaps, within = [], 0
        for t in tables:
            r = row["tables"][t]
            gap = r["student"] - r["teacher"]
            within += gap >= -TOLERANCE[r["task"]]
            gaps.append(f"{gap:+.2f}" if r["task"] == "classification" else f"{gap:+.4f}")
        fit = sum(r["fit_s"] for r in row["tables"].values())
        lines.append(f"| {row['name']} | " + " | ".join(gaps) + f" | {within} | {fit:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="a subset of the candidates, by name")
    parser.add_argument("--seeds", type=int, default=1, help="student seeds, averaged")
    parser.add_argument("--stem", default="zero_config_search", help="results file name")
    args = parser.parse_args()
    names = args.only or list(CANDIDATES)
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(_evaluate, names, [args.seeds] * len(names)))
    report = {"machine": machine(), "candidates": rows}
    write_results(args.stem, report, _markdown(rows, args.seeds))
    best = max(rows, key=lambda r: (sum(
        r["tables"][t]["student"] - r["tables"][t]["teacher"] >= -TOLERANCE[r["tables"][t]["task"]]
        for t in TUNE), np.mean([r["tables"][t]["student"] - r["tables"][t]["teacher"]
                                 for t in TUNE if r["tables"][t]["task"] == "classification"])))
    log(f"best on validation: {best['name']} {best['params']}")


if __name__ == "__main__":
    main()
