"""The hint plan: which student and teacher modules, the loss, the features cached or not.

:class:`HintPlan` is what the estimator hands its net: the (student path,
teacher path) pairs, the hint loss and its options, the teacher, and the
feature shapes probed once (:func:`probe_shapes`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from skkd._arrays import to_tensor
from skkd.exceptions import InvalidParameterError
from skkd.hints._modules import build_adapter, capture_features, resolve_modules
from skkd.teachers._adapters import TorchTeacher, eval_mode

#: Teacher features of the training rows are computed once and kept in memory
#: when they take at most this many bytes (float32); otherwise the teacher runs
#: on every training batch.
HINT_CACHE_BYTES = 2**30




@dataclass
class HintPlan:
    """What the net needs to add the hint term: paths, loss, shapes and the teacher.

    Parameters
    ----------
    hints : list of (str, str)
        ``(student path, teacher path)`` pairs.
    loss : callable
        ``fn(student_feature, teacher_feature, **options) -> scalar``.
    loss_name : str
        For error messages.
    options : dict
        The ``hint_loss__*`` parameters.
    weight : float
        ``hint_weight``.
    teacher : TorchTeacher or None
        The teacher's module, run per batch when its features are not cached;
        None in a copy made by ``without_teacher()``.
    shapes : list of (tuple, tuple)
        Per hint, the student's and the teacher's feature shape (without batch).
    """

    hints: list[tuple[str, str]]
    loss: Callable[..., Any]
    loss_name: str
    options: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    teacher: TorchTeacher | None = None
    shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def adapts(self) -> bool:
        """Whether the loss wants student features adapted to the teacher's shape."""
        return bool(getattr(self.loss, "adapter", True))

    def build_adapters(self) -> nn.ModuleList:
        """One adapter per hint (``nn.Identity`` where none is needed)."""
        if not self.adapts:
            return nn.ModuleList(nn.Identity() for _ in self.shapes)
        return nn.ModuleList(build_adapter(s, t) for s, t in self.shapes)

    def row_bytes(self) -> int:
        """float32 bytes of the teacher features of one row."""
        return 4 * sum(int(np.prod(t)) for _, t in self.shapes)

    def student_modules(self, student: nn.Module) -> list[nn.Module]:
        return resolve_modules(student, [s for s, _ in self.hints], "student")

    def teacher_modules(self) -> list[nn.Module]:
        if self.teacher is None:
            raise RuntimeError("This hinted net has no teacher (a without_teacher() copy?).")
        return resolve_modules(self.teacher.module, [t for _, t in self.hints], "teacher")

    def teacher_features(self, xb: torch.Tensor) -> list[torch.Tensor]:
        """The teacher's features on one batch, on ``xb``'s device, without gradient.

        The teacher runs in eval mode (its own modes restored afterwards), with
        no gradient; nothing of it changes.

        Parameters
        ----------
        xb : torch.Tensor
            A batch of rows.

        Returns
        -------
        list of torch.Tensor
            One feature per hint.
        """
        assert self.teacher is not None
        module = self.teacher.module
        device, dtype = self.teacher._device_dtype()
        modules = self.teacher_modules()
        with capture_features(modules) as records, eval_mode(module), torch.no_grad():
            module(xb.to(device=device, dtype=dtype))
        for hint, m, r in zip(self.hints, modules, records, strict=True):
            check_recorded("teacher", hint, m, r)
        return [r[-1].to(xb.device) for r in records]

    def all_teacher_features(self, X: np.ndarray, batch_size: int) -> list[np.ndarray]:
        """The teacher's features on every row of ``X``, as float32 arrays (the cache).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The rows.
        batch_size : int
            Rows per teacher pass; below 1, one pass over all rows.

        Returns
        -------
        list of ndarray
            One array per hint, ``n_samples`` features each.
        """
        chunks: list[list[np.ndarray]] = [[] for _ in self.hints]
        step = len(X) if batch_size < 1 else batch_size
        for start in range(0, len(X), max(step, 1)):
            feats = self.teacher_features(to_tensor(X[start : start + step]))
            for store, f in zip(chunks, feats, strict=True):
                store.append(f.float().cpu().numpy())
        return [np.concatenate(c) for c in chunks]

    def recorded_features(self, records: list[list[torch.Tensor]],
                          n_rows: int) -> list[np.ndarray] | None:
        """The cache from features recorded during one teacher pass over ``n_rows`` rows.

        ``records`` come from :func:`capture_features` on :meth:`teacher_modules`.
        None when they do not hold exactly one feature per row (the teacher
        did not run: no soft term, or ``teacher_logits`` given to ``fit``); then
        :meth:`all_teacher_features` makes the cache.

        Parameters
        ----------
        records : list of list of torch.Tensor
            Per hint, the features recorded batch by batch.
        n_rows : int
            The number of rows of the pass.

        Returns
        -------
        list of ndarray or None
        """
        if any(not all(isinstance(f, torch.Tensor) for f in r)
               or sum(len(f) for f in r) != n_rows for r in records):
            return None
        return [np.concatenate([f.float().cpu().numpy() for f in r]) for r in records]

    def term(self, student_feats: list[torch.Tensor], teacher_feats: list[Any],
             adapters: nn.ModuleList) -> torch.Tensor:
        """``weight * sum(loss(adapter(s), t))`` over the hints.

        Parameters
        ----------
        student_feats : list of torch.Tensor
            The student's features of the batch, one per hint.
        teacher_feats : list of torch.Tensor or ndarray
            The teacher's features of the same rows, one per hint.
        adapters : torch.nn.ModuleList
            One adapter per hint (:meth:`build_adapters`).

        Returns
        -------
        torch.Tensor
            A scalar.
        """
        total = None
        for (s_path, t_path), s, t, adapter in zip(self.hints, student_feats, teacher_feats,
                                                   adapters, strict=True):
            t = to_tensor(t, device=s.device, dtype=s.dtype)
            value = self.loss(adapter(s), t, **self.options)
            if not isinstance(value, torch.Tensor) or value.ndim != 0:
                raise ValueError(
                    f"hint loss {self.loss_name!r} returned "
                    f"{tuple(value.shape) if isinstance(value, torch.Tensor) else value!r} for "
                    f"hint ({s_path!r}, {t_path!r}); a hint loss must return a scalar tensor."
                )
            total = value if total is None else total + value
        assert total is not None
        return self.weight * total


def _ran_more_than_once(owner: str, path: str, times: int) -> str:
    return (f"hints: the {owner} module {path!r} ran {times} times in one forward pass (a "
            "module used in several places), so which of its outputs to distil is "
            "ambiguous; name a module that runs once per forward pass (for a shared "
            "activation, the layer it follows).")


def check_recorded(owner: str, hint: tuple[str, str], module: nn.Module,
                   record: list[Any]) -> None:
    """Check what one forward pass recorded for a hinted module: one tensor.

    Parameters
    ----------
    owner : {"student", "teacher"}
        Whose module it is.
    hint : (str, str)
        The ``(student path, teacher path)`` pair of ``hints``.
    module : torch.nn.Module
        The module the path names.
    record : list
        Its outputs in the pass (from :func:`capture_features`).

    Raises
    ------
    InvalidParameterError
        When the module did not run, ran more than once, or returned
        something other than a tensor (a tuple, say); the message names the
        pair and the path, and what to name instead.
    """
    path = hint[0] if owner == "student" else hint[1]
    where = (f"hints ({hint[0]!r}, {hint[1]!r}): the {owner} module {path!r} "
             f"({type(module).__name__})")
    if not record:
        raise InvalidParameterError(
            f"{where} did not run in the {owner}'s forward pass, so it has no feature to "
            f"distil (a module that forward() never calls, e.g. an unused layer); name a "
            f"module the {owner}'s forward() runs."
        )
    if len(record) > 1:
        raise InvalidParameterError(_ran_more_than_once(owner, path, len(record)))
    if not isinstance(record[-1], torch.Tensor):
        raise InvalidParameterError(
            f"{where} returns a {type(record[-1]).__name__}, not a tensor, so there is no one "
            "feature to distil; name a submodule that returns a single tensor, or wrap the "
            "module in one whose forward returns the tensor to distil (for an LSTM, the "
            "first element of its (output, (h, c)))."
        )


def probe_shapes(plan: HintPlan, student: nn.Module, rows: np.ndarray) -> None:
    """Fill ``plan.shapes`` by running both models on a few rows; check they fit the loss.

    The student runs in eval mode without gradient (its modes restored); so
    does the teacher. Raises ``InvalidParameterError`` for a pair no adapter
    (or the loss) can compare.
    """
    xb = to_tensor(rows)
    device = next((p.device for p in student.parameters()), torch.device("cpu"))
    s_modules = plan.student_modules(student)
    with capture_features(s_modules) as records, eval_mode(student), torch.no_grad():
        student(xb.to(device))
    t_feats = plan.teacher_features(xb)
    plan.shapes = []
    for (s_path, t_path), module, rec, t in zip(plan.hints, s_modules, records, t_feats,
                                                strict=True):
        check_recorded("student", (s_path, t_path), module, rec)
        s_shape, t_shape = tuple(rec[-1].shape[1:]), tuple(t.shape[1:])
        try:
            if plan.adapts:
                build_adapter(s_shape, t_shape)
            else:
                plan.loss(rec[-1], t, **plan.options)
        except ValueError as exc:
            raise InvalidParameterError(
                f"hints ({s_path!r}, {t_path!r}) with hint_loss={plan.loss_name!r}: {exc}"
            ) from exc
        plan.shapes.append((s_shape, t_shape))
