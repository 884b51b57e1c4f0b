"""A classification teacher's output columns, matched to the student's ``classes_``.

:class:`AlignedTeacher` wraps the :class:`~skkd.teachers.Teacher` an adapter
returned: columns matched by label (a teacher's ``classes_``) or taken in
sorted label order, a single binary logit spread over two columns, classes
the teacher never saw (a ``teacher_cv`` clone's fold) given a probability of
about 0, and a training batch handed over as a DataFrame when ``X`` was one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from skkd._arrays import frame_like, to_tensor
from skkd.exceptions import TeacherError
from skkd.teachers._adapters import PROBA_FLOOR, Teacher, TorchTeacher
from skkd.teachers._outputs import as_float32, has_minus_one, unlabeled_hint

__all__ = ["AlignedTeacher"]


def _binary_logits(z: Any) -> Any:
    """One binary logit ``z`` (log-odds of the second class) as the pair ``(-z/2, z/2)``."""
    if isinstance(z, torch.Tensor):
        return torch.cat([-z / 2, z / 2], dim=1)
    return np.concatenate([-z / 2, z / 2], axis=1)


class AlignedTeacher(Teacher):
    """A teacher whose output columns follow the student's ``classes_``.

    Columns are matched by label when the teacher has ``classes_``. A teacher
    that knows classes ``y`` lacks (a cross-validation fold without a rare
    class, as ``KFold`` makes) keeps the columns of ``y``'s classes only: the
    softmax over the kept logits renormalizes the teacher's probabilities
    over ``y``'s classes (the dropped classes' mass is shared out in
    proportion). One output column in a binary task is a single logit ``z``
    and becomes the logits ``(-z/2, z/2)``, whatever kind of teacher gave it.
    Any failure of the teacher is raised as :class:`~skkd.exceptions.TeacherError`.

    Parameters
    ----------
    teacher : Teacher
        The adapted teacher.
    classes : ndarray
        The student's classes, sorted.
    frame : pandas.DataFrame or None
        The training X when the user passed a DataFrame: training batches are
        handed to a non-torch teacher as frames with its columns and dtypes.
    missing_classes : bool, default=False
        Accept a teacher whose ``classes_`` lack some of ``classes`` (a
        cross-validation clone fitted on a fold without them): their logits
        are set far below the row's others, a probability of about 0.
    """

    def __init__(self, teacher: Teacher, classes: np.ndarray, frame: Any = None,
                 missing_classes: bool = False) -> None:
        super().__init__(teacher.model, classes)
        self.teacher = teacher
        self.columns: np.ndarray | None = None
        self.width = len(classes)  # the teacher's number of output columns
        self._frame_template = None
        if frame is not None and not isinstance(teacher, TorchTeacher):
            self._frame_template = frame.iloc[:0]
        if teacher.classes_ is not None:
            teacher_classes = teacher.classes_.tolist()
            known = set(teacher_classes)
            unseen = [c for c in classes.tolist() if c not in known]
            if unseen and not (missing_classes and known & set(classes.tolist())):
                hint = "" if has_minus_one(teacher_classes) else unlabeled_hint(classes)
                raise TeacherError(
                    f"The teacher's classes_ {teacher_classes} differ from the classes in y "
                    f"{classes.tolist()}: the teacher never saw {unseen}. Fit the teacher on "
                    "the same labels or pass teacher_logits with one column per class of y "
                    f"(a teacher may know classes y lacks: their columns are dropped).{hint}"
                )
            # -1: a class this teacher never saw (a cross-validation clone's fold);
            # the teacher's classes y lacks get no column (dropped).
            self.columns = np.array([teacher_classes.index(c) if c in known else -1
                                     for c in classes.tolist()])
            self.width = len(teacher_classes)

    def _describe(self) -> str:
        return type(self.model).__name__

    def _align(self, out: Any) -> Any:
        if out.ndim != 2:
            raise TeacherError(
                f"The teacher {self._describe()} returned outputs of shape "
                f"{tuple(out.shape)}; a teacher must return (n_samples, n_classes) logits."
            )
        expected = self.width
        width = out.shape[1]
        if width == 1 and expected == 2:
            out = _binary_logits(out)
        elif width != expected:
            what = (f"y has {expected} classes {self.classes_.tolist()}" if self.columns is None
                    else f"its classes_ are {self.teacher.classes_.tolist()}")
            hint = ("" if self.columns is not None or width < expected else
                    " If these rows lack classes the teacher knows (a cross-validation split "
                    "such as KFold can leave a rare class out of a training fold), split with "
                    "StratifiedKFold so that every fold has every class, or give the teacher "
                    "classes_ (a skorch NeuralNetClassifier has them) so that skkd can match "
                    "its columns by label.")
            raise TeacherError(
                f"The teacher {self._describe()} outputs {width} columns but {what}; the "
                f"teacher must output one logit per class.{hint}{unlabeled_hint(self.classes_)}"
            )
        if self.columns is None:
            return out
        if (self.columns >= 0).all():
            if len(self.columns) == width and (self.columns == np.arange(width)).all():
                return out
            return out[:, torch.as_tensor(self.columns) if isinstance(out, torch.Tensor)
                       else self.columns]
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
        source = f"The output of the teacher {self._describe()}"
        out = as_float32(self._call(self.teacher.logits, X, batch_size), source)
        return np.ascontiguousarray(self._align(out), np.float32)

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        if self._frame_template is not None:
            frame = self._as_frame(xb.detach().cpu().numpy())
            out = np.asarray(self._call(self.teacher.logits, frame, len(frame)))
            out = to_tensor(out, dtype=torch.float32, device=xb.device)
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
        return frame_like(self._frame_template, rows, source="A batch augmentation")
