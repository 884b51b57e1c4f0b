"""Teachers and the built-in teacher adapters: a fitted model -> ``X -> logits``.

A :class:`Teacher` wraps a model and answers logits, one column per output of
the model. The built-in adapters (skorch nets, torch modules, scikit-learn
classifiers) register through :func:`skkd.hookspecs.skkd_register_teachers`
like any plugin's. Teachers are read-only: nothing here refits, mutates,
moves or keeps the train/eval mode of the wrapped model changed, also when
several fits share one teacher from several threads.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from skorch import NeuralNet

from skkd.exceptions import TeacherError
from skkd.hookspecs import hookimpl

#: Probabilities are clipped here before taking their log.
PROBA_FLOOR = 1e-12


class Teacher:
    """What skkd asks of a teacher.

    Subclasses implement :meth:`logits`; :meth:`batch_logits` (one training
    batch, as a tensor) defaults to it.

    Attributes
    ----------
    model : object
        The wrapped model, untouched.
    classes_ : ndarray or None
        The labels of the output columns, or None when the columns are
        assumed to follow the student's sorted ``classes_``.
    """

    def __init__(self, model: Any, classes: Any = None) -> None:
        self.model = model
        self.classes_ = None if classes is None else np.asarray(classes)

    def logits(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Return ``(n_samples, n_outputs)`` logits for the whole of ``X``."""
        raise NotImplementedError

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        """Return logits for one batch, as a tensor on ``xb``'s device, without gradient."""
        out = self.logits(xb.detach().cpu().numpy(), batch_size=max(len(xb), 1))
        return torch.as_tensor(np.asarray(out), dtype=torch.float32, device=xb.device)


# One record per module currently held in eval mode by skkd: (users, saved modes).
_EVAL_USERS: dict[int, tuple[int, list[tuple[torch.nn.Module, bool]]]] = {}
_EVAL_LOCK = threading.Lock()


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode and restore every submodule's own mode afterwards.

    Safe when several threads query the same module at once: the first to
    enter saves the modes, the last to leave restores them, so no thread runs
    the module in train mode and no thread restores the wrong modes.
    """
    key = id(module)
    with _EVAL_LOCK:
        users, modes = _EVAL_USERS.get(key, (0, []))
        if users == 0:
            modes = [(m, m.training) for m in module.modules()]
            module.eval()
        _EVAL_USERS[key] = (users + 1, modes)
    try:
        yield
    finally:
        with _EVAL_LOCK:
            users, modes = _EVAL_USERS[key]
            if users == 1:
                del _EVAL_USERS[key]
                for m, training in modes:
                    m.training = training
            else:
                _EVAL_USERS[key] = (users - 1, modes)


class TorchTeacher(Teacher):
    """A torch module returning logits (or probabilities, with ``outputs="proba"``).

    The module runs on the device its parameters live on, in eval mode, with
    no gradient; its previous train/eval mode is restored afterwards.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        classes: Any = None,
        outputs: str = "logits",
        model: Any = None,
    ) -> None:
        super().__init__(module if model is None else model, classes)
        self.module = module
        self.outputs = outputs

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        for p in self.module.parameters():
            return p.device, p.dtype if p.is_floating_point() else torch.float32
        return torch.device("cpu"), torch.float32

    def _to_logits(self, out: Any) -> torch.Tensor:
        if not isinstance(out, torch.Tensor):
            raise TeacherError(
                f"The torch teacher {type(self.module).__name__} returned "
                f"{type(out).__name__}, not a tensor: a teacher must return one logits "
                "tensor of shape (batch, n_classes). Wrap it in a module whose forward "
                "returns the logits, or pass fit(..., teacher_logits=...)."
            )
        out = out.float()
        if out.ndim == 1:  # one binary logit per row
            out = out[:, None]
        if self.outputs == "proba":
            out = out.clamp_min(PROBA_FLOOR).log()
        return out

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        device, dtype = self._device_dtype()
        with eval_mode(self.module), torch.no_grad():
            out = self._to_logits(self.module(xb.to(device=device, dtype=dtype)))
        return out.to(xb.device)

    def logits(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        device, dtype = self._device_dtype()
        X_t = torch.as_tensor(np.asarray(X))
        if batch_size < 1:  # skorch's -1: one batch
            batch_size = max(len(X_t), 1)
        chunks = []
        with eval_mode(self.module), torch.inference_mode():
            for start in range(0, len(X_t), batch_size):
                xb = X_t[start : start + batch_size].to(device=device, dtype=dtype)
                chunks.append(self._to_logits(self.module(xb)).cpu())
        if not chunks:
            return np.empty((0, 0), dtype=np.float32)
        return torch.cat(chunks).numpy()


class SklearnTeacher(Teacher):
    """A fitted scikit-learn classifier (or Pipeline).

    ``predict_proba`` gives log-probabilities as logits (probabilities clipped
    at :data:`PROBA_FLOOR`); otherwise ``decision_function`` is used, a binary
    score being one column (a single binary logit).
    """

    def logits(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        if hasattr(self.model, "predict_proba"):
            proba = np.asarray(self.model.predict_proba(X), dtype=np.float64)
            return np.log(np.clip(proba, PROBA_FLOOR, None)).astype(np.float32)
        scores = np.asarray(self.model.decision_function(X), dtype=np.float32)
        return scores[:, None] if scores.ndim == 1 else scores


def _skorch_outputs(net: Any) -> str:
    criterion = getattr(net, "criterion_", None) or getattr(net, "criterion", None)
    criterion_cls = criterion if isinstance(criterion, type) else type(criterion)
    return "proba" if issubclass(criterion_cls, torch.nn.NLLLoss) else "logits"


def adapt_skorch(obj: Any) -> Teacher | None:
    """A fitted skorch ``NeuralNet`` / ``NeuralNetClassifier`` (its ``module_``)."""
    if not isinstance(obj, NeuralNet):
        return None
    if not getattr(obj, "initialized_", False):
        raise NotFittedError(
            f"The skorch teacher {type(obj).__name__} is not initialized: fit it "
            "(or call .initialize() and load its weights) before distilling from it."
        )
    try:
        classes = obj.classes_
    except AttributeError:
        classes = None
    return TorchTeacher(obj.module_, classes=classes, outputs=_skorch_outputs(obj), model=obj)


def adapt_torch(obj: Any) -> Teacher | None:
    """A fitted ``torch.nn.Module`` returning logits, one column per class."""
    return TorchTeacher(obj) if isinstance(obj, torch.nn.Module) else None


def adapt_sklearn(obj: Any) -> Teacher | None:
    """A fitted scikit-learn classifier with ``predict_proba`` or ``decision_function``."""
    if hasattr(obj, "fit") and (
        hasattr(obj, "predict_proba") or hasattr(obj, "decision_function")
    ):
        return SklearnTeacher(obj, classes=getattr(obj, "classes_", None))
    return None


@hookimpl
def skkd_register_teachers(register):
    register("skorch", adapt_skorch)
    register("torch", adapt_torch)
    register("sklearn", adapt_sklearn)
