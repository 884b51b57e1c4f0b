"""The built-in augmentations: ``"munge"``, ``"shift"`` and ``"mixup"``."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state

from skkd.models._cnn import guess_image_shape

#: Bytes MUNGE holds per generated value: four float64 working arrays (the row, its
#: neighbour, the noisy and the mixed values), the swap mask and the float32 output.
_MUNGE_BYTES_PER_VALUE = 4 * 8 + 1 + 4


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_index(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def available_memory() -> int | None:
    """Bytes of memory this machine can give without swapping; None where unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def _bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _check_categorical(categorical: Any) -> tuple[list[list[int]] | np.ndarray, bool] | None:
    """``augment__categorical`` read: None, or (the columns it names, whether to find others).

    The named columns are a list of column groups, or a boolean mask (checked
    against ``X``'s width when ``X`` is known).
    """
    accepted = ("None, 'auto', a boolean mask (one value per column), or a sequence whose "
                "items are column indices (ints) or groups of column indices, e.g. "
                "[0, [3, 4, 5]], and may include 'auto' (find the other category columns)")
    if categorical is None:
        return None
    if isinstance(categorical, str) and categorical == "auto":
        return [], True
    if isinstance(categorical, (str, bytes)) or not isinstance(categorical,
                                                               (Sequence, np.ndarray)):
        raise ValueError(f"augment__categorical={categorical!r} is not one of the accepted "
                         f"values: {accepted}.")
    items = list(categorical)
    if items and ((isinstance(categorical, np.ndarray) and categorical.dtype == np.bool_)
                  or all(isinstance(j, (bool, np.bool_)) for j in items)):
        return np.asarray(items, dtype=bool), False
    groups: list[list[int]] = []
    seen: set[int] = set()
    auto = False
    for item in items:
        if isinstance(item, str) and item == "auto":
            auto = True
            continue
        group = list(item) if isinstance(item, (Sequence, np.ndarray)) else [item]
        if any(isinstance(j, (bool, np.bool_)) for j in group):
            raise ValueError(
                "augment__categorical mixes booleans with column indices; pass either a "
                "boolean mask (one value per column) or the indices of the categorical "
                "columns (e.g. np.flatnonzero(mask))."
            )
        if not group or not all(_is_index(j) for j in group):
            raise ValueError(f"augment__categorical has the item {item!r}; accepted: {accepted}.")
        twice = sorted(seen.intersection(int(j) for j in group))
        if twice:
            raise ValueError(f"augment__categorical names column(s) {twice} twice; each "
                             "column belongs to one attribute.")
        seen.update(int(j) for j in group)
        groups.append([int(j) for j in group])
    return groups, auto


def _is_code_column(column: np.ndarray) -> bool:
    """``"auto"``'s rule: at most 20 distinct values, all integers."""
    return bool(np.all(np.mod(column, 1) == 0)) and len(np.unique(column)) <= 20


class Munge:
    """MUNGE (Bucilă et al. 2006): synthetic rows from each row and its nearest neighbour.

    For every synthetic row, a training row ``e`` and its nearest neighbour
    ``e'`` (Euclidean on standardized columns, computed once per fit) are
    drawn; each attribute is, with probability ``p``, replaced: a categorical
    one by ``e'``'s value, a continuous one by a draw from
    ``Normal(e'_a, |e_a - e'_a| / s)``. The teacher labels the rows once;
    they get the soft term only. With ``fresh=True`` the rows are drawn anew
    from the training rows at the start of every epoch and the teacher labels
    each epoch's rows in one batched call ("function matching", Beyer et al.
    2022): as many rows and steps per epoch, never the same rows twice.

    Parameters
    ----------
    p : float in [0, 1], default=0.5
        Probability that an attribute is swapped/perturbed.
    s : float > 0, default=1.0
        Width of the local noise: larger ``s``, smaller noise.
    size : float > 0, default=1.0
        Synthetic rows per training row (``size * n_samples`` rows in all);
        finite, and small enough for the rows to fit in memory.
    categorical : sequence, array-like of bool, "auto" or None, default="auto"
        Columns whose values are categories (copied, never perturbed): each
        item an int (one column, negative ones count from the end) or a
        sequence of ints (a group, e.g. the one-hot block of one attribute,
        swapped as a whole so that it stays one-hot); or a boolean mask, one
        value per column. ``"auto"``: the columns the student reads as
        category codes (``module__categorical``, which the estimator tells
        it), and every other column holding at most 20 distinct integer
        values, each on its own; the item ``"auto"`` in a sequence adds
        those others to the listed columns. None: no column is categorical.
        Any other value is an error.
    fresh : bool, default=False
        Draw a new transfer set (``size * n_samples`` rows, so the steps per
        epoch stay those of ``fresh=False``) at the start of every epoch,
        seeded from the estimator's ``random_state`` and the epoch's number;
        False draws one set per fit.
    """

    def __init__(self, p: float = 0.5, s: float = 1.0, size: float = 1.0,
                 categorical: Sequence[int] | str | None = "auto", fresh: bool = False) -> None:
        if not all(_is_number(v) for v in (p, s, size)) or not (
                0 <= p <= 1 and s > 0 and 0 < size < math.inf):
            raise ValueError(
                "munge needs numbers 0 <= augment__p <= 1, augment__s > 0 and a finite "
                f"augment__size > 0 (synthetic rows per training row); got p={p!r}, s={s!r}, "
                f"size={size!r}."
            )
        if not isinstance(fresh, (bool, np.bool_)):
            raise ValueError(f"augment__fresh must be True or False, got {fresh!r}.")
        self.p, self.s, self.size = p, s, size
        _check_categorical(categorical)  # read again (and told, see with_categorical) at fit
        self.categorical = categorical
        self.fresh = bool(fresh)

    def _groups(self, X: np.ndarray) -> list[list[int]]:
        """The categorical attributes, each a list of columns (indices checked)."""
        parsed = _check_categorical(self.categorical)
        if parsed is None:
            return []
        named, auto = parsed
        d = X.shape[1]
        if isinstance(named, np.ndarray):
            if len(named) != d:
                raise ValueError(
                    f"augment__categorical is a boolean mask of {len(named)} values, but X "
                    f"has {d} columns: a mask needs one value per column (or pass column "
                    "indices)."
                )
            return [[int(j)] for j in np.flatnonzero(named)]
        wrong = [j for group in named for j in group if not -d <= j < d]
        if wrong:
            raise ValueError(
                f"augment__categorical names column(s) {wrong}, but X has {d} columns "
                f"(indices 0..{d - 1}, or -{d}..-1 from the end)."
            )
        groups = [[j % d for j in group] for group in named]
        if auto:  # the columns not named, found by "auto"'s rule
            taken = {j for group in groups for j in group}
            groups += [[j] for j, column in enumerate(X.T)
                       if j not in taken and _is_code_column(column)]
        return groups

    def _check_size(self, X: np.ndarray) -> int:
        """The number of rows to make; refuses a transfer set that cannot fit in memory."""
        n = math.ceil(self.size * len(X))
        need = float(n) * X.shape[1] * _MUNGE_BYTES_PER_VALUE
        limit = available_memory()
        if limit is not None and need > limit:
            raise ValueError(
                f"augment__size={self.size!r} asks MUNGE for {n:,} synthetic rows of "
                f"{X.shape[1]} columns ({self.size:g} per training row): making them needs "
                f"about {_bytes(need)} of memory, and this machine has {_bytes(limit)} "
                f"available. Lower augment__size (the default, 1, makes as many rows as X "
                "has; with augment__fresh=True each epoch draws that many anew)."
            )
        return int(n)

    def transfer_set(self, X: np.ndarray, y: np.ndarray, *, random_state: Any = None
                     ) -> np.ndarray:
        """``size * len(X)`` synthetic rows, float32, with ``X``'s columns.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The training rows, float32.
        y : ndarray of shape (n_samples,)
            Their encoded labels (-1: unlabeled); not used by MUNGE.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws; the estimator passes its ``random_state``.

        Returns
        -------
        ndarray of shape (ceil(size * n_samples), n_features)
            The synthetic rows, for the teacher to label.
        """
        n = self._check_size(X)
        groups = self._groups(X)
        rng = check_random_state(random_state)
        scale = X.std(axis=0)
        scale[scale == 0] = 1
        neighbours = NearestNeighbors(n_neighbors=2).fit(X / scale).kneighbors(
            X / scale, return_distance=False)[:, 1]
        base = rng.randint(len(X), size=n)
        e, other = X[base].astype(np.float64), X[neighbours[base]].astype(np.float64)
        swap = rng.random_sample(e.shape) < self.p
        categorical = np.zeros(X.shape[1], dtype=bool)
        for group in groups:
            categorical[group] = True
            swap[:, group] = swap[:, group[:1]]  # one decision per attribute
        noisy = rng.normal(other, np.abs(e - other) / self.s)
        out = np.where(swap & categorical, other, e)
        out = np.where(swap & ~categorical, noisy, out)
        return out.astype(np.float32)


def _image_shape(n_features: int, input_shape: Sequence[int] | None) -> tuple[int, int, int]:
    if input_shape is not None:
        shape = tuple(int(v) for v in input_shape)
        if math.prod(shape) != n_features:
            raise ValueError(
                f"augment__input_shape={tuple(input_shape)} must be (channels, height, width) "
                f"holding the {n_features} features of a row."
            )
        return shape  # type: ignore[return-value]
    return guess_image_shape(n_features, "augment__input_shape")


class Shift:
    """Random translations of images by up to ``max_shift`` pixels, zero-filled.

    Label-preserving: the shifted batch keeps its labels, and the teacher is
    queried on the shifted images.

    Parameters
    ----------
    max_shift : int >= 1, default=2
        The largest shift along each axis, in pixels; smaller than the images'
        height and width.
    input_shape : tuple of int or None, default=None
        ``(channels, height, width)`` of a flat row; None guesses square 1- or
        3-channel images.
    """

    needs_teacher = False  # label-preserving: a scratch student can use it too

    def __init__(self, max_shift: int = 2, input_shape: Sequence[int] | None = None) -> None:
        if not _is_number(max_shift) or not (math.isfinite(max_shift) and max_shift >= 1
                                              and int(max_shift) == max_shift):
            raise ValueError(f"augment__max_shift must be an integer >= 1, got {max_shift!r}.")
        if input_shape is not None and (
                isinstance(input_shape, (str, bytes))
                or not isinstance(input_shape, (Sequence, np.ndarray))
                or len(input_shape) != 3
                or not all(_is_index(v) and v >= 1 for v in input_shape)):
            raise ValueError(
                f"augment__input_shape={input_shape!r} must be None (square images) or "
                "(channels, height, width): three positive ints."
            )
        self.max_shift, self.input_shape = int(max_shift), input_shape

    def augment_batch(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
        c, h, w = _image_shape(xb.shape[1], self.input_shape)
        m, n = self.max_shift, len(xb)
        if m >= min(h, w):
            raise ValueError(
                f"augment__max_shift={m} shifts {h}x{w} images by their whole height or "
                f"width (they would come out blank); use augment__max_shift <= {min(h, w) - 1}."
            )
        padded = torch.nn.functional.pad(xb.reshape(n, c, h, w), (m, m, m, m))
        dy = torch.randint(-m, m + 1, (n, 1), device=xb.device)
        dx = torch.randint(-m, m + 1, (n, 1), device=xb.device)
        rows = torch.arange(h, device=xb.device) + m + dy  # (n, h)
        cols = torch.arange(w, device=xb.device) + m + dx  # (n, w)
        batch = torch.arange(n, device=xb.device)[:, None, None]
        shifted = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
        return shifted.permute(0, 3, 1, 2).reshape(n, -1), yb


class Mixup:
    """mixup (Zhang et al. 2018) for distillation: convex mixes of batch pairs, soft term only.

    The batch is kept, and as many mixed rows are appended, labeled -1: the
    student matches the teacher on the mixes. Costs one more student and
    teacher pass per batch.

    Parameters
    ----------
    alpha : float > 0, default=0.4
        The mixing weight is drawn from ``Beta(alpha, alpha)``, per row.
    """

    def __init__(self, alpha: float = 0.4) -> None:
        if not _is_number(alpha) or not 0 < alpha < math.inf:
            raise ValueError(f"augment__alpha must be a finite number > 0, got {alpha!r}.")
        self.alpha = alpha

    def augment_batch(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
        n = len(xb)
        concentration = torch.full((n, 1), float(self.alpha), device=xb.device)
        lam = torch.distributions.Beta(concentration, concentration).sample()
        mixed = lam * xb + (1 - lam) * xb[torch.randperm(n, device=xb.device)]
        unlabeled = torch.full_like(yb, -1)
        return torch.cat([xb, mixed]), torch.cat([yb, unlabeled])
