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
from rtdl_num_embeddings import PeriodicEmbeddings, PiecewiseLinearEmbeddings, compute_bins
from scipy.special import softmax
from sklearn.tree import DecisionTreeRegressor

from skkd.arrays import to_tensor
from skkd.hookspecs import hookimpl
from skkd.models import MLP
from skkd.plugins import _caller_level

#: The values of ``module__numeric_encoding``: how numeric columns are embedded.
NUMERIC_ENCODINGS = ("periodic", "ple", "none")
#: The values of ``module__bins`` (``"ple"`` only): where the bin edges come from.
BIN_SOURCES = ("quantile", "teacher")

# rtdl_num_embeddings warns when a column gets a single bin (its encoding is then
# min-max scaling); that is harmless here and not the user's doing.
_ONE_BIN_WARNING = r"The \d+-th feature has just two bin edges"


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


def fit_bins(
    X: np.ndarray,
    columns: Sequence[int],
    n_bins: int,
    source: str = "quantile",
    *,
    teacher: Any = None,
    teacher_logits: np.ndarray | None = None,
    task: str = "classification",
) -> list[list[float]]:
    """Edges of at most ``n_bins`` piecewise-linear bins for each of ``columns``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training rows.
    columns : sequence of int
        The numeric columns to bin; each needs at least two distinct values.
    n_bins : int >= 2
        Most bins per column.
    source : {"quantile", "teacher"}, default="quantile"
        ``"quantile"``: quantiles of the column (``rtdl_num_embeddings.compute_bins``).
        ``"teacher"``: the teacher's own split thresholds when it is a
        scikit-learn tree model reading the same columns (see
        :func:`tree_thresholds`), else (LightGBM, XGBoost, CatBoost, a
        ``Pipeline``, a torch teacher, precomputed outputs) the thresholds of
        one shallow tree per column fitted to the teacher's outputs: its
        probabilities for a classifier, its predictions for a regressor.
        Where neither splits a column inside its training range, that column
        gets its quantiles, and a ``UserWarning`` names the teacher and the
        columns.
    teacher : object or None, default=None
        The fitted teacher (``"teacher"``).
    teacher_logits : ndarray or None, default=None
        The teacher's outputs on ``X`` (``"teacher"``, when its thresholds
        are not readable): logits for a classifier, predictions for a regressor.
    task : {"classification", "regression"}, default="classification"
        What ``teacher_logits`` are: the shallow trees fit their softmax
        (``"classification"``) or the values themselves (``"regression"``).

    Returns
    -------
    list of list of float
        Sorted edges per column, the column's training minimum and maximum
        included.
    """
    if n_bins < 2:
        raise ValueError(f"module__n_bins={n_bins} must be at least 2.")
    if not columns:
        return []
    values = np.asarray(X[:, list(columns)], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _ONE_BIN_WARNING)
        quantiles = compute_bins(torch.from_numpy(values), min(n_bins, len(values) - 1))
    quantiles = [q.tolist() for q in quantiles]
    if source == "quantile":
        return quantiles
    thresholds = tree_thresholds(teacher, X.shape[1])
    if thresholds is not None:
        thresholds = [thresholds[j] for j in columns]
    else:
        if teacher_logits is None:
            raise ValueError(
                "module__bins='teacher' needs a tree teacher whose thresholds skkd can read "
                "(scikit-learn's forests, boosting and trees, on the student's columns) or "
                "teacher outputs computed once (teacher_inference='once')."
            )
        targets = np.asarray(teacher_logits, np.float64)
        if task == "classification":
            targets = softmax(targets, axis=1)
        thresholds = output_thresholds(values, targets, n_bins)
    edges = []
    unsplit = []
    for j, column, used, fallback in zip(columns, values.T, thresholds, quantiles, strict=True):
        lo, hi = float(column.min()), float(column.max())
        inner = used[(used > lo) & (used < hi)]
        if not len(inner):
            edges.append(fallback)
            unsplit.append(j)
            continue
        if len(np.unique(inner)) > n_bins - 1:
            # thresholds at quantiles of their use: more edges where the teacher splits more
            inner = np.quantile(inner, np.linspace(0, 1, n_bins + 1)[1:-1],
                                method="inverted_cdf")
        edges.append([lo, *np.unique(inner.astype(np.float32)).tolist(), hi])
    if unsplit:
        _warn_quantile_fallback(teacher, task, unsplit, len(columns))
    return edges


def _teacher_name(teacher: Any, task: str) -> str:
    """The teacher as a warning names it; its outputs when only they were given."""
    if teacher is None:
        return ("whose predictions were passed (teacher_predictions)" if task == "regression"
                else "whose logits were passed (teacher_logits)")
    from skkd.ensembles import as_ensemble

    ensemble = as_ensemble(teacher)
    if ensemble is not None:
        return "ensemble of " + ", ".join(type(m).__name__ for m in ensemble.teachers)
    return type(teacher).__name__


def _warn_quantile_fallback(teacher: Any, task: str, unsplit: list[int], n_numeric: int) -> None:
    """Say which numeric columns got quantile bins under ``bins="teacher"``, and why."""
    shown = unsplit[:10] + (["..."] if len(unsplit) > 10 else [])
    warnings.warn(
        f"module__bins='teacher': the teacher {_teacher_name(teacher, task)} splits "
        f"{len(unsplit)} of the {n_numeric} numeric columns nowhere inside their training "
        f"range (columns {shown}), so they fall back to quantile bins. Its split thresholds "
        "(or, where they cannot be read, shallow trees fitted to its outputs) place no "
        "edge there; set module__bins='quantile' to use quantiles for every column, or pass "
        "explicit edges.",
        UserWarning, stacklevel=_caller_level(),
    )


def tree_thresholds(teacher: Any, n_features: int) -> list[np.ndarray] | None:
    """Every split threshold of a tree-model teacher, per feature (repeats kept).

    Reads scikit-learn's decision trees, forests, extra trees, gradient
    boosting and histogram gradient boosting (its categorical splits are
    skipped), bagging and voting ensembles of them (a bagged member's
    columns mapped through ``estimators_features_``), an ensemble of them (a
    list or :class:`~skkd.EnsembleTeacher`) and ``FrozenEstimator`` around one.
    The teacher must read the student's columns (``n_features_in_ ==
    n_features``); a ``Pipeline`` does not.

    Parameters
    ----------
    teacher : object
        The fitted teacher.
    n_features : int
        The student's number of columns.

    Returns
    -------
    list of ndarray or None
        One array of thresholds per feature; None when the teacher is not
        such a model.
    """
    from sklearn.frozen import FrozenEstimator

    from skkd.ensembles import as_ensemble

    ensemble = as_ensemble(teacher)
    members = list(ensemble.teachers) if ensemble is not None else [teacher]
    found: list[list[np.ndarray]] = [[] for _ in range(n_features)]
    for member in members:
        while isinstance(member, FrozenEstimator):
            member = member.estimator
        if getattr(member, "n_features_in_", None) != n_features:
            return None
        pairs = _split_pairs(member)
        if pairs is None or any(f >= n_features for f, _ in pairs):
            return None
        for feature, threshold in pairs:
            found[feature].append(threshold)
    return [np.concatenate(f) if f else np.empty(0) for f in found]


def _split_pairs(model: Any) -> list[tuple[int, np.ndarray]] | None:
    """``(feature, thresholds)`` of every numeric split of a scikit-learn tree model.

    Members of an ensemble (``estimators_``: forests, boosting, bagging,
    voting) are read recursively; a member that sees a subset of the columns
    (bagging's ``max_features < 1``: ``estimators_features_``) has its
    features mapped back to the ensemble's columns. None when any member is
    not such a model.
    """
    if hasattr(model, "_predictors"):  # HistGradientBoosting*: no public tree structure
        pairs = []
        for predictors in model._predictors:
            for predictor in predictors:
                nodes = predictor.nodes
                split = ~nodes["is_leaf"].astype(bool) & ~nodes["is_categorical"].astype(bool)
                for feature in np.unique(nodes["feature_idx"][split]):
                    chosen = split & (nodes["feature_idx"] == feature)
                    pairs.append((int(feature), nodes["num_threshold"][chosen]))
        return pairs
    structure = getattr(model, "tree_", None)
    if structure is not None:
        split = structure.feature >= 0
        return [(int(f), structure.threshold[split & (structure.feature == f)])
                for f in np.unique(structure.feature[split])]
    members = getattr(model, "estimators_", None)
    if members is None:
        return None
    members = members.ravel() if isinstance(members, np.ndarray) else list(members)
    subsets = getattr(model, "estimators_features_", None)
    pairs = []
    for i, member in enumerate(members):
        found = _split_pairs(member)
        if found is None:
            return None
        if subsets is not None:  # the member's column f is the ensemble's subsets[i][f]
            found = [(int(subsets[i][f]), t) for f, t in found]
        pairs += found
    return pairs


def output_thresholds(X: np.ndarray, targets: np.ndarray, n_bins: int) -> list[np.ndarray]:
    """Per column of ``X``, the thresholds of a tree with ``n_bins`` leaves fitted to ``targets``.

    Target-aware bins (Gorishniy et al. 2022, section 3.2.2) where the target
    is the teacher's probability vector, so the bins follow the teacher.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training rows.
    targets : ndarray of shape (n_samples,) or (n_samples, n_targets)
        What the trees fit, e.g. the teacher's probabilities.
    n_bins : int
        Leaves of each column's tree: at most ``n_bins - 1`` thresholds.

    Returns
    -------
    list of ndarray
        One array of thresholds per column.
    """
    min_leaf = max(1, len(X) // (4 * n_bins))
    thresholds = []
    for column in np.asarray(X, dtype=np.float32).T:
        tree = DecisionTreeRegressor(max_leaf_nodes=n_bins, min_samples_leaf=min_leaf,
                                     random_state=0).fit(column[:, None], targets)
        structure = tree.tree_
        thresholds.append(structure.threshold[structure.feature >= 0])
    return thresholds


@hookimpl
def skkd_register_models(register):
    register("tabular-mlp", TabularMLP)
