"""Tabular students: an MLP that reads numbers through embeddings and categories through tables.

``DistilledClassifier(module="tabular-mlp")`` trains :class:`TabularMLP`. A
plain MLP on standardized columns draws smooth functions, while a tree
teacher's are step functions; embedding each numeric column first (periodic
embeddings or a piecewise-linear encoding, Gorishniy et al. 2022, from
``rtdl_num_embeddings``, the authors' package) lets a small network draw them.

Each column of ``X`` has one role:

- *categorical* (``module__categorical``): integer codes ``0 .. k-1`` (e.g.
  from ``OrdinalEncoder``), looked up in a learned table;
- *passthrough*: binary columns (one-hot blocks, missing-value indicators),
  fed to the network as they are, since embedding a 0/1 column as a number
  costs accuracy; found in the training rows unless given;
- *numeric*: every other column, embedded by ``numeric_encoding``.

What depends on the training rows (the passthrough columns, the number of
categories of each categorical column, the piecewise-linear bins) is fitted by
:meth:`TabularMLP.fit_encoding`, which ``DistilledClassifier.fit`` calls on the
training rows before it builds the student (see
:func:`skkd.hookspecs.skkd_register_models` for this part of the model
contract). The fitted values are stored in the module (buffers and plain
attributes), so they travel with pickles and ONNX exports.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from rtdl_num_embeddings import PeriodicEmbeddings, PiecewiseLinearEmbeddings

from skkd._arrays import to_tensor
from skkd.models._bins import _ONE_BIN_WARNING, fit_bins
from skkd.models._mlp import MLP

#: The values of ``module__numeric_encoding``: how numeric columns are embedded.
NUMERIC_ENCODINGS = ("periodic", "ple", "none")
#: The values of ``module__bins`` (``"ple"`` only): where the bin edges come from.
BIN_SOURCES = ("quantile", "teacher")


def _indices(value: Any, n_features: int, option: str) -> list[int]:
    """Column indices from a sequence of ints, each in ``[0, n_features)``, no repeats."""
    try:
        columns = [int(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(
            f"{option} must be a sequence of column indices; got {value!r}."
        ) from None
    bad = [c for c in columns if not 0 <= c < n_features]
    if bad or len(set(columns)) != len(columns):
        raise ValueError(
            f"{option}={columns} must name distinct columns of X, each in [0, {n_features}) "
            f"(X has {n_features} features)."
        )
    return columns


class TabularMLP(torch.nn.Module):
    """An MLP over embedded numeric columns, category tables and binary columns.

    ``concat(numeric embeddings, category embeddings, binary columns) ->
    [Linear -> ReLU -> Dropout] * len(hidden_sizes) -> Linear(n_classes)``.

    Parameters
    ----------
    n_features : int
        Input width.
    n_classes : int
        Number of output logits.
    numeric_encoding : {"periodic", "ple", "none"}, default="periodic"
        How each numeric column enters the network. ``"periodic"``:
        ``ReLU(Linear([cos(2 pi c x), sin(2 pi c x)]))`` with trained
        frequencies ``c`` and one linear layer per column (PLR). ``"ple"``:
        a piecewise-linear encoding over bins (one learned linear embedding
        per column, TabM's version "B"). ``"none"``: the value itself.
    hidden_sizes : sequence of int, default=(256, 256)
        Widths of the hidden layers.
    dropout : float, default=0.1
        Dropout probability after each hidden layer.
    d_embedding : int, default=16
        Width of each column's embedding (numeric and categorical).
    n_frequencies : int, default=16
        Frequencies per numeric column (``"periodic"``).
    frequency_scale : float, default=1.0
        Standard deviation of the initial frequencies (``"periodic"``; the
        paper's sigma). It matters most: it sets how fine a step the embedding
        can draw on the column's scale (for standardized columns, 0.3 to 3).
    n_bins : int, default=32
        Most bins per numeric column (``"ple"``).
    bins : {"quantile", "teacher"} or sequence of sequences of float, default="quantile"
        The piecewise-linear bins (``"ple"`` only): quantiles of the training
        rows, the split thresholds of a tree-ensemble teacher (or of shallow
        trees fitted to the teacher's outputs when its thresholds are not
        readable), or explicit sorted edges, one sequence per numeric column.
        ``fit_encoding`` turns a name into edges.
    categorical : sequence of int, default=()
        Columns holding integer category codes ``0 .. k-1``. A code outside
        the fitted range (negative, ``>= k``, or NaN, e.g. ``OrdinalEncoder``'s
        ``unknown_value=-1``) is looked up in one extra "unknown" row of its
        column's table, learned from the training rows that have such codes.
    cardinalities : sequence of int or None, default=None
        ``k`` of each categorical column; fitted (largest training code + 1)
        when None.
    passthrough : sequence of int or None, default=None
        Columns fed unembedded; fitted when None: every non-categorical column
        with at most two distinct training values.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        numeric_encoding: str = "periodic",
        hidden_sizes: Sequence[int] = (256, 256),
        dropout: float = 0.1,
        d_embedding: int = 16,
        n_frequencies: int = 16,
        frequency_scale: float = 1.0,
        n_bins: int = 32,
        bins: Any = "quantile",
        categorical: Sequence[int] = (),
        cardinalities: Sequence[int] | None = None,
        passthrough: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if numeric_encoding not in NUMERIC_ENCODINGS:
            raise ValueError(
                f"module__numeric_encoding={numeric_encoding!r}: choose one of "
                f"{', '.join(map(repr, NUMERIC_ENCODINGS))}."
            )
        categorical = _indices(categorical, n_features, "module__categorical")
        passthrough = _indices(() if passthrough is None else passthrough, n_features,
                               "module__passthrough")
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

        width = len(passthrough)
        self.numeric: torch.nn.Module | None = None
        if numeric and numeric_encoding == "periodic":
            self.numeric = PeriodicEmbeddings(
                len(numeric), int(d_embedding), n_frequencies=int(n_frequencies),
                frequency_init_scale=float(frequency_scale), lite=False)
            width += len(numeric) * int(d_embedding)
        elif numeric and numeric_encoding == "ple":
            edges = self._check_bins(bins, len(numeric))
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", _ONE_BIN_WARNING)
                self.numeric = PiecewiseLinearEmbeddings(
                    edges, int(d_embedding), activation=False, version="B")
            width += len(numeric) * int(d_embedding)
        elif numeric:
            width += len(numeric)

        self.categories: torch.nn.Embedding | None = None
        if categorical:
            if cardinalities is None:
                raise ValueError(
                    "module__categorical needs the number of categories of each column: "
                    "DistilledClassifier.fit learns them from the training rows "
                    "(TabularMLP.fit_encoding); to build the module yourself, pass "
                    "cardinalities=[...]."
                )
            sizes = [int(k) for k in cardinalities]
            if len(sizes) != len(categorical) or min(sizes) < 1:
                raise ValueError(
                    f"module__cardinalities={sizes} needs one count >= 1 per column of "
                    f"module__categorical ({len(categorical)} columns)."
                )
            # One table for all columns: column j's rows start at offsets[j]; its
            # last row (index sizes[j]) is the "unknown" category.
            self.register_buffer("cardinalities", torch.tensor(sizes, dtype=torch.float32))
            self.register_buffer("offsets", torch.tensor(
                np.concatenate([[0], np.cumsum([k + 1 for k in sizes])[:-1]]), dtype=torch.long))
            self.categories = torch.nn.Embedding(sum(k + 1 for k in sizes), int(d_embedding))
            width += len(categorical) * int(d_embedding)

        self.backbone = MLP(width, n_classes, hidden_sizes, float(dropout))

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
            Float rows: category codes in the ``categorical`` columns (a code
            outside ``0 .. k-1``, such as -1, gets the "unknown" row), numbers
            elsewhere.

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
            codes = x[:, self.categorical_columns]
            known = (codes >= 0) & (codes < self.cardinalities)  # False for NaN too
            codes = torch.where(known, codes, self.cardinalities).long() + self.offsets
            parts.append(self.categories(codes).flatten(1))
        if has_passthrough:
            parts.append(x[:, self.passthrough_columns])
        return self.backbone(torch.cat(parts, dim=1))

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
            ``passthrough``, ``cardinalities`` and ``bins`` (edges), each only
            when the user did not set it to a value.
        """
        n_features = X.shape[1]
        categorical = _indices(options.get("categorical", ()), n_features,
                               "module__categorical")
        fitted: dict[str, Any] = {}
        if options.get("passthrough") is None:
            fitted["passthrough"] = [
                j for j in range(n_features)
                if j not in categorical and len(np.unique(X[:, j])[:3]) <= 2
            ]
        if categorical and options.get("cardinalities") is None:
            fitted["cardinalities"] = [_cardinality(X[:, j], j) for j in categorical]
        encoding = options.get("numeric_encoding", "periodic")
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
            passthrough = options.get("passthrough") or fitted.get("passthrough", [])
            taken = set(categorical) | {int(c) for c in passthrough}
            numeric = [j for j in range(n_features) if j not in taken]
            task = "regression" if np.asarray(y).dtype.kind == "f" else "classification"
            fitted["bins"] = fit_bins(X, numeric, int(options.get("n_bins", 32)), bins,
                                      teacher=teacher, teacher_logits=teacher_logits,
                                      task=task)
        return fitted


def _cardinality(column: np.ndarray, index: int) -> int:
    """Largest code + 1 of a column of category codes (negative and NaN codes are unknown)."""
    codes = column[np.isfinite(column) & (column >= 0)]
    if len(codes) and not np.array_equal(codes, np.round(codes)):
        bad = codes[codes != np.round(codes)][0]
        raise ValueError(
            f"module__categorical: column {index} holds {bad}, not an integer category "
            "code; encode it with sklearn.preprocessing.OrdinalEncoder, or leave it out "
            "of module__categorical."
        )
    return int(codes.max()) + 1 if len(codes) else 1
