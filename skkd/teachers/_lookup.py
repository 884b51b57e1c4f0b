"""Which registered teacher adapter serves a model, for both estimators.

:func:`find_teacher` asks the adapters registered through
:func:`skkd.hookspecs.skkd_register_teachers` in turn (plugins' before the
built-ins) and skips a broken one with a :class:`~skkd.exceptions.PluginWarning`.
:func:`as_teacher` is the classifier's question: every classification
teacher goes through the adapters. The regressor asks them only about a
teacher that none of its own rules (``predict``, a torch module) recognises
(:func:`skkd.teachers._regression.predictions`).
"""

from __future__ import annotations

import warnings
from typing import Any

from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator

from skkd._warnings import caller_level
from skkd.exceptions import InvalidParameterError, PluginError, PluginWarning, TeacherError
from skkd.plugins import ALLOW_ENV, allow_list_note, describe, teacher_adapters
from skkd.teachers._adapters import Teacher
from skkd.teachers._ensembles import class_message

__all__ = ["as_teacher", "find_teacher"]


def _unfrozen(obj: Any) -> Any:
    """The model inside any ``FrozenEstimator`` wrappers."""
    while isinstance(obj, FrozenEstimator):
        obj = obj.estimator
    return obj


def find_teacher(obj: Any, outputs_param: str = "teacher_logits") -> Teacher | None:
    """The :class:`Teacher` of the first registered adapter that accepts ``obj``, or None.

    A ``sklearn.frozen.FrozenEstimator`` is the teacher it wraps; a
    :class:`Teacher` is returned as it is. An adapter that raises
    ``NotFittedError`` or :class:`~skkd.exceptions.TeacherError` refuses an
    object it recognises (an unfitted skorch net): that error is raised as it
    is. An adapter that raises anything else, or returns something that is
    not a :class:`Teacher`, is broken: like a broken plugin it is skipped with
    a :class:`~skkd.exceptions.PluginWarning` naming it and its plugin, and
    the next adapters are tried.

    Parameters
    ----------
    obj : object
        A teacher of any kind.
    outputs_param : str, default="teacher_logits"
        The ``fit`` parameter that takes precomputed outputs instead, named in
        the error (``"teacher_predictions"`` for a regressor).

    Returns
    -------
    Teacher or None
        None when no adapter accepts ``obj`` and none is broken.

    Raises
    ------
    skkd.InvalidParameterError
        If ``obj`` is a class, not an instance.
    skkd.PluginError
        If no adapter accepts ``obj`` and a broken adapter was skipped; the
        message names that adapter, its plugin and what it raised.
    """
    if isinstance(obj, Teacher):
        return obj
    obj = _unfrozen(obj)
    if isinstance(obj, type):
        raise InvalidParameterError(class_message("teacher", obj))
    kind = type(obj).__name__
    broken: list[tuple[str, str, BaseException | None]] = []
    for name, adapter in teacher_adapters():
        where = f"Teacher adapter {name!r} of {describe('teachers', name)}"
        try:
            teacher = adapter(obj)
        except (NotFittedError, TeacherError):
            raise  # the adapter's own verdict on an object it knows
        except Exception as exc:
            broken.append((where, f"raised {type(exc).__name__}: {exc}", exc))
        else:
            if teacher is None:
                continue
            if isinstance(teacher, Teacher):
                return teacher
            broken.append((where, f"returned {type(teacher).__name__}; an adapter must "
                                  "return a skkd.teachers.Teacher or None", None))
        warnings.warn(
            f"{where} {broken[-1][1]} (on a teacher of type {kind}). skkd skipped it and "
            "tries the other adapters; fix or uninstall that plugin, or leave it out with "
            f"{ALLOW_ENV}.", PluginWarning, stacklevel=caller_level(),
        )
    if broken:
        where, what, exc = broken[0]
        raise PluginError(
            f"{where} {what} (on a teacher of type {kind}), and no other teacher adapter "
            f"accepts a {kind}. Fix or uninstall that plugin, or pass the teacher's outputs "
            f"as fit(X, y, {outputs_param}=...)."
        ) from exc
    return None


def as_teacher(obj: Any) -> Teacher:
    """Wrap ``obj`` with the first registered adapter that accepts it.

    A ``sklearn.frozen.FrozenEstimator`` is the teacher it wraps. An adapter
    that raises ``NotFittedError`` or :class:`~skkd.exceptions.TeacherError`
    refuses an object it recognises (an unfitted skorch net): that error is
    raised as it is. An adapter that raises anything else, or returns
    something that is not a :class:`Teacher`, is broken: like a broken plugin
    it is skipped with a :class:`~skkd.exceptions.PluginWarning` naming it
    and its plugin, and the next adapters are tried.

    Parameters
    ----------
    obj : object
        A teacher of any supported kind, or a :class:`Teacher` (returned as it is).

    Returns
    -------
    Teacher
        What the first accepting adapter returned.

    Raises
    ------
    TypeError
        If no adapter accepts ``obj``; the message lists the supported kinds.
        :class:`~skkd.exceptions.InvalidParameterError` (a ``TypeError``) if
        ``obj`` is a class, not an instance.
    skkd.PluginError
        If no adapter accepts ``obj`` and a broken adapter was skipped; the
        message names that adapter, its plugin and what it raised.
    """
    teacher = find_teacher(obj)
    if teacher is not None:
        return teacher
    supported = "; ".join(
        f"{name}: {(adapter.__doc__ or '').strip().splitlines()[0] if adapter.__doc__ else ''}"
        for name, adapter in teacher_adapters()
    )
    raise TypeError(
        f"teacher of type {type(_unfrozen(obj)).__name__} is not supported. Supported teachers: "
        f"{supported}; or a sklearn.frozen.FrozenEstimator around one, or a list or "
        "EnsembleTeacher of them. Pass precomputed outputs as fit(X, y, teacher_logits=...) "
        "or register an adapter through the skkd_register_teachers hook."
        + allow_list_note()
    )
