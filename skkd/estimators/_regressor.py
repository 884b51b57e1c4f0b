"""``DistilledRegressor``: a regression model compressed into a small torch student."""

from __future__ import annotations

import importlib.util
import inspect
import math
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
from skkd.exceptions import InvalidParameterError, TeacherError
from skkd.hints._plan import HintPlan
from skkd.teachers._classification import TeacherOutputs
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


def _nan_marker(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


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


class DistilledRegressor(RegressorMixin, BaseDistiller):
    """Distill a fitted regression teacher into a small PyTorch student trained by skorch.

    The regression twin of :class:`~skkd.DistilledClassifier`, on the same
    machinery. The student minimizes

    ``alpha * mse(student, y) + (1 - alpha) * soft_loss(student, teacher)``

    on standardized targets: ``y`` (each output) and the teacher's
    predictions are centred and scaled by the labeled training rows' mean and
    standard deviation, and ``predict`` maps the student's outputs back, so no
    ``TransformedTargetRegressor`` is needed. ``alpha`` weights the
    *hard-label* term as in the classifier: ``alpha=1`` is plain training on
    ``y``, ``alpha=0`` pure distillation from the teacher's predictions.

    Parameters
    ----------
    teacher : object, list or EnsembleTeacher, default=None
        What predicts: a fitted scikit-learn regressor or ``Pipeline``
        (``predict``), a fitted skorch net (``predict``), a ``torch.nn.Module``
        returning ``(batch, n_outputs)``, a ``FrozenEstimator`` around one; or
        several, as a list, tuple or :class:`~skkd.EnsembleTeacher` (a weighted
        mean of their predictions; nested ensembles are combined inside out).
        An *unfitted* scikit-learn regressor is cloned and fitted on the
        labeled rows (kept in ``teacher_``); a fitted one is never refitted,
        mutated or copied (also by ``clone`` and ``GridSearchCV``). None: no
        soft term (as ``alpha=1``) unless ``teacher_predictions`` is passed to
        ``fit``. All arguments after ``teacher`` are keyword-only.
    module : str, torch.nn.Module class or instance, default="mlp"
        The student, as for the classifier; a registered factory is called as
        ``factory(n_features, n_outputs, **module__*)`` (``"tabular-mlp"`` for
        tables and tree teachers).
    loss : str or callable, default="mse"
        The soft loss between the student's and the teacher's standardized
        predictions: ``"mse"`` or ``"huber"`` (``loss__delta``), any
        registered loss that takes no ``temperature``, or a callable
        ``fn(student_outputs, teacher_outputs, *, y=None, sample_weight=None,
        **options)`` returning a scalar tensor.
    alpha : float in [0, 1], default=0.5
        Weight of the hard-label mean squared error; ``1 - alpha`` weights
        the soft term.
    optimizer : torch optimizer class, default=torch.optim.Adam
        ``optimizer__*`` parameters reach it.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int >= 1, default=20
        Number of epochs (more epochs, when ``warm_start`` continues).
    batch_size : int, default=32
        Mini-batch size for training and prediction; -1 is one batch of all rows.
    callbacks : list of skorch callbacks, default=None
        Passed to skorch.
    device : str, default="cpu"
        Torch device of the student.
    mixed_precision : {None, "bf16", "fp16"}, default=None
        Train the student's forward passes under ``torch.autocast`` to bfloat16
        or float16 (the loss is computed in float32; ``"fp16"`` scales it with
        a ``torch.amp.GradScaler``). Made for CUDA students (tensor cores);
        on a CPU it is usually slower. ``predict`` runs in float32.
    accelerator : accelerate.Accelerator or None, default=None
        Train one student across the processes ``torchrun`` started (one
        machine or several): each rank trains on its share of every global
        batch of ``batch_size`` rows, gradients are averaged (PyTorch's
        ``DistributedDataParallel``), and every rank ends with the same
        student. The student goes where the accelerator places it (leave
        ``device`` at its kind, or None); on a machine without a GPU, pass
        ``Accelerator(cpu=True)``. See the "Scale out" guide.
    train_split : callable or None, default=None
        skorch's internal validation split; off by default.
    teacher_batch_size : int or None, default=None
        Batch size of a torch teacher's pass; None uses ``batch_size``.
    teacher_cv : int, cross-validation splitter or None, default=None
        Out-of-fold predictions for an *unfitted* teacher (or ensemble
        member): each labeled row gets the prediction of a clone not fitted on
        it (``cross_val_predict``'s rule, an int is ``KFold``); the clone
        fitted on all labeled rows is ``teacher_``.
    unlabeled : None or float("nan"), default=None
        ``float("nan")`` (``np.nan``) marks rows whose target is NaN (every
        output) as unlabeled: they learn from the teacher alone and are ignored
        by ``score``. None: a NaN target is an error, as in scikit-learn.
    augment : str or None, default=None
        A transfer set (``"munge"``, with ``augment__*`` options, fresh per
        epoch with ``augment__fresh=True``): rows the teacher labels, soft
        term only. Batch augmentations (``"shift"``, ``"mixup"``) are for
        classifiers.
    warm_start : bool, default=False
        Continue training the fitted student in ``fit`` (see the classifier).
    verbose : int, default=0
        skorch's verbosity.
    random_state : int, RandomState instance or None, default=None
        Seeds the student's initialization, shuffling and dropout.
    **kwargs
        ``module__*``, ``loss__*``, ``optimizer__*``, ``iterator_train__*``,
        ``iterator_valid__*``, ``callbacks__*`` and ``augment__*`` parameters.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_outputs_ : int
        Number of regression outputs (columns of ``y``).
    target_mean_, target_scale_ : ndarray of shape (n_outputs,)
        The standardization of the targets (float64, computed without
        overflow for ``|y|`` up to about ``1e304``): the student predicts
        ``(y - target_mean_) / target_scale_``. The teacher's predictions are
        kept in float64 until they are standardized the same way, so targets
        on a large offset (timestamps, amounts in cents near ``1e12``) keep
        their digits.
    encoding_ : dict
        What a data-aware student learned from the training rows.
    teacher_ : object or None
        The teacher as queried (fitted clones for unfitted ones).
    teacher_score_ : float or None
        The teacher's R² on the labeled training rows (out of fold with
        ``teacher_cv``). Below 0, a :class:`~skkd.TeacherNearMeanWarning`
        says the teacher probably predicts in other units, or sees other
        features, than the student.
    teacher_scores_ : list of float or None
        Each ensemble member's R²; None for a single teacher.
    net_ : skorch.NeuralNet
        The fitted skorch net; the student is ``net_.module_``.
    history_ : skorch.History
        Per-epoch losses and timings.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.ensemble import HistGradientBoostingRegressor
    >>> from skkd import DistilledRegressor
    >>> X, y = make_regression(500, 8, noise=5.0, random_state=0)
    >>> teacher = HistGradientBoostingRegressor(random_state=0).fit(X, y)
    >>> student = DistilledRegressor(teacher, alpha=0.2, max_epochs=30,
    ...                              random_state=0).fit(X, y)
    >>> student.predict(X[:2]).shape
    (2,)
    """

    _hard_loss_class = torch.nn.MSELoss
    _net_class = RegressionNet
    _outputs_param = "teacher_predictions"
    _parameter_overrides = {
        "unlabeled": (_nan_marker, "None or float('nan') (NaN targets mark unlabeled rows)"),
    }
    #: A regressor's teacher is queried once per fit (and per epoch on fresh rows).
    teacher_inference = "once"

    def __init__(
        self,
        teacher: Any = None,
        *,
        module: Any = "mlp",
        loss: str | Callable[..., Any] = "mse",
        alpha: float = 0.5,
        optimizer: Any = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 20,
        batch_size: int = 32,
        callbacks: Any = None,
        device: str = "cpu",
        mixed_precision: str | None = None,
        accelerator: Any = None,
        train_split: Any = None,
        teacher_batch_size: int | None = None,
        teacher_cv: Any = None,
        unlabeled: Any = None,
        augment: str | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        random_state: Any = None,
        **kwargs: Any,
    ) -> None:
        self.teacher = teacher
        self.module = module
        self.loss = loss
        self.alpha = alpha
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.callbacks = callbacks
        self.device = device
        self.mixed_precision = mixed_precision
        self.accelerator = accelerator
        self.train_split = train_split
        self.teacher_batch_size = teacher_batch_size
        self.teacher_cv = teacher_cv
        self.unlabeled = unlabeled
        self.augment = augment
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state
        self._keyword_params = dict(kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any, teacher_predictions: Any = None, sample_weight: Any = None,
            groups: Any = None) -> DistilledRegressor:
        """Train the student on ``(X, y)`` and the teacher's predictions.

        A fit either completes or leaves a fitted estimator as it was (see
        :meth:`skkd.DistilledClassifier.fit`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows; the teacher receives them as passed.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets. With ``unlabeled=float("nan")``, rows whose targets are
            all NaN are unlabeled (soft term only).
        teacher_predictions : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Precomputed teacher predictions in ``y``'s units (e.g. the
            teacher's ``predict`` on raw features while the student sits after
            a transformer in a ``Pipeline``; route it as
            ``distilledregressor__teacher_predictions``). The ``teacher`` is
            then not queried.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights of the hard and soft loss (and of an
            unfitted teacher's fit, where it takes them).
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter in ``teacher_cv``.

        Returns
        -------
        self : DistilledRegressor
            The fitted estimator.
        """
        return self._fit(X, y, teacher_predictions, sample_weight, groups)

    # -- the regression hooks of BaseDistiller -----------------------------

    def _check_params(self) -> tuple[Callable[..., Any], str, Any, HintPlan | None]:
        self._check_hard_loss()
        checked = super()._check_params()
        if kind_of(checked[2]).batch:
            raise InvalidParameterError(
                f"augment={self.augment!r} makes new rows from every batch, which "
                "DistilledRegressor does not support; use a transfer set (augment='munge')."
            )
        return checked

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

    def _validate(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        if y is None:
            raise ValueError("DistilledRegressor requires y to be passed, but the target y "
                             "is None.")
        X = validate_data(self, X, reset=reset, dtype=np.float32)
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

    def _given_outputs(self, outputs: Any, y: np.ndarray, y_enc: np.ndarray) -> TeacherOutputs:
        labeled = self._labeled(y_enc)
        raw = check_predictions(outputs, len(y), self.n_outputs_, "teacher_predictions has")
        return TeacherOutputs(raw, None, r2(y.reshape(len(y), -1)[labeled], raw[labeled]))

    def _queried_outputs(self, X_teacher: Any, y: np.ndarray, y_enc: np.ndarray,
                         inference: str, *, sample_weight: Any,
                         groups: Any) -> TeacherOutputs:
        return regression_outputs(
            self.teacher, X_teacher, y.reshape(len(y), -1), self._labeled(y_enc),
            batch_size=self.teacher_batch_size or self.batch_size, cv=self.teacher_cv,
            groups=groups, sample_weight=sample_weight)

    def _trained_outputs(self, outputs: TeacherOutputs, y_enc: np.ndarray) -> TeacherOutputs:
        warn_if_near_mean(outputs.score)
        return outputs._replace(values=self._standardize(outputs.values,
                                                         "The teacher's predictions"))

    def _label_fresh(self, fresh: FreshTransferSet,
                     outputs: TeacherOutputs | None) -> FreshTransferSet:
        batch_size = self.teacher_batch_size or self.batch_size
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



if importlib.util.find_spec("skl2onnx") is not None:  # the "onnx" extra
    from skkd.export import register_converter

    register_converter(DistilledRegressor)
