"""The learning-rate schedule of ``lr_schedule="cosine"``: a callback the estimators add."""

from __future__ import annotations

import math
from typing import Any

from skorch.callbacks import Callback

from skkd.exceptions import InvalidParameterError

#: The callback's name in the net's callbacks.
SCHEDULE_NAME = "lr_schedule"


class CosineSchedule(Callback):
    """Anneal the learning rate from its value to near 0 over each fit's epochs.

    Epoch ``e`` of a fit of ``max_epochs`` epochs trains at
    ``lr * (1 + cos(pi * e / max_epochs)) / 2`` (every parameter group scaled
    alike); after the fit the optimizer has its learning rates back, so a warm
    start anneals its own epochs from ``lr`` again.
    """

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        self.first_epoch_ = len(net.history)
        self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        epoch = len(net.history) - 1 - self.first_epoch_  # the net opened this epoch's row
        factor = (1 + math.cos(math.pi * epoch / max(net.max_epochs, 1))) / 2
        for group, base in zip(net.optimizer_.param_groups, self.base_lrs_, strict=True):
            group["lr"] = base * factor

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        for group, base in zip(net.optimizer_.param_groups, self.base_lrs_, strict=True):
            group["lr"] = base


def with_schedule(callbacks: Any, schedule: str) -> Any:
    """``callbacks`` (the estimator's parameter) with ``schedule``'s callback added.

    Raises
    ------
    InvalidParameterError
        For ``callbacks="disable"`` (which turns every callback off) with a schedule.
    """
    if schedule == "constant":
        return callbacks
    if isinstance(callbacks, str) and callbacks == "disable":
        raise InvalidParameterError(
            f"callbacks='disable' turns every callback off, the learning-rate schedule's "
            f"too (lr_schedule={schedule!r}, which lr_schedule='auto' chooses for a tabular "
            "student): set lr_schedule='constant', or pass callbacks=[] to keep skorch's "
            "default callbacks."
        )
    return [*(callbacks or []), (SCHEDULE_NAME, CosineSchedule())]
