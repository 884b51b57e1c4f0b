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
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from skkd.adapters import PROBA_FLOOR, SklearnTeacher, Teacher, TorchTeacher, eval_mode
from skkd.exceptions import TeacherError, TeacherNearChanceWarning
from skkd.plugins import describe, teacher_adapters

__all__ = [
    "PROBA_FLOOR", "AlignedTeacher", "SklearnTeacher", "Teacher", "TeacherOutputs",
    "TorchTeacher", "as_teacher", "eval_mode", "is_unfitted_estimator", "teacher_outputs",
    "warn_if_near_chance",
]

#: With per-batch teaching, ``teacher_score_`` is measured on these first rows.
PROBE_ROWS = 1024


def as_teacher(obj: Any) -> Teacher:
    """Wrap ``obj`` with the first registered adapter that accepts it.

    A ``sklearn.frozen.FrozenEstimator`` is the teacher it wraps.

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

    def __init__(self, teacher: Teacher, classes: np.ndarray, frame: Any = None) -> None:
        super().__init__(teacher.model, classes)
        self.teacher = teacher
        self.columns: np.ndarray | None = None
        self._frame_template = None
        if frame is not None and not isinstance(teacher, TorchTeacher):
            self._frame_template = frame.iloc[:0]
        if teacher.classes_ is not None:
            teacher_classes = teacher.classes_.tolist()
            if set(teacher_classes) != set(classes.tolist()):
                raise TeacherError(
                    f"The teacher's classes_ {teacher_classes} differ from the classes in y "
                    f"{classes.tolist()}; fit the teacher on the same labels or pass "
                    "teacher_logits with one column per class of y."
                )
            self.columns = np.array([teacher_classes.index(c) for c in classes.tolist()])

    def _describe(self) -> str:
        return type(self.model).__name__

    def _align(self, out: Any) -> Any:
        if out.ndim != 2:
            raise TeacherError(
                f"The teacher {self._describe()} returned outputs of shape "
                f"{tuple(out.shape)}; a teacher must return (n_samples, n_classes) logits."
            )
        expected = len(self.classes_)
        width = out.shape[1]
        if width == 1 and expected == 2:
            out = _binary_logits(out)
        elif width != expected:
            raise TeacherError(
                f"The teacher {self._describe()} outputs {width} columns but y has "
                f"{expected} classes {self.classes_.tolist()}; the teacher must output one "
                "logit per class."
            )
        return out if self.columns is None else out[:, self.columns]

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
    per_batch: AlignedTeacher | None
    #: The teacher's accuracy on the training rows (the probed ones per batch).
    score: float


def teacher_outputs(
    teacher: Any,
    X: Any,
    y_enc: np.ndarray,
    classes: np.ndarray,
    *,
    inference: str = "once",
    batch_size: int = 1024,
) -> TeacherOutputs:
    """Query a fitted ``teacher`` on ``X`` (as the user passed it) for a fit.

    ``inference="once"`` computes all logits in one batched pass;
    ``"per_batch"`` returns the teacher to query on every training batch,
    checked and scored on the first :data:`PROBE_ROWS` rows. The outputs are
    checked (shape, finiteness) before any training.
    """
    frame = X if hasattr(X, "iloc") and hasattr(X, "columns") else None
    aligned = AlignedTeacher(as_teacher(teacher), classes, frame=frame)
    source = f"The output of the teacher {aligned._describe()}"
    if inference == "once":
        logits = check_teacher_logits(aligned.logits(X, batch_size), len(y_enc), len(classes),
                                      source=source)
        return TeacherOutputs(logits, None, score_teacher(logits, y_enc))
    n_probe = min(len(y_enc), PROBE_ROWS)
    probe_X = X.iloc[:n_probe] if frame is not None else X[:n_probe]
    probe = check_teacher_logits(aligned.logits(probe_X, batch_size), n_probe, len(classes),
                                 source=source)
    return TeacherOutputs(None, aligned, score_teacher(probe, y_enc[:n_probe]))


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
