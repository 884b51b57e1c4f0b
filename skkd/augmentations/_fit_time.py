"""Augmentation at fit time: build the one ``augment`` names, add its transfer set.

The augmentations themselves are plugins (:mod:`skkd.augmentations` holds the
built-ins); this module is what ``DistilledClassifier.fit`` does with one:
:func:`kind_of` says what it does, :func:`add_transfer_set` appends its rows.
A transfer set marked ``fresh = True`` becomes a :class:`FreshTransferSet`,
which the net asks to :meth:`~FreshTransferSet.load` new rows at the start of
every epoch; a batch augmentation runs through
:func:`skkd.augmentations._batches.augment_batch`, which checks what it returns.
The teacher always answers for exactly the rows the student learns: generated
rows reach a DataFrame teacher in the frame's dtypes only where those hold
them exactly (:func:`skkd._arrays.frame_like`).
"""

from __future__ import annotations

import contextlib
import copy
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state

from skkd._arrays import frame_like, is_frame, to_tensor
from skkd._options import check_options
from skkd.exceptions import InvalidParameterError, PluginError
from skkd.hints._modules import capture_features
from skkd.hints._plan import HintPlan
from skkd.models._roles import column_indices
from skkd.plugins import get_augmentation
from skkd.teachers._classification import teacher_logits
from skkd.teachers._outputs import TeacherOutputs

# The name each augmentation was built under, for error messages.
_NAMES: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def build_augmentation(name: str | None, options: Mapping[str, Any]) -> Any:
    """The augmentation registered as ``name``, built from the ``augment__*`` options."""
    if name is None:
        if options:
            raise InvalidParameterError(
                f"augment__* parameters {sorted(options)} are set but augment=None; name "
                "an augmentation, e.g. augment='shift'."
            )
        return None
    try:
        factory = get_augmentation(name)
    except ValueError as exc:
        raise InvalidParameterError(f"augment={name!r}: {exc}") from exc
    check_options("augment__", options, factory, f"augmentation {name!r}")
    try:
        augmentation = factory(**options)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"augment={name!r}: {exc}") from exc
    kind = kind_of(augmentation)
    if not (kind.transfer_set or kind.batch):
        raise InvalidParameterError(
            f"augment={name!r} built {type(augmentation).__name__}, which has neither "
            "transfer_set nor augment_batch (see skkd.hookspecs)."
        )
    try:
        _NAMES[augmentation] = name
    except TypeError:  # not hashable or not weakly referable: messages name its type
        pass
    return augmentation


def describe(augmentation: Any) -> str:
    """``augment='name'`` for error messages (the type's name if it was built elsewhere)."""
    try:
        name = _NAMES.get(augmentation)
    except TypeError:
        name = None
    if name is None:
        return f"the augmentation {type(augmentation).__name__}"
    return f"augment={name!r}"


def with_categorical(augmentation: Any, columns: Any, n_features: int) -> Any:
    """The augmentation, told which columns hold category codes, unless the user named them.

    An augmentation that makes rows should copy a category code, never
    interpolate it. One with a ``categorical`` attribute left at ``"auto"``
    (MUNGE's default: find the category columns itself) gets a shallow copy
    whose ``categorical`` is ``[*columns, "auto"]``: the student's category
    columns, each on its own, and the others it finds. Any other augmentation
    comes back as it is: one without ``categorical``, one whose
    ``categorical`` the user set (a list, a mask, None), or when there are no
    ``columns``.

    Parameters
    ----------
    augmentation : object or None
        The augmentation ``augment`` built.
    columns : sequence of int, array-like of bool, or None
        The student's category columns (its ``module__categorical``):
        indices or a boolean mask.
    n_features : int
        The number of columns of ``X``.

    Returns
    -------
    object or None
        ``augmentation``, or its told copy.
    """
    told = getattr(augmentation, "categorical", None)
    if columns is None or not (isinstance(told, str) and told == "auto"):
        return augmentation
    indices = column_indices(columns, n_features, "module__categorical")
    if not indices:
        return augmentation
    copied = copy.copy(augmentation)
    copied.categorical = [*indices, "auto"]
    try:
        if augmentation in _NAMES:
            _NAMES[copied] = _NAMES[augmentation]
    except TypeError:  # not hashable or not weakly referable
        pass
    return copied


@dataclass(frozen=True)
class Kind:
    """What an augmentation does in a fit: the one answer, read from what it declares.

    An augmentation declares its kind by the methods and attributes of the
    augmentation contract (:func:`skkd.hookspecs.skkd_register_augmentations`),
    built-in or plugin alike; :func:`kind_of` reads them once, and the rest
    of skkd asks the :class:`Kind`, never the object.
    """

    #: Makes extra rows from the training rows (``transfer_set``), labelled by the teacher.
    transfer_set: bool = False
    #: Draws its transfer set anew every epoch (``fresh = True``).
    fresh: bool = False
    #: Makes every training batch anew (``augment_batch``); the teacher sees each one.
    batch: bool = False
    #: Makes rows only a teacher can label: every transfer set, and a batch
    #: augmentation unless it declares ``needs_teacher = False``.
    needs_teacher: bool = False


def kind_of(augmentation: Any) -> Kind:
    """The :class:`Kind` of ``augmentation`` (None: no augmentation, nothing to do)."""
    if augmentation is None:
        return Kind()
    transfer = hasattr(augmentation, "transfer_set")
    batch = hasattr(augmentation, "augment_batch")
    return Kind(
        transfer_set=transfer,
        fresh=transfer and bool(getattr(augmentation, "fresh", False)),
        batch=batch,
        needs_teacher=transfer or (batch and bool(getattr(augmentation, "needs_teacher", True))),
    )


def _generate(augmentation: Any, X: np.ndarray, y_enc: np.ndarray, random_state: Any,
              n_rows: int | None = None) -> np.ndarray:
    """``augmentation.transfer_set(X, y_enc)`` as float32 rows, their shape checked."""
    extra = np.asarray(augmentation.transfer_set(X, y_enc, random_state=random_state),
                       dtype=np.float32)
    if extra.ndim != 2 or extra.shape[1] != X.shape[1]:
        raise ValueError(
            f"{describe(augmentation)} generated rows of shape {extra.shape}; they need "
            f"the {X.shape[1]} columns of X."
        )
    if n_rows is not None and len(extra) != n_rows:
        raise ValueError(
            f"{describe(augmentation)} (fresh = True) generated {len(extra)} rows for this "
            f"epoch and {n_rows} for the first one; a fresh transfer set must have as many "
            "rows every epoch."
        )
    if not np.isfinite(extra).all():
        raise PluginError(
            f"{describe(augmentation)} generated rows holding NaN or infinity "
            f"({int((~np.isfinite(extra)).sum())} of {extra.size} values, in float32); "
            "a transfer set must be finite rows for the teacher to label."
        )
    return extra


def add_transfer_set(augmentation: Any, X: np.ndarray, X_teacher: Any, y: np.ndarray,
                     y_enc: np.ndarray, random_state: Any) -> tuple[Any, ...]:
    """Append the rows ``augmentation.transfer_set`` generates, as unlabeled rows.

    Returns ``(X, X_teacher, y, y_enc)`` with the generated rows appended:
    float32 rows for the student; for the teacher, the user's rows as passed
    followed by the same float32 values in the user's format (a DataFrame
    keeps its columns and dtypes, and a ValueError names the columns whose
    dtypes cannot hold them exactly); and unlabeled targets (-1 codes, or NaN
    rows for a regressor's float targets; their ``y`` entries are
    placeholders, never read).
    """
    extra = _generate(augmentation, X, y_enc, random_state)
    return (
        np.concatenate([X, extra]),
        _append_rows(X_teacher, extra, augmentation),
        np.concatenate([y, np.repeat(y[:1], len(extra), axis=0)]),
        np.concatenate([y_enc, unlabeled_targets(y_enc, len(extra))]),
    )


def unlabeled_targets(y_enc: np.ndarray, n: int) -> np.ndarray:
    """``n`` unlabeled targets like ``y_enc``'s: -1 codes, or NaN rows for float targets."""
    if y_enc.dtype.kind == "f":
        return np.full((n, *y_enc.shape[1:]), np.nan, dtype=y_enc.dtype)
    return np.full(n, -1, dtype=np.int64)


@dataclass(frozen=True)
class TrainingColumns:
    """The tensors of a training set that :meth:`FreshTransferSet.load` writes into, in place.

    Each holds every row of the training set (on the device it trains on);
    the net hands them over writable (``skkd.training._data.fresh_columns``).
    """

    #: The student's rows.
    rows: torch.Tensor
    #: The teacher's precomputed outputs, if the training set carries them.
    teacher_logits: torch.Tensor | None = None
    #: The teacher's cached hint features, one tensor per hint (empty: none cached).
    teacher_features: tuple[torch.Tensor, ...] = ()


class FreshTransferSet:
    """A transfer set drawn anew at the start of every epoch, labelled once per epoch.

    ``DistilledClassifier.fit`` appends the first epoch's rows (:meth:`add`)
    and hands this object to the net, which calls :meth:`load` at the start of
    every later epoch: new rows (and their teacher outputs) are written over
    rows ``start:stop`` of its training set; the labeled rows and theirs stay.
    Epoch ``e``'s rows are seeded from ``random_state`` and ``e`` alone, so a
    warm-started fit continues the sequence where the previous fit stopped.

    Parameters
    ----------
    augmentation : object
        Its ``transfer_set(X, y, *, random_state)`` makes the rows.
    X : ndarray of shape (n_samples, n_features)
        The training rows the rows are drawn from, float32.
    X_teacher : array-like or DataFrame
        The same rows as the user passed them: new rows reach the teacher in
        this format (a DataFrame keeps its columns and dtypes; the values are
        the student's, exactly).
    y_enc : ndarray of shape (n_samples,)
        The encoded labels (-1: unlabeled).
    random_state : int, RandomState instance or None
        The estimator's ``random_state``.
    epoch : int, default=0
        The number (from 0) of the first epoch to train: the epochs a
        warm-started fit continues from.

    Attributes
    ----------
    start, stop : int
        The transfer rows' positions in the training set (set by :meth:`add`).
    epoch : int
        The epoch whose rows the training set holds.
    batch_size : int
        The teacher's batch size (set by :meth:`label_with`).
    """

    def __init__(self, augmentation: Any, X: np.ndarray, X_teacher: Any, y_enc: np.ndarray,
                 random_state: Any, epoch: int = 0) -> None:
        self.augmentation, self.X, self.X_teacher, self.y_enc = augmentation, X, X_teacher, y_enc
        self.seed = int(check_random_state(random_state).randint(2**31 - 1))
        self.epoch = epoch
        self.start, self.stop = len(X), len(X)
        self.labeler: Callable[[Any], np.ndarray] | None = None
        self.batch_size = 1024

    def random_state(self, epoch: int) -> int:
        """The seed of epoch ``epoch``'s rows."""
        return int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])

    def add(self, X: np.ndarray, X_teacher: Any, y: np.ndarray, y_enc: np.ndarray
            ) -> tuple[Any, ...]:
        """:func:`add_transfer_set` with the rows of the first epoch (:attr:`epoch`)."""
        out = add_transfer_set(self.augmentation, X, X_teacher, y, y_enc,
                               self.random_state(self.epoch))
        self.stop = len(out[0])
        return out

    def label_with(self, outputs: TeacherOutputs | None, classes: np.ndarray, *,
                   batch_size: int, combine: str) -> FreshTransferSet:
        """Have the teacher of ``outputs`` label every new draw (with precomputed logits).

        ``outputs.fitted`` answers, with :func:`skkd.teachers.teacher_logits`:
        one batched call per epoch (per member, for an ensemble). Without
        precomputed logits (per-batch teaching) the draws stay unlabelled: the
        teacher is queried on every batch anyway.
        """
        labeler = None
        if outputs is not None and outputs.values is not None:
            labeler = partial(teacher_logits, outputs.fitted, classes=classes,
                              batch_size=batch_size, combine=combine)
        return self.label_by(labeler, batch_size)

    def label_by(self, labeler: Callable[[Any], np.ndarray] | None,
                 batch_size: int) -> FreshTransferSet:
        """Have ``labeler(rows)`` (rows in the user's format) label every new draw."""
        self.labeler, self.batch_size = labeler, batch_size
        return self

    def draw(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Epoch ``epoch``'s rows (float32) and their teacher logits (None: unlabelled)."""
        rows = _generate(self.augmentation, self.X, self.y_enc, self.random_state(epoch),
                         self.stop - self.start)
        logits = None if self.labeler is None else self.labeler(
            _in_format(self.X_teacher, rows, self.augmentation))
        self.epoch = epoch
        return rows, logits

    def load(self, epoch: int, columns: TrainingColumns, hint_plan: HintPlan | None = None
             ) -> None:
        """Write epoch ``epoch``'s rows over rows ``start:stop`` of the training set, in place.

        Parameters
        ----------
        epoch : int
            The epoch (from 0) about to start.
        columns : TrainingColumns
            The training set's tensors: the new rows replace the previous
            ones, their teacher logits too where it carries them, and their
            teacher features where it caches them (``hint_plan``'s, recorded
            during the labelling pass when that ran once per row).
        hint_plan : skkd.hints.HintPlan or None, default=None
            The fit's hint plan; needed when ``columns`` caches teacher features.

        Raises
        ------
        RuntimeError
            If the training set carries teacher logits and no teacher labels the rows.
        """
        cached = bool(columns.teacher_features)
        with (capture_features(hint_plan.teacher_modules()) if cached
              else contextlib.nullcontext()) as records:
            rows, logits = self.draw(epoch)
        rows_at = slice(self.start, self.stop)
        columns.rows[rows_at] = to_tensor(rows)
        if columns.teacher_logits is not None:
            if logits is None:
                raise RuntimeError("The training set carries teacher logits, and the fresh "
                                   "transfer set has no teacher to label its rows.")
            columns.teacher_logits[rows_at] = to_tensor(logits)
        if cached:
            features = hint_plan.recorded_features(records, len(rows)) or (
                hint_plan.all_teacher_features(rows, self.batch_size))
            for column, values in zip(columns.teacher_features, features, strict=True):
                column[rows_at] = to_tensor(values)


def _in_format(X: Any, rows: np.ndarray, augmentation: Any) -> Any:
    """Generated ``rows`` in the format of ``X`` as the user passed it, values exact."""
    if not is_frame(X):
        return rows
    fix = (", or, if they hold categories, list them in augment__categorical so that their "
           "values are swapped, never interpolated" if hasattr(augmentation, "categorical")
           else "")
    return frame_like(X, rows, source=describe(augmentation), fix=fix)


def _append_rows(X: Any, rows: np.ndarray, augmentation: Any) -> Any:
    """``X`` (as the user passed it) followed by generated ``rows``, in ``X``'s format.

    The original rows reach the teacher untouched (a DataFrame's values and
    dtypes too, with a fresh index); the generated ones as the student sees them.
    """
    if is_frame(X):
        import pandas as pd  # a DataFrame was passed: pandas is there

        return pd.concat([X, _in_format(X, rows, augmentation)], ignore_index=True)
    return np.concatenate([np.asarray(X), rows])
