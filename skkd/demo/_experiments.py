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
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    progress: bool = True,
    curve: bool = True,
) -> tuple[PhaseResult, DistilledClassifier]:
    """Fit ``estimator`` with a progress bar; measure wall time (evaluation excluded)."""
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


def load_flights(n_rows: int = 20_000, *, seed: int = 0, test_size: float = 0.25):
    """``skkd demo``'s part 3 data: :func:`skkd.datasets.load_flights`, split and encoded.

    Split stratified (seed 0); encoders fitted on the training rows: numeric
    columns standardized, ``origin`` and ``dest`` as ``OrdinalEncoder`` codes
    (the last two columns; -1 for an airport unseen in training).

    Returns ``X_train, y_train, X_test, y_test`` (float32 rows, labels
    ``0..10``), the code columns and the carriers' names.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder, OrdinalEncoder, StandardScaler

    from skkd import datasets

    frame, carrier, _ = datasets.load_flights(n_rows, seed=seed)
    carriers = LabelEncoder().fit(carrier)
    y = carriers.transform(carrier)
    train, test = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y,
                                   random_state=0)
    codes = ColumnTransformer([
        ("numeric", StandardScaler(), datasets.FLIGHTS_NUMERIC),
        ("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
         datasets.FLIGHTS_CATEGORICAL),
    ]).fit(frame.iloc[train])
    X = codes.transform(frame).astype(np.float32)
    categorical = list(range(len(datasets.FLIGHTS_NUMERIC), X.shape[1]))
    return X[train], y[train], X[test], y[test], categorical, carriers.classes_.tolist()


def one_row_latency(predict_proba: Any, X: np.ndarray, repeats: int = 200) -> float:
    """Median time (ms) of ``predict_proba`` on one row, over ``repeats`` rows, one thread."""
    from threadpoolctl import threadpool_limits

    times = []
    with threadpool_limits(1):
        predict_proba(X[:1])  # warm-up
        for i in range(repeats):
            row = X[i % len(X)][None]
            start = time.perf_counter()
            predict_proba(row)
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def run_tree_compression(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    categorical: Sequence[int],
    *,
    teacher: PhaseResult | None = None,
    seed: int = 0,
    student_epochs: int = 15,
    lr: float = 3e-3,
    repeats: int = 200,
    progress: bool = True,
    **distill: Any,
) -> dict[str, PhaseResult]:
    """Compress a gradient-boosting teacher into ``module="tabular-mlp"`` students.

    The teacher is a ``HistGradientBoostingClassifier`` with native
    categorical splits on the ``categorical`` code columns (the tabular
    benchmarks' recipe: 100 iterations, 63 leaves, l2 1.0); pass the
    ``teacher`` row of an earlier run to reuse it (other seeds). Two
    ``tabular-mlp`` students read the same columns (``module__categorical``)
    with the same epochs: one from scratch, one distilled from the teacher
    (``distill``: ``alpha``/``temperature``/``loss``). Every row reports its
    size (tree nodes, network parameters) and ``one_row_ms``: the median of
    ``repeats`` single-row ``predict_proba`` calls on one thread.
    """
    if teacher is None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        gbm = HistGradientBoostingClassifier(
            categorical_features=list(categorical), max_leaf_nodes=63, l2_regularization=1.0,
            early_stopping=False, random_state=0)
        start = time.perf_counter()
        gbm.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        teacher = PhaseResult(
            f"teacher: GBM, {gbm.n_iter_ * gbm.n_trees_per_iteration_:,} trees",
            float(gbm.score(X_test, y_test)),
            int(sum(len(tree.nodes) for trees in gbm._predictors for tree in trees)),
            seconds, module=gbm, unit="tree nodes",
            one_row_ms=one_row_latency(gbm.predict_proba, X_test, repeats))
    common = {"module": "tabular-mlp", "module__categorical": list(categorical),
              "module__frequency_scale": 3.0, "lr": lr, "batch_size": 256,
              "max_epochs": student_epochs, "random_state": seed}
    results = {"teacher": teacher}
    for key, name, extra in (("scratch", "tabular-mlp from scratch", {}),
                             ("distilled", "tabular-mlp distilled",
                              {"teacher": teacher.module, **distill})):
        results[key], fitted = run_phase(name, DistilledClassifier(**common, **extra),
                                         X_train, y_train, X_test, y_test,
                                         progress=progress, curve=False)
        results[key].unit = "parameters"
        results[key].one_row_ms = one_row_latency(fitted.predict_proba, X_test, repeats)
    return results


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
