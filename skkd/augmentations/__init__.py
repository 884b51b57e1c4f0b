"""Built-in augmentations and transfer-data generators, registered through the hooks.

``DistilledClassifier(augment="shift", augment__max_shift=2)`` picks one by
name; ``augment__*`` parameters reach its factory. Two kinds of work (see
:func:`skkd.hookspecs.skkd_register_augmentations`):

- a *transfer set* is generated once per fit and labelled once by the
  teacher (``"munge"``, for tabular rows: cheap with slow scikit-learn
  teachers), or, with ``fresh = True`` (``augment__fresh=True``), drawn anew
  and labelled in one batched teacher call at the start of every epoch
  ("function matching", Beyer et al. 2022);
- a *batch augmentation* makes a new batch from every training batch, and the
  teacher is queried on the very batch the student sees ("consistent
  teaching", Beyer et al. 2022) (``"shift"`` for images, ``"mixup"``).
"""

from __future__ import annotations

from skkd.augmentations._builtins import Mixup, Munge, Shift, available_memory
from skkd.hookspecs import hookimpl

__all__ = ["Mixup", "Munge", "Shift", "available_memory"]


@hookimpl
def skkd_register_augmentations(register):
    register("munge", Munge)
    register("shift", Shift)
    register("mixup", Mixup)
