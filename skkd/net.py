"""The private skorch net that trains a student with the distillation loss.

``get_loss = alpha * cross_entropy(student, y) + (1 - alpha) * soft_loss``.
Precomputed teacher logits travel with each batch inside a dict ``X``
(``{"X": rows, "teacher_logits": logits}``); the teacher itself is never a
module of the net, so skorch never optimizes, checkpoints or re-moves it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from skorch.utils import to_tensor
from torch.utils.data import DataLoader

INPUT_KEY = "X"
TEACHER_KEY = "teacher_logits"


class ArrayDataset(torch.utils.data.Dataset):
    """In-memory arrays indexed a whole batch at a time.

    ``dataset[[i, j, ...]]`` returns one batch by fancy indexing, which is far
    cheaper than collating samples one by one. ``X`` may be an array or a
    dict of arrays (sliced alike).
    """

    def __init__(self, X: Any, y: Any = None) -> None:
        if isinstance(X, Mapping):
            self.X: Any = {k: torch.as_tensor(np.asarray(v)) for k, v in X.items()}
            self._len = len(next(iter(self.X.values())))
        else:
            self.X = torch.as_tensor(np.asarray(X))
            self._len = len(self.X)
        self.y = None if y is None else torch.as_tensor(np.asarray(y))

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, idx: Any) -> tuple[Any, torch.Tensor]:
        idx = torch.as_tensor(idx)  # a batch of indices (a tensor already from BatchLoader)
        Xb = {k: v[idx] for k, v in self.X.items()} if isinstance(self.X, dict) else self.X[idx]
        yb = self.y[idx] if self.y is not None else torch.zeros(idx.numel())
        return Xb, yb


class _IndexBatches:
    """Batches of indices as tensor slices of one (optionally shuffled) permutation."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, drop_last: bool,
                 generator: torch.Generator | None) -> None:
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.drop_last, self.generator = drop_last, generator

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=self.generator)
        else:
            order = torch.arange(self.n)
        for i in range(len(self)):
            yield order[i * self.batch_size : (i + 1) * self.batch_size]


class BatchLoader(DataLoader):
    """A ``DataLoader`` that asks an :class:`ArrayDataset` for whole batches.

    Accepts skorch's ``iterator_train__*`` keywords (``shuffle``,
    ``drop_last``, ``generator``, ``num_workers``, ...).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
        **kwargs: Any,
    ) -> None:
        if not shuffle and generator is None:
            # DataLoader draws a base seed when iterated; a private generator
            # keeps predict() from consuming torch's global random state.
            generator = torch.Generator()
        sampler = _IndexBatches(len(dataset), batch_size, shuffle, drop_last, generator)
        super().__init__(dataset, batch_size=None, sampler=sampler, generator=generator,
                         **kwargs)


class DistillationNet(NeuralNet):
    """skorch ``NeuralNet`` whose loss adds a soft distillation term.

    Parameters beyond skorch's
    --------------------------
    alpha : float
        Weight of the hard-label cross-entropy; ``1 - alpha`` weights the soft term.
    temperature : float
        Passed to the soft loss.
    soft_loss : callable or None
        ``fn(student_logits, teacher_logits, *, temperature, y, **loss_options)``.
    loss_name : str
        The registered name of ``soft_loss``, for error messages.
    loss_options : dict or None
        Extra keyword arguments of ``soft_loss`` (``loss__*`` parameters).
    """

    def __init__(
        self,
        module,
        criterion=torch.nn.CrossEntropyLoss,
        alpha=1.0,
        temperature=1.0,
        soft_loss=None,
        loss_name=None,
        loss_options=None,
        **kwargs,
    ):
        super().__init__(module, criterion, **kwargs)
        self.alpha = alpha
        self.temperature = temperature
        self.soft_loss = soft_loss
        self.loss_name = loss_name
        self.loss_options = loss_options
        # A Teacher queried on every batch (teacher_inference="per_batch"); set
        # only for the duration of a fit, never a skorch module.
        self.online_teacher = None

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping) and TEACHER_KEY in x:
            x = x[INPUT_KEY]
        return super().infer(x, **fit_params)

    def _teacher_logits(self, X):
        if isinstance(X, Mapping) and TEACHER_KEY in X:
            return to_tensor(X[TEACHER_KEY], device=self.device)
        if self.online_teacher is not None:
            return self.online_teacher.batch_logits(to_tensor(X, device=self.device))
        return None

    def get_loss(self, y_pred, y_true, X=None, training=False):
        hard = super().get_loss(y_pred, y_true, X=X, training=training)
        if self.soft_loss is None or self.alpha == 1:
            return hard
        teacher_logits = self._teacher_logits(X)
        if teacher_logits is None:
            return hard
        soft = self.soft_loss(
            y_pred,
            teacher_logits,
            temperature=self.temperature,
            y=to_tensor(y_true, device=self.device),
            **(self.loss_options or {}),
        )
        if not isinstance(soft, torch.Tensor) or soft.ndim != 0:
            shape = tuple(soft.shape) if isinstance(soft, torch.Tensor) else type(soft).__name__
            raise ValueError(
                f"KD loss {self.loss_name!r} returned {shape}; a loss must return a "
                "scalar tensor (reduce over the batch)."
            )
        if not torch.isfinite(soft):
            raise FloatingPointError(
                f"KD loss {self.loss_name!r} returned a non-finite value ({soft.item()}); "
                "check its temperature, its loss__* options and the teacher's logits."
            )
        return self.alpha * hard + (1 - self.alpha) * soft
