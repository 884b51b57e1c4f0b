"""Labels: which rows are unlabeled, and the encoding the student trains on."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets


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


def encode_labels(y: np.ndarray, marker: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, y_enc)``: sorted classes of the labeled rows; codes, -1 for unlabeled rows.

    Raises
    ------
    ValueError
        If fewer than two classes are labeled.
    """
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
