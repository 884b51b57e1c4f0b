"""Mixed precision for the net: what ``mixed_precision`` changes in a training step.

The student's forward passes in training and validation run under
``torch.autocast`` and their outputs are cast back to float32, so the loss is
computed in float32; ``predict`` runs in float32. ``"fp16"`` scales the loss
with a ``torch.amp.GradScaler`` and unscales the gradients before
``on_grad_computed``, so that callbacks (clipping) see true values.
"""

from __future__ import annotations

from typing import Any

import torch
from skorch.dataset import unpack_data

#: ``mixed_precision`` -> the dtype the student's training forward pass autocasts to.
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class MixedPrecisionMixin:
    """Mixin of a skorch ``NeuralNet``: its training steps in ``mixed_precision``.

    The net's training step calls :meth:`_forward` for the student's outputs
    and :meth:`_backward` for the gradients; this mixin gives them their
    precision, and ``_step_optimizer`` steps through the loss scaler.

    Parameters
    ----------
    mixed_precision : {None, "bf16", "fp16"}, default=None
        The dtype the student's forward passes in training and validation
        autocast to; None trains in float32.
    """

    def __init__(self, *args: Any, mixed_precision: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mixed_precision = mixed_precision

    @property
    def _autocasting(self) -> bool:
        """Whether the student's training forward passes autocast."""
        return self.mixed_precision is not None

    def _autocast(self) -> Any:
        """The context the student's training forward passes run in."""
        return torch.autocast(self._device_type(), dtype=AUTOCAST_DTYPES[self.mixed_precision])

    def _device_type(self) -> str:
        return torch.device(self.device or "cpu").type

    def _forward(self, x: Any, **fit_params: Any) -> Any:
        """The student's outputs in training, autocast when ``_autocasting``, as float32."""
        if not self._autocasting:
            return self.infer(x, **fit_params)
        with self._autocast():
            return self.infer(x, **fit_params).float()

    def _grad_scaler(self) -> torch.amp.GradScaler | None:
        """The fp16 loss scaler (kept across fits of a warm start), or None."""
        if self.mixed_precision != "fp16":
            return None
        if getattr(self, "grad_scaler_", None) is None:
            self.grad_scaler_ = torch.amp.GradScaler(self._device_type())
        return self.grad_scaler_

    def _backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``; in fp16, of the scaled loss, the gradients unscaled after."""
        scaler = self._grad_scaler()
        if scaler is None:
            loss.backward()
            return
        scaler.scale(loss).backward()
        for name in self._optimizers:  # callbacks (clipping) read true gradients
            scaler.unscale_(getattr(self, name + "_"))

    def _step_optimizer(self, step_fn: Any) -> Any:
        """skorch's, but a scaled loss (fp16) takes one closure call.

        Then every optimizer steps through the scaler, without the closure.
        """
        scaler = self._grad_scaler()
        if scaler is None:
            return super()._step_optimizer(step_fn)
        step_fn()  # a scaled step cannot re-run a closure (as LBFGS would)
        for name in self._optimizers:
            scaler.step(getattr(self, name + "_"))
        scaler.update()
        return None

    def validation_step(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        """skorch's, with the student's forward pass in ``mixed_precision``."""
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            y_pred = self._forward(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=False)
        return {"loss": loss, "y_pred": y_pred}
