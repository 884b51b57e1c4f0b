"""Augmentation at fit time: build the one ``augment`` names, add its transfer set.

The augmentations themselves are plugins (:mod:`skkd.augmentations` holds the
built-ins); this module is what ``DistilledClassifier.fit`` does with one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from skkd.exceptions import InvalidParameterError
from skkd.params import check_options
from skkd.plugins import get_augmentation


def build_augmentation(name: str | None, options: Mapping[str, Any]) -> Any:
    """The augmentation registered as ``name``, built from the ``augment__*`` options."""
    if name is None:
        if options:
            raise InvalidParameterError(
                f"augment__* parameters {sorted(options)} are set but augment=None; name "
                "an augmentation, e.g. augment='shift'."
            )
        return None
    try:
        factory = get_augmentation(name)
    except ValueError as exc:
        raise InvalidParameterError(f"augment={name!r}: {exc}") from exc
    check_options("augment__", options, factory, f"augmentation {name!r}")
    try:
        augmentation = factory(**options)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"augment={name!r}: {exc}") from exc
    if not (hasattr(augmentation, "transfer_set") or hasattr(augmentation, "augment_batch")):
        raise InvalidParameterError(
            f"augment={name!r} built {type(augmentation).__name__}, which has neither "
            "transfer_set nor augment_batch (see skkd.hookspecs)."
        )
    return augmentation


def needs_teacher(augmentation: Any) -> bool:
    """Whether ``augmentation`` makes rows only a teacher can label.

    Transfer sets always do; a batch augmentation does unless it declares
    ``needs_teacher = False`` (it keeps every row's label, as ``"shift"``).
    """
    if hasattr(augmentation, "transfer_set"):
        return True
    return bool(getattr(augmentation, "needs_teacher", True))


def add_transfer_set(augmentation: Any, X: np.ndarray, X_teacher: Any, y: np.ndarray,
                     y_enc: np.ndarray, random_state: Any) -> tuple[Any, ...]:
    """Append the rows ``augmentation.transfer_set`` generates, as unlabeled rows.

    Returns ``(X, X_teacher, y, y_enc)`` with the generated rows appended:
    float32 rows for the student, rows in the user's format (a DataFrame keeps
    its columns and dtypes) for the teacher, and -1 codes (their ``y``
    entries are placeholders, never read).
    """
    extra = np.asarray(augmentation.transfer_set(X, y_enc, random_state=random_state),
                       dtype=np.float32)
    if extra.ndim != 2 or extra.shape[1] != X.shape[1]:
        raise ValueError(
            f"The augmentation {type(augmentation).__name__} generated rows of shape "
            f"{extra.shape}; they need the {X.shape[1]} columns of X."
        )
    return (
        np.concatenate([X, extra]),
        _append_rows(X_teacher, extra),
        np.concatenate([y, np.repeat(y[:1], len(extra))]),
        np.concatenate([y_enc, np.full(len(extra), -1, dtype=np.int64)]),
    )


def _append_rows(X: Any, rows: np.ndarray) -> Any:
    """``X`` (as the user passed it) followed by generated ``rows``, in ``X``'s format."""
    if hasattr(X, "iloc") and hasattr(X, "columns"):
        values = np.concatenate([np.asarray(X, dtype=np.float64), rows])
        return type(X)(values, columns=X.columns).astype(X.dtypes.to_dict())
    return np.concatenate([np.asarray(X), rows])
