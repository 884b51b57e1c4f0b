"""Teacher outputs: what the teacher step gives the student, converted and checked.

:class:`TeacherOutputs` is the result of either estimator's teacher step.

A classifier's teacher outputs (or ``fit(teacher_logits=...)``) must be one
finite number per sample and class, kept in float32; a regressor's
predictions one number per sample and output, kept in float64 (in ``y``'s
units, they may need every digit: targets near ``1e12`` differ in their
last float32 digits). The checks here say what is wrong and where: rows of
different lengths, a cell that is not a number, the shape, NaN or infinity,
or a value float32 cannot hold, naming the row and column.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from skkd.exceptions import TeacherError
from skkd.teachers._adapters import Teacher

__all__ = ["TeacherOutputs", "as_float32", "as_float64", "check_teacher_logits", "has_minus_one",
           "unlabeled_hint"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _where(index: tuple[int, ...]) -> str:
    return f"row {index[0]}, column {index[1]}" if len(index) == 2 else f"index {index}"


def _not_a_number(cell: Any) -> bool:
    if isinstance(cell, str | bytes):
        return True
    try:
        float(cell)
    except (TypeError, ValueError):
        return True
    return False


#: What a teacher's outputs are, and what their columns are, for each kind of output.
_WORDS = {"logits": ("logits", "class"), "predictions": ("predictions", "output")}


def _numeric(values: Any, source: str, expected: str, kind: str = "logits") -> np.ndarray:
    """``values`` as a float64 array, refusing ragged rows and cells that are not numbers.

    ``kind`` (``"logits"`` or ``"predictions"``) words the messages.
    """
    what, column = _WORDS[kind]
    if isinstance(values, torch.Tensor):  # float64 keeps a float64 tensor's digits
        values = values.detach().cpu().double().numpy()
    try:
        arr = np.asarray(values)
    except ValueError as exc:  # numpy refuses rows of different lengths
        lengths = [len(r) if hasattr(r, "__len__") and not isinstance(r, str | bytes) else 1
                   for r in values]
        i = next((i for i, n in enumerate(lengths) if n != lengths[0]), None)
        which = ("" if i is None else
                 f": row 0 has {lengths[0]} values, row {i} has {lengths[i]}")
        raise TeacherError(
            f"{source} has rows of different lengths{which}; expected an array of shape "
            f"{expected}, one row per sample and one column per {column}."
        ) from exc
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64, copy=False)
    # Nested lists mixing numbers and strings become all strings: keep each cell's own type.
    cells = arr if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    for index in np.ndindex(cells.shape):
        cell = cells[index]
        cell = cell.item() if isinstance(cell, np.generic) else cell
        if _not_a_number(cell):
            raise TeacherError(
                f"{source} holds {cell!r} ({type(cell).__name__}) at {_where(index)}, which "
                f"is not a number; expected numeric {what} of shape {expected}."
            )
    return cells.astype(np.float64)


def as_float32(values: Any, source: str = "teacher_logits",
               expected: str = "(n_samples, n_classes)") -> np.ndarray:
    """Teacher outputs as float32, refusing what float32 cannot hold.

    Parameters
    ----------
    values : array-like or torch.Tensor
        Teacher outputs, any shape.
    source : str, default="teacher_logits"
        What they are, for error messages.
    expected : str, default="(n_samples, n_classes)"
        The shape they should have, for error messages.

    Returns
    -------
    ndarray, float32
        The same shape; NaN and infinity are kept (see :func:`check_teacher_logits`).

    Raises
    ------
    skkd.TeacherError
        For rows of different lengths, a cell that is not a number (naming its
        row, column and value), or a finite value beyond float32's range.
    """
    arr = _numeric(values, source, expected)
    big = np.isfinite(arr) & (np.abs(arr) > _FLOAT32_MAX)
    if big.any():
        index = tuple(int(i) for i in np.argwhere(big)[0])
        raise TeacherError(
            f"{source} holds {arr[index]:g} at {_where(index)}, beyond float32's range "
            f"(±{_FLOAT32_MAX:.3g}), in which teacher logits are kept; rescale the logits "
            "(softmax depends only on the differences within a row) or clip them."
        )
    return arr.astype(np.float32)


def as_float64(values: Any, source: str = "teacher_predictions",
               expected: str = "(n_samples, n_outputs)") -> np.ndarray:
    """A regression teacher's predictions as float64, every digit kept.

    The regressor standardizes them (in float64) before the student sees
    them in float32: cast to float32 in ``y``'s units, predictions near
    ``1e12`` would lose their differences.

    Parameters
    ----------
    values : array-like or torch.Tensor
        Teacher predictions, any shape.
    source : str, default="teacher_predictions"
        What they are, for error messages.
    expected : str, default="(n_samples, n_outputs)"
        The shape they should have, for error messages.

    Returns
    -------
    ndarray, float64
        The same shape; NaN and infinity are kept.

    Raises
    ------
    skkd.TeacherError
        For rows of different lengths, or a cell that is not a number (naming
        its row, column and value).
    """
    return _numeric(values, source, expected, kind="predictions")


def check_teacher_logits(
    logits: Any, n_samples: int, n_classes: int, source: str = "teacher_logits",
    classes: Any = None,
) -> np.ndarray:
    """Check teacher outputs: one finite row per sample, one column per class.

    Parameters
    ----------
    logits : array-like or torch.Tensor
        The outputs, e.g. ``fit(teacher_logits=...)``.
    n_samples, n_classes : int
        The shape they must have.
    source : str, default="teacher_logits"
        What they are, for error messages.
    classes : array-like or None, default=None
        The student's classes, to say so when ``-1`` among them is probably
        the unlabeled marker.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float32

    Raises
    ------
    skkd.TeacherError
        Naming what is wrong: rows of different lengths, a cell that is not a
        number, the shape, NaN or infinity, or a value beyond float32's range
        (with its row and column).
    """
    expected = f"({n_samples}, {n_classes})"
    arr = _numeric(logits, source, expected)
    if arr.shape != (n_samples, n_classes):
        hint = "" if classes is None else unlabeled_hint(classes)
        raise TeacherError(
            f"{source} has shape {arr.shape}, expected {expected}: one row per sample of X "
            f"and one column per class, in classes_ order.{hint}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise TeacherError(
            f"{source} contains NaN or infinity ({arr[index]} at {_where(index)}, "
            f"{int(bad.sum())} such values in all); check the teacher, or clip probabilities "
            "before taking their log."
        )
    return as_float32(arr, source, expected)


def has_minus_one(classes: Any) -> bool:
    """Whether numeric ``classes`` include -1."""
    values = np.asarray(classes)
    return values.dtype.kind in "iuf" and bool((values == -1).any())


def unlabeled_hint(classes: Any) -> str:
    """A sentence for class mismatches when ``-1`` is probably the unlabeled marker."""
    if not has_minus_one(classes):
        return ""
    return (" y has the class -1: pass unlabeled=-1 if -1 marks unlabeled rows "
            "(scikit-learn's semi-supervised convention).")


class TeacherOutputs(NamedTuple):
    """What the teacher step of ``fit`` gives the student.

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_outputs) or None
        The teacher's outputs on the training rows, computed once: a
        classifier's logits aligned to ``classes_``, a regressor's predictions;
        None when the teacher is queried on every batch.
    per_batch : Teacher or None
        The teacher queried on every training batch, or None.
    score : float
        The teacher's score on the labeled training rows: a classifier's
        accuracy, a regressor's R².
    member_scores : list of float or None, default=None
        Each (outer) member's score, for an ensemble.
    fitted : object, default=None
        The teacher as queried: unfitted members replaced by their fitted clones.
    """

    #: The outputs on the training rows (logits aligned to ``classes_``, or a
    #: regressor's predictions), or None (per-batch teaching).
    values: np.ndarray | None
    #: The teacher queried on every training batch, or None.
    per_batch: Teacher | None
    #: The teacher's accuracy (a regressor's: R²) on the labeled training rows (the probed
    #: ones per batch).
    score: float
    #: Each (outer) member's score, for an ensemble; None for a single teacher.
    member_scores: list[float] | None = None
    #: The teacher as queried: unfitted members replaced by their fitted clones.
    fitted: Any = None
