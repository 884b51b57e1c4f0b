"""Augmentation at fit time: build the one ``augment`` names, add its transfer set.

The augmentations themselves are plugins (:mod:`skkd.augmentations` holds the
built-ins); this module is what ``DistilledClassifier.fit`` does with one. A
transfer set marked ``fresh = True`` becomes a :class:`FreshTransferSet`,
which the net asks for new rows at the start of every epoch; a batch
augmentation runs through :func:`augment_batch`, which checks what it returns.
The teacher always answers for exactly the rows the student learns: generated
rows reach a DataFrame teacher in the frame's dtypes only where those hold
them exactly (:func:`skkd._arrays.frame_like`).
"""

from __future__ import annotations

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
from skkd._seeding import forked_cpu_rng
from skkd.exceptions import InvalidParameterError, PluginError
from skkd.plugins import get_augmentation
from skkd.teachers._classification import TeacherOutputs, teacher_logits

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


def check_batch_augmentation(augmentation: Any, name: str, X: np.ndarray,
                             y_enc: np.ndarray) -> None:
    """Run a batch augmentation once on a few rows, before any teacher is fitted or queried.

    Catches what only the data shows (e.g. ``augment__input_shape`` against
    the number of features, ``augment__max_shift`` against the image size),
    and any break of the contract (see :func:`augment_batch`), early. Runs on
    the CPU under a forked random state: torch's global one is left as it was.

    Parameters
    ----------
    augmentation : object
        The batch augmentation built from ``augment`` and the ``augment__*`` options.
    name : str
        The name it was built under (``augment``).
    X : ndarray of shape (n_rows, n_features)
        A few training rows, float32.
    y_enc : ndarray of shape (n_rows,)
        Their encoded labels (-1: unlabeled).
    """
    with forked_cpu_rng():
        augment_batch(augmentation, to_tensor(X), to_tensor(y_enc, dtype=torch.int64), None,
                      name=f"augment={name!r}")


def augment_batch(augmentation: Any, xb: torch.Tensor, yb: torch.Tensor,
                  n_classes: int | None, *, name: str | None = None,
                  deferred: list[torch.Tensor] | None = None,
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``augmentation.augment_batch(xb, yb)``, its result checked against the contract.

    The pair must be two tensors on ``xb``'s device with ``xb``'s and ``yb``'s
    dtypes: rows with ``xb``'s columns, as many labels as rows, each -1 or a
    class code, and finite rows. The value checks share one device sync, or
    none with ``deferred``.

    Parameters
    ----------
    augmentation : object
        A batch augmentation (see :func:`skkd.hookspecs.skkd_register_augmentations`).
    xb, yb : torch.Tensor
        The training batch and its encoded labels (-1: unlabeled).
    n_classes : int or None
        The number of classes; None does not check the labels' upper bound.
    name : str or None, default=None
        How messages name the augmentation; None: :func:`describe`.
    deferred : list or None, default=None
        When a list, the value checks' outcome (a device tensor) is appended
        to it instead of read, for :func:`check_deferred_values` to read once.

    Returns
    -------
    tuple of torch.Tensor
        The new batch and its labels.

    Raises
    ------
    PluginError
        If the result breaks the contract; names the augmentation and what it returned.
    InvalidParameterError
        If the augmentation raised a ``ValueError`` (about its ``augment__*`` options).
    """
    name = describe(augmentation) if name is None else name
    shape = tuple(xb.shape)
    try:
        out = augmentation.augment_batch(xb, yb)
    except ValueError as exc:
        raise InvalidParameterError(f"{name}: {exc}") from exc
    except Exception as exc:
        raise PluginError(f"{name} failed on a batch of shape {shape}: "
                          f"{type(exc).__name__}: {exc}") from exc

    def broken(what: str) -> PluginError:
        return PluginError(
            f"{name} returned {what} for a batch of shape {shape} ({xb.dtype}, labels "
            f"{yb.dtype}); augment_batch(xb, yb) must return a pair (xb, yb): rows with "
            f"the batch's {shape[1]} columns and dtype, and one label per row (-1 or a class "
            "code), on the batch's device (see skkd.hookspecs.skkd_register_augmentations)."
        )

    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise broken(_what(out))
    x_new, y_new = out
    if not isinstance(x_new, torch.Tensor) or not isinstance(y_new, torch.Tensor):
        raise broken(f"a pair ({_what(x_new)}, {_what(y_new)})")
    if x_new.ndim != 2 or x_new.shape[1] != shape[1] or len(x_new) == 0:
        raise broken(f"rows of shape {tuple(x_new.shape)}")
    if y_new.ndim != 1 or len(y_new) != len(x_new):
        raise broken(f"labels of shape {tuple(y_new.shape)} for {len(x_new)} rows")
    if x_new.dtype != xb.dtype or y_new.dtype != yb.dtype:
        raise broken(f"rows of dtype {x_new.dtype} and labels of dtype {y_new.dtype}")
    if x_new.device != xb.device or y_new.device != yb.device:
        raise broken(f"tensors on {x_new.device} and {y_new.device}")
    high = n_classes if n_classes is not None else torch.iinfo(torch.int64).max
    flags = torch.stack([((y_new < -1) | (y_new >= high)).any(), ~torch.isfinite(x_new).all()])
    if deferred is not None:
        deferred.append(flags)
        return x_new, y_new
    bad_labels, non_finite = flags.tolist()
    if bad_labels:
        wrong = y_new[(y_new < -1) | (y_new >= high)]
        raise broken(f"labels outside -1..{high - 1} (e.g. {int(wrong[0])})")
    if non_finite:
        count = int((~torch.isfinite(x_new)).sum())
        raise broken(f"rows holding NaN or infinity ({count} of {x_new.numel()} values)")
    return x_new, y_new


def check_deferred_values(deferred: list[torch.Tensor], augmentation: Any,
                          n_classes: int | None, when: str) -> None:
    """Raise if a batch checked by ``augment_batch(..., deferred=...)`` broke the contract.

    Parameters
    ----------
    deferred : list of torch.Tensor
        The value checks' outcomes :func:`augment_batch` appended.
    augmentation : object
        The batch augmentation, for the message.
    n_classes : int or None
        The number of classes the labels were checked against.
    when : str
        Where the batches were made, for the message (e.g. ``"epoch 3"``).

    Raises
    ------
    PluginError
        If a batch's labels were outside ``-1..n_classes - 1`` or its rows not finite.
    """
    if not deferred:
        return
    bad_labels, non_finite = torch.stack(deferred).any(dim=0).tolist()
    if bad_labels or non_finite:
        what = " and ".join(
            w for w, bad in ((f"labels outside -1..{n_classes - 1}" if n_classes else
                              "labels below -1", bad_labels),
                             ("rows holding NaN or infinity", non_finite)) if bad)
        raise PluginError(
            f"{describe(augmentation)} returned {what} in a batch of {when} (checked at the "
            "epoch's end off the CPU); augment_batch(xb, yb) must return one label per row "
            "(-1 or a class code) and finite rows (see skkd.hookspecs.skkd_register_augmentations)."
        )


def _what(obj: Any) -> str:
    """A short description of what a plugin returned."""
    if isinstance(obj, torch.Tensor):
        return f"a tensor of shape {tuple(obj.shape)}"
    if isinstance(obj, (tuple, list)):
        return f"a {type(obj).__name__} of {len(obj)} items"
    return f"a {type(obj).__name__}"
