"""User data on its way in: arrays to tensors, generated rows to the user's frame.

The one home of two conversions that fit, predict and the teachers all need:

- :func:`to_tensor` (and :func:`tensor_of`) turn any array-like scikit-learn
  accepts (views with negative strides, Fortran order, read-only arrays,
  ``np.memmap`` in mode ``'r'``, non-native byte order, lists, DataFrames) into
  a tensor. Memory torch can share safely (writable, non-negative strides) is
  shared, never written into; everything else is copied, so PyTorch's "not
  writable" warning never fires.
- :func:`frame_like` turns rows skkd made (float32, as the student sees them)
  into a DataFrame with the dtypes of the user's frame, for a teacher that needs
  one, and refuses where those dtypes cannot hold the values exactly.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch


def tensor_of(x: Any, *, dtype: torch.dtype | None = None,
              device: torch.device | str | None = None) -> tuple[torch.Tensor, bool]:
    """``x`` as a tensor, and whether that tensor is a copy skkd owns.

    Parameters
    ----------
    x : array-like or torch.Tensor
        The data, e.g. the rows or logits a user passed.
    dtype : torch.dtype or None, default=None
        The tensor's dtype; None keeps ``x``'s.
    device : torch.device, str or None, default=None
        The tensor's device; None: the CPU for arrays, ``x``'s for tensors.

    Returns
    -------
    tensor : torch.Tensor
        The data.
    owned : bool
        True when ``tensor`` is a copy made here: it may be written into.
        False when it may share memory with ``x`` (the caller's): read it only.
    """
    if isinstance(x, torch.Tensor):
        out = x.to(device=device, dtype=dtype)
        return out, out is not x
    arr = np.asarray(x)
    copied = False
    if not arr.dtype.isnative:
        arr, copied = arr.astype(arr.dtype.newbyteorder("=")), True
    elif any(s < 0 for s in arr.strides):  # torch cannot view negative strides
        arr, copied = np.array(arr, order="C", copy=True), True
    if arr.flags.writeable:
        tensor = torch.from_numpy(arr)
    else:
        # read-only memory (a memory-mapped file opened "r"): viewed, not loaded
        # whole; torch warns it may not be written, and skkd never writes a view
        # (owned is False, so ArrayDataset.writable copies first). catch_warnings
        # is not thread-safe: at worst, concurrent fits leave this one message's
        # "ignore" filter installed, which silences nothing else.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            tensor = torch.from_numpy(arr)
    out = tensor.to(device=device, dtype=dtype)
    return out, copied or out is not tensor


def to_tensor(x: Any, *, dtype: torch.dtype | None = None,
              device: torch.device | str | None = None) -> torch.Tensor:
    """``x`` as a tensor, to read only: it may share memory with ``x``.

    See :func:`tensor_of`, which also says whether the tensor is a copy.
    """
    return tensor_of(x, dtype=dtype, device=device)[0]


def is_frame(X: Any) -> bool:
    """Whether ``X`` is a pandas DataFrame (or quacks like one)."""
    return hasattr(X, "iloc") and hasattr(X, "columns") and hasattr(X, "dtypes")


def _holds_float32(dtype: Any) -> bool:
    """Whether every float32 value is exactly a value of ``dtype``."""
    return isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize >= 4


def _show(value: Any) -> str:
    """A value for a message: ``2.5``, not ``np.float64(2.5)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first_miss(values: np.ndarray, dtype: Any) -> str | None:
    """The first of ``values`` that ``dtype`` cannot hold exactly, and what it would become.

    None when ``dtype`` holds them all.
    """
    import pandas as pd  # only reached with a pandas frame

    column = pd.Series(values)
    categories = getattr(dtype, "categories", None)
    if categories is not None:  # checked first: pandas warns on values outside them
        outside = ~(column.isin(categories) | column.isna()).to_numpy()
        if outside.any():
            return f"{_show(values[np.argmax(outside)])} is not among its categories"
    try:
        converted = column.astype(dtype)
        back = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):  # e.g. NaN or 2.5 in an integer column
        bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
        return f"{_show(values[bad[0] if len(bad) else 0])} does not fit it"
    differs = ~((back == values) | (np.isnan(back) & np.isnan(values)))
    if not differs.any():
        return None
    i = int(np.argmax(differs))
    return f"{_show(values[i])} would become {_show(converted.iloc[i])}"


def frame_like(template: Any, rows: np.ndarray, *, source: str, fix: str = "") -> Any:
    """Rows skkd made, as a DataFrame with ``template``'s columns and dtypes.

    The teacher must answer for exactly the rows the student trains on, so a
    column whose dtype cannot hold the (float32) values exactly (non-integral
    values in an integer column, values outside a categorical column's
    categories, ...) is an error, not a silent cast.

    Parameters
    ----------
    template : pandas.DataFrame
        The frame the user passed (its rows are not used).
    rows : ndarray of shape (n_rows, n_columns)
        The rows, float32, one column per column of ``template``.
    source : str
        What made the rows, for the error message (e.g. "augment='munge'").
    fix : str, default=""
        Another way out, appended to the message's advice to convert the
        columns to float.

    Returns
    -------
    pandas.DataFrame
        ``rows`` with ``template``'s columns and dtypes.

    Raises
    ------
    ValueError
        If some columns cannot hold their values exactly; names them.
    """
    rows = np.asarray(rows)
    misses = {}
    for j, (name, dtype) in enumerate(template.dtypes.items()):
        if not _holds_float32(dtype):
            miss = _first_miss(rows[:, j].astype(np.float64), dtype)
            if miss is not None:
                misses[name] = f"{name!r} ({dtype}: {miss})"
    if misses:
        as_float = ", ".join(f"{name!r}: 'float64'" for name in misses)
        raise ValueError(
            f"{source} made rows that the DataFrame's dtypes cannot hold exactly, in "
            f"column(s) {'; '.join(misses.values())}. The teacher would label other rows "
            f"than the student learns: convert those columns to float before fit "
            f"(X = X.astype({{{as_float}}})){fix}."
        )
    return type(template)(rows, columns=template.columns).astype(template.dtypes.to_dict())
