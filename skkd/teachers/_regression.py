"""The teacher step of ``DistilledRegressor``: predictions, fitted and combined.

A regression teacher is anything that predicts: a fitted scikit-learn
regressor or ``Pipeline`` (``predict``), a skorch net (``predict``), a torch
module (its outputs), anything a registered teacher adapter accepts (its
:class:`~skkd.teachers.Teacher`'s outputs), or an ensemble of them (a
weighted mean, nested ensembles combined inside out). Unfitted scikit-learn
regressors are cloned and fitted on the labeled rows; with ``cv``, each
labeled row gets the prediction of a clone that did not see it. Outputs are
in ``y``'s units, kept in float64 (targets near ``1e12`` differ in digits
float32 does not hold); the estimator standardizes them, and only the
standardized values are float32.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.metrics import r2_score
from sklearn.utils.validation import _num_samples

from skkd._warnings import caller_level
from skkd.exceptions import TeacherError, TeacherNearMeanWarning
from skkd.plugins import allow_list_note
from skkd.teachers._adapters import Teacher, TorchTeacher
from skkd.teachers._ensembles import TeacherNode
from skkd.teachers._folds import (
    CloneFitter,
    is_unfitted_estimator,
    out_of_fold,
    per_row,
    refuse_cv_without_clones,
)
from skkd.teachers._lookup import find_teacher
from skkd.teachers._outputs import TeacherOutputs, as_float64

__all__ = ["check_predictions", "predictions", "r2", "refuse_classifier", "regression_outputs",
           "teacher_predictions", "warn_if_near_mean"]

#: Below this R² on the labeled training rows, the teacher is worse than y's mean: a
#: teacher fitted on the student's features and targets scores above it on its own rows.
NEAR_MEAN_R2 = 0.0


def predictions(model: Any, X: Any, n_outputs: int, *, batch_size: int = 1024,
                name: str | None = None) -> np.ndarray:
    """``model``'s predictions on ``X`` as float64 of shape ``(n_samples, n_outputs)``.

    The regressor's rules, in order: a classifier is refused
    (:func:`refuse_classifier`); a ``torch.nn.Module`` gives its outputs;
    an object with ``predict`` (a scikit-learn regressor or ``Pipeline``, a
    skorch net, a ``FrozenEstimator``) its ``predict(X)``; anything else is
    wrapped by the first registered teacher adapter that accepts it
    (:func:`skkd.hookspecs.skkd_register_teachers`), whose
    ``Teacher.logits(X, batch_size)`` is read as predictions in ``y``'s units.

    Parameters
    ----------
    model : object
        A fitted regressor with ``predict`` (scikit-learn, skorch), a
        ``torch.nn.Module`` returning ``(batch, n_outputs)``, or a model a
        registered teacher adapter accepts.
    X : array-like or DataFrame
        The rows, passed to ``model`` as they are.
    n_outputs : int
        The number of outputs expected.
    batch_size : int, default=1024
        Batch size of a torch module's (or an adapter's) inference pass.
    name : str or None, default=None
        The teacher's name in error messages; None: its class name.

    Returns
    -------
    ndarray of shape (n_samples, n_outputs), float64

    Raises
    ------
    skkd.TeacherError
        If ``model`` is a classifier, cannot predict (no rule and no adapter
        serves it), fails, or predicts another shape or a non-finite value.
    skkd.PluginError
        If only a broken teacher adapter could have served ``model``.
    """
    name = name or type(model).__name__
    refuse_classifier(model, name)
    predict = _predictor(model, name, batch_size)
    n = _num_samples(X)
    try:
        out = predict(X)
    except TeacherError:
        raise
    except Exception as exc:
        raise TeacherError(f"The teacher {name} failed to predict on {n} rows: "
                           f"{type(exc).__name__}: {exc}") from exc
    return check_predictions(out, n, n_outputs, f"The teacher {name} predicted")


def _predictor(model: Any, name: str, batch_size: int) -> Callable[[Any], Any]:
    """``X -> predictions`` of ``model``, by the regressor's rules (see :func:`predictions`).

    Built-in rules first, so that a plugin's adapter never changes how a
    regressor, a skorch net or a torch module predicts.
    """
    if isinstance(model, torch.nn.Module):
        return partial(TorchTeacher(model).logits, batch_size=batch_size)
    if hasattr(model, "predict") and not isinstance(model, Teacher):
        return model.predict
    teacher = find_teacher(model, outputs_param="teacher_predictions")
    if teacher is None:
        raise TeacherError(
            f"The teacher {name} cannot predict: a regression teacher needs predict(X) "
            "(a scikit-learn regressor or Pipeline, a skorch net), must be a "
            "torch.nn.Module returning (batch, n_outputs), or must be accepted by a teacher "
            "adapter registered through the skkd_register_teachers hook. Or pass its "
            "predictions as fit(X, y, teacher_predictions=...)." + allow_list_note()
        )
    if teacher.classes_ is not None:
        raise TeacherError(
            f"The teacher {name} is a classifier: its teacher adapter gives it classes_ "
            f"{teacher.classes_.tolist()}, so its outputs are class scores, not predictions "
            "of y. DistilledRegressor needs a regressor (outputs in y's units); to distill "
            "a classifier, use DistilledClassifier."
        )
    return partial(teacher.logits, batch_size=batch_size)


def check_predictions(values: Any, n_samples: int, n_outputs: int, source: str) -> np.ndarray:
    """Teacher predictions as float64 of shape ``(n_samples, n_outputs)``, finite.

    ``(n_samples,)`` is read as one output.

    Parameters
    ----------
    values : array-like or torch.Tensor
        The predictions.
    n_samples : int
        The number of rows they must have.
    n_outputs : int
        The number of outputs they must have.
    source : str
        The start of the error messages (``"teacher_predictions has"``,
        ``"The teacher Ridge predicted"``).

    Returns
    -------
    ndarray of shape (n_samples, n_outputs), float64

    Raises
    ------
    skkd.TeacherError
        For cells that are not numbers, another shape, or a value that is NaN
        or infinite.
    """
    expected = f"({n_samples}, {n_outputs})"
    out = as_float64(values, source=source, expected=expected)
    if out.ndim == 1:
        out = out.reshape(-1, 1)
    if out.shape != (n_samples, n_outputs):
        raise TeacherError(
            f"{source} shape {tuple(out.shape)} for {n_samples} rows; y has {n_outputs} "
            f"output(s), so it must be {expected}"
            f"{f' or ({n_samples},)' if n_outputs == 1 else ''}, in y's units."
        )
    if not np.isfinite(out).all():
        row, col = (int(i) for i in np.argwhere(~np.isfinite(out))[0])
        raise TeacherError(f"{source} {out[row, col]} for row {row}, output {col}: teacher "
                           "predictions must be finite.")
    return out


def teacher_predictions(teacher: Any, X: Any, n_outputs: int, *,
                        batch_size: int = 1024) -> np.ndarray:
    """A fitted teacher's (or ensemble's) predictions on ``X``, float64, ``(n, n_outputs)``.

    What :func:`regression_outputs` computes for rows it did not fit on: each
    member predicts, ensembles combine inside out with their weights.

    Parameters
    ----------
    teacher : object, list, tuple or EnsembleTeacher
        A fitted teacher or ensemble.
    X : array-like or DataFrame
        The rows, passed to each member as they are.
    n_outputs : int
        The number of outputs expected.
    batch_size : int, default=1024
        Batch size of a torch member's inference pass.

    Returns
    -------
    ndarray of shape (n_samples, n_outputs), float64
    """
    root = TeacherNode(teacher)
    outs = {id(leaf): predictions(leaf.fitted, X, n_outputs, batch_size=batch_size,
                                  name=leaf.describe()) for leaf in root.leaves()}
    return root.combined(lambda leaf: outs[id(leaf)], "predictions")


def refuse_classifier(model: Any, name: str) -> None:
    """Refuse a classifier (fitted or not) as a regression teacher.

    A classifier's ``predict`` returns labels: distilled as predictions, its
    0/1 labels would teach the student nonsense without an error.

    Parameters
    ----------
    model : object
        A teacher or ensemble member as given (a ``Pipeline`` or a
        ``FrozenEstimator`` is a classifier when its estimator is one).
    name : str
        The teacher's name in the message.

    Raises
    ------
    skkd.TeacherError
        Naming the teacher and pointing to ``DistilledClassifier``.
    """
    try:
        classifier = is_classifier(model)
    except Exception:  # objects without scikit-learn's tags (torch modules, adapters)
        classifier = False
    if classifier or (hasattr(model, "predict_proba") and hasattr(model, "classes_")):
        raise TeacherError(
            f"The teacher {name} is a classifier: its predict returns class labels, not "
            "predictions of y. DistilledRegressor needs a regressor (predict(X) in y's "
            "units); to distill a classifier, use DistilledClassifier."
        )


def warn_if_near_mean(score: float) -> None:
    """Warn (:class:`~skkd.exceptions.TeacherNearMeanWarning`) when R² is below ``NEAR_MEAN_R2``.

    The warning points at the first frame outside skkd (the user's ``fit``).

    Parameters
    ----------
    score : float
        The teacher's R² on the labeled training rows (NaN: no warning).
    """
    if score < NEAR_MEAN_R2:
        warnings.warn(
            f"The teacher's R² on the training data is {score:.3g}: its predictions are "
            "worse than y's mean (R² 0). It probably predicts in other units than the y the "
            "student is given (e.g. the student inside a TransformedTargetRegressor gets the "
            "transformed y), or receives features it was not trained on (e.g. after a "
            "transformer in a Pipeline): fit the teacher on the same features and targets, or "
            "pass its predictions on its own inputs, in the units of the student's y, as "
            "fit(..., teacher_predictions=...) (distilledregressor__teacher_predictions in a "
            "Pipeline).",
            TeacherNearMeanWarning,
            stacklevel=caller_level(),
        )


def regression_outputs(teacher: Any, X: Any, y: np.ndarray, labeled: np.ndarray, *,
                       batch_size: int = 1024, cv: Any = None, groups: Any = None,
                       sample_weight: Any = None) -> TeacherOutputs:
    """The teacher step of a regressor's fit: fit what is unfitted, predict, combine, score.

    Parameters
    ----------
    teacher : object, list, tuple or EnsembleTeacher
        One teacher or an ensemble (weighted mean of the members' predictions).
    X : array-like or DataFrame
        The rows as the user passed them.
    y : ndarray of shape (n_samples, n_outputs)
        The targets (unlabeled rows: NaN).
    labeled : ndarray of bool of shape (n_samples,)
        The rows with a target: clones are fitted on them, and scored.
    batch_size : int, default=1024
        Batch size of a torch teacher's pass.
    cv : int, cross-validation splitter or None, default=None
        Out-of-fold predictions for unfitted scikit-learn teachers.
    groups, sample_weight : array-like of shape (n_samples,) or None
        For a group splitter in ``cv``, and for fitting the clones.

    Returns
    -------
    TeacherOutputs
        ``values`` holds the predictions (float64, in ``y``'s units), ``score``
        the teacher's R² on the labeled rows, ``member_scores`` each ensemble
        member's.
    """
    root = TeacherNode(teacher)
    leaves = root.leaves()
    rows = np.flatnonzero(labeled)
    n_outputs = y.shape[1]
    groups = per_row(groups, "groups", len(y))
    sample_weight = per_row(sample_weight, "sample_weight", len(y), dtype=np.float64)
    refuse_cv_without_clones(cv, leaves)
    for leaf in leaves:  # before anything is fitted
        refuse_classifier(leaf.given, leaf.describe())
    target = y[:, 0] if n_outputs == 1 else y
    fitter = CloneFitter(X, target, sample_weight)
    outs: dict[int, np.ndarray] = {}
    for leaf in leaves:
        if is_unfitted_estimator(leaf.given):
            hint = (" For several outputs, wrap a single-output regressor in "
                    "sklearn.multioutput.MultiOutputRegressor." if n_outputs > 1 else "")
            leaf.fitted = fitter.fit_labeled(leaf.given, rows, leaf.describe(), hint)
            leaf.out_of_fold = cv is not None
        outs[id(leaf)] = predictions(leaf.fitted, X, n_outputs, batch_size=batch_size,
                                     name=leaf.describe())
        if leaf.out_of_fold:
            query = partial(_fold_predictions, n_outputs=n_outputs, batch_size=batch_size,
                            name=f"a cross-validation clone of {leaf.describe()}")
            outs[id(leaf)] = out_of_fold(leaf.given, fitter, rows, outs[id(leaf)], cv, query,
                                         groups=groups, name=leaf.describe())
    fitter.warn_unweighted()
    spec = root.rebuild()
    combined, members = root.with_members(lambda leaf: outs[id(leaf)], "predictions")
    member_scores = None if members is None else [r2(y[rows], m[rows]) for m in members]
    return TeacherOutputs(combined, None, r2(y[rows], combined[rows]), member_scores, spec)


def _fold_predictions(fold: Any, X: Any, n_rows: int, *, n_outputs: int, batch_size: int,
                      name: str) -> np.ndarray:
    """How :func:`~skkd.teachers._folds.out_of_fold` queries a ``teacher_cv`` clone."""
    return predictions(fold, X, n_outputs, batch_size=batch_size, name=name)


def r2(y: Any, predicted: Any, sample_weight: Any = None) -> float:
    """R² of ``predicted`` for ``y``, averaged over outputs, at any scale (NaN under two rows).

    scikit-learn's ``r2_score`` of both, shifted by ``y``'s first row and divided
    by a power of two (R² changes by neither): the same value, without the
    squares overflowing at ``1e200`` or the digits of ``y - mean`` lost on a
    ``1e15`` offset.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The targets, finite.
    predicted : array-like of the same number of values
        The predictions, finite.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Row weights.

    Returns
    -------
    float
    """
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 2:
        return float("nan")
    y = y.reshape(len(y), -1)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(y.shape)
    with np.errstate(over="ignore"):
        y, predicted = y - y[0], predicted - y[0]
    top = np.maximum(np.max(np.abs(y), axis=0), np.max(np.abs(predicted), axis=0))
    top = np.where((top > 0) & np.isfinite(top), top, 1.0)
    unit = np.exp2(np.floor(np.log2(top)))
    return float(r2_score(y / unit, predicted / unit, sample_weight=sample_weight))
