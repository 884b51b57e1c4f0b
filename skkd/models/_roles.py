"""The roles of a tabular student's columns: which they are, and what a category column holds.

Column options given as indices or as a boolean mask (scikit-learn's two forms),
width options checked, the 0/1 columns found and the codes seen in each category
column: what :class:`skkd.models.TabularMLP` and its ``fit_encoding`` read from
their options and from the training rows.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def _is_whole(value: Any) -> bool:
    """Whether ``value`` is a whole number (``3`` or ``3.0``), not a bool."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
            and float(value).is_integer())


def column_indices(value: Any, n_features: int, option: str) -> list[int]:
    """Column indices from indices or a boolean mask, scikit-learn's two forms.

    Parameters
    ----------
    value : sequence of int, or array-like of bool of length ``n_features``
        Column indices, each in ``[0, n_features)``, no repeats; or a boolean
        mask, one value per column (``HistGradientBoostingClassifier``'s
        ``categorical_features`` takes both).
    n_features : int
        The number of columns of ``X``.
    option : str
        The parameter's name, for error messages.

    Returns
    -------
    list of int
        The indices, in the order given (a mask's in column order).
    """
    try:
        items = [] if value is None else list(value)
    except TypeError:
        items = None
    if items is None or isinstance(value, str | bytes):
        raise ValueError(f"{option} must be a sequence of column indices or a boolean mask; "
                         f"got {value!r}.")
    booleans = [isinstance(v, bool | np.bool_) for v in items]
    if items and (all(booleans) or (isinstance(value, np.ndarray) and value.dtype == np.bool_)):
        if len(items) != n_features:
            raise ValueError(
                f"{option} is a boolean mask of {len(items)} values, but X has {n_features} "
                f"features: a mask needs one value per column (or pass column indices)."
            )
        return np.flatnonzero(np.asarray(items, dtype=bool)).tolist()
    if any(booleans) or not all(_is_whole(v) for v in items):
        raise ValueError(f"{option} must be a sequence of column indices (ints) or a boolean "
                         f"mask of {n_features} values, not a mix; got {value!r}.")
    columns = [int(v) for v in items]
    bad = [c for c in columns if not 0 <= c < n_features]
    if bad or len(set(columns)) != len(columns):
        raise ValueError(
            f"{option}={columns} must name distinct columns of X, each in [0, {n_features}) "
            f"(X has {n_features} features)."
        )
    return columns


def check_width(value: Any, option: str, least: int = 1) -> int:
    """A width (an integer >= ``least``) as an int, or a ValueError naming ``option``."""
    if not (_is_whole(value) and value >= least):
        raise ValueError(f"{option}={value!r} must be an integer >= {least}.")
    return int(value)


def category_tables(n_columns: int, cardinalities: Any, categories: Any
                    ) -> tuple[list[int], list[np.ndarray | None]]:
    """Each categorical column's number of categories, and its codes unless they are 0 .. k-1."""
    if categories is None:
        if cardinalities is None:
            raise ValueError(
                "module__categorical needs the codes of each column: DistilledClassifier.fit "
                "learns them from the training rows (TabularMLP.fit_encoding); to build the "
                "module yourself, pass categories=[...] (the codes seen in each column) or "
                "cardinalities=[...] (codes 0 .. k-1)."
            )
        sizes = [check_width(k, "module__cardinalities") for k in cardinalities]
        if len(sizes) != n_columns:
            raise ValueError(f"module__cardinalities={sizes} needs one count per column of "
                             f"module__categorical ({n_columns} columns).")
        return sizes, [None] * n_columns
    tables: list[np.ndarray | None] = []
    sizes = []
    for j, codes in enumerate(categories):
        try:
            seen = np.asarray(codes, dtype=np.float64)
        except (TypeError, ValueError):
            seen = np.full(1, np.nan)
        if seen.ndim != 1 or not (np.isfinite(seen).all() and (seen >= 0).all()
                                  and (seen == np.floor(seen)).all()
                                  and (np.diff(seen) > 0).all()):
            raise ValueError(f"module__categories[{j}] must be the sorted, distinct category "
                             f"codes (integers >= 0) of a column; got {codes!r}.")
        sizes.append(len(seen))
        dense = not len(seen) or seen[-1] == len(seen) - 1  # exactly 0 .. k-1
        tables.append(None if dense else seen.astype(np.float32))
    if len(tables) != n_columns:
        raise ValueError(f"module__categories has {len(tables)} lists of codes; "
                         f"module__categorical has {n_columns} columns.")
    if cardinalities is not None and [int(k) for k in cardinalities] != sizes:
        raise ValueError(f"module__cardinalities={list(cardinalities)} disagrees with "
                         f"module__categories ({sizes} codes); set one of them.")
    return sizes, tables


def is_binary(column: np.ndarray) -> bool:
    """Whether every value of a column is 0 or 1 (a flag, fed to the network as it is)."""
    return bool(((column == 0) | (column == 1)).all())


def seen_codes(column: np.ndarray, index: int) -> list[int]:
    """The distinct codes >= 0 of a column of category codes (negative and NaN are unknown)."""
    codes = column[np.isfinite(column) & (column >= 0)]
    if len(codes) and not np.array_equal(codes, np.round(codes)):
        bad = codes[codes != np.round(codes)][0]
        raise ValueError(
            f"module__categorical: column {index} holds {bad}, not an integer category "
            "code; encode it with sklearn.preprocessing.OrdinalEncoder, or leave it out "
            "of module__categorical."
        )
    return np.unique(codes).astype(np.int64).tolist()
