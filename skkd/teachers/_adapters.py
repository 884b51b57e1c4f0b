"""Teachers and the built-in teacher adapters: a fitted model -> ``X -> outputs``.

A :class:`Teacher` wraps a model and answers its raw outputs, one column per
output of the model: class scores (logits) for a classifier, predictions in
``y``'s units for a regressor. The built-in adapters (skorch nets, torch
modules, scikit-learn classifiers) register through
:func:`skkd.hookspecs.skkd_register_teachers` like any plugin's. Teachers
are read-only: nothing here refits, mutates, moves or keeps the train/eval
mode of the wrapped model changed, also when several fits share one teacher
from several threads.
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

from skkd._arrays import to_tensor
from skkd.exceptions import TeacherError

#: Probabilities are clipped here before taking their log.
PROBA_FLOOR = 1e-12


class Teacher:
    """What skkd asks of a teacher.

    Subclasses implement :meth:`logits`; :meth:`batch_logits` (one training
    batch, as a tensor) defaults to it. Both answer the model's raw outputs:
    ``DistilledClassifier`` reads them as logits (class scores),
    ``DistilledRegressor`` as predictions in ``y``'s units (the method keeps
    its name for both).

    Parameters
    ----------
    model : object
        The model to query; kept as ``model``, never changed.
    classes : array-like or None, default=None
        The labels of the output columns, e.g. the model's ``classes_``; None
        when the columns follow the student's sorted ``classes_``.

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
        """Return the ``(n_samples, n_outputs)`` outputs for the whole of ``X``.

        Parameters
        ----------
        X : array-like or DataFrame
            The rows, as the user passed them to ``fit``.
        batch_size : int, default=1024
            Rows per forward pass, for models that batch; -1 is one batch.

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
            One column per output of the model: a classifier's logits
            (log-probabilities are logits too), a regressor's predictions in
            ``y``'s units.
        """
        raise NotImplementedError

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        """Return the outputs for one batch, as a tensor on ``xb``'s device, without gradient.

        Used when the teacher is queried on every training batch
        (``teacher_inference="per_batch"``, batch augmentations).

        Parameters
        ----------
        xb : torch.Tensor of shape (batch, n_features)
            The training batch, on the student's device.

        Returns
        -------
        torch.Tensor of shape (batch, n_outputs)
            float32, on ``xb``'s device.
        """
        out = self.logits(xb.detach().cpu().numpy(), batch_size=max(len(xb), 1))
        return to_tensor(out, dtype=torch.float32, device=xb.device)


# One record per module currently held in eval mode by skkd: (users, saved modes).
_EVAL_USERS: dict[int, tuple[int, list[tuple[torch.nn.Module, bool]]]] = {}
_EVAL_LOCK = threading.Lock()


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode and restore every submodule's own mode afterwards.

    Safe when several threads query the same module at once: the first to
    enter saves the modes, the last to leave restores them, so no thread runs
    the module in train mode and no thread restores the wrong modes.

    Parameters
    ----------
    module : torch.nn.Module
        The module to query; its parameters are not touched.

    Yields
    ------
    None
        Inside the ``with`` block, ``module`` and its submodules are in eval mode.
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
    """A torch module returning its outputs: logits (probabilities with ``outputs="proba"``).

    The module runs on the device its parameters live on, in eval mode, with
    no gradient; its previous train/eval mode is restored afterwards.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a batch of rows to ``(batch, n_outputs)`` outputs: a classifier's
        logits (or one binary logit per row), a regressor's predictions.
    classes : array-like or None, default=None
        The labels of the output columns; None: the student's sorted labels.
    outputs : {"logits", "proba"}, default="logits"
        What the module returns; probabilities are clipped at
        :data:`PROBA_FLOOR` and their log is taken.
    model : object or None, default=None
        The object the user passed (e.g. a skorch net around ``module``), kept
        as ``model``; None: ``module`` itself.
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

    def _as_outputs(self, out: Any) -> torch.Tensor:
        if not isinstance(out, torch.Tensor):
            raise TeacherError(
                f"The torch teacher {type(self.module).__name__} returned "
                f"{type(out).__name__}, not a tensor: a teacher must return one tensor of "
                "shape (batch, n_outputs), a classifier's logits or a regressor's "
                "predictions. Wrap it in a module whose forward returns that tensor, or pass "
                "the outputs as fit(..., teacher_logits=...) (teacher_predictions=... for "
                "DistilledRegressor)."
            )
        out = out.float()
        if out.ndim == 1:  # one output per row (a binary logit, or a single prediction)
            out = out[:, None]
        if self.outputs == "proba":
            out = out.clamp_min(PROBA_FLOOR).log()
        return out

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        device, dtype = self._device_dtype()
        with eval_mode(self.module), torch.no_grad():
            out = self._as_outputs(self.module(xb.to(device=device, dtype=dtype)))
        return out.to(xb.device)

    def logits(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        device, dtype = self._device_dtype()
        X_t = to_tensor(X)
        if batch_size < 1:  # skorch's -1: one batch
            batch_size = max(len(X_t), 1)
        chunks = []
        with eval_mode(self.module), torch.inference_mode():
            for start in range(0, len(X_t), batch_size):
                xb = X_t[start : start + batch_size].to(device=device, dtype=dtype)
                chunks.append(self._as_outputs(self.module(xb)).cpu())
        if not chunks:
            return np.empty((0, 0), dtype=np.float32)
        return torch.cat(chunks).numpy()


class SklearnTeacher(Teacher):
    """A fitted scikit-learn classifier (or Pipeline).

    ``predict_proba`` gives log-probabilities as logits (probabilities clipped
    at :data:`PROBA_FLOOR`); otherwise ``decision_function`` is used, a binary
    score being one column (a single binary logit).

    Parameters
    ----------
    model : object
        A fitted scikit-learn classifier or ``Pipeline``.
    classes : array-like or None, default=None
        The model's ``classes_``: the labels of the output columns.
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
    """A fitted skorch ``NeuralNet`` / ``NeuralNetClassifier`` (its ``module_``).

    Parameters
    ----------
    obj : object
        The ``teacher`` given to ``DistilledClassifier``.

    Returns
    -------
    Teacher or None
        A :class:`TorchTeacher` over ``obj.module_`` for a skorch net, or None to let the next
        adapter try.
    """
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
    """A fitted ``torch.nn.Module`` returning logits, one column per class.

    Parameters
    ----------
    obj : object
        The ``teacher`` given to ``DistilledClassifier``.

    Returns
    -------
    Teacher or None
        A :class:`TorchTeacher` for a torch module, or None to let the next
        adapter try.
    """
    return TorchTeacher(obj) if isinstance(obj, torch.nn.Module) else None


def adapt_sklearn(obj: Any) -> Teacher | None:
    """A fitted scikit-learn classifier with ``predict_proba`` or ``decision_function``.

    Parameters
    ----------
    obj : object
        The ``teacher`` given to ``DistilledClassifier``.

    Returns
    -------
    Teacher or None
        A :class:`SklearnTeacher` for such a classifier, or None to let the next
        adapter try.
    """
    if hasattr(obj, "fit") and (
        hasattr(obj, "predict_proba") or hasattr(obj, "decision_function")
    ):
        return SklearnTeacher(obj, classes=getattr(obj, "classes_", None))
    return None
