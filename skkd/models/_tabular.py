"""Tabular students: an MLP that reads numbers through embeddings and categories through tables.

``DistilledClassifier(module="tabular-mlp")`` trains :class:`TabularMLP`. A
plain MLP on standardized columns draws smooth functions, while a tree
teacher's are step functions; embedding each numeric column first (periodic
embeddings or a piecewise-linear encoding, Gorishniy et al. 2022, from
``rtdl_num_embeddings``, the authors' package) lets a small network draw them.

Each column of ``X`` has one role:

- *categorical* (``module__categorical``): integer category codes (e.g. from
  ``OrdinalEncoder``), looked up in a learned table with one row per code
  seen in training and one "unknown" row for every other value;
- *passthrough*: 0/1 columns (one-hot blocks, missing-value indicators), fed
  to the network as they are, since embedding a 0/1 column as a number costs
  accuracy; found in the training rows unless given;
- *numeric*: every other column, embedded by ``numeric_encoding``.

What depends on the training rows (the passthrough columns, the codes seen in
each categorical column, the piecewise-linear bins) is fitted by
:meth:`TabularMLP.fit_encoding`, which ``DistilledClassifier.fit`` calls on the
training rows before it builds the student (see
:func:`skkd.hookspecs.skkd_register_models` for this part of the model
contract). The fitted values are stored in the module (buffers and plain
attributes), so they travel with pickles and ONNX exports.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from rtdl_num_embeddings import PeriodicEmbeddings, PiecewiseLinearEmbeddings

from skkd._arrays import to_tensor
from skkd.models._bins import _ONE_BIN_WARNING, fit_bins
from skkd.models._mlp import MLP
from skkd.models._roles import (
    category_tables,
    check_width,
    column_indices,
    is_binary,
    seen_codes,
)

#: The values of ``module__numeric_encoding``: how numeric columns are embedded.
NUMERIC_ENCODINGS = ("periodic", "ple", "none")
#: The values of ``module__bins`` (``"ple"`` only): where the bin edges come from.
BIN_SOURCES = ("quantile", "teacher")


class TabularMLP(torch.nn.Module):
    """An MLP over embedded numeric columns, category tables and 0/1 columns.

    ``concat(numeric embeddings, category embeddings, 0/1 columns) ->
    [Linear -> ReLU -> Dropout] * len(hidden_sizes) -> Linear(n_classes)``.

    Parameters
    ----------
    n_features : int
        Input width.
    n_classes : int
        Number of output logits.
    numeric_encoding : {"periodic", "ple", "none"}, default="ple"
        How each numeric column enters the network (the default was chosen on
        the validation rows of six real tables, ``benchmarks/results/
        zero_config_search*.md``, where it led on small tables). ``"periodic"``:
        ``ReLU(Linear([cos(2 pi c x), sin(2 pi c x)]))`` with trained
        frequencies ``c`` and one linear layer per column (PLR). ``"ple"``:
        a piecewise-linear encoding over bins (one learned linear embedding
        per column, TabM's version "B"). ``"none"``: the value itself.
    hidden_sizes : sequence of int, default=(256, 256)
        Widths of the hidden layers, each >= 1.
    dropout : float, default=0.1
        Dropout probability after each hidden layer.
    d_embedding : int >= 1, default=16
        Width of each column's embedding (numeric and categorical).
    n_frequencies : int >= 1, default=16
        Frequencies per numeric column (``"periodic"``).
    frequency_scale : float > 0, default=1.0
        Standard deviation of the initial frequencies (``"periodic"``; the
        paper's sigma). It matters most: it sets how fine a step the embedding
        can draw on the column's scale (for standardized columns, 0.3 to 3).
    n_bins : int >= 2, default=32
        Most bins per numeric column (``"ple"``).
    bins : {"quantile", "teacher"} or sequence of sequences of float, default="quantile"
        The piecewise-linear bins (``"ple"`` only): quantiles of the training
        rows, the split thresholds of a tree-ensemble teacher (or of shallow
        trees fitted to the teacher's outputs when its thresholds are not
        readable), or explicit sorted edges, one sequence per numeric column.
        ``fit_encoding`` turns a name into edges.
    categorical : sequence of int or array-like of bool, default=()
        Columns holding integer category codes (e.g. ``OrdinalEncoder``'s):
        their indices, or a boolean mask of ``n_features`` values (as
        ``HistGradientBoostingClassifier``'s ``categorical_features``).
        Each column's table has one row per code seen in training and one
        "unknown" row, learned from the training rows whose code is negative
        or NaN (e.g. ``OrdinalEncoder``'s ``unknown_value=-1``); at predict
        time every other value (a code not seen in training, negative,
        fractional, NaN) is looked up there too.
    categories : sequence of sequences of int or None, default=None
        The codes seen in each categorical column: sorted, distinct integers
        >= 0; fitted when None (and ``cardinalities`` is None). Codes
        ``0 .. k-1`` are looked up directly; others through a sorted search.
    cardinalities : sequence of int or None, default=None
        ``k`` of each categorical column whose codes are ``0 .. k-1``, each
        >= 1: another way to give ``categories``, for a module built by hand.
    passthrough : sequence of int, array-like of bool or None, default=None
        Columns fed unembedded, indices or a boolean mask. Fitted when None:
        every non-categorical column whose training values are all 0 or 1.
        Columns given here are fed as they are, whatever they hold: the
        user's choice (a two-valued column of other values, such as years,
        is better embedded).
    """

    #: ``(position, k)`` of each categorical column whose codes are not ``0 .. k-1``:
    #: plain ints, traced as constants (a class default for modules pickled before).
    _sparse: tuple[tuple[int, int], ...] = ()

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        numeric_encoding: str = "ple",
        hidden_sizes: Sequence[int] = (256, 256),
        dropout: float = 0.1,
        d_embedding: int = 16,
        n_frequencies: int = 16,
        frequency_scale: float = 1.0,
        n_bins: int = 32,
        bins: Any = "quantile",
        categorical: Sequence[int] = (),
        categories: Sequence[Sequence[int]] | None = None,
        cardinalities: Sequence[int] | None = None,
        passthrough: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if numeric_encoding not in NUMERIC_ENCODINGS:
            raise ValueError(
                f"module__numeric_encoding={numeric_encoding!r}: choose one of "
                f"{', '.join(map(repr, NUMERIC_ENCODINGS))}."
            )
        n_features = check_width(n_features, "n_features")
        d_embedding = check_width(d_embedding, "module__d_embedding")
        check_width(n_bins, "module__n_bins", 2)
        if isinstance(frequency_scale, bool) or not (
                isinstance(frequency_scale, numbers.Real) and 0 < frequency_scale < np.inf):
            raise ValueError(f"module__frequency_scale={frequency_scale!r} must be a finite "
                             "number > 0.")
        categorical = column_indices(categorical, n_features, "module__categorical")
        passthrough = column_indices(passthrough, n_features, "module__passthrough")
        if set(categorical) & set(passthrough):
            raise ValueError(
                f"Columns {sorted(set(categorical) & set(passthrough))} are both in "
                "module__categorical and module__passthrough; a column has one role."
            )
        taken = set(categorical) | set(passthrough)
        numeric = [c for c in range(n_features) if c not in taken]
        self.numeric_encoding = numeric_encoding
        self._roles = (bool(numeric), bool(passthrough))  # plain bools: traced as constants
        self.register_buffer("numeric_columns", torch.tensor(numeric, dtype=torch.long))
        self.register_buffer("categorical_columns", torch.tensor(categorical, dtype=torch.long))
        self.register_buffer("passthrough_columns", torch.tensor(passthrough, dtype=torch.long))

        self.numeric: torch.nn.Module | None = None
        n_frequencies = check_width(n_frequencies, "module__n_frequencies")
        width = len(passthrough) + self._build_numeric(
            len(numeric), numeric_encoding, d_embedding, n_frequencies, float(frequency_scale),
            bins)
        self.categories: torch.nn.Embedding | None = None
        if categorical:
            self._build_categories(len(categorical), cardinalities, categories, d_embedding)
            width += len(categorical) * d_embedding
        self.backbone = MLP(width, n_classes, hidden_sizes, float(dropout))

    def _build_numeric(self, n_numeric: int, encoding: str, d_embedding: int,
                       n_frequencies: int, frequency_scale: float, bins: Any) -> int:
        """Set :attr:`numeric`, the numeric columns' embedding; returns its output width."""
        if n_numeric and encoding == "periodic":
            self.numeric = PeriodicEmbeddings(
                n_numeric, d_embedding, n_frequencies=n_frequencies,
                frequency_init_scale=frequency_scale, lite=False)
        elif n_numeric and encoding == "ple":
            edges = self._check_bins(bins, n_numeric)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", _ONE_BIN_WARNING)
                self.numeric = PiecewiseLinearEmbeddings(
                    edges, d_embedding, activation=False, version="B")
        return n_numeric * (1 if self.numeric is None else d_embedding)

    def _build_categories(self, n_columns: int, cardinalities: Any, categories: Any,
                          d_embedding: int) -> None:
        """The category table: each column's seen codes, then its "unknown" row."""
        sizes, tables = category_tables(n_columns, cardinalities, categories)
        # One table for all columns: column j's rows start at offsets[j]; its
        # last row (index sizes[j]) is the "unknown" category.
        self.register_buffer("cardinalities", torch.tensor(sizes, dtype=torch.float32))
        self.register_buffer("offsets", torch.tensor(
            np.concatenate([[0], np.cumsum([k + 1 for k in sizes])[:-1]]), dtype=torch.long))
        self.categories = torch.nn.Embedding(sum(k + 1 for k in sizes), d_embedding)
        sparse = [j for j, codes in enumerate(tables) if codes is not None]
        if sparse:
            # the codes of the columns not coded 0 .. k-1, padded with +inf (still sorted);
            # not saved: the fitted ``categories`` option rebuilds them
            seen = np.full((len(sparse), max(sizes[j] for j in sparse)), np.inf, np.float32)
            for row, j in enumerate(sparse):
                seen[row, :sizes[j]] = tables[j]
            self.register_buffer("category_codes", torch.tensor(seen), persistent=False)
            self._sparse = tuple((j, sizes[j]) for j in sparse)

    @staticmethod
    def _check_bins(bins: Any, n_numeric: int) -> list[torch.Tensor]:
        if isinstance(bins, str):
            raise ValueError(
                f"module__bins={bins!r} names how DistilledClassifier.fit computes the bins "
                "from the training rows (TabularMLP.fit_encoding); to build the module "
                "yourself, pass the edges: one sorted sequence per numeric column."
            )
        edges = [to_tensor(np.asarray(b, dtype=np.float32)) for b in bins]
        if len(edges) != n_numeric:
            raise ValueError(
                f"module__bins has {len(edges)} sequences of edges; the student has "
                f"{n_numeric} numeric columns."
            )
        return edges

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of a batch of rows.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Float rows: category codes in the ``categorical`` columns (a value
            that is not a code seen in training, such as -1, gets the
            "unknown" row), numbers elsewhere.

        Returns
        -------
        torch.Tensor of shape (batch, n_classes)
        """
        parts = []
        has_numeric, has_passthrough = self._roles
        if has_numeric:
            numeric = x[:, self.numeric_columns]
            parts.append(numeric if self.numeric is None else self.numeric(numeric).flatten(1))
        if self.categories is not None:
            rows = self._category_rows(x[:, self.categorical_columns])
            parts.append(self.categories(rows).flatten(1))
        if has_passthrough:
            parts.append(x[:, self.passthrough_columns])
        return self.backbone(torch.cat(parts, dim=1))

    def _category_rows(self, codes: torch.Tensor) -> torch.Tensor:
        """The table rows of a batch's category codes (unknown values: each column's last)."""
        k = self.cardinalities
        # a whole code in 0 .. k-1; False for NaN, fractions and codes outside
        known = (codes >= 0) & (codes < k) & (codes == torch.floor(codes))
        index = torch.where(known, codes, k)
        if self._sparse:  # columns of other codes: found by a sorted search
            columns = list(index.unbind(1))
            for row, (j, size) in enumerate(self._sparse):
                seen, column = self.category_codes[row, :size], codes[:, j].contiguous()
                # both bounds: a one-sided Clip of int64 does not survive the ONNX export
                found = torch.bucketize(column, seen).clamp(0, size - 1)
                columns[j] = torch.where(seen[found] == column, found.to(codes.dtype), k[j])
            index = torch.stack(columns, dim=1)
        return index.long() + self.offsets

    @classmethod
    def fit_encoding(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        *,
        teacher: Any = None,
        teacher_logits: np.ndarray | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Learn the options that depend on the training rows.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The training rows, as the student sees them (float32).
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            A classifier's encoded labels (integers; -1 marks unlabeled rows) or
            a regressor's standardized targets (floats). Only its kind is read:
            it says whether ``teacher_logits`` are logits or predictions.
        teacher : object or None, default=None
            The fitted teacher, for ``bins="teacher"``.
        teacher_logits : ndarray of shape (n_samples, n_outputs) or None, default=None
            The teacher's outputs on ``X`` (a classifier's logits, a
            regressor's predictions), for ``bins="teacher"`` when the teacher's
            split thresholds cannot be read.
        **options
            The ``module__*`` options the user set.

        Returns
        -------
        dict
            ``passthrough`` (the 0/1 columns), ``categories`` (the codes seen
            in each categorical column) and ``bins`` (edges), each only when
            the user did not set it (nor, for ``categories``, ``cardinalities``).

        Raises
        ------
        ValueError
            If a categorical column holds a fractional code (naming the
            column), or an option is invalid (naming it).
        """
        n_features = X.shape[1]
        categorical = column_indices(options.get("categorical", ()), n_features,
                                     "module__categorical")
        fitted: dict[str, Any] = {}
        if options.get("passthrough") is None:
            fitted["passthrough"] = [j for j in range(n_features)
                                     if j not in categorical and is_binary(X[:, j])]
        if (categorical and options.get("cardinalities") is None
                and options.get("categories") is None):
            fitted["categories"] = [seen_codes(X[:, j], j) for j in categorical]
        encoding = options.get("numeric_encoding", "ple")
        bins = options.get("bins", "quantile")
        if isinstance(bins, str) and bins not in BIN_SOURCES:
            raise ValueError(
                f"module__bins={bins!r}: choose 'quantile', 'teacher' or explicit edges."
            )
        if encoding != "ple":
            if not (isinstance(bins, str) and bins == "quantile"):
                raise ValueError(
                    f"module__bins is set but module__numeric_encoding={encoding!r}; "
                    "bins are for the piecewise-linear encoding (numeric_encoding='ple')."
                )
            return fitted
        if isinstance(bins, str):
            passthrough = fitted.get("passthrough") or column_indices(
                options.get("passthrough"), n_features, "module__passthrough")
            taken = set(categorical) | set(passthrough)
            numeric = [j for j in range(n_features) if j not in taken]
            task = "regression" if np.asarray(y).dtype.kind == "f" else "classification"
            n_bins = check_width(options.get("n_bins", 32), "module__n_bins", 2)
            fitted["bins"] = fit_bins(X, numeric, n_bins, bins, teacher=teacher,
                                      teacher_logits=teacher_logits, task=task)
        return fitted

