"""skkd: knowledge distillation as a scikit-learn estimator.

``import skkd`` is cheap: only ``__version__`` and :data:`hookimpl` (pluggy)
load at once; the estimator (torch, skorch, scikit-learn), the plugin registry
and the exceptions load on first access (PEP 562), so ``skkd --help`` and a
plugin's ``from skkd import hookimpl`` do not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from skkd._version import __version__
from skkd.hookspecs import hookimpl  # pluggy only

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from skkd.estimators import DistilledClassifier, DistilledRegressor
    from skkd.exceptions import (
        InvalidParameterError,
        LossError,
        PluginError,
        PluginWarning,
        SampleWeightIgnoredWarning,
        StudentError,
        StudentFileError,
        TeacherError,
        TeacherNearChanceWarning,
        TeacherNearMeanWarning,
    )
    from skkd.persistence import load_student, save_student
    from skkd.plugins import list_plugins
    from skkd.teachers import EnsembleTeacher, teacher_logits

_LAZY = {
    "DistilledClassifier": "skkd.estimators",
    "DistilledRegressor": "skkd.estimators",
    "EnsembleTeacher": "skkd.teachers",
    "teacher_logits": "skkd.teachers",
    "list_plugins": "skkd.plugins",
    "save_student": "skkd.persistence",
    "load_student": "skkd.persistence",
    "InvalidParameterError": "skkd.exceptions",
    "PluginError": "skkd.exceptions",
    "PluginWarning": "skkd.exceptions",
    "TeacherError": "skkd.exceptions",
    "StudentError": "skkd.exceptions",
    "StudentFileError": "skkd.exceptions",
    "LossError": "skkd.exceptions",
    "TeacherNearChanceWarning": "skkd.exceptions",
    "TeacherNearMeanWarning": "skkd.exceptions",
    "SampleWeightIgnoredWarning": "skkd.exceptions",
}

__all__ = [
    "DistilledClassifier",
    "DistilledRegressor",
    "EnsembleTeacher",
    "teacher_logits",
    "hookimpl",
    "list_plugins",
    "save_student",
    "load_student",
    "__version__",
    "InvalidParameterError",
    "PluginError",
    "PluginWarning",
    "TeacherError",
    "StudentError",
    "StudentFileError",
    "LossError",
    "TeacherNearChanceWarning",
    "TeacherNearMeanWarning",
    "SampleWeightIgnoredWarning",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'skkd' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
