"""Labels: which rows are unlabeled, and the encoding the student trains on."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets

from skkd.exceptions import InvalidParameterError


def unlabeled_rows(y: Any, marker: Any) -> np.ndarray:
    """The rows whose label is ``marker`` (none when ``marker`` is None)."""
    y = np.asarray(y)
    if marker is None:
        return np.zeros(len(y), dtype=bool)
    if y.dtype == object:
        return np.array([type(v) is type(marker) and v == marker for v in y], dtype=bool)
    if (y.dtype.kind in "US") != isinstance(marker, str):
        return np.zeros(len(y), dtype=bool)
    return np.asarray(y == marker, dtype=bool)


def _kind(value: Any) -> str:
    """``"string"``, ``"number"`` or ``"other"``: what a label or marker is."""
    if isinstance(value, str | np.str_ | bytes):
        return "string"
    if isinstance(value, numbers.Number) and not isinstance(value, bool | np.bool_):
        return "number"
    return "other"


def check_marker(y: np.ndarray, marker: Any) -> None:
    """Refuse an ``unlabeled`` marker that cannot occur among labels of ``y``'s type.

    ``unlabeled=-1`` with string labels would match no row and make ``"-1"``
    an ordinary class, silently.

    Raises
    ------
    InvalidParameterError
        Naming the marker, ``y``'s type and a marker of the right type.
    """
    if marker is None or len(y) == 0:
        return
    if y.dtype.kind in "US":
        kinds = {"string"}
    elif y.dtype.kind in "iuf":
        kinds = {"number"}
    elif y.dtype == object:
        kinds = {_kind(v) for v in y}
    else:
        return
    if _kind(marker) not in kinds:
        example = '""' if "string" in kinds else "-1"
        held = " and ".join(sorted(k + "s" for k in kinds))
        raise InvalidParameterError(
            f"unlabeled={marker!r} cannot mark a row: y holds {held} ({y.dtype}), and a "
            f"{type(marker).__name__} never equals them. Pass a marker of y's type "
            f"(e.g. unlabeled={example}), or unlabeled=None if every row is labeled."
        )


def encode_labels(y: np.ndarray, marker: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, y_enc)``: sorted classes of the labeled rows; codes, -1 for unlabeled rows.

    Raises
    ------
    InvalidParameterError
        If ``marker`` cannot occur in ``y`` (see :func:`check_marker`).
    ValueError
        If fewer than two classes are labeled.
    """
    check_marker(y, marker)
    unlabeled = unlabeled_rows(y, marker)
    check_classification_targets(y[~unlabeled])
    encoder = LabelEncoder().fit(y[~unlabeled])
    classes = encoder.classes_
    if len(classes) < 2:
        found = f"only one class ({classes.tolist()[0]!r})" if len(classes) else "no labeled rows"
        besides = f" besides the unlabeled marker {marker!r}" if unlabeled.any() else ""
        raise ValueError(
            f"y has {found}{besides}; DistilledClassifier needs at least two classes."
        )
    y_enc = np.full(len(y), -1, dtype=np.int64)
    y_enc[~unlabeled] = encoder.transform(y[~unlabeled])
    return classes, y_enc
