"""The experiments of ``skkd demo``: teacher, scratch student, distilled student.

The Keras "Knowledge Distillation" example (also run by
``benchmarks/keras_example.py``), its scarce-labels variant, and a tree model
compressed into a tabular network on a real table. Every student, and the
CNN teacher, is a :class:`~skkd.DistilledClassifier` fit (the teacher and the
scratch students are fitted with ``teacher=None``, i.e. plain cross-entropy).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback

from skkd.estimators._classifier import DistilledClassifier
from skkd.teachers._lookup import as_teacher

#: One-row calls timed for each model of part 3 (their median is reported).
ROW_REPEATS = 100


@dataclass
class PhaseResult:
    """What one phase of the experiment measured."""

    name: str
    test_accuracy: float
    n_params: int
    fit_seconds: float
    curve: list[float] = field(default_factory=list)
    module: Any = field(default=None, repr=False)  # the fitted torch module (or tree model)
    unit: str = ""                    # what n_params counts, when not parameters ("tree nodes")
    one_row_ms: float | None = None   # median predict_proba time of one row
    onnx_row_ms: float | None = None  # the same in onnxruntime (None: skl2onnx not installed)
    settings: dict = field(default_factory=dict)  # the training settings the fit used


class EpochEvaluation(Callback):
    """Record test accuracy after every epoch (``history[:, 'test_acc']``) and tick a bar.

    Labels must be ``0..n_classes-1`` (the student's own encoding). The time
    spent evaluating is kept in ``seconds`` so that :func:`run_phase` can
    leave it out of the fit time.
    """

    def __init__(self, X_test: Any = None, y_test: Any = None, bar: Any = None) -> None:
        self.X_test, self.y_test, self.bar = X_test, y_test, bar
        self.seconds = 0.0

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        start = time.perf_counter()
        if self.X_test is not None:
            logits = net.forward(self.X_test, training=False)
            acc = float((logits.argmax(1).numpy() == self.y_test).mean())
            net.history.record("test_acc", acc)
            if self.bar is not None:
                self.bar.set_postfix(test_acc=f"{acc:.4f}")
        if self.bar is not None:
            self.bar.update(1)
        self.seconds += time.perf_counter() - start


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def run_phase(
    name: str,
    estimator: DistilledClassifier,
    X_train: Any,
    y_train: np.ndarray,
    X_test: Any,
    y_test: np.ndarray,
    *,
    progress: bool = True,
    curve: bool = True,
) -> tuple[PhaseResult, DistilledClassifier]:
    """Fit ``estimator`` with a progress bar; measure wall time (evaluation excluded).

    ``X_train`` and ``X_test`` are arrays, or DataFrames when ``curve`` is False.
    """
    from tqdm.auto import tqdm

    with tqdm(total=estimator.max_epochs, desc=name, disable=not progress, leave=False) as bar:
        evaluation = EpochEvaluation(
            X_test if curve else None, y_test if curve else None, bar
        )
        estimator.set_params(callbacks=[*(estimator.callbacks or []), evaluation])
        start = time.perf_counter()
        estimator.fit(X_train, y_train)
        seconds = time.perf_counter() - start - evaluation.seconds
    accuracy = float(estimator.score(X_test, y_test))
    history = estimator.history_
    result = PhaseResult(
        name=name,
        test_accuracy=accuracy,
        n_params=_n_params(estimator.net_.module_),
        fit_seconds=seconds,
        curve=list(history[:, "test_acc"]) if curve else [],
        module=estimator.net_.module_,
    )
    return result, estimator


def run_keras_experiment(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    input_shape: Sequence[int] = (1, 28, 28),
    seed: int = 0,
    teacher: Any = None,
    teacher_epochs: int = 5,
    student_epochs: int = 3,
    alpha: float = 0.1,
    temperature: float = 10.0,
    loss: str = "kl",
    lr: float = 1e-3,
    batch_size: int = 32,
    progress: bool = True,
    curve: bool = True,
) -> dict[str, PhaseResult]:
    """Run the Keras example's protocol once; labels must be ``0..n_classes-1``.

    Pass a fitted ``teacher`` (a torch module) to skip the teacher phase; its
    row then reports the teacher's test accuracy with zero fit time.
    """
    common = {"lr": lr, "batch_size": batch_size, "random_state": seed,
              "module__input_shape": tuple(input_shape)}
    results: dict[str, PhaseResult] = {}
    if teacher is None:
        results["teacher"], fitted = run_phase(
            "teacher", DistilledClassifier(module="cnn-teacher", max_epochs=teacher_epochs,
                                           **common),
            X_train, y_train, X_test, y_test, progress=progress, curve=curve)
        teacher = fitted.net_.module_
    else:
        logits = as_teacher(teacher).logits(X_test)
        results["teacher"] = PhaseResult("teacher", float((logits.argmax(1) == y_test).mean()),
                                         _n_params(teacher), 0.0, module=teacher)
    results["scratch"], _ = run_phase(
        "scratch student",
        DistilledClassifier(module="cnn-student", max_epochs=student_epochs, **common),
        X_train, y_train, X_test, y_test, progress=progress, curve=curve)
    results["distilled"], _ = run_phase(
        "distilled student",
        DistilledClassifier(teacher=teacher, module="cnn-student", loss=loss, alpha=alpha,
                            temperature=temperature, max_epochs=student_epochs, **common),
        X_train, y_train, X_test, y_test, progress=progress, curve=curve)
    return results


def run_scarce_labels(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    teacher: Any,
    *,
    input_shape: Sequence[int] = (1, 28, 28),
    labeled_fraction: float = 0.1,
    seed: int = 0,
    student_epochs: int = 3,
    lr: float = 1e-3,
    progress: bool = True,
    **distill: Any,
) -> dict[str, PhaseResult]:
    """Where distillation pays: few labels, many unlabeled rows, a trained teacher.

    Keeps the labels of ``labeled_fraction`` of the training rows (stratified)
    and marks the rest unlabeled (-1). The scratch student learns from the
    labeled rows alone; the distilled student learns from all rows, the
    unlabeled ones through the ``teacher``'s soft labels only. ``distill``
    holds the distilled student's ``alpha``/``temperature``/``loss``.
    """
    from sklearn.model_selection import train_test_split

    labeled, _ = train_test_split(np.arange(len(y_train)), train_size=labeled_fraction,
                                  stratify=y_train, random_state=seed)
    y_partial = np.full(len(y_train), -1)
    y_partial[labeled] = y_train[labeled]
    # The scratch student sees 1/labeled_fraction times fewer rows per epoch;
    # give it as many optimizer steps as the distilled one.
    steps_equal = max(1, round(student_epochs / labeled_fraction))
    common = {"random_state": seed, "module__input_shape": tuple(input_shape),
              "module": "cnn-student", "lr": lr}
    results: dict[str, PhaseResult] = {}
    results["scratch_few"], _ = run_phase(
        f"scratch student, {len(labeled)} labels",
        DistilledClassifier(max_epochs=steps_equal, **common),
        X_train[labeled], y_train[labeled], X_test, y_test, progress=progress, curve=False)
    results["distilled_unlabeled"], _ = run_phase(
        f"distilled, {len(labeled)} labels + {len(y_train) - len(labeled)} unlabeled",
        DistilledClassifier(teacher, unlabeled=-1, max_epochs=student_epochs, **common,
                            **distill),
        X_train, y_partial, X_test, y_test, progress=progress, curve=False)
    return results


#: The label of the unlabeled flights in part 3 (the airlines are strings).
UNLABELED = ""


@dataclass
class Flights:
    """``skkd demo``'s part 3 data: raw frames, the airline as the label, unlabeled flights."""

    X_train: Any  # pandas.DataFrame, as the table comes (airports as pandas categoricals)
    y_train: np.ndarray  # the airlines' codes (strings)
    X_test: Any
    y_test: np.ndarray
    unlabeled: Any  # further flights, the same columns, without an airline
    carriers: list[str]
    available: int  # flights there were to draw the unlabeled ones from


def load_flights(n_rows: int = 20_000, *, n_unlabeled: int = 0, seed: int = 0,
                 test_size: float = 0.25) -> Flights:
    """``skkd demo``'s part 3 data: :func:`skkd.datasets.load_flights`, split, not encoded.

    The frame stays raw (no ``ColumnTransformer``): the estimators read it as it
    comes. Its airport columns become pandas categoricals, as R's factors are
    (what ``HistGradientBoostingClassifier(categorical_features="from_dtype")``
    reads), with one set of categories for the labeled and unlabeled flights
    (airport codes only, no labels). Split stratified (seed 0).
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from skkd import datasets

    frame, carrier, unlabeled = datasets.load_flights(n_rows, n_unlabeled=n_unlabeled, seed=seed)
    available = unlabeled.attrs["available"]
    for column in datasets.FLIGHTS_CATEGORICAL:
        dtype = pd.CategoricalDtype(sorted(set(frame[column]) | set(unlabeled[column])))
        frame[column] = frame[column].astype(dtype)
        unlabeled[column] = unlabeled[column].astype(dtype)
    train, test = train_test_split(np.arange(len(carrier)), test_size=test_size,
                                   stratify=carrier, random_state=0)
    return Flights(frame.iloc[train].reset_index(drop=True), carrier[train],
                   frame.iloc[test].reset_index(drop=True), carrier[test], unlabeled,
                   sorted(set(carrier)), available)


def one_row_latency(predict_proba: Any, X: Any, repeats: int = ROW_REPEATS) -> float:
    """Median time (ms) of ``predict_proba`` on one row, over ``repeats`` rows, one thread.

    ``X`` is an array or a DataFrame (then each call gets a one-row frame).
    """
    from threadpoolctl import threadpool_limits

    frame = hasattr(X, "iloc")
    rows = [X.iloc[[i % len(X)]] if frame else X[i % len(X)][None] for i in range(repeats)]
    with threadpool_limits(1):
        return _median_ms(predict_proba, rows)


def _median_ms(call: Any, rows: list[Any]) -> float:
    """Median time (ms) of ``call`` on each of ``rows``, after one untimed call."""
    call(rows[0])  # warm-up
    times = []
    for row in rows:
        start = time.perf_counter()
        call(row)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def scratch_epochs(epochs: int, n_labeled: int, n_unlabeled: int) -> int:
    """The scratch student's epochs of the labeled rows: as many optimizer steps (rows
    seen) as ``epochs`` of the labeled and unlabeled rows give the distilled student."""
    return max(1, round(epochs * (n_labeled + n_unlabeled) / n_labeled))


def fit_tree_teacher(data: Flights, repeats: int = ROW_REPEATS) -> PhaseResult:
    """The teacher row: a ``HistGradientBoostingClassifier`` on the labeled raw frame.

    Native categorical splits on the airports (``categorical_features="from_dtype"``),
    the tabular benchmarks' recipe (100 iterations, 63 leaves, l2 1.0).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    gbm = HistGradientBoostingClassifier(
        categorical_features="from_dtype", max_leaf_nodes=63, l2_regularization=1.0,
        early_stopping=False, random_state=0)
    start = time.perf_counter()
    gbm.fit(data.X_train, data.y_train)
    seconds = time.perf_counter() - start
    return PhaseResult(
        f"teacher: GBM, {gbm.n_iter_ * gbm.n_trees_per_iteration_:,} trees",
        float(gbm.score(data.X_test, data.y_test)),
        int(sum(len(tree.nodes) for trees in gbm._predictors for tree in trees)),
        seconds, module=gbm, unit="tree nodes",
        one_row_ms=one_row_latency(gbm.predict_proba, data.X_test, repeats))


def onnx_row_latency(student: DistilledClassifier, X: Any,
                     repeats: int = ROW_REPEATS) -> float | None:
    """Median time (ms) of the student's ONNX graph on one raw row, in onnxruntime on one
    thread (each row's inputs, one array per column, built before it is timed, as a server
    reading a request builds them); None without skl2onnx and onnxruntime
    (``pip install '.[demo]'`` in skkd's checkout)."""
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("skl2onnx", "onnxruntime")):
        return None
    import onnxruntime

    from skkd.export import to_onnx
    from skkd.export._frame import frame_inputs

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(to_onnx(student, X=X).SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    # onnxruntime itself: each row's arrays, one per column, built before it is timed
    feeds = [frame_inputs(inputs, X.iloc[[i % len(X)]]) for i in range(repeats)]
    return _median_ms(lambda feed: session.run(None, feed), feeds)


def run_tree_compression(
    data: Flights,
    *,
    teacher: PhaseResult | None = None,
    seed: int = 0,
    epochs: int = 3,
    settings: dict | None = None,
    repeats: int = ROW_REPEATS,
    progress: bool = True,
    **distill: Any,
) -> dict[str, PhaseResult]:
    """Compress a gradient-boosting teacher into a student that reads the raw frame.

    The teacher comes from :func:`fit_tree_teacher` (pass the ``teacher`` row
    of an earlier run to reuse it: other seeds). Both students are
    ``DistilledClassifier`` with skkd's defaults (``module="auto"``: a
    ``tabular-mlp`` for the frame; the ``"auto"`` training settings) but
    ``max_epochs`` and ``settings`` (the same for both), at the same budget (as
    many optimizer steps): the scratch student learns from the labeled rows
    alone, for :func:`scratch_epochs` epochs; the distilled one for ``epochs``
    epochs of the labeled rows and ``data.unlabeled``, which get the teacher's
    soft labels only. ``distill`` (``alpha``, ``temperature``, ``loss``)
    overrides the distilled student's defaults. The teacher labels the rows in
    one batch (``teacher_batch_size=-1``): a tree model pays a cost per call, and
    batches of 128 rows took 2.5x as long as one batch of 45,000 flights.
    Every row reports its size (tree nodes, network parameters) and
    ``one_row_ms``: the median of ``repeats`` single-row ``predict_proba``
    calls on one thread; each student's ``settings`` are those its fit used.
    """
    import pandas as pd

    teacher = teacher if teacher is not None else fit_tree_teacher(data, repeats)
    n_unlabeled = len(data.unlabeled)
    X = pd.concat([data.X_train, data.unlabeled], ignore_index=True)
    y = np.concatenate([data.y_train, np.full(n_unlabeled, UNLABELED, dtype=object)])
    students = (
        ("scratch", "tabular-mlp from scratch", data.X_train, data.y_train,
         {"max_epochs": scratch_epochs(epochs, len(data.y_train), n_unlabeled)}),
        ("distilled", f"tabular-mlp distilled, + {n_unlabeled:,} unlabeled", X, y,
         {"max_epochs": epochs, "teacher": teacher.module, "unlabeled": UNLABELED,
          "teacher_batch_size": -1, **distill}),
    )
    results = {"teacher": teacher}
    for key, name, X_fit, y_fit, params in students:
        results[key], fitted = run_phase(
            name, DistilledClassifier(random_state=seed, **(settings or {}), **params),
            X_fit, y_fit, data.X_test, data.y_test, progress=progress, curve=False)
        results[key].unit = "parameters"
        results[key].one_row_ms = one_row_latency(fitted.predict_proba, data.X_test, repeats)
        results[key].onnx_row_ms = onnx_row_latency(fitted, data.X_test, repeats)
        results[key].settings = training_settings(fitted)
    return results


def training_settings(fitted: DistilledClassifier) -> dict[str, Any]:
    """The training settings a fit used (``"auto"`` resolved), from its ``net_``."""
    net = fitted.net_
    schedule = "cosine" if "lr_schedule" in dict(net.callbacks_) else "constant"
    return {"alpha": net.alpha, "temperature": net.temperature, "lr": net.lr,
            "lr_schedule": schedule, "batch_size": net.batch_size,
            "max_epochs": net.max_epochs}


def summarize(runs: Sequence[dict[str, PhaseResult]]) -> str:
    """A Markdown table of mean ± std over runs (seeds).

    Sizes with a ``unit`` are printed with it (the column is then "size"); a
    one-row latency column is added when the results have one.
    """

    def fmt(values: list[float], scale: float, digits: int) -> str:
        mean = statistics.fmean(values) * scale
        if len(values) < 2:
            return f"{mean:.{digits}f}"
        return f"{mean:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"

    first = list(runs[0].values())
    units = any(r.unit for r in first)
    latency = any(r.one_row_ms is not None for r in first)
    lines = [
        f"| model ({len(runs)} seed{'s' if len(runs) != 1 else ''}) | test accuracy (%) "
        f"| {'size' if units else 'parameters'} | fit time (s) |"
        + (" one row (ms) |" if latency else ""),
        "|---|---|---|---|" + ("---|" if latency else ""),
    ]
    for key in runs[0]:
        rows = [run[key] for run in runs]
        size = f"{rows[0].n_params:,}" + (f" {rows[0].unit}" if rows[0].unit else "")
        line = (f"| {rows[0].name} | {fmt([r.test_accuracy for r in rows], 100, 2)} | "
                f"{size} | {fmt([r.fit_seconds for r in rows], 1, 1)} |")
        if latency:
            line += f" {fmt([r.one_row_ms for r in rows], 1, 2)} |"
        lines.append(line)
    return "\n".join(lines)
