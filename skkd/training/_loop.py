"""skorch's loops, lighter and stoppable: the net's fast paths and its interrupts.

:class:`LoopMixin` changes how a skorch ``NeuralNet`` runs, never what it
computes: an epoch skips per-batch notifications that nothing listens to,
an optimizer that evaluates its closure once steps after the training step
instead of through a closure, a module already in the right mode is not
switched again, ``predict`` runs the student in large chunks, and
``KeyboardInterrupt`` stops training and propagates (skorch's own
``partial_fit`` swallows it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import get_len

from skkd import _arrays as arrays

#: Rows per forward pass of ``predict`` (at least; ``batch_size`` if larger).
PREDICT_ROWS = 16384
#: Optimizers whose ``step(closure)`` is ``closure()`` under ``enable_grad``, then the
#: update: one evaluation, so the closure may as well run before ``step()``.
ONE_EVALUATION_OPTIMIZERS = frozenset({
    torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.Adamax,
    torch.optim.Adagrad, torch.optim.Adadelta, torch.optim.RMSprop, torch.optim.NAdam,
    torch.optim.RAdam, torch.optim.ASGD, torch.optim.Rprop,
})


class LoopMixin:
    """Mixin of a skorch ``NeuralNet``: its training and prediction loops, lighter.

    See the module's docstring; the values a fit and a prediction give are
    skorch's (up to float32 rounding in :meth:`predict_outputs`).
    """

    def partial_fit(self, X: Any, y: Any = None, classes: Any = None, **fit_params: Any) -> Any:
        """Train for ``max_epochs`` more epochs; a ``KeyboardInterrupt`` is re-raised.

        skorch's own ``partial_fit`` swallows ``KeyboardInterrupt``; here the
        training stops, ``on_train_end`` runs, and the interrupt propagates,
        unless skorch's ``EarlyStopping`` raised it to end training.
        """
        if not self.initialized_:
            self.initialize()
        routing_method = fit_params.pop("_routing_method", "partial_fit")
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y, _routing_method=routing_method, **fit_params)
        except KeyboardInterrupt:
            self.notify("on_train_end", X=X, y=y)
            if not self._stopped_early():
                raise
        else:
            self.notify("on_train_end", X=X, y=y)
        return self

    def _stopped_early(self) -> bool:
        """Whether skorch's ``EarlyStopping`` ended training (it raises KeyboardInterrupt)."""
        return any(isinstance(cb, EarlyStopping) and cb.misses_ == cb.patience
                   for _, cb in getattr(self, "callbacks_", []))

    def _set_training(self, training: bool = True) -> None:
        """skorch's, but a module already in the mode is left alone (it ran every step)."""
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    def _step_optimizer(self, step_fn: Any) -> Any:
        """skorch's, but one optimizer that evaluates its closure once steps after it.

        ``optimizer.step(closure)`` of :data:`ONE_EVALUATION_OPTIMIZERS` is
        ``closure()`` under ``enable_grad``, then the update: here the
        closure runs first, then ``optimizer.step()``, without the closure's
        trip through the optimizer's step wrapper. Other optimizers (LBFGS
        re-evaluates), subclasses and several optimizers (skorch calls the
        closure once per optimizer) step as skorch steps them.
        """
        names = self._optimizers
        optimizer = getattr(self, names[0] + "_") if len(names) == 1 else None
        if step_fn is None or type(optimizer) not in ONE_EVALUATION_OPTIMIZERS:
            return super()._step_optimizer(step_fn)
        with torch.enable_grad():
            step_fn()
        optimizer.step()
        return None

    def _lean_train_step(self, batch: Any, **fit_params: Any) -> Any:
        """skorch's ``train_step`` without ``on_grad_computed``, which nothing listens to."""
        accumulator = self.get_train_step_accumulator()

        def step_fn() -> torch.Tensor:
            self._zero_grad_optimizer()
            step = self.train_step_single(batch, **fit_params)
            accumulator.store_step(step)
            return step["loss"]

        self._step_optimizer(step_fn)
        return accumulator.get_step()

    def _listeners(self, event: str) -> bool:
        """Whether the net or a callback does anything on ``event`` (skorch's are no-ops)."""
        if getattr(type(self), event) is not getattr(NeuralNet, event):
            return True
        return any(getattr(type(cb), event) is not getattr(Callback, event)
                   for _, cb in self.callbacks_)

    def run_single_epoch(self, iterator: Any, training: bool, prefix: str, step_fn: Any,
                         **fit_params: Any) -> None:
        """skorch's epoch, without per-batch work that nothing reads.

        When neither the net nor a callback acts on ``on_batch_begin``,
        ``on_batch_end`` or ``on_grad_computed`` (skorch's defaults,
        ``EarlyStopping``, ``Checkpoint``, ``LRScheduler`` stepping per
        epoch), batches run without those notifications, and the batch
        losses are read off the device once, at the end of the epoch: the
        history holds the same per-batch ``{prefix}_loss`` and
        ``{prefix}_batch_size`` records as skorch writes. Otherwise (a
        ``ProgressBar``, ``EpochScoring``, ``GradientNormClipping``, a
        scheduler stepping per batch, ...) this is skorch's loop.
        """
        if iterator is None:
            return
        if any(self._listeners(e) for e in ("on_batch_begin", "on_batch_end",
                                            "on_grad_computed")):
            super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
            return
        if getattr(step_fn, "__func__", None) is NeuralNet.train_step:
            step_fn = self._lean_train_step  # skorch's step, not a subclass's
        losses, sizes = [], []
        for batch in iterator:
            losses.append(step_fn(batch, **fit_params)["loss"].detach())
            sizes.append(_batch_len(batch[0] if isinstance(batch, (tuple, list)) else batch))
        values = torch.stack(losses).tolist() if losses else []
        self.history[-1]["batches"].extend(
            {prefix + "_loss": v, prefix + "_batch_size": n}
            for v, n in zip(values, sizes, strict=True))
        self.history.record(prefix + "_batch_count", len(sizes))

    def predict_outputs(self, X: Any) -> np.ndarray:
        """The student's outputs on float32 rows ``X``, as a numpy array on the CPU.

        The fast path of ``predict`` and ``predict_proba``: the student runs in
        eval mode (as after skorch's ``forward``) under ``torch.inference_mode``,
        in chunks of :data:`PREDICT_ROWS` rows or ``batch_size`` if larger,
        without skorch's per-batch DataLoader: up to 16,384 rows, exactly
        ``module(X)``. skorch's ``forward`` ran ``batch_size`` rows at a time;
        a matrix product's blocking depends on the batch's size, so values may
        differ from it in the last float32 bits.
        """
        module = self.module_
        rows = len(X)
        step = rows if self.batch_size == -1 else max(self.batch_size, PREDICT_ROWS)
        device = self.device if self.device is not None else "cpu"
        if module.training:  # as skorch's forward, the student stays in eval mode after
            module.eval()
        with torch.inference_mode():
            # the module itself: infer's checks ran in fit, and cost a one-row call a third
            parts = [module(arrays.to_tensor(X[i : i + step], device=device)).cpu()
                     for i in range(0, max(rows, 1), step)]
        return (parts[0] if len(parts) == 1 else torch.cat(parts)).numpy()


def _batch_len(data: Any) -> int:
    """``skorch.dataset.get_len(data)``, without its generic walk for a tensor or a dict of them."""
    if isinstance(data, torch.Tensor) and data.ndim:
        return data.shape[0]
    if isinstance(data, dict) and "input_ids" not in data:
        lengths = {v.shape[0] if isinstance(v, torch.Tensor) and v.ndim else None
                   for v in data.values()}
        if len(lengths) == 1 and None not in lengths:
            return lengths.pop()
    return get_len(data)
