"""The columns of a raw DataFrame as the student reads them, learned from the training rows.

``DistilledClassifier(teacher=gbm).fit(df, y)`` hands ``df`` to the teacher as
it is, and to the student through an encoding fitted here on the training
rows only. Each column gets a role from its dtype:

============================  =====================================================
dtype                         what the student reads
============================  =====================================================
bool (numpy or ``boolean``)   binary: 0/1
pandas categorical, object,   category: codes ``0 .. k-1`` of the ``k`` categories
string                        seen in training, sorted; missing, ``None`` and
                              categories not seen in training are ``-1``, the
                              unknown code
int, float                    numeric: standardized by the training mean and
                              standard deviation (a column constant in training
                              reads 0), missing values read the mean (0); a
                              column with exactly two distinct training values is
                              binary instead: those values read 0 and 1
datetime64 (tz-aware too),    numeric, as days since 1970-01-01 (UTC), then as
timedelta64                   int and float columns; ``NaT`` is missing
============================  =====================================================

A numeric or binary column with missing values in training also gets a 0/1
column flagging them (a value missing only at predict time reads the mean, or
for a binary column its more frequent value, without a flag). A column
missing in every training row reads 0. ``categorical_features`` (as in
scikit-learn's ``HistGradientBoostingClassifier``) overrides the roles: a
numeric, bool or date column it names is coded by its values, sorted; with
None, no column is categorical (a column of strings is then an error).

The output is float32 columns in this order: category codes, numeric columns,
binary columns, missing-value flags. A student that takes no category codes
(anything but ``tabular-mlp``) reads each code column one-hot instead
(unknown: all zeros).

The encoding is plain data (a dict of lists, strings and numbers), so student
files carry it (:func:`check_columns` reads one back).
"""

from __future__ import annotations

import functools
import numbers
import sys
from typing import Any

import numpy as np

from skkd.exceptions import InvalidParameterError

#: How a column reads in training, by dtype.
KINDS = ("bool", "number", "datetime", "timedelta", "category", "string")
#: What the student reads of a column.
ROLES = ("category", "numeric", "binary", "constant")
#: The most categories a code column may have to be read one-hot.
MAX_ONE_HOT = 64
_VERSION = 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_VALUE_KINDS = ("category", "string")  # coded by value, not by a numeric reading


def is_dataframe(X: Any) -> bool:
    """Whether ``X`` is a pandas DataFrame (pandas is not imported for it)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


def names_columns(categorical_features: Any) -> bool:
    """Whether ``categorical_features`` makes some column categorical by name, index or mask."""
    if categorical_features is None or isinstance(categorical_features, str):
        return False
    values = list(categorical_features)
    return any(values) if all(isinstance(v, bool | np.bool_) for v in values) else bool(values)


def needs_encoding(frame: Any, categorical_features: Any) -> bool:
    """Whether the student must encode ``frame``: a column that is not of a numpy float or
    int dtype, a missing value, or ``categorical_features`` naming columns."""
    if names_columns(categorical_features):
        return True
    if any(not (isinstance(d, np.dtype) and d.kind in "fiu") for d in frame.dtypes):
        return True
    return bool(frame.isna().to_numpy().any())


# --------------------------------------------------------------------------- reading columns


def _kind(series: Any, name: str) -> str:
    """The column's kind (:data:`KINDS`), from its dtype."""
    import pandas as pd

    types, dtype = pd.api.types, series.dtype
    if types.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if types.is_timedelta64_dtype(dtype):
        return "timedelta"
    if types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype):
        return "number"
    if types.is_object_dtype(dtype) or types.is_string_dtype(dtype):
        return "string"
    raise ValueError(
        f"Column {name!r} has dtype {dtype}, which the student cannot encode: convert it to "
        "numbers, strings, a pandas categorical or datetime64, or drop it."
    )


def _numbers(series: Any, kind: str, name: str) -> np.ndarray:
    """The column as float64 numbers (NaN: missing); dates as days since 1970 (UTC)."""
    import pandas as pd

    if kind in ("datetime", "timedelta"):
        types = pd.api.types
        ok = (types.is_datetime64_any_dtype if kind == "datetime"
              else types.is_timedelta64_dtype)(series.dtype)
        if not ok:
            convert = "pandas.to_datetime" if kind == "datetime" else "pandas.to_timedelta"
            raise ValueError(f"Column {name!r} held {kind} values in fit but has dtype "
                             f"{series.dtype} now: convert it with {convert}.")
        if kind == "datetime":
            tz = "UTC" if getattr(series.dtype, "tz", None) is not None else None
            series = series - pd.Timestamp(0, tz=tz)
        return (series / pd.Timedelta(days=1)).to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Column {name!r} cannot be read as numbers ({exc}), as the student read it in "
            f"fit ({kind} values): pass the column with the dtype it had in fit."
        ) from None
    if np.isinf(values).any():
        raise ValueError(f"Column {name!r} holds infinity; replace it by a finite number, or "
                         "by NaN for a missing value.")
    return values


def _plain_value(value: Any, name: str) -> str | int | float | bool:
    """A category as a plain Python value; anything but strings and real numbers is refused."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    raise ValueError(
        f"Column {name!r} holds {type(value).__name__} values ({value!r}), which are neither "
        "strings nor numbers: convert the column (df[col].astype(str), pandas.to_datetime "
        "for dates), or drop it."
    )


def _categories(series: Any, kind: str, name: str) -> list[Any]:
    """The sorted categories seen in a column (missing values are no category)."""
    import pandas as pd

    if kind not in _VALUE_KINDS:
        values = _numbers(series, kind, name)
        return [float(v) for v in np.unique(values[~np.isnan(values)])]
    values = series.astype(object).to_numpy()
    try:
        seen = pd.unique(values[~pd.isna(values)])
    except TypeError:  # unhashable values (lists, dicts)
        seen = values[~pd.isna(values)][:1]
    found = [_plain_value(v, name) for v in seen]
    if any(isinstance(v, str) for v in found) and not all(isinstance(v, str) for v in found):
        raise ValueError(
            f"Column {name!r} mixes strings and numbers; make it one kind "
            "(df[col].astype(str)) so that its categories can be sorted."
        )
    return sorted(found)


def _codes(series: Any, spec: dict[str, Any]) -> np.ndarray:
    """Category codes of a column: ``0 .. k-1``, and -1 for missing or unseen values."""
    import pandas as pd

    categories = spec["categories"]
    if spec["kind"] not in _VALUE_KINDS:
        values = _numbers(series, spec["kind"], spec["name"])
        table = np.asarray(categories, dtype=np.float64)
        at = np.minimum(np.searchsorted(table, values), len(table) - 1)
        return np.where(table[at] == values, at, -1).astype(np.float64)
    if isinstance(series.dtype, pd.CategoricalDtype):  # look up its few categories, once each
        table = _index(tuple(categories)).get_indexer(series.cat.categories.astype(object))
        codes = series.cat.codes.to_numpy()
        return np.where(codes >= 0, table[codes], -1).astype(np.float64)
    return _index(tuple(categories)).get_indexer(
        series.astype(object).to_numpy()).astype(np.float64)


@functools.lru_cache(maxsize=256)
def _index(categories: tuple[Any, ...]) -> Any:
    """The pandas Index of a column's categories (built once, not for every row read)."""
    import pandas as pd

    return pd.Index(categories, dtype=object)


# --------------------------------------------------------------------------- fitting


def _declared(frame: Any, categorical_features: Any) -> list[bool] | None:
    """Which columns ``categorical_features`` makes categorical; None: by dtype."""
    n = frame.shape[1]
    if isinstance(categorical_features, str):  # "from_dtype"
        return None
    if categorical_features is None:
        return [False] * n
    values = list(np.asarray(categorical_features, dtype=object).tolist())
    shown = f"categorical_features={categorical_features!r}"
    if values and all(isinstance(v, bool) for v in values):
        if len(values) != n:
            raise InvalidParameterError(
                f"{shown} is a boolean mask of {len(values)} entries, but X has {n} columns: "
                "give one entry per column."
            )
        return values
    if all(isinstance(v, int) for v in values):
        bad = [v for v in values if not 0 <= v < n]
        if bad:
            raise InvalidParameterError(
                f"{shown} holds the index {bad[0]}, outside X's {n} columns (0 to {n - 1})."
            )
        return [j in set(values) for j in range(n)]
    names = [str(c) for c in frame.columns]
    unknown = [v for v in values if str(v) not in names]
    if unknown:
        raise InvalidParameterError(
            f"{shown} names {unknown[0]!r}, which is not a column of X (its columns: "
            f"{', '.join(map(repr, names[:20]))}{' ...' if n > 20 else ''})."
        )
    return [name in {str(v) for v in values} for name in names]


def _fit_numbers(values: np.ndarray, spec: dict[str, Any]) -> dict[str, Any]:
    """The role of a column read as numbers: constant, binary or numeric."""
    missing = np.isnan(values)
    present = values[~missing]
    distinct = np.unique(present)
    if len(distinct) == 0:  # missing in every training row
        return {**spec, "role": "constant"}
    if spec["kind"] == "bool" or len(distinct) == 2:
        low, high = (0.0, 1.0) if spec["kind"] == "bool" else map(float, distinct)
        ones = int(np.count_nonzero(present == high))
        return {**spec, "role": "binary", "low": low, "high": high,
                "fill": 1.0 if 2 * ones > len(present) else 0.0, "flag": bool(missing.any())}
    mean = float(np.mean(present))
    scale = float(np.std(present))
    return {**spec, "role": "numeric", "mean": mean, "scale": scale if scale > 0 else 1.0,
            "flag": bool(missing.any())}


def _fit_column(series: Any, name: str, categorical: bool | None, setting: Any
                ) -> dict[str, Any]:
    """One column's entry of the encoding (``categorical`` None: by its dtype)."""
    kind = _kind(series, name)
    spec = {"name": name, "kind": kind}
    if categorical is None:
        categorical = kind in _VALUE_KINDS
    if categorical:
        categories = _categories(series, kind, name)
        if not categories:
            return {**spec, "role": "constant"}
        return {**spec, "role": "category", "categories": categories}
    try:
        values = _numbers(series, kind, name)
    except ValueError:
        if kind not in _VALUE_KINDS:
            raise
        raise InvalidParameterError(
            f"Column {name!r} holds {kind} values that are not numbers, but "
            f"categorical_features={setting!r} does not make it categorical: name it in "
            "categorical_features (or leave categorical_features='from_dtype', which codes "
            "every column of strings or categories), or convert it to numbers."
        ) from None
    return _fit_numbers(values, spec)


def fit_columns(frame: Any, categorical_features: Any = "from_dtype", *,
                one_hot: bool = False) -> dict[str, Any]:
    """Learn the encoding of ``frame``'s columns from its rows (the training rows).

    Parameters
    ----------
    frame : pandas.DataFrame
        The training rows.
    categorical_features : "from_dtype", None, or sequence of str, int or bool
        Which columns are categories, as scikit-learn's
        ``HistGradientBoostingClassifier`` takes it: by dtype, none, names,
        indices or a boolean mask.
    one_hot : bool, default=False
        Read each category column one-hot (for a student that takes no codes).

    Returns
    -------
    dict
        Plain data: ``version``, ``one_hot`` and ``columns``, one dict per
        column of ``frame`` (``name``, ``kind``, ``role`` and what the role needs).

    Raises
    ------
    InvalidParameterError
        For a ``categorical_features`` that names no column of ``frame``, a
        column of strings it leaves numeric, or (``one_hot``) a category
        column of more than :data:`MAX_ONE_HOT` categories.
    ValueError
        For a column that cannot be encoded; the message names it and the fix.
    """
    declared = _declared(frame, categorical_features)
    specs = [_fit_column(frame.iloc[:, j], str(frame.columns[j]),
                         None if declared is None else declared[j], categorical_features)
             for j in range(frame.shape[1])]
    if one_hot:
        for spec in specs:
            if spec["role"] == "category" and len(spec["categories"]) > MAX_ONE_HOT:
                raise InvalidParameterError(
                    f"Column {spec['name']!r} has {len(spec['categories'])} categories, too "
                    f"many to read one-hot (at most {MAX_ONE_HOT}), which a student that takes "
                    "no category codes needs: use module='tabular-mlp', which looks codes up "
                    "in a table, or leave the column out of categorical_features."
                )
    return {"version": _VERSION, "one_hot": bool(one_hot), "columns": specs}


# --------------------------------------------------------------------------- applying


def _in_order(encoding: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [c for c in encoding["columns"] if c["role"] == role]


def code_columns(encoding: dict[str, Any]) -> tuple[list[int], list[int]]:
    """The encoded columns holding category codes, and each one's number of categories.

    Empty when the codes are read one-hot.
    """
    if encoding["one_hot"]:
        return [], []
    sizes = [len(c["categories"]) for c in _in_order(encoding, "category")]
    return list(range(len(sizes))), sizes


def encoded_width(encoding: dict[str, Any]) -> int:
    """The number of columns :func:`transform_columns` returns."""
    categories = _in_order(encoding, "category")
    codes = sum(len(c["categories"]) for c in categories) if encoding["one_hot"] else len(
        categories)
    flags = sum(bool(c.get("flag")) for c in encoding["columns"])
    return codes + len(encoding["columns"]) - len(categories) + flags


def transform_columns(encoding: dict[str, Any], frame: Any) -> np.ndarray:
    """``frame``'s rows as the student reads them: float32, :func:`encoded_width` columns.

    Raises
    ------
    ValueError
        If ``frame`` lacks the fitted columns, or a column cannot be read as
        in training (the message names it).
    """
    specs = encoding["columns"]
    if frame.shape[1] != len(specs):
        raise ValueError(f"X has {frame.shape[1]} columns; the student was fitted on "
                         f"{len(specs)} ({', '.join(repr(c['name']) for c in specs[:20])}).")
    n = len(frame)
    blocks: dict[str, list[np.ndarray]] = {r: [] for r in (*ROLES, "flag")}
    for spec, (_, series) in zip(specs, frame.items(), strict=True):
        role = spec["role"]
        if role == "category":
            codes = _codes(series, spec)
            if encoding["one_hot"]:
                blocks[role].extend(codes == k for k in range(len(spec["categories"])))
            else:
                blocks[role].append(codes)
            continue
        if role == "constant":
            blocks["numeric"].append(np.zeros(n))
            continue
        values = _numbers(series, spec["kind"], spec["name"])
        missing = np.isnan(values)
        if role == "numeric":
            read = np.where(missing, 0.0, (values - spec["mean"]) / spec["scale"])
            if np.abs(read).max(initial=0.0) > _FLOAT32_MAX:
                raise ValueError(
                    f"Column {spec['name']!r} holds a value too many standard deviations "
                    "from its training mean for float32, where the student reads it; check "
                    "its units.")
        else:
            read = np.where(missing, spec["fill"], (values - spec["low"])
                            / (spec["high"] - spec["low"]))
        blocks[role].append(read)
        if spec["flag"]:
            blocks["flag"].append(missing)
    parts = [b for r in ("category", "numeric", "binary", "flag") for b in blocks[r]]
    return (np.stack(parts, axis=1) if parts else np.empty((n, 0))).astype(np.float32)


def describe_columns(encoding: dict[str, Any]) -> str:
    """What the encoding reads, for messages: ``"category columns 'city'; datetime ..."``."""
    groups: dict[str, list[str]] = {}
    for c in encoding["columns"]:
        kind = c["kind"] if c["kind"] in ("datetime", "timedelta", "bool") else c["role"]
        groups.setdefault("category" if c["role"] == "category" else kind, []).append(
            repr(c["name"]))
    return "; ".join(f"{kind} columns {', '.join(names[:5])}{' ...' * (len(names) > 5)}"
                     for kind, names in groups.items())
