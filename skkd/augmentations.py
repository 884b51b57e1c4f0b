"""Built-in augmentations and transfer-data generators, registered through the hooks.

``DistilledClassifier(augment="shift", augment__max_shift=2)`` picks one by
name; ``augment__*`` parameters reach its factory. Two kinds of work (see
:func:`skkd.hookspecs.skkd_register_augmentations`):

- a *transfer set* is generated once per fit and labelled once by the
  teacher (``"munge"``, for tabular rows: cheap with slow scikit-learn
  teachers), or, with ``fresh = True`` (``augment__fresh=True``), drawn anew
  and labelled in one batched teacher call at the start of every epoch
  ("function matching", Beyer et al. 2022);
- a *batch augmentation* makes a new batch from every training batch, and the
  teacher is queried on the very batch the student sees ("consistent
  teaching", Beyer et al. 2022) (``"shift"`` for images, ``"mixup"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state

from skkd.hookspecs import hookimpl
from skkd.models import guess_image_shape


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
        Synthetic rows per training row (``size * n_samples`` rows in all).
    categorical : sequence, "auto" or None, default="auto"
        Columns whose values are categories (copied, never perturbed): each
        item an int (one column) or a sequence of ints (a group, e.g. the
        one-hot block of one attribute, swapped as a whole so that it stays
        one-hot). ``"auto"``: columns holding at most 20 distinct integer
        values, each on its own.
    fresh : bool, default=False
        Draw a new transfer set (``size * n_samples`` rows, so the steps per
        epoch stay those of ``fresh=False``) at the start of every epoch,
        seeded from the estimator's ``random_state`` and the epoch's number;
        False draws one set per fit.
    """

    def __init__(self, p: float = 0.5, s: float = 1.0, size: float = 1.0,
                 categorical: Sequence[int] | str | None = "auto", fresh: bool = False) -> None:
        if not 0 <= p <= 1 or not s > 0 or not size > 0:
            raise ValueError(
                f"munge needs 0 <= augment__p <= 1, augment__s > 0 and augment__size > 0; "
                f"got p={p}, s={s}, size={size}."
            )
        if not isinstance(fresh, (bool, np.bool_)):
            raise ValueError(f"augment__fresh must be True or False, got {fresh!r}.")
        self.p, self.s, self.size, self.categorical = p, s, size, categorical
        self.fresh = bool(fresh)

    def _groups(self, X: np.ndarray) -> list[list[int]]:
        """The categorical attributes, each a list of columns."""
        if self.categorical is None:
            return []
        if isinstance(self.categorical, str):
            return [[j] for j, col in enumerate(X.T)
                    if np.all(np.mod(col, 1) == 0) and len(np.unique(col)) <= 20]
        return [[int(item)] if np.ndim(item) == 0 else [int(j) for j in item]
                for item in self.categorical]

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
        rng = check_random_state(random_state)
        scale = X.std(axis=0)
        scale[scale == 0] = 1
        neighbours = NearestNeighbors(n_neighbors=2).fit(X / scale).kneighbors(
            X / scale, return_distance=False)[:, 1]
        n = int(math.ceil(self.size * len(X)))
        base = rng.randint(len(X), size=n)
        e, other = X[base].astype(np.float64), X[neighbours[base]].astype(np.float64)
        swap = rng.random_sample(e.shape) < self.p
        categorical = np.zeros(X.shape[1], dtype=bool)
        for group in self._groups(X):
            categorical[group] = True
            swap[:, group] = swap[:, group[:1]]  # one decision per attribute
        noisy = rng.normal(other, np.abs(e - other) / self.s)
        out = np.where(swap & categorical, other, e)
        out = np.where(swap & ~categorical, noisy, out)
        return out.astype(np.float32)


def _image_shape(n_features: int, input_shape: Sequence[int] | None) -> tuple[int, int, int]:
    if input_shape is not None:
        shape = tuple(int(v) for v in input_shape)
        if len(shape) != 3 or math.prod(shape) != n_features:
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
        The largest shift along each axis, in pixels.
    input_shape : tuple of int or None, default=None
        ``(channels, height, width)`` of a flat row; None guesses square 1- or
        3-channel images.
    """

    needs_teacher = False  # label-preserving: a scratch student can use it too

    def __init__(self, max_shift: int = 2, input_shape: Sequence[int] | None = None) -> None:
        if int(max_shift) != max_shift or max_shift < 1:
            raise ValueError(f"augment__max_shift must be an integer >= 1, got {max_shift!r}.")
        self.max_shift, self.input_shape = int(max_shift), input_shape

    def augment_batch(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
        c, h, w = _image_shape(xb.shape[1], self.input_shape)
        m, n = self.max_shift, len(xb)
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
        if not alpha > 0:
            raise ValueError(f"augment__alpha must be > 0, got {alpha!r}.")
        self.alpha = alpha

    def augment_batch(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
        n = len(xb)
        concentration = torch.full((n, 1), float(self.alpha), device=xb.device)
        lam = torch.distributions.Beta(concentration, concentration).sample()
        mixed = lam * xb + (1 - lam) * xb[torch.randperm(n, device=xb.device)]
        unlabeled = torch.full_like(yb, -1)
        return torch.cat([xb, mixed]), torch.cat([yb, unlabeled])


@hookimpl
def skkd_register_augmentations(register):
    register("munge", Munge)
    register("shift", Shift)
    register("mixup", Mixup)
