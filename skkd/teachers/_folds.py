"""Fitting clones of unfitted teachers: on chosen rows, weighted, and per cross-validation fold.

An unfitted scikit-learn teacher (or ensemble member,
:func:`is_unfitted_estimator`) is fitted as a clone on the labeled rows;
with ``teacher_cv``, more clones are fitted on each fold's training rows.
:class:`CloneFitter` does both, passing each clone the ``sample_weight`` of
its rows where the teacher can take it; :func:`out_of_fold` is the one
cross-validation loop of both estimators (:func:`split_folds` splits the
labeled rows, with their ``groups``; the estimator's teacher step says how a
fold's clone is queried).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, get_routing_for_object
from sklearn.utils.validation import _num_samples, check_is_fitted, has_fit_parameter

from skkd._warnings import caller_level
from skkd.exceptions import InvalidParameterError, SampleWeightIgnoredWarning, TeacherError
from skkd.teachers._ensembles import TeacherNode, as_ensemble

__all__ = ["CloneFitter", "is_unfitted_estimator", "out_of_fold", "per_row",
           "refuse_cv_without_clones", "rows_of", "share_or_clone", "split_folds"]


def is_unfitted_estimator(obj: Any) -> bool:
    """True for a scikit-learn estimator that has not been fitted yet.

    Parameters
    ----------
    obj : object
        Any teacher; a torch module, or an object without ``fit`` or
        ``get_params``, is never an unfitted estimator.

    Returns
    -------
    bool
    """
    if isinstance(obj, torch.nn.Module) or not hasattr(obj, "fit"):
        return False
    if not hasattr(obj, "get_params"):
        return False
    try:
        check_is_fitted(obj)
    except NotFittedError:
        return True
    except TypeError:
        return False
    return False


def share_or_clone(teacher: Any) -> Any:
    """For ``clone``: a fitted teacher (or ensemble member) is shared, an unfitted one cloned.

    Parameters
    ----------
    teacher : object, list, tuple or EnsembleTeacher
        The teacher of the estimator being cloned.

    Returns
    -------
    object
        ``teacher`` itself when fitted; otherwise a clone, member by member
        for an ensemble.
    """
    ensemble = as_ensemble(teacher)
    if ensemble is not None:
        members = [share_or_clone(m) for m in ensemble.teachers]
        return ensemble.with_teachers(members) if teacher is ensemble else type(teacher)(members)
    return clone(teacher) if is_unfitted_estimator(teacher) else teacher


def refuse_cv_without_clones(cv: Any, leaves: Sequence[TeacherNode]) -> None:
    """Refuse a ``teacher_cv`` when no teacher (or member) is an unfitted estimator.

    Raises
    ------
    skkd.InvalidParameterError
        If ``cv`` is set and every leaf is fitted already.
    """
    if cv is not None and not any(is_unfitted_estimator(leaf.given) for leaf in leaves):
        raise InvalidParameterError(
            "teacher_cv needs an unfitted scikit-learn teacher (or ensemble member) to fit "
            "on each fold; the teacher is fitted already.")


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
                 classes: np.ndarray | None = None) -> Any:
        """:meth:`fit` on a fold's training rows; a failure names the fold and missing classes.

        ``classes`` are a classifier's (None for a regressor: no class to miss).

        Raises
        ------
        skkd.TeacherError
            If the clone's ``fit`` raises.
        """
        try:
            return self.fit(model, rows, name)
        except Exception as exc:
            present: set[Any] = set()
            missing: list[Any] = []
            if classes is not None:  # a classifier's fold may lack a class
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
            SampleWeightIgnoredWarning, stacklevel=caller_level(),
        )


def _splits_by_groups(splitter: Any) -> bool:
    """Whether a cross-validation splitter needs ``groups`` (``GroupKFold`` and the like)."""
    try:
        return bool(get_routing_for_object(splitter).consumes("split", ["groups"]))
    except Exception:  # a home-made splitter without metadata requests
        return False


def split_folds(cv: Any, y: np.ndarray, groups: np.ndarray | None, *, classifier: bool = True
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``teacher_cv``'s ``(train, test)`` positions into ``y`` (the labeled rows' targets).

    Parameters
    ----------
    cv : int, cross-validation splitter or iterable
        ``teacher_cv``.
    y : ndarray
        The labels (or a regressor's targets) of the rows to split.
    groups : ndarray or None
        Their group labels, for a splitter that splits by groups.
    classifier : bool, default=True
        ``check_cv``'s rule for an int ``cv``: True stratifies by the labels,
        False (a regressor's targets) makes a ``KFold``.

    Raises
    ------
    skkd.InvalidParameterError
        If the splitter splits by groups and ``groups`` is None.
    """
    splitter = check_cv(cv, y, classifier=classifier)
    plain = "StratifiedKFold" if classifier else "KFold"
    no_groups = InvalidParameterError(
        f"teacher_cv={splitter!r} splits the rows by groups, but no groups were given: pass "
        "fit(..., groups=...) with one group label per row of X, or use a splitter without "
        f"groups (e.g. {plain})."
    )
    if groups is None and _splits_by_groups(splitter):
        raise no_groups
    try:
        return list(splitter.split(np.zeros((len(y), 1)), y, groups))
    except ValueError as exc:
        if groups is None and "groups" in str(exc):
            raise no_groups from exc
        raise


def out_of_fold(model: Any, fitter: CloneFitter, labeled: np.ndarray, full: np.ndarray,
                cv: Any, query: Callable[[Any, Any, int], np.ndarray], *,
                groups: np.ndarray | None = None, name: str | None = None,
                classes: np.ndarray | None = None) -> np.ndarray:
    """Each labeled row's outputs from a clone of ``model`` fitted without it.

    The one ``teacher_cv`` loop of both estimators: the labeled rows are
    split (:func:`split_folds`), a clone is fitted on each fold's training
    rows, and ``query`` gives its outputs on the fold's other rows.

    Parameters
    ----------
    model : object
        The unfitted teacher (or ensemble member).
    fitter : CloneFitter
        Holds ``X``, the labels or targets the clones are fitted on and split
        by, and the rows' weights.
    labeled : ndarray of int
        The labeled rows (positions into ``X``).
    full : ndarray of shape (n_samples, n_outputs)
        The outputs of the clone fitted on all labeled rows: kept for the
        other (unlabeled) rows.
    cv : int, cross-validation splitter or iterable
        ``teacher_cv``.
    query : callable
        ``query(fold_clone, rows_X, n_rows)`` returns the clone's checked
        outputs on those rows, shaped like ``full``'s rows.
    groups : ndarray of shape (n_samples,) or None, default=None
        Group labels of all rows; the labeled rows' are split with them.
    name : str or None, default=None
        The teacher's name in error messages; None: its class name.
    classes : ndarray or None, default=None
        A classifier's classes: an int ``cv`` stratifies, and a failed fold
        names the classes its rows lack. None for a regressor (an int ``cv``
        is a ``KFold``).

    Returns
    -------
    ndarray
        A copy of ``full`` with every labeled row's outputs out of fold.
    """
    name = name or type(model).__name__
    folds = split_folds(cv, fitter.y[labeled], None if groups is None else groups[labeled],
                        classifier=classes is not None)
    out = full.copy()
    for i, (train, test) in enumerate(folds):
        fold = fitter.fit_fold(model, labeled[train], name, i, len(folds), classes)
        out[labeled[test]] = query(fold, rows_of(fitter.X, labeled[test]), len(test))
    return out
