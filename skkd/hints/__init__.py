"""Feature distillation ("hints"): the student learns the teacher's intermediate features.

``DistilledClassifier(hints=[("student.path", "teacher.path"), ...])`` adds
``hint_weight * sum(hint_loss(student_feature, teacher_feature))`` to the
distillation loss. Paths are names from ``named_modules()``; features are the
outputs of those modules, captured with forward hooks that are always removed
(:func:`capture_features`). The built-in hint losses (:func:`fitnets`,
:func:`attention_transfer`) register here through
:func:`skkd.hookspecs.skkd_register_hint_losses`; :class:`HintPlan` is what
the estimator hands its net.
"""

from __future__ import annotations

from skkd.hints._losses import attention_map, attention_transfer, fitnets
from skkd.hints._modules import (
    build_adapter,
    capture_features,
    resolve_modules,
    torch_teacher_module,
)
from skkd.hints._plan import HINT_CACHE_BYTES, HintPlan
from skkd.hookspecs import hookimpl

__all__ = [
    "HINT_CACHE_BYTES", "HintPlan", "attention_map", "attention_transfer", "build_adapter",
    "capture_features", "fitnets", "resolve_modules", "torch_teacher_module",
]


@hookimpl
def skkd_register_hint_losses(register):
    register("fitnets", fitnets)
    register("at", attention_transfer)
