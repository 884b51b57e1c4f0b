"""The modules hints read: the teacher's torch module, paths to modules, their features.

Features are the outputs of the named modules (``named_modules()`` paths),
captured with forward hooks that are always removed (:func:`capture_features`);
a student feature reaches the teacher's shape through a learned adapter
(:func:`build_adapter`).
"""

from __future__ import annotations

import contextlib
import difflib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from skorch import NeuralNet
from torch import nn

from skkd.exceptions import InvalidParameterError
from skkd.teachers._ensembles import class_message


def torch_teacher_module(teacher: Any) -> nn.Module:
    """The torch module of a teacher given with ``hints``: a module or a fitted skorch net.

    Parameters
    ----------
    teacher : object
        The ``teacher`` parameter (a ``FrozenEstimator`` is unwrapped).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    InvalidParameterError
        For any other teacher: its features cannot be captured.
    """
    inner = teacher
    while hasattr(inner, "estimator") and type(inner).__name__ == "FrozenEstimator":
        inner = inner.estimator
    if isinstance(inner, type):
        raise InvalidParameterError(
            f"hints need a torch teacher: {class_message('teacher', inner)}")
    if isinstance(inner, nn.Module):
        return inner
    if isinstance(inner, NeuralNet) and getattr(inner, "initialized_", False):
        return inner.module_
    what = "no teacher" if inner is None else f"a teacher of type {type(inner).__name__}"
    if isinstance(inner, NeuralNet):
        what += " that is not initialized (fit it first)"
    raise InvalidParameterError(
        f"hints need a torch teacher (a fitted torch.nn.Module or skorch net), whose "
        f"intermediate features can be captured by module path; got {what}. Drop hints, or "
        "distil from the teacher's outputs alone."
    )


def resolve_modules(module: nn.Module, paths: Sequence[str], owner: str) -> list[nn.Module]:
    """The submodules of ``module`` named ``paths`` in ``named_modules()``.

    Parameters
    ----------
    module : torch.nn.Module
        The student or the teacher.
    paths : sequence of str
        Module names, as ``named_modules()`` gives them.
    owner : str
        ``"student"`` or ``"teacher"``, for the error message.

    Returns
    -------
    list of torch.nn.Module

    Raises
    ------
    InvalidParameterError
        Naming the first unknown path and the closest existing names.
    """
    named = dict(module.named_modules())
    found = []
    for path in paths:
        if path not in named:
            close = difflib.get_close_matches(path, [n for n in named if n], n=5, cutoff=0.4)
            hint = (f"closest: {', '.join(map(repr, close))}" if close
                    else f"names: {', '.join(repr(n) for n in list(named)[1:11])}")
            raise InvalidParameterError(
                f"hints: the {owner} {type(module).__name__} has no module {path!r} "
                f"(paths are names from named_modules()); {hint}."
            )
        found.append(named[path])
    return found


@contextlib.contextmanager
def capture_features(modules: Sequence[nn.Module]) -> Iterator[list[list[torch.Tensor]]]:
    """Record the outputs of ``modules`` while the block runs; the hooks are always removed.

    Only forward passes run by the thread that entered the block are recorded,
    so a teacher shared by fits in several threads records each fit's own batch.

    Parameters
    ----------
    modules : sequence of torch.nn.Module
        The modules to watch.

    Yields
    ------
    list of list of torch.Tensor
        One list per module, filled with its outputs, one per call, in order.
    """
    owner = threading.get_ident()
    records: list[list[torch.Tensor]] = [[] for _ in modules]
    handles = []

    def recorder(store: list[torch.Tensor]) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if threading.get_ident() == owner:
                store.append(output)
        return hook

    try:
        for module, store in zip(modules, records, strict=True):
            handles.append(module.register_forward_hook(recorder(store)))
        yield records
    finally:
        for handle in handles:
            handle.remove()


def build_adapter(student_shape: Sequence[int], teacher_shape: Sequence[int]) -> nn.Module:
    """The student-side adapter from one feature shape (without batch) to another.

    A 1x1 convolution for ``(C, H, W)`` features whose channels differ, a
    linear layer for ``(D,)`` features whose widths differ, ``nn.Identity``
    when the shapes are equal.

    Parameters
    ----------
    student_shape : sequence of int
        The student feature's shape, without the batch dimension.
    teacher_shape : sequence of int
        The teacher feature's shape, without the batch dimension.

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    ValueError
        When no such adapter maps one shape to the other (different spatial
        sizes or different ranks).
    """
    s, t = tuple(student_shape), tuple(teacher_shape)
    if s == t:
        return nn.Identity()
    if len(s) == len(t) == 3 and s[1:] == t[1:]:
        return nn.Conv2d(s[0], t[0], kernel_size=1)
    if len(s) == len(t) == 1:
        return nn.Linear(s[0], t[0])
    raise ValueError(
        f"no adapter maps a student feature of shape {s} to a teacher feature of shape {t}: "
        "4-D features need the same spatial size (a 1x1 convolution adapts the channels), "
        "2-D features a linear layer; pick layers with matching sizes, or hint_loss='at' "
        "for 4-D features."
    )
