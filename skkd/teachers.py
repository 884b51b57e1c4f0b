"""Teacher handling: find the adapter, align the columns to ``y``, compute the outputs.

:func:`as_teacher` wraps any supported model in a :class:`Teacher` (adapters
come from the plugin registry; :mod:`skkd.adapters` holds the built-ins).
:func:`teacher_outputs` is the teacher step of ``DistilledClassifier.fit``.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples, check_is_fitted

from skkd.adapters import PROBA_FLOOR, SklearnTeacher, Teacher, TorchTeacher, eval_mode
from skkd.ensembles import CombinedTeacher, EnsembleTeacher, as_ensemble, combine_logits
from skkd.exceptions import InvalidParameterError, TeacherError, TeacherNearChanceWarning
from skkd.plugins import describe, teacher_adapters

__all__ = [
    "PROBA_FLOOR", "AlignedTeacher", "SklearnTeacher", "Teacher", "TeacherOutputs",
    "TorchTeacher", "as_teacher", "eval_mode", "is_unfitted_estimator", "teacher_logits",
    "share_or_clone", "teacher_outputs", "warn_if_near_chance",
]

#: With per-batch teaching, ``teacher_score_`` is measured on these first rows.
PROBE_ROWS = 1024


def as_teacher(obj: Any) -> Teacher:
    """Wrap ``obj`` with the first registered adapter that accepts it.

    A ``sklearn.frozen.FrozenEstimator`` is the teacher it wraps.

    Parameters
    ----------
    obj : object
        A teacher of any supported kind, or a :class:`Teacher` (returned as it is).

    Returns
    -------
    Teacher
        What the first accepting adapter returned.

    Raises
    ------
    TypeError
        If no adapter accepts ``obj``; the message lists the supported kinds.
    """
    if isinstance(obj, Teacher):
        return obj
    while isinstance(obj, FrozenEstimator):
        obj = obj.estimator
    adapters = teacher_adapters()
    for name, adapter in adapters:
        teacher = adapter(obj)
        if teacher is None:
            continue
        if not isinstance(teacher, Teacher):
            raise TypeError(
                f"Teacher adapter {name!r} of {describe('teachers', name)} returned "
                f"{type(teacher).__name__}; an adapter must return a skkd.teachers.Teacher "
                "or None."
            )
        return teacher
    supported = "; ".join(
        f"{name}: {(adapter.__doc__ or '').strip().splitlines()[0] if adapter.__doc__ else ''}"
        for name, adapter in adapters
    )
    raise TypeError(
        f"teacher of type {type(obj).__name__} is not supported. Supported teachers: "
        f"{supported}; or a sklearn.frozen.FrozenEstimator around one. Pass precomputed "
        "outputs as fit(X, y, teacher_logits=...) or register an adapter through the "
        "skkd_register_teachers hook."
    )


def is_unfitted_estimator(obj: Any) -> bool:
    """True for a scikit-learn estimator that has not been fitted yet."""
    if isinstance(obj, torch.nn.Module) or not hasattr(obj, "fit"):
        return False
    if not hasattr(obj, "get_params"):
        return False
    try:
        check_is_fitted(obj)
    except NotFittedError:
        return True
    except TypeError:
        return False
    return False


def share_or_clone(teacher: Any) -> Any:
    """For ``clone``: a fitted teacher (or ensemble member) is shared, an unfitted one cloned."""
    ensemble = as_ensemble(teacher)
    if ensemble is not None:
        members = [share_or_clone(m) for m in ensemble.teachers]
        return ensemble.with_teachers(members) if teacher is ensemble else type(teacher)(members)
    return clone(teacher) if is_unfitted_estimator(teacher) else teacher


def _binary_logits(z: Any) -> Any:
    """One binary logit ``z`` (log-odds of the second class) as the pair ``(-z/2, z/2)``."""
    if isinstance(z, torch.Tensor):
        return torch.cat([-z / 2, z / 2], dim=1)
    return np.concatenate([-z / 2, z / 2], axis=1)


class AlignedTeacher(Teacher):
    """A teacher whose output columns follow the student's ``classes_``.

    Columns are matched by label when the teacher has ``classes_``. One
    output column in a binary task is a single logit ``z`` and becomes the
    logits ``(-z/2, z/2)``, whatever kind of teacher gave it. Any failure of
    the teacher is raised as :class:`~skkd.exceptions.TeacherError`.

    Parameters
    ----------
    teacher : Teacher
        The adapted teacher.
    classes : ndarray
        The student's classes, sorted.
    frame : pandas.DataFrame or None
        The training X when the user passed a DataFrame: training batches are
        handed to a non-torch teacher as frames with its columns and dtypes.
    """

    def __init__(self, teacher: Teacher, classes: np.ndarray, frame: Any = None,
                 missing_classes: bool = False) -> None:
        super().__init__(teacher.model, classes)
        self.teacher = teacher
        self.columns: np.ndarray | None = None
        self._frame_template = None
        if frame is not None and not isinstance(teacher, TorchTeacher):
            self._frame_template = frame.iloc[:0]
        if teacher.classes_ is not None:
            teacher_classes = teacher.classes_.tolist()
            known = set(teacher_classes)
            wanted = set(classes.tolist())
            if known != wanted and not (missing_classes and known < wanted):
                raise TeacherError(
                    f"The teacher's classes_ {teacher_classes} differ from the classes in y "
                    f"{classes.tolist()}; fit the teacher on the same labels or pass "
                    "teacher_logits with one column per class of y."
                )
            # -1: a class this teacher never saw (a cross-validation clone's fold)
            self.columns = np.array([teacher_classes.index(c) if c in known else -1
                                     for c in classes.tolist()])

    def _describe(self) -> str:
        return type(self.model).__name__

    def _align(self, out: Any) -> Any:
        if out.ndim != 2:
            raise TeacherError(
                f"The teacher {self._describe()} returned outputs of shape "
                f"{tuple(out.shape)}; a teacher must return (n_samples, n_classes) logits."
            )
        expected = len(self.classes_) if self.columns is None else int(
            (self.columns >= 0).sum())
        width = out.shape[1]
        if width == 1 and expected == 2:
            out = _binary_logits(out)
        elif width != expected:
            raise TeacherError(
                f"The teacher {self._describe()} outputs {width} columns but y has "
                f"{expected} classes {self.classes_.tolist()}; the teacher must output one "
                "logit per class."
            )
        if self.columns is None:
            return out
        if (self.columns >= 0).all():
            return out[:, self.columns]
        # An unseen class gets a logit far below the row's others: probability ~0.
        aligned = np.asarray(out)[:, np.maximum(self.columns, 0)].copy()
        aligned[:, self.columns < 0] = aligned.min(axis=1, keepdims=True) + np.log(PROBA_FLOOR)
        return aligned

    def _call(self, fn: Any, X: Any, *args: Any) -> Any:
        try:
            return fn(X, *args)
        except TeacherError:
            raise
        except Exception as exc:
            raise TeacherError(
                f"The teacher {self._describe()} failed on input of shape "
                f"{tuple(getattr(X, 'shape', (len(X),)))}: {type(exc).__name__}: {exc}"
            ) from exc

    def logits(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        out = np.asarray(self._call(self.teacher.logits, X, batch_size))
        return np.ascontiguousarray(self._align(out), np.float32)

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        if self._frame_template is not None:
            frame = self._as_frame(xb.detach().cpu().numpy())
            out = np.asarray(self._call(self.teacher.logits, frame, len(frame)))
            out = torch.as_tensor(out, dtype=torch.float32, device=xb.device)
        else:
            out = self._call(self.teacher.batch_logits, xb)
        out = self._align(out)
        if not torch.isfinite(out).all():
            raise TeacherError(
                f"The teacher {self._describe()} returned NaN or infinity on a training "
                "batch; check the teacher, or clip its probabilities before their log."
            )
        return out

    def _as_frame(self, rows: np.ndarray) -> Any:
        template = self._frame_template
        frame = type(template)(rows, columns=template.columns)
        return frame.astype(template.dtypes.to_dict())


class TeacherOutputs(NamedTuple):
    """What the teacher step of ``fit`` gives the student."""

    #: Precomputed logits aligned to ``classes_``, or None (per-batch teaching).
    logits: np.ndarray | None
    #: The teacher queried on every training batch, or None.
    per_batch: Teacher | None
    #: The teacher's accuracy on the labeled training rows (the probed ones per batch).
    score: float
    #: Each member's accuracy, for an ensemble; None for a single teacher.
    member_scores: list[float] | None = None
    #: The teacher as queried: unfitted members replaced by their fitted clones.
    fitted: Any = None


def _rows(X: Any, rows: np.ndarray) -> Any:
    """``X[rows]`` for arrays, lists and DataFrames; ``X`` itself for all its rows."""
    if len(rows) == _num_samples(X) and np.array_equal(rows, np.arange(len(rows))):
        return X
    return _safe_indexing(X, rows)


def teacher_outputs(
    teacher: Any,
    X: Any,
    y: np.ndarray,
    y_enc: np.ndarray,
    classes: np.ndarray,
    *,
    inference: str = "once",
    batch_size: int = 1024,
    combine: str = "proba",
    cv: Any = None,
) -> TeacherOutputs:
    """The teacher step of a fit: fit what is unfitted, query, combine, check and score.

    Parameters
    ----------
    teacher : object, list, tuple or EnsembleTeacher
        One teacher or an ensemble. An unfitted scikit-learn teacher (or
        member) is cloned and fitted on the labeled rows.
    X : array-like or DataFrame
        The rows as the user passed them.
    y, y_enc : ndarray
        The labels as given and encoded (``-1`` marks an unlabeled row).
    classes : ndarray
        The student's sorted classes.
    inference : {"once", "per_batch"}
        ``"once"`` computes all logits in one batched pass; ``"per_batch"``
        returns the teacher to query on every training batch, checked and
        scored on the first :data:`PROBE_ROWS` rows.
    batch_size : int
        Batch size of the teacher's pass.
    combine : {"proba", "logits"}
        How an ensemble's outputs are averaged.
    cv : int, cross-validation splitter or None
        Out-of-fold outputs for unfitted scikit-learn teachers: each labeled
        row gets the output of a clone that was not fitted on it.

    Returns
    -------
    TeacherOutputs
        Outputs are checked (shape, finiteness) before any training.
    """
    ensemble = as_ensemble(teacher)
    members = ensemble.teachers if ensemble is not None else [teacher]
    weights = ensemble.normalized_weights() if ensemble is not None else np.ones(1)
    labeled = np.flatnonzero(y_enc >= 0)
    if cv is not None:
        if inference != "once":
            raise InvalidParameterError(
                "teacher_cv needs teacher_inference='once': out-of-fold outputs belong to "
                "rows, and per-batch teaching queries the teacher on batches."
            )
        if not any(is_unfitted_estimator(m) for m in members):
            raise InvalidParameterError(
                "teacher_cv needs an unfitted scikit-learn teacher (or ensemble member) to "
                "fit on each fold; the teacher is fitted already."
            )
    frame = X if hasattr(X, "iloc") and hasattr(X, "columns") else None
    fitted, aligned, oof = [], [], []
    for member in members:
        if is_unfitted_estimator(member):
            fitted.append(clone(member).fit(_rows(X, labeled), y[labeled]))
            oof.append(cv is not None)
        else:
            fitted.append(member)
            oof.append(False)
        aligned.append(AlignedTeacher(as_teacher(fitted[-1]), classes, frame=frame))
    spec = fitted[0] if ensemble is None else (
        ensemble.with_teachers(fitted) if isinstance(teacher, EnsembleTeacher)
        else type(teacher)(fitted))

    def checked(a: AlignedTeacher, rows: Any, n: int) -> np.ndarray:
        return check_teacher_logits(a.logits(rows, batch_size), n, len(classes),
                                    source=f"The output of the teacher {a._describe()}")

    if inference == "once":
        outs = [checked(a, X, len(y_enc)) for a in aligned]
        for i, member in enumerate(members):
            if oof[i]:
                outs[i] = _out_of_fold(member, X, y, labeled, outs[i], classes, cv, batch_size)
        per_batch = None
        rows = labeled
    else:
        n_probe = min(len(y_enc), PROBE_ROWS)
        outs = [checked(a, _rows(X, np.arange(n_probe)), n_probe) for a in aligned]
        per_batch = aligned[0] if ensemble is None else CombinedTeacher(aligned, weights,
                                                                        combine)
        rows = labeled[labeled < n_probe]
    logits = outs[0] if ensemble is None else combine_logits(outs, weights, combine)
    member_scores = None if ensemble is None else [
        score_teacher(o[rows], y_enc[rows]) for o in outs]
    return TeacherOutputs(
        logits if inference == "once" else None, per_batch,
        score_teacher(logits[rows], y_enc[rows]), member_scores, spec,
    )


def _out_of_fold(member: Any, X: Any, y: np.ndarray, labeled: np.ndarray, full: np.ndarray,
                 classes: np.ndarray, cv: Any, batch_size: int) -> np.ndarray:
    """Each labeled row's logits from a clone fitted without it (unlabeled rows: ``full``)."""
    frame = X if hasattr(X, "iloc") and hasattr(X, "columns") else None
    splitter = check_cv(cv, y[labeled], classifier=True)
    out = full.copy()
    for train, test in splitter.split(np.zeros((len(labeled), 1)), y[labeled]):
        fold = clone(member).fit(_rows(X, labeled[train]), y[labeled[train]])
        teacher = AlignedTeacher(as_teacher(fold), classes, frame=frame, missing_classes=True)
        out[labeled[test]] = check_teacher_logits(
            teacher.logits(_rows(X, labeled[test]), batch_size), len(test), len(classes),
            source=f"The output of a cross-validation clone of {type(member).__name__}")
    return out


def teacher_logits(teacher: Any, X: Any, *, classes: Any = None, batch_size: int = 1024,
                   combine: str = "proba") -> np.ndarray:
    """A fitted teacher's (or ensemble's) logits on ``X``, to pass as ``fit(teacher_logits=)``.

    Compute a slow teacher's outputs once and hand them to a whole
    ``GridSearchCV``, which slices them per fold like ``X``.

    Parameters
    ----------
    teacher : object, list, tuple or EnsembleTeacher
        A fitted teacher of any supported kind, or several.
    X : array-like or DataFrame
        The rows, as the teacher expects them.
    classes : array-like or None, default=None
        The column order: the student's ``classes_``, i.e. the sorted labels of
        ``y``. None uses the teacher's sorted ``classes_`` (a torch teacher's
        columns as they are).
    batch_size : int, default=1024
        Batch size of the teacher's pass.
    combine : {"proba", "logits"}, default="proba"
        How an ensemble's outputs are averaged.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float32
        Log-probabilities (probabilities clipped at
        :data:`~skkd.adapters.PROBA_FLOOR`) or logits, one column per class.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skkd import DistilledClassifier, teacher_logits
    >>> X, y = load_iris(return_X_y=True)
    >>> teacher = LogisticRegression(max_iter=1000).fit(X, y)
    >>> logits = teacher_logits(teacher, X)
    >>> logits.shape, logits.dtype
    ((150, 3), dtype('float32'))
    >>> student = DistilledClassifier(max_epochs=2, random_state=0)
    >>> student.fit(X, y, teacher_logits=logits).teacher_score_ > 0.9
    True
    """
    ensemble = as_ensemble(teacher)
    members = ensemble.teachers if ensemble is not None else [teacher]
    if any(is_unfitted_estimator(m) for m in members):
        raise NotFittedError("teacher_logits needs fitted teachers; fit them first.")
    adapted = [as_teacher(m) for m in members]
    raw = None
    if classes is None:
        known = next((a.classes_ for a in adapted if a.classes_ is not None), None)
        if known is None:  # the columns are the classes: query once, align those outputs
            raw = [np.asarray(a.logits(X, batch_size), dtype=np.float32) for a in adapted]
            classes = np.arange(max(raw[0].shape[1], 2))
        else:
            classes = np.sort(known)
    classes = np.asarray(classes)
    aligned = [AlignedTeacher(a, classes) for a in adapted]
    if raw is None:
        outs = [a.logits(X, batch_size) for a in aligned]
    else:
        outs = [np.ascontiguousarray(a._align(r), np.float32) for a, r in zip(aligned, raw,
                                                                              strict=True)]
    n = len(outs[0])
    outs = [check_teacher_logits(o, n, len(classes), source="The teacher's output") for o in outs]
    if ensemble is None:
        return outs[0]
    return combine_logits(outs, ensemble.normalized_weights(), combine)


def check_teacher_logits(
    logits: Any, n_samples: int, n_classes: int, source: str = "teacher_logits"
) -> np.ndarray:
    """Check teacher outputs: one finite row per sample, one column per class."""
    logits = np.asarray(logits, dtype=np.float32)
    if logits.shape != (n_samples, n_classes):
        raise TeacherError(
            f"{source} has shape {logits.shape}, expected ({n_samples}, {n_classes}): "
            "one row per sample of X and one column per class, in classes_ order."
        )
    if not np.isfinite(logits).all():
        raise TeacherError(
            f"{source} contains NaN or infinity; check the teacher, or clip probabilities "
            "before taking their log."
        )
    return logits


def score_teacher(logits: np.ndarray, y_enc: np.ndarray) -> float:
    """The teacher's accuracy: how often its top logit is the label."""
    return float(np.mean(np.argmax(logits, axis=1) == y_enc)) if len(y_enc) else float("nan")


def warn_if_near_chance(score: float, y_enc: np.ndarray, n_classes: int,
                        stacklevel: int = 2) -> None:
    """Warn (:class:`~skkd.exceptions.TeacherNearChanceWarning`) near chance level."""
    chance = np.bincount(y_enc, minlength=n_classes).max() / max(len(y_enc), 1)
    if score < chance + 0.25 * (1 - chance):
        warnings.warn(
            f"The teacher's accuracy on the training data is {score:.3f}, near chance level "
            f"({chance:.3f}). It probably receives features it was not trained on, e.g. after "
            "a transformer in a Pipeline: fit the teacher on the same features, or pass its "
            "outputs on its own inputs as fit(..., teacher_logits=...) "
            "(distilledclassifier__teacher_logits in a Pipeline).",
            TeacherNearChanceWarning,
            stacklevel=stacklevel + 1,
        )
