"""Fitting clones of unfitted teachers: on chosen rows, weighted, and per cross-validation fold.

An unfitted scikit-learn teacher (or ensemble member) is fitted as a clone on
the labeled rows; with ``teacher_cv``, more clones are fitted on each fold's
training rows. :class:`CloneFitter` does both, passing each clone the
``sample_weight`` of its rows where the teacher can take it, and
:func:`split_folds` splits the labeled rows, with their ``groups``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn import get_config
from sklearn.base import clone
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, get_routing_for_object
from sklearn.utils.validation import _num_samples, has_fit_parameter

from skkd.exceptions import InvalidParameterError, SampleWeightIgnoredWarning, TeacherError
from skkd.plugins import _caller_level

__all__ = ["CloneFitter", "per_row", "rows_of", "split_folds"]


def rows_of(X: Any, rows: np.ndarray) -> Any:
    """``X[rows]`` for arrays, lists and DataFrames; ``X`` itself for all its rows."""
    if len(rows) == _num_samples(X) and np.array_equal(rows, np.arange(len(rows))):
        return X
    return _safe_indexing(X, rows)


def per_row(values: Any, name: str, n_samples: int, dtype: Any = None) -> np.ndarray | None:
    """``values`` (``groups``, ``sample_weight``) checked to hold one entry per row.

    A scalar is repeated for every row when ``dtype`` is given (a float
    ``sample_weight`` weighs the rows alike).

    Raises
    ------
    skkd.InvalidParameterError
        Naming ``name``, its shape and the expected one.
    """
    if values is None:
        return None
    try:
        arr = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{name} must be numbers, one per row of X: {exc}") from exc
    if dtype is not None and arr.ndim == 0:
        arr = np.full(n_samples, arr.item(), dtype=dtype)
    if arr.shape != (n_samples,):
        raise InvalidParameterError(
            f"{name} has shape {arr.shape}, expected ({n_samples},): one value per row of X."
        )
    return arr


class CloneFitter:
    """Fits clones of unfitted teachers on some rows of ``(X, y)``, weighted when it can.

    With scikit-learn's metadata routing off (its default), the rows' weights
    go to a teacher whose ``fit`` takes ``sample_weight``; one whose ``fit``
    does not (a ``Pipeline``) is fitted unweighted and named by
    :meth:`warn_unweighted`. With routing on, the teacher's own request
    decides, as in scikit-learn's meta-estimators (unset: an error).

    Parameters
    ----------
    X : array-like or DataFrame
        All rows, as the user passed them.
    y : ndarray
        Their labels.
    sample_weight : ndarray of shape (n_samples,) or None
        Their weights; None fits unweighted.
    """

    def __init__(self, X: Any, y: np.ndarray, sample_weight: np.ndarray | None) -> None:
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.unweighted: list[str] = []  # teachers whose fit takes no sample_weight

    def fit(self, model: Any, rows: np.ndarray, name: str) -> Any:
        """A clone of ``model`` fitted on ``rows`` (``name`` names it in warnings)."""
        return self._fit_clone(model, rows, self._fit_params(model, rows, name))

    def _fit_params(self, model: Any, rows: np.ndarray, name: str) -> dict[str, Any]:
        return {} if self.sample_weight is None else self._weight_params(
            model, self.sample_weight[rows], name)

    def _fit_clone(self, model: Any, rows: np.ndarray, params: dict[str, Any]) -> Any:
        return clone(model).fit(rows_of(self.X, rows), self.y[rows], **params)

    def fit_labeled(self, model: Any, rows: np.ndarray, name: str, hint: str = "") -> Any:
        """:meth:`fit` on the labeled ``rows``; any failure is raised naming the teacher.

        Parameters
        ----------
        model : object
            The unfitted teacher (or ensemble member).
        rows : ndarray of int
            The labeled rows.
        name : str
            The teacher's name (its path in an ensemble).
        hint : str, default=""
            A sentence appended to the message: what the user can do.

        Raises
        ------
        skkd.TeacherError
            If the clone's ``fit`` raises anything; the teacher's own exception
            is its ``__cause__``. Routing ``sample_weight`` (an unset request)
            fails before, with scikit-learn's own error.
        """
        params = self._fit_params(model, rows, name)
        try:
            return self._fit_clone(model, rows, params)
        except Exception as exc:
            reason = str(exc).rstrip(".")
            raise TeacherError(f"Fitting a clone of the teacher {name} on the labeled rows "
                               f"failed: {type(exc).__name__}: {reason}.{hint}") from exc

    def fit_fold(self, model: Any, rows: np.ndarray, name: str, fold: int, n_folds: int,
                 classes: np.ndarray) -> Any:
        """:meth:`fit` on a fold's training rows; a failure names the fold and missing classes.

        Raises
        ------
        skkd.TeacherError
            If the clone's ``fit`` raises.
        """
        try:
            return self.fit(model, rows, name)
        except Exception as exc:
            present = set(self.y[rows].tolist())
            missing = [c for c in classes.tolist() if c not in present]
            message = (f"teacher_cv: fitting a clone of {name} on the training rows of fold "
                       f"{fold + 1} of {n_folds} failed: {type(exc).__name__}: {exc}")
            if missing:
                message += (
                    f". Those rows have no row of class{'es' * (len(missing) > 1)} {missing} "
                    f"(only {sorted(present)}): split so that every fold trains on every "
                    "class, e.g. teacher_cv=StratifiedKFold(n_splits) (an int stratifies), "
                    "with fewer splits, or shuffled")
            raise TeacherError(message + ".") from exc

    def _weight_params(self, model: Any, weights: np.ndarray, name: str) -> dict[str, Any]:
        if get_config().get("enable_metadata_routing", False):
            router = MetadataRouter(owner="DistilledClassifier").add(
                teacher=model, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
            routed = router.route_params(caller="fit", params={"sample_weight": weights})
            return dict(routed.teacher.fit)
        if has_fit_parameter(model, "sample_weight"):
            return {"sample_weight": weights}
        if name not in self.unweighted:
            self.unweighted.append(name)
        return {}

    def warn_unweighted(self) -> None:
        """One :class:`~skkd.exceptions.SampleWeightIgnoredWarning` naming the unweighted."""
        if not self.unweighted:
            return
        one = len(self.unweighted) == 1
        warnings.warn(
            f"sample_weight is not passed to the fit of {', '.join(self.unweighted)}: "
            f"{'its' if one else 'their'} fit takes no sample_weight, so "
            f"{'its clone is' if one else 'their clones are'} fitted unweighted. A Pipeline "
            "takes it with metadata routing: sklearn.set_config(enable_metadata_routing=True)"
            " and request it on the step, e.g. LogisticRegression().set_fit_request("
            "sample_weight=True).",
            SampleWeightIgnoredWarning, stacklevel=_caller_level(),
        )


def _splits_by_groups(splitter: Any) -> bool:
    """Whether a cross-validation splitter needs ``groups`` (``GroupKFold`` and the like)."""
    try:
        return bool(get_routing_for_object(splitter).consumes("split", ["groups"]))
    except Exception:  # a home-made splitter without metadata requests
        return False


def split_folds(cv: Any, y: np.ndarray, groups: np.ndarray | None
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``teacher_cv``'s ``(train, test)`` positions into ``y`` (the labeled rows' labels).

    Parameters
    ----------
    cv : int, cross-validation splitter or iterable
        ``teacher_cv``; an int stratifies (``check_cv``'s classifier rule).
    y : ndarray
        The labels of the rows to split.
    groups : ndarray or None
        Their group labels, for a splitter that splits by groups.

    Raises
    ------
    skkd.InvalidParameterError
        If the splitter splits by groups and ``groups`` is None.
    """
    splitter = check_cv(cv, y, classifier=True)
    no_groups = InvalidParameterError(
        f"teacher_cv={splitter!r} splits the rows by groups, but no groups were given: pass "
        "fit(..., groups=...) with one group label per row of X, or use a splitter without "
        "groups (e.g. StratifiedKFold)."
    )
    if groups is None and _splits_by_groups(splitter):
        raise no_groups
    try:
        return list(splitter.split(np.zeros((len(y), 1)), y, groups))
    except ValueError as exc:
        if groups is None and "groups" in str(exc):
            raise no_groups from exc
        raise
