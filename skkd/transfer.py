"""Augmentation at fit time: build the one ``augment`` names, add its transfer set.

The augmentations themselves are plugins (:mod:`skkd.augmentations` holds the
built-ins); this module is what ``DistilledClassifier.fit`` does with one. A
transfer set marked ``fresh = True`` becomes a :class:`FreshTransferSet`,
which the net asks for new rows at the start of every epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from skkd.exceptions import InvalidParameterError
from skkd.params import check_options
from skkd.plugins import get_augmentation
from skkd.teachers import TeacherOutputs, teacher_logits


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
    if not (hasattr(augmentation, "transfer_set") or hasattr(augmentation, "augment_batch")):
        raise InvalidParameterError(
            f"augment={name!r} built {type(augmentation).__name__}, which has neither "
            "transfer_set nor augment_batch (see skkd.hookspecs)."
        )
    return augmentation


def needs_teacher(augmentation: Any) -> bool:
    """Whether ``augmentation`` makes rows only a teacher can label.

    Transfer sets always do; a batch augmentation does unless it declares
    ``needs_teacher = False`` (it keeps every row's label, as ``"shift"``).
    """
    if hasattr(augmentation, "transfer_set"):
        return True
    return bool(getattr(augmentation, "needs_teacher", True))


def is_fresh(augmentation: Any) -> bool:
    """Whether ``augmentation`` is a transfer set drawn anew every epoch (``fresh = True``)."""
    return hasattr(augmentation, "transfer_set") and bool(getattr(augmentation, "fresh", False))


def _generate(augmentation: Any, X: np.ndarray, y_enc: np.ndarray, random_state: Any,
              n_rows: int | None = None) -> np.ndarray:
    """``augmentation.transfer_set(X, y_enc)`` as float32 rows, their shape checked."""
    extra = np.asarray(augmentation.transfer_set(X, y_enc, random_state=random_state),
                       dtype=np.float32)
    if extra.ndim != 2 or extra.shape[1] != X.shape[1]:
        raise ValueError(
            f"The augmentation {type(augmentation).__name__} generated rows of shape "
            f"{extra.shape}; they need the {X.shape[1]} columns of X."
        )
    if n_rows is not None and len(extra) != n_rows:
        raise ValueError(
            f"The augmentation {type(augmentation).__name__} (fresh = True) generated "
            f"{len(extra)} rows for this epoch and {n_rows} for the first one; a fresh "
            "transfer set must have as many rows every epoch."
        )
    return extra


def add_transfer_set(augmentation: Any, X: np.ndarray, X_teacher: Any, y: np.ndarray,
                     y_enc: np.ndarray, random_state: Any) -> tuple[Any, ...]:
    """Append the rows ``augmentation.transfer_set`` generates, as unlabeled rows.

    Returns ``(X, X_teacher, y, y_enc)`` with the generated rows appended:
    float32 rows for the student, rows in the user's format (a DataFrame keeps
    its columns and dtypes) for the teacher, and -1 codes (their ``y``
    entries are placeholders, never read).
    """
    extra = _generate(augmentation, X, y_enc, random_state)
    return (
        np.concatenate([X, extra]),
        _append_rows(X_teacher, extra),
        np.concatenate([y, np.repeat(y[:1], len(extra))]),
        np.concatenate([y_enc, np.full(len(extra), -1, dtype=np.int64)]),
    )


class FreshTransferSet:
    """A transfer set drawn anew at the start of every epoch, labelled once per epoch.

    ``DistilledClassifier.fit`` appends the first epoch's rows (:meth:`add`)
    and hands this object to the net, which calls :meth:`draw` at the start of
    every later epoch and writes the rows (and their teacher logits) over rows
    ``start:stop`` of its training set; the labeled rows and their logits stay.
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
        this format (a DataFrame keeps its columns and dtypes).
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
        self.labeler, self.batch_size = None, batch_size
        if outputs is not None and outputs.logits is not None:
            self.labeler = partial(teacher_logits, outputs.fitted, classes=classes,
                                   batch_size=batch_size, combine=combine)
        return self

    def draw(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Epoch ``epoch``'s rows (float32) and their teacher logits (None: unlabelled)."""
        rows = _generate(self.augmentation, self.X, self.y_enc, self.random_state(epoch),
                         self.stop - self.start)
        logits = None if self.labeler is None else self.labeler(_in_format(self.X_teacher,
                                                                           rows))
        self.epoch = epoch
        return rows, logits


def _in_format(X: Any, rows: np.ndarray) -> Any:
    """Generated ``rows`` in the format of ``X`` as the user passed it."""
    if hasattr(X, "iloc") and hasattr(X, "columns"):
        return type(X)(rows, columns=X.columns).astype(X.dtypes.to_dict())
    return rows


def _append_rows(X: Any, rows: np.ndarray) -> Any:
    """``X`` (as the user passed it) followed by generated ``rows``, in ``X``'s format."""
    if hasattr(X, "iloc") and hasattr(X, "columns"):
        return _in_format(X, np.concatenate([np.asarray(X, dtype=np.float64), rows]))
    return np.concatenate([np.asarray(X), rows])
