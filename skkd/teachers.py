"""Teacher adapters: turn a fitted model into ``X -> logits`` plus ``classes_``.

Adapters register through :func:`skkd.hookspecs.skkd_register_teachers`;
:func:`as_teacher` tries them in order and the first that accepts wins.
Teachers are read-only: nothing here refits, mutates, moves or changes the
train/eval mode of the wrapped model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from skkd.hookspecs import hookimpl

#: Probabilities are clipped here before taking their log.
PROBA_FLOOR = 1e-12


class Teacher:
    """What skkd asks of a teacher.

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

    def logits(self, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Return ``(n_samples, n_outputs)`` logits for the whole of ``X``."""
        raise NotImplementedError

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        """Return logits for one batch, as a tensor on ``xb``'s device, without gradient."""
        out = self.logits(xb.detach().cpu().numpy(), batch_size=max(len(xb), 1))
        return torch.as_tensor(out, dtype=torch.float32, device=xb.device)


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode and restore every submodule's own mode afterwards."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


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

    def _to_logits(self, out: torch.Tensor) -> torch.Tensor:
        out = out.float()
        if self.outputs == "proba":
            out = out.clamp_min(PROBA_FLOOR).log()
        return out

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        device, dtype = self._device_dtype()
        with eval_mode(self.module), torch.no_grad():
            out = self._to_logits(self.module(xb.to(device=device, dtype=dtype)))
        return out.to(xb.device)

    def logits(self, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        device, dtype = self._device_dtype()
        X_t = torch.as_tensor(np.asarray(X))
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
    at :data:`PROBA_FLOOR`); otherwise ``decision_function`` is used, a
    binary score ``d`` becoming the logits ``(-d/2, d/2)``.
    """

    def logits(self, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        if hasattr(self.model, "predict_proba"):
            proba = np.asarray(self.model.predict_proba(X), dtype=np.float64)
            return np.log(np.clip(proba, PROBA_FLOOR, None)).astype(np.float32)
        scores = np.asarray(self.model.decision_function(X), dtype=np.float32)
        if scores.ndim == 1:
            scores = np.column_stack([-scores / 2, scores / 2])
        return scores


def _skorch_outputs(net: Any) -> str:
    criterion = getattr(net, "criterion_", None) or getattr(net, "criterion", None)
    criterion_cls = criterion if isinstance(criterion, type) else type(criterion)
    return "proba" if issubclass(criterion_cls, torch.nn.NLLLoss) else "logits"


def adapt_frozen(obj: Any) -> Teacher | None:
    """``sklearn.frozen.FrozenEstimator`` around any supported teacher."""
    if isinstance(obj, FrozenEstimator):
        return as_teacher(obj.estimator)
    return None


def adapt_skorch(obj: Any) -> Teacher | None:
    """A fitted skorch ``NeuralNet`` / ``NeuralNetClassifier`` (its ``module_``)."""
    try:
        from skorch import NeuralNet
    except ImportError:  # pragma: no cover - skorch is a dependency
        return None
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
    register("frozen", adapt_frozen)
    register("skorch", adapt_skorch)
    register("torch", adapt_torch)
    register("sklearn", adapt_sklearn)


def as_teacher(obj: Any) -> Teacher:
    """Wrap ``obj`` with the first registered adapter that accepts it.

    Raises
    ------
    TypeError
        If no adapter accepts ``obj``; the message lists the supported kinds.
    """
    from skkd import plugins

    if isinstance(obj, Teacher):
        return obj
    adapters = plugins.teacher_adapters()
    for name, adapter in adapters:
        teacher = adapter(obj)
        if teacher is None:
            continue
        if not isinstance(teacher, Teacher):
            raise TypeError(
                f"Teacher adapter {name!r} of {plugins.describe('teachers', name)} returned "
                f"{type(teacher).__name__}; an adapter must return a skkd.teachers.Teacher "
                "or None."
            )
        return teacher
    supported = "; ".join(
        f"{name}: {(adapter.__doc__ or '').strip().splitlines()[0] if adapter.__doc__ else ''}"
        for name, adapter in adapters
    )
    raise TypeError(
        f"teacher of type {type(obj).__name__} is not supported. Supported teachers: "
        f"{supported}. Pass precomputed outputs as fit(X, y, teacher_logits=...) or "
        "register an adapter through the skkd_register_teachers hook."
    )


def is_unfitted_estimator(obj: Any) -> bool:
    """True for a scikit-learn estimator that has not been fitted yet."""
    if isinstance(obj, torch.nn.Module) or not hasattr(obj, "fit"):
        return False
    if not hasattr(obj, "get_params"):
        return False
    try:
        check_is_fitted(obj)
    except NotFittedError:
        return True
    except TypeError:
        return False
    return False


def fit_teacher_clone(estimator: Any, X: Any, y: Any) -> Any:
    """Fit a clone of an unfitted scikit-learn ``estimator`` on ``(X, y)``."""
    return clone(estimator).fit(X, y)
