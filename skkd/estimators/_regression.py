"""What a regressor adds to ``BaseDistiller``: standardized targets and predictions.

:class:`RegressionDistiller` is the regression machinery of
:class:`~skkd.DistilledRegressor` (as scikit-learn's ``ForestRegressor`` is
``RandomForestRegressor``'s): the hooks of the fit for targets, which it
standardizes, the teacher's predictions, the soft and hard losses, and
prediction. The estimator itself (:mod:`skkd.estimators._regressor`) holds its
parameters and documents them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_array, check_consistent_length, validate_data

from skkd.augmentations._fit_time import FreshTransferSet, kind_of
from skkd.estimators._base import BaseDistiller
from skkd.estimators._fit import FitPlan
from skkd.exceptions import InvalidParameterError, TeacherError
from skkd.teachers._outputs import TeacherOutputs
from skkd.teachers._regression import (
    check_predictions,
    r2,
    regression_outputs,
    teacher_predictions,
    warn_if_near_mean,
)
from skkd.training._net import RegressionNet

#: The largest ``|y|`` standardized: predictions some spreads beyond it stay finite in float64.
LARGEST_TARGET = float(np.finfo(np.float64).max) / 1e4
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def standardization(targets: np.ndarray, weights: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The weighted mean and standard deviation of each column of ``targets``, in float64.

    Each column is first divided by the power of two nearest below its
    largest ``|value|`` (exactly, so no digit is lost), so that squares do not
    overflow at ``1e200`` nor underflow at ``1e-200``; the mean is taken of the
    differences from the first row, which keeps the digits of targets sitting
    on a large offset (``1e12 + x``).

    Parameters
    ----------
    targets : ndarray of shape (n_samples, n_outputs)
        Finite targets.
    weights : ndarray of shape (n_samples,) or None
        Non-negative row weights with a positive sum; None weighs rows equally.

    Returns
    -------
    mean, scale : ndarray of shape (n_outputs,)
        ``scale`` is the standard deviation, 0 for a constant column.
    """
    top = np.max(np.abs(targets), axis=0)
    unit = np.exp2(np.floor(np.log2(np.where(top > 0, top, 1.0))))
    units = targets / unit
    pivot = units[0]
    mean = pivot + np.average(units - pivot, axis=0, weights=weights)
    spread = np.sqrt(np.average((units - mean) ** 2, axis=0, weights=weights))
    return mean * unit, spread * unit


class RegressionDistiller(RegressorMixin, BaseDistiller):
    """The regression hooks of ``BaseDistiller``'s fit, and prediction; use
    :class:`~skkd.DistilledRegressor`."""

    _hard_loss_class = torch.nn.MSELoss
    _net_class = RegressionNet
    _outputs_param = "teacher_predictions"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # -- the parameters and the losses ---------------------------------------

    def _check_params(self) -> FitPlan:
        self._check_hard_loss()
        plan = super()._check_params()
        if kind_of(plan.augmentation).batch:
            raise InvalidParameterError(
                f"augment={self.augment!r} makes new rows from every batch, which "
                "DistilledRegressor does not support; use a transfer set (augment='munge')."
            )
        return plan

    def _check_loss(self, soft_loss: Callable[..., Any], loss_name: str) -> None:
        try:
            parameters = inspect.signature(soft_loss).parameters
        except (TypeError, ValueError):
            parameters = {}
        temperature = parameters.get("temperature")
        if temperature is not None and temperature.default is inspect.Parameter.empty:
            raise InvalidParameterError(
                f"loss={loss_name!r} needs a temperature: it compares class distributions, "
                "a classification loss. DistilledRegressor's soft losses take no temperature: "
                "'mse' (default), 'huber', or a callable fn(student_outputs, teacher_outputs, "
                "*, y=None, sample_weight=None)."
            )
        self._check_loss_options(soft_loss, loss_name)

    def _check_loss_options(self, soft_loss: Callable[..., Any], loss_name: str) -> None:
        """Compute the soft loss with its ``loss__*`` options once, on a dummy batch.

        An option the loss refuses (``loss__delta=0`` for ``"huber"``) fails
        here, before any teacher is fitted, naming the options.
        """
        options = self._params_with("loss__")
        if not options:
            return
        student = torch.tensor([[0.5], [-2.0]])
        try:
            soft_loss(student, torch.zeros_like(student), y=None, sample_weight=None,
                      **options)
        except Exception as exc:
            given = ", ".join(f"loss__{k}={v!r}" for k, v in sorted(options.items()))
            raise InvalidParameterError(
                f"loss={loss_name!r} cannot be computed with {given}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _check_hard_loss(self) -> None:
        options = self._params_with("criterion__")
        if options:
            raise InvalidParameterError(
                f"criterion__* {sorted(options)}: DistilledRegressor's hard loss is the mean "
                "squared error on standardized targets and takes no options; weight rows with "
                "fit(..., sample_weight=...)."
            )

    # -- the targets, standardized ------------------------------------------

    def _validate(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        if y is None:
            raise ValueError("DistilledRegressor requires y to be passed, but the target y "
                             "is None.")
        rows = self._frame_rows(X, reset, fitting=True)
        X = validate_data(self, X, reset=reset, dtype=np.float32) if rows is None else rows
        try:
            y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y",
                            ensure_all_finite="allow-nan" if self.unlabeled is not None
                            else True)
        except ValueError as exc:
            if "NaN" not in str(exc):
                raise
            raise ValueError(f"{exc} Pass unlabeled=float('nan') if NaN marks unlabeled rows "
                             "(they then learn from the teacher alone).") from exc
        if y.ndim > 2:
            raise ValueError(f"y has shape {y.shape}; it must be (n_samples,) or "
                             "(n_samples, n_outputs).")
        check_consistent_length(X, y)
        return X, y

    def _encode_targets(self, y: np.ndarray, continuing: bool,
                        sample_weight: np.ndarray | None) -> np.ndarray:
        targets = y.reshape(len(y), -1)
        missing = np.isnan(targets)
        labeled = ~missing.any(axis=1)
        if (missing.any(axis=1) & ~missing.all(axis=1)).any():
            row = int(np.flatnonzero(missing.any(axis=1) & ~missing.all(axis=1))[0])
            raise ValueError(f"y's row {row} has NaN in some outputs only; an unlabeled row "
                             "(unlabeled=float('nan')) has NaN in every output.")
        if labeled.sum() < 2:
            raise ValueError(f"DistilledRegressor needs at least two rows with a target to "
                             f"standardize the targets; got {int(labeled.sum())} sample(s).")
        # weighted as the loss is, so integer weights equal repeated rows here too
        weights = None if sample_weight is None else sample_weight[labeled].astype(np.float64)
        if weights is not None and not weights.sum() > 0:
            raise ValueError(
                f"sample_weight is 0 on all {int(labeled.sum())} rows with a target: "
                "DistilledRegressor standardizes y by the weighted mean and spread of those "
                "rows, and trains its hard term on them; give some of them a positive weight.")
        top = float(np.max(np.abs(targets[labeled])))
        if top > LARGEST_TARGET:
            raise ValueError(
                f"y reaches {top:.3g}, too close to float64's largest value "
                f"({np.finfo(np.float64).max:.3g}) for the predictions to stay finite; divide "
                "y by a power of ten (and multiply the predictions back).")
        if continuing:
            if targets.shape[1] != self.n_outputs_:
                raise ValueError(
                    f"warm_start=True continues the fitted student, trained on "
                    f"{self.n_outputs_} output(s), but y has {targets.shape[1]}; set "
                    "warm_start=False to train a new student.")
            self.target_ndim_ = y.ndim  # predict returns the shape of the latest fit's y
        else:
            mean, scale = standardization(targets[labeled], weights)
            self.target_mean_ = mean
            self.target_scale_ = np.where(scale > 0, scale, 1.0)
            self.n_outputs_ = targets.shape[1]
            self.target_ndim_ = y.ndim
        return self._standardize(targets, "y")

    def _standardize(self, values: np.ndarray, source: str) -> np.ndarray:
        """``(values - target_mean_) / target_scale_``, computed in float64, as float32.

        Raises (a :class:`~skkd.TeacherError` unless ``source`` is ``"y"``) for
        a value too many spreads from the mean for float32, where the student
        trains.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            standardized = (values - self.target_mean_) / self.target_scale_
            far = np.abs(standardized) > _FLOAT32_MAX  # NaN: an unlabeled row
        if far.any():
            row, col = (int(i) for i in np.argwhere(far)[0])
            error = ValueError if source == "y" else TeacherError
            raise error(
                f"{source} holds {values[row, col]:.6g} at row {row}, output {col}: "
                f"{standardized[row, col]:.3g} standard deviations of y "
                f"({self.target_scale_[col]:.3g}) from y's mean "
                f"({self.target_mean_[col]:.6g}), beyond float32's range, in which the student "
                "trains. Check that they are in y's units.")
        return standardized.astype(np.float32)

    def _soft_loss_params(self) -> dict[str, Any]:
        """No temperature; the net reads the targets' standardization.

        With it, skorch's callbacks (``EpochScoring``) score in ``y``'s units.
        """
        return {"temperature": None, "target_mean": self.target_mean_,
                "target_scale": self.target_scale_}

    def _labeled(self, y_enc: np.ndarray) -> np.ndarray:
        return ~np.isnan(y_enc).any(axis=1)

    def _n_outputs(self) -> int:
        return self.n_outputs_

    # -- the teacher --------------------------------------------------------

    def _given_outputs(self, plan: FitPlan) -> TeacherOutputs:
        y, labeled = plan.y, self._labeled(plan.y_enc)
        raw = check_predictions(plan.given, len(y), self.n_outputs_, "teacher_predictions has")
        return TeacherOutputs(raw, None, r2(y.reshape(len(y), -1)[labeled], raw[labeled]))

    def _queried_outputs(self, plan: FitPlan) -> TeacherOutputs:
        y = plan.y
        return regression_outputs(
            self.teacher, plan.X_teacher, y.reshape(len(y), -1), self._labeled(plan.y_enc),
            batch_size=self._teacher_batch_size(), cv=self.teacher_cv,
            groups=plan.groups, sample_weight=plan.weights)

    def _trained_outputs(self, outputs: TeacherOutputs, y_enc: np.ndarray) -> TeacherOutputs:
        warn_if_near_mean(outputs.score)
        return outputs._replace(values=self._standardize(outputs.values,
                                                         "The teacher's predictions"))

    def _label_fresh(self, fresh: FreshTransferSet,
                     outputs: TeacherOutputs | None) -> FreshTransferSet:
        batch_size = self._teacher_batch_size()
        labeler = None
        if outputs is not None and outputs.fitted is not None:
            labeler = partial(self._standardized_predictions, outputs.fitted,
                              batch_size=batch_size)
        return fresh.label_by(labeler, batch_size)

    def _standardized_predictions(self, teacher: Any, X: Any, batch_size: int) -> np.ndarray:
        return self._standardize(teacher_predictions(teacher, X, self.n_outputs_,
                                                     batch_size=batch_size),
                                 "The teacher's predictions")

    # -- prediction -------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, in ``y``'s units and shape.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The student's predictions, de-standardized.
        """
        out = self._student_outputs(X).astype(np.float64) * self.target_scale_
        out += self.target_mean_
        return out.ravel() if self.target_ndim_ == 1 else out

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² on the labeled rows; rows whose targets are NaN are ignored when
        ``unlabeled=float("nan")``.

        The same value as scikit-learn's ``r2_score``, computed without
        overflow or lost digits whatever ``y``'s scale and offset.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Their targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows.

        Returns
        -------
        float
            R² of ``predict(X)``.
        """
        y = np.asarray(y, dtype=np.float64)
        check_consistent_length(X, y, sample_weight)
        if self.unlabeled is not None:  # rows whose targets are NaN are not scored
            labeled = np.flatnonzero(~np.isnan(y.reshape(len(y), -1)).any(axis=1))
            if len(labeled) == 0:
                raise ValueError("score needs rows with a target; every row of y is NaN "
                                 "(unlabeled).")
            X, y = _safe_indexing(X, labeled), y[labeled]
            sample_weight = None if sample_weight is None else _safe_indexing(sample_weight,
                                                                              labeled)
        y = check_array(y, ensure_2d=False, input_name="y")
        return r2(y, self.predict(X), sample_weight=sample_weight)
