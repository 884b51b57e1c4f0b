"""Teacher outputs on a dask cluster: one task per partition, the teacher shipped once.

:func:`skkd.teacher_logits` hands a dask array or DataFrame here. Each
partition's logits are computed by the in-memory :func:`skkd.teacher_logits`
on a worker, the same code as on one machine, so the values are those of an
in-memory call on the same rows. The fitted teacher is one object of the task
graph: dask ships it once to each worker that needs it, not once per task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def is_dask(X: Any) -> bool:
    """Whether ``X`` is a dask collection (without importing dask when it is not loaded)."""
    import sys

    if "dask" not in sys.modules:
        return False
    from dask import is_dask_collection

    return is_dask_collection(X)


def dask_logits(compute: Callable[..., np.ndarray], teacher: Any, X: Any,
                **options: Any) -> Any:
    """``compute(teacher, partition, **options)`` on every partition of ``X``, lazily.

    Parameters
    ----------
    compute : callable
        The in-memory :func:`skkd.teacher_logits`.
    teacher : object
        The fitted teacher (or ensemble).
    X : dask.array.Array or dask.dataframe.DataFrame
        The rows. An array is rechunked to whole rows (one chunk across the
        other axes); a DataFrame's partitions are counted first (one pass).
    **options
        ``classes``, ``batch_size``, ``combine``, as :func:`skkd.teacher_logits`.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_classes), float32
        The logits, one chunk of rows per partition of ``X``; ``fit`` accepts it
        (it is computed there) as it accepts a numpy array.
    """
    import dask
    import dask.array as da

    if isinstance(X, da.Array):
        if any(np.isnan(c) for c in X.chunks[0]):
            raise ValueError(
                "teacher_logits: X is a dask array of unknown chunk sizes; call "
                "X.compute_chunk_sizes() first.")
        X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
        parts, lengths = X.to_delayed().ravel(), list(X.chunks[0])
        head = X[:1].compute()
    elif hasattr(X, "to_delayed") and hasattr(X, "map_partitions"):  # a dask DataFrame
        parts = X.to_delayed()
        lengths = [int(n) for n in X.map_partitions(len).compute()]
        head = X.head(1, npartitions=-1)
    else:
        raise TypeError(f"teacher_logits: a dask {type(X).__name__} is neither a dask "
                        "array nor a dask DataFrame.")
    # the column count (and the options' errors) from one row, here, before any task runs
    n_classes = compute(teacher, head, **options).shape[1]
    shipped = dask.delayed(teacher, pure=True, traverse=False)
    task = dask.delayed(compute, pure=True)
    blocks = [da.from_delayed(task(shipped, part, **options), shape=(n, n_classes),
                              dtype=np.float32)
              for part, n in zip(parts, lengths, strict=True) if n]
    if not blocks:
        return da.zeros((0, n_classes), dtype=np.float32)
    return da.concatenate(blocks)
