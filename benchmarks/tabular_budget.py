"""Does distillation still pay when every student trains long enough?

``flights_mlp.py`` found its best distilled student (MUNGE rows) beaten by a
scratch student given as many optimizer steps: its scratch grid stopped at 80
epochs, too early. Here every student gets the same budgets, counted in
*epoch equivalents* (optimizer steps / steps of one epoch over the 36,000
training rows): scratch and distillation on the training rows at 80-640,
MUNGE transfer sets (one-hot blocks swapped as groups) of size 1 and 4 at the
same budgets. Same data, GBM teacher, MLP (64, 64), batch 256, lr 1e-2
cosine as ``flights_mlp.py``; one process per core, one thread each.

    python benchmarks/tabular_budget.py [--seeds 0 1]

Writes ``benchmarks/results/tabular_budget.{json,md}``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import log, machine, write_results
from joblib import Parallel, delayed

BUDGETS = (80, 160, 320, 640)  # epoch equivalents


def runs(budgets) -> list[dict]:
    """(name, rows per epoch over n, epochs, params) for every student."""
    out = []
    for b in budgets:
        out.append({"name": "scratch", "budget": b, "epochs": b, "rows": 1, "params": {}})
        out.append({"name": "distilled, training rows", "budget": b, "epochs": b, "rows": 1,
                    "params": {"teacher": True, "alpha": 0.5, "temperature": 1.0}})
        for size in (1, 4):
            if b % (size + 1) == 0:
                out.append({"name": f"distilled, MUNGE size {size}", "budget": b,
                            "epochs": b // (size + 1), "rows": size + 1,
                            "params": {"teacher": True, "alpha": 0.1, "temperature": 1.0,
                                       "augment": "munge", "augment__size": float(size)}})
    return out


def fit_one(run: dict, seed: int) -> dict:
    import torch
    from flights_mlp import Data, gbm, student
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(1):
        data = Data(60_000)
        n = len(data.y)
        params = dict(run["params"])
        teacher = None
        if params.pop("teacher", False):
            teacher = gbm(data.layout, max_iter=100, max_leaf_nodes=63).fit(data.X, data.y)
        if "augment" in params:
            start, groups = data.layout["n_numeric"], []
            for size in data.layout["sizes"]:
                groups.append(list(range(start, start + size)))
                start += size
            params["augment__categorical"] = groups
        model = student(seed, 1e-2, run["epochs"], run["rows"] * n, teacher=teacher, **params)
        start = time.perf_counter()
        model.fit(data.X, data.y)
        seconds = time.perf_counter() - start
        out = {**{k: v for k, v in run.items() if k != "params"}, "seed": seed,
               "fit_seconds": seconds,
               "val_accuracy": float(model.score(data.Xv, data.yv)),
               "test_accuracy": float(model.score(data.Xt, data.yt))}
        if teacher is not None:
            out["fidelity"] = float(np.mean(model.predict(data.Xt) == teacher.predict(data.Xt)))
            out["teacher_test_accuracy"] = float(teacher.score(data.Xt, data.yt))
    log(f"{out['name']}, {out['budget']} epoch-equivalents, seed {seed}: val "
        f"{100 * out['val_accuracy']:.2f} %, test {100 * out['test_accuracy']:.2f} % "
        f"({seconds:.0f} s)")
    return out


def summarize(report: dict) -> str:
    rows = report["runs"]
    m = report["machine"]
    teacher = next(r["teacher_test_accuracy"] for r in rows if "teacher_test_accuracy" in r)
    names = list(dict.fromkeys(r["name"] for r in rows))

    def mean(name, budget, key):
        vals = [r[key] for r in rows if r["name"] == name and r["budget"] == budget]
        return float(np.mean(vals)) if vals else None

    lines = ["# Tabular compression at equal training budgets", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, skkd {m['skkd']}; "
             f"one process per core, one thread each; seeds {report['seeds']} (mean); run time "
             f"{report['seconds'] / 60:.0f} min. GBM teacher: {100 * teacher:.2f} % test. "
             "Cells: validation / test accuracy (%).", "",
             "| student | " + " | ".join(f"{b} epoch-equivalents" for b in report["budgets"])
             + " |", "|---|" + "---|" * len(report["budgets"])]
    for name in names:
        cells = []
        for b in report["budgets"]:
            v, t = mean(name, b, "val_accuracy"), mean(name, b, "test_accuracy")
            cells.append("–" if v is None else f"{100 * v:.2f} / {100 * t:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    best = {}
    for name in names:
        options = [(mean(name, b, "val_accuracy"), b) for b in report["budgets"]
                   if mean(name, b, "val_accuracy") is not None]
        v, b = max(options)
        best[name] = (b, mean(name, b, "test_accuracy"))
    scratch = best["scratch"][1]
    lines += ["", "Each student at its best budget on validation, and the share of the GBM − "
              "scratch test gap it closes:", ""]
    for name, (b, t) in best.items():
        gap = "–" if name == "scratch" else f"{100 * (t - scratch) / (teacher - scratch):.0f} %"
        lines.append(f"- {name}: {b} epoch-equivalents, test {100 * t:.2f} %, gap closed {gap}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--budgets", type=int, nargs="*", default=list(BUDGETS))
    args = parser.parse_args()
    started = time.perf_counter()
    todo = sorted(runs(args.budgets), key=lambda r: -r["epochs"] * r["rows"])  # long ones first
    results = Parallel(n_jobs=2)(delayed(fit_one)(r, s) for r in todo for s in args.seeds)
    report = {"machine": machine(), "seeds": args.seeds, "budgets": args.budgets,
              "runs": results, "seconds": time.perf_counter() - started}
    write_results("tabular_budget", report, summarize(report))


if __name__ == "__main__":
    main()
