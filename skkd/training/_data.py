"""The training set in memory and its batches: what a fit's rows travel in.

A fit's training set is an :class:`ArrayDataset`: the student's rows, or a
dict of arrays keyed by the names below (the rows under :data:`INPUT_KEY`,
the teacher's precomputed outputs, its cached hint features, the sample
weights), sliced alike. :class:`BatchLoader` yields whole batches of it by
fancy indexing; on a CUDA device the tensors move there once per fit when
they take at most :data:`DEVICE_DATA_SHARE` of its free memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader

from skkd import _arrays as arrays
from skkd.augmentations._fit_time import TrainingColumns

#: The keys of a training set held as a dict: the student's rows, the teacher's
#: outputs, its features for hint ``i`` (``HINT_KEY.format(i)``), the sample weights.
INPUT_KEY = "X"
TEACHER_KEY = "teacher_logits"
HINT_KEY = "teacher_hint_{}"
WEIGHT_KEY = "sample_weight"
#: The share of a device's free memory the training set may take there.
DEVICE_DATA_SHARE = 0.5


class ArrayDataset(torch.utils.data.Dataset):
    """In-memory arrays indexed a whole batch at a time.

    ``dataset[[i, j, ...]]`` returns one batch by fancy indexing, which is far
    cheaper than collating samples one by one. ``X`` may be an array or a
    dict of arrays (sliced alike). On a CUDA ``device``, the tensors are moved
    there once when they take at most :data:`DEVICE_DATA_SHARE` of its free
    memory, so no batch travels from the host. Any array-like scikit-learn accepts works
    (:func:`skkd._arrays.to_tensor`); the tensors may share the caller's
    memory, so write into them only through :meth:`writable`.
    """

    def __init__(self, X: Any, y: Any = None, device: Any = None) -> None:
        self._borrowed: set[Any] = set()  # keys of tensors that may share the caller's memory
        if isinstance(X, Mapping):
            self.X: Any = {k: self._tensor(k, v) for k, v in X.items()}
            self._len = len(next(iter(self.X.values())))
        else:
            self.X = self._tensor(None, X)
            self._len = len(self.X)
        self.y = None if y is None else arrays.to_tensor(y)
        if _fits_on(device, self._nbytes()):
            # rows, targets and teacher outputs travel to the device once per fit,
            # not with every batch (copies: the caller's memory is not shared there)
            self.X = ({k: v.to(device) for k, v in self.X.items()} if isinstance(self.X, dict)
                      else self.X.to(device))
            self.y = None if self.y is None else self.y.to(device)
            self._borrowed.clear()

    def _nbytes(self) -> int:
        tensors = list(self.X.values()) if isinstance(self.X, dict) else [self.X]
        tensors += [] if self.y is None else [self.y]
        return sum(t.element_size() * t.nelement() for t in tensors)

    def _tensor(self, key: Any, value: Any) -> torch.Tensor:
        tensor, owned = arrays.tensor_of(value)
        if not owned:
            self._borrowed.add(key)
        return tensor

    def writable(self, key: Any = None) -> torch.Tensor:
        """The tensor of ``X`` (``X[key]`` for a dict), safe to write into.

        A tensor that may share memory with the caller's array is copied first
        (once): skkd never writes into memory the user owns.
        """
        if key not in self._borrowed:
            return self.X if key is None else self.X[key]
        self._borrowed.discard(key)
        if key is None:
            self.X = self.X.clone()
            return self.X
        self.X[key] = self.X[key].clone()
        return self.X[key]

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, idx: Any) -> tuple[Any, torch.Tensor]:
        idx = torch.as_tensor(idx)  # a batch of indices (a tensor already from BatchLoader)
        take = _take if idx.ndim == 1 else _index
        Xb = ({k: take(v, idx) for k, v in self.X.items()} if isinstance(self.X, dict)
              else take(self.X, idx))
        yb = take(self.y, idx) if self.y is not None else torch.zeros(idx.numel())
        return Xb, yb


def _take(tensor: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``tensor[indices]`` for a 1-d index: ``index_select``, a third of indexing's cost."""
    if indices.device != tensor.device:
        indices = indices.to(tensor.device)
    return tensor.index_select(0, indices)


def _index(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return tensor[index]


def _fits_on(device: Any, nbytes: int) -> bool:
    """Whether ``nbytes`` of training data fit on the accelerator ``device`` (never the CPU)."""
    if device is None or torch.device(device).type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return nbytes <= DEVICE_DATA_SHARE * free


class _IndexBatches:
    """Batches of indices as tensor slices of one (optionally shuffled) permutation.

    With ``shard=(rank, world)``, each batch is this rank's share of a global
    batch: every ``world``-th index from ``rank`` (a last global batch with
    fewer rows than ranks is dropped, so that no rank gets an empty one).
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, drop_last: bool,
                 generator: torch.Generator | None, shard: tuple[int, int] | None = None,
                 ) -> None:
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.drop_last, self.generator = drop_last, generator
        self.rank, self.world = shard if shard is not None else (0, 1)

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest >= self.world and not self.drop_last else 0)

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=self.generator)
        else:
            order = torch.arange(self.n)
        size, rank, world = self.batch_size, self.rank, self.world
        for i in range(len(self)):
            batch = order[i * size : (i + 1) * size]
            yield batch if world == 1 else batch[rank::world]


class BatchLoader:
    """Whole batches of an :class:`ArrayDataset`, without ``DataLoader``'s per-batch machinery.

    Accepts skorch's ``iterator_train__*`` keywords (``shuffle``,
    ``drop_last``, ``generator``, ...). With the defaults it yields
    ``dataset[indices]`` itself, after drawing the one number a
    ``DataLoader`` draws from the generator when iterated, so torch's random
    stream (and so every seeded fit) is the one a ``DataLoader`` gives. Other
    keywords (``num_workers``, ``pin_memory``, ``collate_fn``, ...) are handed
    to a real ``DataLoader`` over the same batches. ``shard=(rank, world)``
    gives each rank of a data-parallel fit its share of every global batch of
    ``batch_size`` rows (``skkd.training._accelerate``).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
        shard: tuple[int, int] | None = None,
        **kwargs: Any,
    ) -> None:
        if not shuffle and generator is None:
            # DataLoader draws a base seed when iterated; a private generator
            # keeps predict() from consuming torch's global random state.
            generator = torch.Generator()
        self.dataset, self.generator = dataset, generator
        self.sampler = _IndexBatches(len(dataset), batch_size, shuffle, drop_last, generator,
                                     shard)
        self.loader = None if not kwargs else DataLoader(
            dataset, batch_size=None, sampler=self.sampler, generator=generator, **kwargs)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.loader is not None:
            return iter(self.loader)
        return self._batches()

    def _batches(self) -> Iterator[Any]:
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)  # DataLoader's seed
        for indices in self.sampler:
            yield self.dataset[indices]


def fresh_columns(dataset: Any, n_rows: int) -> TrainingColumns:
    """The tensors of the training set a fresh transfer set writes its rows into.

    Parameters
    ----------
    dataset : ArrayDataset or torch.utils.data.Subset
        The training set ``DistilledClassifier.fit`` made (or a validation
        split's share of it), ``n_rows`` rows in all.
    n_rows : int
        The number of rows it must hold (the fresh transfer set's ``stop``).

    Returns
    -------
    TrainingColumns
        Its rows, teacher outputs and cached teacher features, each safe to
        write into (:meth:`ArrayDataset.writable`).
    """
    while isinstance(dataset, torch.utils.data.Subset):  # a validation split's
        dataset = dataset.dataset
    X = getattr(dataset, "X", None)
    inputs = X[INPUT_KEY] if isinstance(X, dict) else X
    if not isinstance(dataset, ArrayDataset) or len(inputs) != n_rows:
        raise RuntimeError(
            "A fresh transfer set needs the training set DistilledClassifier.fit made "
            f"({n_rows} rows in an ArrayDataset); got {type(dataset).__name__}."
        )
    if not isinstance(X, dict):
        return TrainingColumns(dataset.writable())
    hints = 0
    while HINT_KEY.format(hints) in X:
        hints += 1
    return TrainingColumns(
        dataset.writable(INPUT_KEY),
        dataset.writable(TEACHER_KEY) if TEACHER_KEY in X else None,
        tuple(dataset.writable(HINT_KEY.format(i)) for i in range(hints)),
    )
