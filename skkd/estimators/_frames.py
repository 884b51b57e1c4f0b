"""Raw DataFrames in: the student reads a DataFrame through a column encoding it learns.

:class:`FrameMixin` is the part of
:class:`~skkd.estimators._base.BaseDistiller` that decides whether ``X`` is a
DataFrame the student must encode (columns of strings, categories, dates or
booleans, missing values, or ``categorical_features`` naming columns), fits
that encoding on the training rows (``columns_``, see
:mod:`skkd._columns`) and applies it to the rows of ``fit``,
``predict`` and ``score``. Everything else (numeric frames, arrays) goes
through scikit-learn's ``validate_data`` as before. The teacher always
receives ``X`` as the user passed it.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from skkd._columns import (
    describe_columns,
    fit_columns,
    is_dataframe,
    names_columns,
    needs_encoding,
    transform_columns,
)
from skkd.exceptions import InvalidParameterError

#: Where the docs show how to encode a frame by hand.
RECIPE = "the user guide's recipe, docs/user_guide/tree_models.md"


class FrameMixin:
    """Encode a raw DataFrame for the student; mixed into ``BaseDistiller``.

    Reads the estimator's ``categorical_features``, its module (through
    ``_module_factory``) and the hook :meth:`_teacher_reads_student_rows`.
    """

    def _teacher_reads_student_rows(self) -> tuple[str, str] | None:
        """The setting that hands the teacher rows in the student's format, and its off value.

        Such rows cannot reach a teacher fitted on a raw DataFrame: ``augment``
        here; a classifier adds ``teacher_inference='per_batch'`` and ``hints``.
        None when no setting does.
        """
        return (f"augment={self.augment!r}", "augment=None") if self.augment is not None else None

    def _reads_codes(self) -> bool:
        """Whether the student takes category codes (a ``categorical`` option, as
        ``tabular-mlp``): others read each category column one-hot."""
        factory = self._module_factory(encoded=True)
        if isinstance(factory, torch.nn.Module):
            return False
        try:
            names = inspect.signature(getattr(factory, "factory", factory)).parameters
        except (TypeError, ValueError):
            return False
        return "categorical" in names and "cardinalities" in names

    def _frame_rows(self, X: Any, reset: bool, fitting: bool = False) -> np.ndarray | None:
        """``X`` encoded for the student, or None when it goes scikit-learn's way.

        In a new fit (``reset``) a DataFrame that :func:`needs_encoding` is
        encoded, and the encoding learned from its rows (``columns_``; None for
        anything else). Otherwise (a warm start, ``predict``), rows are encoded
        when ``columns_`` is set: they must be a DataFrame with the fitted columns.
        """
        if reset:
            self.columns_ = None
            if not is_dataframe(X):
                if names_columns(self.categorical_features):
                    raise InvalidParameterError(
                        f"categorical_features={self.categorical_features!r} names columns of "
                        f"a DataFrame, but X is a {type(X).__name__}: pass a pandas DataFrame, "
                        "or, for category codes in an array, module='tabular-mlp' with "
                        "module__categorical=[...] and leave categorical_features unset."
                    )
                return None
            if not needs_encoding(X, self.categorical_features):
                return None
        columns = self.__dict__.get("columns_")
        if not reset and columns is None:
            return None
        if not reset and not is_dataframe(X):
            raise ValueError(
                f"{type(self).__name__} was fitted on a DataFrame whose columns the student "
                f"encodes ({describe_columns(columns)}); pass the rows as a DataFrame with "
                f"those {len(columns['columns'])} columns, not a {type(X).__name__}."
            )
        if len(X) == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                             f"of 1 is required by {type(self).__name__}.")
        validate_data(self, X, skip_check_array=True, reset=reset)
        if reset:
            columns = fit_columns(X, self.categorical_features, one_hot=not self._reads_codes())
        if fitting:
            self._refuse_teaching_on_student_rows(columns)
        if reset:
            self.columns_ = columns
        return transform_columns(columns, X)

    def _refuse_teaching_on_student_rows(self, columns: dict[str, Any]) -> None:
        """A fit on an encoded frame cannot hand the teacher rows the student made."""
        refused = self._teacher_reads_student_rows()
        if refused is None:
            return
        setting, off = refused
        raise InvalidParameterError(
            f"{setting} hands the teacher rows in the student's format, and the student reads "
            f"an encoding of X's columns ({describe_columns(columns)}) that a teacher fitted on "
            f"the raw DataFrame cannot read. Encode the frame yourself first ({RECIPE}) and "
            f"fit the teacher and the student on the encoded columns, or set {off}."
        )
