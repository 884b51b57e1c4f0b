"""Data-parallel training of one student across processes, through Hugging Face ``accelerate``.

Every process (rank) runs the same ``fit`` on the same data, started by
``torchrun`` (one machine or several). Each training step, the ranks draw the
same global batch of ``batch_size`` rows and each takes every
``num_processes``-th row of it; ``DistributedDataParallel`` (what
``Accelerator.prepare_model`` wraps the student in) averages the gradients,
so a step equals the one-process step on the whole global batch. What the
ranks must agree on is made equal here: torch's random state (rank 0's, so
the shuffles match), the epoch's batch losses in ``history_`` (averaged over
the ranks, so ``EarlyStopping`` decides alike everywhere) and the check for
non-finite losses (every rank raises, none waits forever for the others).

The teacher is never a module of the net, so it is never wrapped: a frozen
teacher in ``DistributedDataParallel`` would fail on a CPU. After training the
student and optimizer are unwrapped, so the fitted estimator pickles.

:class:`AccelerateMixin` holds everything the net does about several
processes, in the shape of skorch's own ``skorch.hf.AccelerateMixin``, so
that the rest of the net reads as if there were one; the functions beside it
are its steps (and the estimator's checks of an ``accelerator``).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from skkd.exceptions import InvalidParameterError


def is_accelerator(value: Any) -> bool:
    """Whether ``value`` looks like an ``accelerate.Accelerator`` (duck-typed: no import)."""
    return all(hasattr(value, a) for a in ("prepare_model", "backward", "unwrap_model",
                                           "num_processes", "process_index"))


def accelerator_device(accelerator: Any, device: Any) -> torch.device:
    """The student's device under ``accelerator``, checked against the ``device`` parameter.

    Raises
    ------
    InvalidParameterError
        If the processes were launched as several ranks but the accelerator runs
        alone (on a machine without a GPU, ``Accelerator()`` without
        ``cpu=True`` does so silently), or if ``device`` names another kind of
        device than the accelerator's.
    """
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and accelerator.num_processes == 1:
        raise InvalidParameterError(
            f"accelerator: this process was launched as one of {launched} ranks "
            "(WORLD_SIZE), but the Accelerator runs alone, so every rank would train a "
            "student of its own. On a machine without a GPU, create it with "
            "Accelerator(cpu=True)."
        )
    placed = torch.device(accelerator.device)
    if device is not None and torch.device(device).type != placed.type:
        raise InvalidParameterError(
            f"device={device!r}, but the accelerator places the student on {placed}: "
            f"leave device to the Accelerator (device={placed.type!r} or None)."
        )
    return torch.device("cpu") if placed.type == "cpu" else placed  # not "cpu:0": pickles


def print_on_rank_0(*args: Any, **kwargs: Any) -> None:
    """``print`` in the first rank (``RANK`` 0, or no ``RANK``) only: skorch's log sink."""
    if os.environ.get("RANK", "0") == "0":
        print(*args, **kwargs)


def same_random_state(accelerator: Any) -> None:
    """Give every rank rank 0's torch CPU random state (one broadcast)."""
    if accelerator.num_processes == 1:
        return
    from accelerate.utils import broadcast

    state = torch.get_rng_state().to(accelerator.device)
    torch.set_rng_state(broadcast(state, from_process=0).cpu())


def wrap(accelerator: Any, net: Any) -> None:
    """Prepare the net's trainable modules and its optimizers for data-parallel training."""
    for name in net._modules:
        module = getattr(net, name + "_")
        if isinstance(module, torch.nn.Module) and any(
                p.requires_grad for p in module.parameters()):
            setattr(net, name + "_", accelerator.prepare_model(module))
    for name in net._optimizers:
        setattr(net, name + "_", accelerator.prepare_optimizer(getattr(net, name + "_")))


def unwrap(accelerator: Any, net: Any) -> None:
    """Undo :func:`wrap`: the plain student and optimizers, which pickle.

    The accelerator also forgets them: it keeps everything it ever prepared, so
    one accelerator shared by many fits (a search's candidates and folds) would
    otherwise hold every student and optimizer state for its whole life.
    """
    prepared = []
    for name in net._modules:
        module = getattr(net, name + "_", None)
        if isinstance(module, torch.nn.Module):
            plain = accelerator.unwrap_model(module, keep_fp32_wrapper=False)
            prepared += [module, plain]
            setattr(net, name + "_", plain)
    for name in net._optimizers:
        optimizer = getattr(net, name + "_", None)
        inner = getattr(optimizer, "optimizer", None)
        if isinstance(inner, torch.optim.Optimizer):
            prepared += [optimizer, inner]
            setattr(net, name + "_", inner)
    _forget(accelerator, prepared)


def _forget(accelerator: Any, objects: list[Any]) -> None:
    """Drop the accelerator's references to ``objects``, keeping what the user prepared.

    ``Accelerator.free_memory`` would drop everything, the user's own models
    included; accelerate has no public call for a few objects, so its lists
    are filtered where they exist.
    """
    ids = {id(obj) for obj in objects}
    for attribute in ("_models", "_optimizers"):
        kept = getattr(accelerator, attribute, None)
        if isinstance(kept, list):
            kept[:] = [obj for obj in kept if id(obj) not in ids]


def over_ranks(accelerator: Any, values: torch.Tensor, reduction: str) -> torch.Tensor:
    """``values`` reduced (``"mean"`` or ``"sum"``) over the ranks; itself on one rank."""
    if accelerator.num_processes == 1:
        return values
    return accelerator.reduce(values.to(accelerator.device), reduction=reduction).cpu()


def agree_on_epoch(accelerator: Any, batches: list[dict], prefix: str) -> None:
    """Write the ranks' mean ``{prefix}_loss`` and summed ``{prefix}_batch_size`` into ``batches``.

    Each rank recorded its own share of every global batch; afterwards every
    rank's history holds the same records, those of the global batches.
    """
    mine = [b for b in batches if prefix + "_loss" in b]
    if accelerator.num_processes == 1 or not mine:
        return
    losses = over_ranks(accelerator, torch.tensor([b[prefix + "_loss"] for b in mine],
                                                  dtype=torch.float64), "mean")
    sizes = over_ranks(accelerator, torch.tensor([b[prefix + "_batch_size"] for b in mine]),
                       "sum")
    for b, loss, size in zip(mine, losses.tolist(), sizes.tolist(), strict=True):
        b[prefix + "_loss"], b[prefix + "_batch_size"] = loss, int(size)


def any_rank(accelerator: Any, flag: bool) -> bool:
    """Whether ``flag`` holds on any rank."""
    return bool(over_ranks(accelerator, torch.tensor([float(flag)]), "sum").item() > 0)


class AccelerateMixin:
    """Mixin of a skorch ``NeuralNet``: data-parallel training through an ``accelerator``.

    Without an accelerator every method is the base's. With one, training
    begins with every rank on rank 0's random state and the student and its
    optimizers prepared by the accelerator (unwrapped when training ends,
    also after an error: a plain student that pickles); each rank trains on
    its share of every global batch; the forward pass autocasts and the
    backward pass runs through the accelerator; and at every epoch's end the
    ranks agree on the history's batch losses, and on checks that raise.

    Parameters
    ----------
    accelerator : accelerate.Accelerator or None, default=None
        Prepares the student and its optimizers for data-parallel training.
    """

    def __init__(self, *args: Any, accelerator: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accelerator = accelerator

    def partial_fit(self, X: Any, y: Any = None, classes: Any = None, **fit_params: Any) -> Any:
        """The base's; afterwards, after an error too, the student and optimizers are plain."""
        try:
            return super().partial_fit(X, y, classes, **fit_params)
        finally:
            if self.accelerator is not None:
                unwrap(self.accelerator, self)

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        super().on_train_begin(net, X=X, y=y, **kwargs)
        if self.accelerator is not None:
            same_random_state(self.accelerator)
            wrap(self.accelerator, self)

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        super().on_train_end(net, X=X, y=y, **kwargs)
        if self.accelerator is not None:
            unwrap(self.accelerator, self)

    def get_iterator(self, dataset: Any, training: bool = False) -> Any:
        """The base's; in a data-parallel fit, training batches are this rank's shares."""
        accelerator = self.accelerator
        if training and accelerator is not None and accelerator.num_processes > 1:
            kwargs = self.get_params_for("iterator_train")
            kwargs.setdefault("batch_size", self.batch_size)
            if kwargs["batch_size"] == -1:
                kwargs["batch_size"] = len(dataset)
            return self.iterator_train(
                dataset, shard=(accelerator.process_index, accelerator.num_processes),
                **kwargs)
        return super().get_iterator(dataset, training=training)

    def on_epoch_end(self, net: Any, dataset_train: Any = None, dataset_valid: Any = None,
                     **kwargs: Any) -> None:
        """The base's, once the ranks' histories hold the global batches' losses."""
        if self.accelerator is not None:
            agree_on_epoch(self.accelerator, self.history[-1]["batches"], "train")
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                             **kwargs)

    def _on_any_rank(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any rank: a check every rank acts on alike."""
        return flag if self.accelerator is None else any_rank(self.accelerator, flag)

    @property
    def _autocasting(self) -> bool:
        """The base's, or the accelerator's own mixed precision."""
        return self.accelerator is not None or super()._autocasting

    def _autocast(self) -> Any:
        if self.accelerator is not None:  # its mixed precision, if any
            return self.accelerator.autocast()
        return super()._autocast()

    def _backward(self, loss: torch.Tensor) -> None:
        if self.accelerator is None:
            super()._backward(loss)
            return
        self.accelerator.backward(loss)

    def _step_optimizer(self, step_fn: Any) -> Any:
        """The base's, but a step on an accelerator's loss takes one closure call.

        Then every optimizer steps without the closure.
        """
        if self.accelerator is None:
            return super()._step_optimizer(step_fn)
        step_fn()  # a prepared step cannot re-run a closure (as LBFGS would)
        for name in self._optimizers:
            getattr(self, name + "_").step()
        return None
