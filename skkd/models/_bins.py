"""Where the piecewise-linear bins of ``"tabular-mlp"`` come from.

Quantiles of each column, the split thresholds of a tree teacher, or
thresholds of shallow trees fitted to the teacher's outputs: computed from the
training rows by :meth:`skkd.models.TabularMLP.fit_encoding`, beside the
module rather than inside it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from rtdl_num_embeddings import compute_bins
from scipy.special import softmax
from sklearn.tree import DecisionTreeRegressor

from skkd._warnings import caller_level

# rtdl_num_embeddings warns when a column gets a single bin (its encoding is then
# min-max scaling); that is harmless here and not the user's doing.
_ONE_BIN_WARNING = r"The \d+-th feature has just two bin edges"


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
        The numeric columns to bin (a constant column ``v`` gets one bin,
        ``[v, v + 1]``).
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
    quantiles = _quantile_bins(values, n_bins)
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
            if lo < hi:  # a constant column has nothing to split
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


def _quantile_bins(values: np.ndarray, n_bins: int) -> list[list[float]]:
    """Quantile edges of each column; a constant column ``v`` gets one bin, ``[v, v + 1]``."""
    lo, hi = values.min(axis=0), values.max(axis=0)
    varying = lo < hi
    edges = [[float(v), float(v) + 1.0] for v in lo]
    if varying.any():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _ONE_BIN_WARNING)
            found = compute_bins(torch.from_numpy(np.ascontiguousarray(values[:, varying])),
                                 min(n_bins, len(values) - 1))
        for j, column_edges in zip(np.flatnonzero(varying), found, strict=True):
            edges[j] = column_edges.tolist()
    return edges


def _teacher_name(teacher: Any, task: str) -> str:
    """The teacher as a warning names it; its outputs when only they were given."""
    if teacher is None:
        return ("whose predictions were passed (teacher_predictions)" if task == "regression"
                else "whose logits were passed (teacher_logits)")
    from skkd.teachers._ensembles import as_ensemble

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
        UserWarning, stacklevel=caller_level(),
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

    from skkd.teachers._ensembles import as_ensemble

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
