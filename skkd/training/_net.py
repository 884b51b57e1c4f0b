"""The private skorch net that trains a student with the distillation loss.

``get_loss = alpha * cross_entropy(student, y) + (1 - alpha) * soft_loss``; with
hints, a training step adds ``hint_weight * sum(hint losses)``.
Precomputed teacher logits (and cached teacher features) travel with each batch
inside a dict ``X`` (``{"X": rows, "teacher_logits": logits, "teacher_hint_0":
features, ...}``, :mod:`skkd.training._data`); the teacher itself is never a
module of the net, so skorch never optimizes, checkpoints or re-moves it. The
hint adapters are a second module of the net, ``hint_adapters_``: skorch
trains them with the student (``get_all_learnable_params``), while
``module_`` stays the student alone. A fresh transfer set (``fresh_transfer``)
loads new rows into the training set at the start of every epoch.

What is not distillation is composed in: data-parallel training
(:class:`~skkd.training._accelerate.AccelerateMixin`), mixed precision
(:class:`~skkd.training._mixed_precision.MixedPrecisionMixin`) and skorch's
loops made lighter (:class:`~skkd.training._loop.LoopMixin`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from skkd.augmentations._batches import augment_batch, check_deferred_values
from skkd.exceptions import LossError, StudentError
from skkd.hints._modules import capture_features
from skkd.training._accelerate import AccelerateMixin
from skkd.training._data import HINT_KEY, INPUT_KEY, TEACHER_KEY, WEIGHT_KEY, fresh_columns
from skkd.training._loop import LoopMixin
from skkd.training._mixed_precision import MixedPrecisionMixin


class DistillationNet(AccelerateMixin, MixedPrecisionMixin, LoopMixin, NeuralNet):
    """skorch ``NeuralNet`` whose loss adds a soft distillation term.

    Parameters beyond skorch's
    --------------------------
    alpha : float
        Weight of the hard-label cross-entropy; ``1 - alpha`` weights the soft term.
    temperature : float
        Passed to the soft loss.
    soft_loss : callable or None
        ``fn(student_logits, teacher_logits, *, temperature, y, **loss_options)``;
        None trains on the labels alone.
    loss_name : str
        The name of ``soft_loss``, for error messages.
    loss_options : dict or None
        Extra keyword arguments of ``soft_loss`` (``loss__*`` parameters).
    n_classes : int or None
        The number of logits the module must return (checked on every forward pass).
    online_teacher : skkd.teachers.Teacher or None
        Queried on every training batch (``teacher_inference="per_batch"``);
        otherwise the teacher's logits travel with the batch in a dict ``X``.
    augmentation : object or None
        Its ``augment_batch(xb, yb)`` makes every training batch anew; the
        online teacher is queried on the batch it returns.
    hint_plan : skkd.hints.HintPlan or None
        Feature distillation: the hint term is added to every training step's
        loss (not to ``valid_loss``); its adapters become ``hint_adapters_``.
    has_unlabeled : bool, default=True
        Whether any training row lacks a label (-1): when not, the hard loss
        is the criterion on the whole batch, with no mask.
    mixed_precision : {None, "bf16", "fp16"}, default=None
        The student's forward passes in training and validation autocast to
        this dtype, the loss in float32; ``"fp16"`` scales the loss
        (``grad_scaler_``). See :class:`~skkd.training._mixed_precision.MixedPrecisionMixin`.
    accelerator : accelerate.Accelerator or None, default=None
        Data-parallel training: each rank trains on its share of every global
        batch, and the ranks agree on the random state, the history and the
        non-finite check. See :class:`~skkd.training._accelerate.AccelerateMixin`.
    fresh_transfer : skkd.augmentations._fit_time.FreshTransferSet or None
        At the start of every epoch but the one whose rows the training set
        holds, it loads new rows and their teacher logits over rows
        ``start:stop`` of the training set (the rows of a validation split
        among them too). Dropped when training ends: it holds the teacher and
        the training rows.
    """

    _outputs_word = "classes"

    def __init__(
        self,
        module,
        criterion=torch.nn.CrossEntropyLoss,
        alpha=1.0,
        temperature=1.0,
        soft_loss=None,
        loss_name=None,
        loss_options=None,
        n_classes=None,
        online_teacher=None,
        augmentation=None,
        hint_plan=None,
        fresh_transfer=None,
        has_unlabeled=True,
        **kwargs,
    ):
        super().__init__(module, criterion, **kwargs)
        self.has_unlabeled = has_unlabeled
        self._augment_checks: list[torch.Tensor] | None = None  # deferred, off the CPU
        # the epoch's soft-loss values, checked for finiteness at its end (one device sync)
        self._soft_values: list[torch.Tensor] | None = None
        self.alpha = alpha
        self.temperature = temperature
        self.soft_loss = soft_loss
        self.loss_name = loss_name
        self.loss_options = loss_options
        self.n_classes = n_classes
        self.online_teacher = online_teacher
        self.augmentation = augmentation
        self.hint_plan = hint_plan
        self.fresh_transfer = fresh_transfer

    def initialize_module(self):
        """The student, and with hints the adapters, a module of their own (``hint_adapters_``)."""
        super().initialize_module()
        if self.hint_plan is not None:
            self.hint_adapters_ = self.hint_plan.build_adapters()
        return self

    @property
    def distilling(self) -> bool:
        """Whether the loss has a soft term."""
        return self.soft_loss is not None and self.alpha < 1

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs; a ``KeyboardInterrupt`` is re-raised.

        Distilling needs the teacher: ``X`` must carry ``teacher_logits`` or
        the net an ``online_teacher``; continue a fitted
        ``DistilledClassifier`` with ``warm_start=True`` instead.
        """
        if self.distilling and self.online_teacher is None and not _has_teacher(X):
            raise RuntimeError(
                "This net distills, and X carries no teacher outputs: training on it would "
                "silently drop the soft term. To continue training a fitted "
                "DistilledClassifier, set warm_start=True and call its fit(X, y) again."
            )
        try:
            return super().partial_fit(X, y, classes, **fit_params)
        finally:
            self.fresh_transfer = None  # it holds the teacher and the training rows
            self._soft_values = self._augment_checks = None  # an interrupted epoch's

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                               **kwargs)
        self._soft_values = []
        self._augment_checks = []
        fresh, epoch = self.fresh_transfer, len(self.history) - 1  # from 0, this epoch included
        if fresh is not None and fresh.epoch != epoch:
            fresh.load(epoch, fresh_columns(dataset_train, fresh.stop), self.hint_plan)

    def train_step_single(self, batch, **fit_params):
        """skorch's, with the batch augmented, the hint term, and ``mixed_precision``."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        if self.augmentation is not None:
            xb = to_tensor(Xi, device=self.device)
            # off the CPU, the values are checked at the epoch's end: here they would sync
            deferred = self._augment_checks if xb.device.type != "cpu" else None
            Xi, yi = augment_batch(self.augmentation, xb, to_tensor(yi, device=self.device),
                                   self.n_classes, deferred=deferred)
        if self.hint_plan is None:
            y_pred = self._forward(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        else:
            y_pred, loss = self._hinted_step(Xi, yi, **fit_params)
        self._backward(loss)
        return {"loss": loss, "y_pred": y_pred}

    def _hinted_step(self, Xi, yi, **fit_params):
        """The forward pass and loss of a training step with the hint term added."""
        plan = self.hint_plan
        with capture_features(plan.student_modules(self.module_)) as student_records:
            y_pred = self._forward(Xi, **fit_params)
        if isinstance(Xi, Mapping) and HINT_KEY.format(0) in Xi:  # cached once in fit
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
            teacher_feats = [Xi[HINT_KEY.format(i)] for i in range(len(plan.hints))]
        elif self.distilling and not _has_teacher(Xi):
            # The online teacher runs inside get_loss: record its features on the way.
            with capture_features(plan.teacher_modules()) as teacher_records:
                loss = self.get_loss(y_pred, yi, X=Xi, training=True)
            teacher_feats = [r[-1] for r in teacher_records] if all(teacher_records) else None
        else:
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
            teacher_feats = None
        if teacher_feats is None:
            xb = Xi[INPUT_KEY] if isinstance(Xi, Mapping) else Xi
            teacher_feats = plan.teacher_features(to_tensor(xb, device=self.device))
        if not all(student_records):
            raise StudentError(
                "hints: a student module named in hints did not run in the student's forward "
                "pass, so it has no feature to distil."
            )
        student_feats = [r[-1].float() if self._autocasting else r[-1]
                         for r in student_records]  # the hint term in float32
        return y_pred, loss + plan.term(student_feats, teacher_feats, self.hint_adapters_)

    def _here(self, value: Any) -> Any:
        """skorch's ``to_tensor(value, device=self.device)``; a tensor already there as it is."""
        device = self.device
        if isinstance(value, torch.Tensor) and (
                device is None or (device == "cpu" and value.device.type == "cpu")):
            return value  # what to_tensor returns, without its dispatch (every batch, thrice)
        return to_tensor(value, device=device)

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping) and INPUT_KEY in x:
            x = x[INPUT_KEY]
        if isinstance(x, torch.Tensor):  # skorch's infer of a tensor
            out = self.module_(self._here(x), **fit_params)
        else:
            out = super().infer(x, **fit_params)
        if self.n_classes is not None and (
            not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] != self.n_classes
        ):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise StudentError(
                f"The student module {type(self.module_).__name__} returned {shape}, but "
                f"the task has {self.n_classes} {self._outputs_word}: the student must return "
                f"shape (batch, {self.n_classes}), one value per {self._outputs_word[:-1]}. "
                f"Set its output width (e.g. module__n_classes) to the number of "
                f"{self._outputs_word}."
            )
        return out

    def _teacher_logits(self, X):
        if _has_teacher(X):
            return self._here(X[TEACHER_KEY])
        if self.online_teacher is not None:
            xb = X[INPUT_KEY] if isinstance(X, Mapping) else X
            return self.online_teacher.batch_logits(to_tensor(xb, device=self.device))
        return None

    def _hard_loss(self, y_pred, y_true, weights, X, training):
        """Cross-entropy over the labeled rows; with ``weights``, their weighted mean."""
        if weights is None and not self.has_unlabeled:  # no row of the training set lacks one
            return self.criterion_(y_pred, y_true)  # skorch's get_loss, y_true a tensor already
        labeled = y_true >= 0  # -1 marks an unlabeled row: soft term only
        if weights is not None:
            criterion = self.criterion_
            safe = y_true.clamp_min(0)
            per_row = torch.nn.functional.cross_entropy(
                y_pred, safe, weight=criterion.weight, reduction="none",
                label_smoothing=criterion.label_smoothing)
            row_weights = weights * labeled.to(weights.dtype)
            # as CrossEntropyLoss's mean, divide by the rows' class weights too
            total = row_weights if criterion.weight is None else (
                row_weights * criterion.weight[safe].to(weights.dtype))
            return (row_weights * per_row).sum() / total.sum().clamp_min(
                torch.finfo(total.dtype).tiny)
        if y_pred.device.type != "cpu":  # a masked mean: no host branch, no device sync
            return self._hard_loss(y_pred, y_true, torch.ones_like(y_pred[:, 0]), X, training)
        if labeled.all():
            return super().get_loss(y_pred, y_true, X=X, training=training)
        if labeled.any():
            return super().get_loss(y_pred[labeled], y_true[labeled], X=X, training=training)
        return y_pred.sum() * 0.0

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = self._here(y_true)
        weights = None
        if isinstance(X, Mapping) and WEIGHT_KEY in X:
            weights = to_tensor(X[WEIGHT_KEY], device=self.device).to(y_pred.dtype)
        hard = self._hard_loss(y_pred, y_true, weights, X, training)
        if not self.distilling:
            return hard
        teacher_logits = self._teacher_logits(X)
        if teacher_logits is None:
            raise RuntimeError("The net distills but this batch has no teacher outputs.")
        weighted = {}
        if weights is not None:  # summing to 1 over the batch (0 if every row weighs 0)
            weighted["sample_weight"] = weights / weights.sum().clamp_min(
                torch.finfo(weights.dtype).tiny)
        if self.temperature is not None:  # a regressor's losses take none
            weighted["temperature"] = self.temperature
        soft = self.soft_loss(
            y_pred,
            teacher_logits,
            y=y_true,
            **weighted,
            **(self.loss_options or {}),
        )
        if not isinstance(soft, torch.Tensor) or soft.ndim != 0:
            shape = tuple(soft.shape) if isinstance(soft, torch.Tensor) else type(soft).__name__
            raise LossError(
                f"KD loss {self.loss_name!r} returned {shape}; a loss must return a "
                "scalar tensor (reduce over the batch)."
            )
        if self._soft_values is not None:  # in an epoch: checked at its end, not every step
            self._soft_values.append(soft.detach())
        elif not torch.isfinite(soft):
            raise self._nonfinite_error(f"a non-finite value ({soft.item()})")
        return self.alpha * hard + (1 - self.alpha) * soft

    def _nonfinite_error(self, what: str) -> FloatingPointError:
        return FloatingPointError(
            f"KD loss {self.loss_name!r} returned {what}; check its temperature, its "
            "loss__* options and the teacher's logits."
        )

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        values, self._soft_values = self._soft_values, None
        checks, self._augment_checks = self._augment_checks, None
        if checks:
            check_deferred_values(checks, self.augmentation, self.n_classes,
                                  f"epoch {len(self.history)}")
        bad = bool(values) and not bool(torch.isfinite(torch.stack(values)).all())
        if self._on_any_rank(bad):  # every rank raises, or none does
            raise self._nonfinite_error(
                f"a non-finite value in epoch {len(self.history)} (checked at the epoch's end)")
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                             **kwargs)


def _has_teacher(X: Any) -> bool:
    return isinstance(X, Mapping) and TEACHER_KEY in X


class RegressionNet(DistillationNet):
    """The net of ``DistilledRegressor``: the hard loss is the mean squared error.

    Targets arrive standardized, shaped ``(batch, n_outputs)`` (``n_classes``
    is the number of outputs); a row of NaN targets is unlabeled (soft term
    only). The soft loss is called without ``temperature``.

    With ``target_mean`` and ``target_scale`` (the estimator's
    standardization), skorch's callbacks see ``y``'s units: ``predict``
    de-standardizes the student's outputs, and ``on_batch_end`` receives the
    batch's labeled rows only, their targets de-standardized (``y_pred``
    stays the module's output, as a classifier's logits do). So
    ``EpochScoring("neg_mean_squared_error")`` scores in ``y``'s units, and
    unlabeled (NaN) rows are left out of every scoring.
    """

    _outputs_word = "outputs"

    def __init__(self, module, criterion=torch.nn.MSELoss, target_mean=None, target_scale=None,
                 **kwargs):
        super().__init__(module, criterion, **kwargs)
        self.target_mean = target_mean
        self.target_scale = target_scale

    def _destandardized(self, outputs: Any) -> Any:
        """Standardized ``outputs`` in ``y``'s units (float64); unchanged without a scale."""
        if getattr(self, "target_scale", None) is None:  # a net pickled before it had one
            return outputs
        return np.asarray(outputs, dtype=np.float64) * self.target_scale + self.target_mean

    def predict(self, X):
        """skorch's ``predict``, in ``y``'s units (what a callback's scorer receives)."""
        return self._destandardized(super().predict(X))

    def notify(self, method_name, **cb_kwargs):
        if method_name == "on_batch_end" and getattr(self, "target_scale", None) is not None:
            cb_kwargs = self._labeled_batch(**cb_kwargs)
        super().notify(method_name, **cb_kwargs)

    def _labeled_batch(self, batch, y_pred=None, **kwargs):
        """``on_batch_end``'s arguments for callbacks: labeled rows, targets in ``y``'s units."""
        Xi, yi = unpack_data(batch)
        if not isinstance(yi, torch.Tensor) or not isinstance(y_pred, torch.Tensor):
            return {"batch": batch, "y_pred": y_pred, **kwargs}
        yi = yi.reshape(len(yi), -1)
        labeled = ~torch.isnan(yi).any(dim=1)
        if not bool(labeled.all()):
            Xi = ({k: v[labeled] if isinstance(v, torch.Tensor) and len(v) == len(labeled)
                   else v for k, v in Xi.items()} if isinstance(Xi, Mapping)
                  else Xi[labeled] if isinstance(Xi, torch.Tensor) else Xi)
            yi, y_pred = yi[labeled], y_pred[labeled]
        y_units = self._destandardized(yi.detach().cpu().double().numpy())
        return {"batch": (Xi, y_units), "y_pred": y_pred, **kwargs}

    def _hard_loss(self, y_pred, y_true, weights, X, training):
        y_true = y_true.to(y_pred.dtype).reshape(y_pred.shape)
        labeled = ~torch.isnan(y_true).any(dim=1)
        per_row = (y_pred - torch.nan_to_num(y_true)).square().mean(dim=1)
        row_weights = labeled.to(y_pred.dtype)
        if weights is not None:
            row_weights = row_weights * weights
        return (row_weights * per_row).sum() / row_weights.sum().clamp_min(
            torch.finfo(row_weights.dtype).tiny)
