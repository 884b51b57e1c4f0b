"""Save a fitted student as tensors and plain data, and load it without running the file's code.

A pickle (``pickle``, ``joblib``) rebuilds objects by calling what the file
names, so loading one runs any code it holds. :func:`save_student` writes
instead, with ``torch.save``, the student's weights (``state_dict``) and plain
values only: the fitted attributes (``classes_`` or ``target_mean_`` and
``target_scale_``, ``n_features_in_``, ``feature_names_in_``, ``encoding_``,
...), the estimator's class by name, the parameters that are plain
values, the student module by its registered name, and the training history.
:func:`load_student` reads them with ``torch.load(weights_only=True)``, which
builds tensors and plain Python values and nothing else, then rebuilds the
estimator from skkd's own code: a fitted ``DistilledClassifier`` or
``DistilledRegressor`` without a teacher that predicts exactly as
``without_teacher()`` does and exports to ONNX.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections import OrderedDict
from typing import IO, Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from skkd._version import __version__
from skkd.estimator import DistilledClassifier
from skkd.params import validate_parameters
from skkd.regressor import DistilledRegressor
from skkd.seeding import RandomState, forked_cpu_rng

#: The ``format`` entry of a student file.
FORMAT = "skkd.student"

#: The newest file layout this skkd writes and reads. Version 2 added the
#: ``estimator`` entry and regressors; a classifier's file is still written as
#: version 1, which older skkd reads (a file without ``estimator`` is a classifier's).
FORMAT_VERSION = 2

#: The estimators a student file holds, by the name its ``estimator`` entry gives.
_ESTIMATORS: dict[str, type] = {cls.__name__: cls
                                for cls in (DistilledClassifier, DistilledRegressor)}

_ARRAY_TAG = "__ndarray__"
_DROPPED = object()  # what _plain_parts leaves out

# Fitted attributes rebuilt rather than stored: the net from the weights, the
# teacher never kept.
_REBUILT = ("net_", "history_", "teacher_")


class _NotPlainError(Exception):
    """A value that ``torch.load(weights_only=True)`` could not rebuild."""


def _plain(value: Any) -> Any:
    """``value`` as tensors and plain Python values, arrays tagged; else :class:`_NotPlainError`."""
    if isinstance(value, np.generic):
        return value.item()
    if value is None or type(value) in (bool, int, float, str, bytes):
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, torch.device):
        return str(value)
    if type(value) in (list, tuple):
        return type(value)(_plain(v) for v in value)
    if type(value) in (dict, OrderedDict):  # a state_dict is an OrderedDict
        return type(value)((_plain(k), _plain(v)) for k, v in value.items())
    if isinstance(value, np.ndarray) and (value.dtype.kind in "biufUS" or (
            value.dtype.kind == "O" and value.ndim == 1)):
        return {_ARRAY_TAG: [_plain(v) for v in value.tolist()] if value.dtype.kind == "O"
                else value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
    raise _NotPlainError(type(value).__name__)


def _unplain(value: Any) -> Any:
    """The inverse of :func:`_plain`."""
    if type(value) is dict and _ARRAY_TAG in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind == "O":
            array = np.empty(len(value[_ARRAY_TAG]), dtype=object)
            array[:] = [_unplain(v) for v in value[_ARRAY_TAG]]
            return array
        return np.array(value[_ARRAY_TAG], dtype=dtype).reshape(value["shape"])
    if type(value) in (dict, OrderedDict):
        return type(value)((k, _unplain(v)) for k, v in value.items())
    if type(value) in (list, tuple):
        return type(value)(_unplain(v) for v in value)
    return value


def _plain_parts(value: Any) -> Any:
    """What of ``value`` is plain: entries of dicts and lists that are not are left out."""
    if type(value) is dict or isinstance(value, list):  # skorch's History is a list
        items = value.items() if type(value) is dict else enumerate(value)
        kept = {k: _plain_parts(v) for k, v in items}
        kept = {k: v for k, v in kept.items() if v is not _DROPPED}
        return kept if type(value) is dict else list(kept.values())
    try:
        return _plain(value)
    except _NotPlainError:
        return _DROPPED


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def save_student(estimator: DistilledClassifier | DistilledRegressor,
                 path: str | os.PathLike | IO[bytes]) -> None:
    """Write a fitted student as tensors and plain data, for :func:`load_student`.

    The file holds the student's weights, its fitted attributes, the
    parameters that are plain values (numbers, strings, lists of them,
    ``module__*`` options, ...), the optimizer when it is a ``torch.optim``
    class, and the training history; never the teacher. Parameters that are
    other Python objects (callbacks, ``train_split``, a callable ``loss``, a
    ``RandomState``, ...) cannot be stored as data: a loaded student has their
    defaults. The student's predictions do not depend on them.

    A student whose ``module`` is a registered name (``"mlp"``, a plugin's)
    loads anywhere skkd (and that plugin) is installed. A ``module`` given as
    a class or an instance is saved by name only, since the file holds no
    code: :func:`load_student` then needs that class (or an instance built
    like it) passed as ``module``.

    Parameters
    ----------
    estimator : DistilledClassifier or DistilledRegressor
        Fitted; its teacher is left out.
    path : str, path-like or binary file
        Where to write (``torch.save``'s zip format).

    Raises
    ------
    TypeError
        If ``estimator`` is not a ``DistilledClassifier`` or a
        ``DistilledRegressor`` (a ``Pipeline``, a subclass).
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    ValueError
        If a fitted attribute or the student's state is not plain data; the
        message names it.

    Examples
    --------
    >>> import io
    >>> from sklearn.datasets import load_digits
    >>> from skkd import DistilledClassifier, load_student, save_student
    >>> X, y = load_digits(return_X_y=True)
    >>> student = DistilledClassifier(max_epochs=1, random_state=0).fit(X / 16, y)
    >>> buffer = io.BytesIO()
    >>> save_student(student, buffer)
    >>> _ = buffer.seek(0)
    >>> loaded = load_student(buffer)
    >>> bool((loaded.predict_proba(X / 16) == student.predict_proba(X / 16)).all())
    True
    """
    if type(estimator) not in _ESTIMATORS.values():
        raise TypeError(
            f"save_student saves a fitted DistilledClassifier or DistilledRegressor; got "
            f"{type(estimator).__name__}. "
            "For a Pipeline, save its last step with save_student and the steps before it "
            "with their own format (skops.io writes scikit-learn transformers safely), or "
            "export the whole pipeline to ONNX (skkd.export.to_onnx)."
        )
    check_is_fitted(estimator, "net_")
    module = estimator.module
    if isinstance(module, str):
        spec = {"kind": "name", "name": module}
    elif isinstance(module, type):
        spec = {"kind": "class", "name": _qualified(module)}
    else:
        spec = {"kind": "instance", "name": _qualified(type(module))}

    params, reset = {}, []
    optimizer = None
    for name, value in estimator.get_params(deep=False).items():
        if name in ("teacher", "module"):
            continue
        if name == "optimizer":
            if (isinstance(value, type) and getattr(torch.optim, value.__name__, None)
                    is value):
                optimizer = value.__name__
            else:
                reset.append(name)
            continue
        try:
            params[name] = _plain(value)
        except _NotPlainError:
            reset.append(name)

    fitted = {}
    for name, value in vars(estimator).items():
        is_fitted = name.endswith("_") and not name.startswith("_")
        if not (is_fitted or name == "_torch_random_state") or name in _REBUILT:
            continue
        try:
            fitted[name] = _plain(value)
        except _NotPlainError as exc:
            raise ValueError(
                f"save_student stores plain data only, and the fitted attribute {name} holds a "
                f"{exc}. Keep the student with pickle (trusted files only), or export it to "
                "ONNX."
            ) from None
    try:
        state = _plain(estimator.net_.module_.state_dict())
    except _NotPlainError as exc:
        raise ValueError(
            f"The student module {type(estimator.net_.module_).__name__}'s state_dict holds a "
            f"{exc} (extra state), which save_student cannot store as plain data."
        ) from None
    regressor = type(estimator) is DistilledRegressor
    torch.save({
        "format": FORMAT,
        "version": 2 if regressor else 1,  # the oldest layout that holds this estimator
        "estimator": type(estimator).__name__,
        "skkd_version": __version__,
        "torch_version": str(torch.__version__),
        "module": spec,
        "params": params,
        "optimizer": optimizer,
        "reset": reset,
        "fitted": fitted,
        "state_dict": state,
        "history": _plain_parts(estimator.net_.history),
    }, path)


def _read(path: Any) -> dict[str, Any]:
    """The student file's content, read without running code from it."""
    try:
        with warnings.catch_warnings():  # a plain pickle is refused below; no need to warn
            warnings.filterwarnings("ignore", "Detected pickle protocol")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        # torch's message opens with advice on loading the file unsafely; the cause is below
        causes = [line for line in lines if "error:" in line.lower()] or lines or [""]
        reason = causes[0].split(". Please use")[0]
        raise ValueError(
            f"{path} holds objects other than tensors and plain data, so it is not a student "
            f"file written by skkd.save_student; it was not loaded (torch.load with "
            f"weights_only=True refused it: {reason}). A pickle runs any code it holds: open "
            "it with joblib or pickle only if you trust where it came from."
        ) from None
    except (RuntimeError, OSError, EOFError) as exc:
        raise ValueError(
            f"{path} is not a student file written by skkd.save_student (torch.load cannot "
            f"read it: {type(exc).__name__}: {str(exc).strip().splitlines()[0]})."
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(
            f"{path} is a torch file but not a student file written by skkd.save_student "
            f"(it has no format entry {FORMAT!r})."
        )
    if not isinstance(data.get("version"), int) or data["version"] > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by skkd {data.get('skkd_version')} in student-file version "
            f"{data.get('version')}; this skkd {__version__} reads version {FORMAT_VERSION} "
            "at most. Upgrade skkd to load it."
        )
    return data


def _module_value(spec: dict[str, Any], module: Any, path: Any) -> Any:
    """The ``module`` parameter of the rebuilt estimator."""
    kind, name = spec.get("kind"), spec.get("name")
    if kind == "name":
        if module is not None:
            raise ValueError(
                f"{path} names its student module, {name!r} (a registered model); do not "
                "pass module to load_student."
            )
        return name
    if kind not in ("class", "instance") or not isinstance(name, str):
        raise ValueError(f"{path}: its module entry {spec!r} is not one save_student writes.")
    short = name.rpartition(".")[2]
    if kind == "class":
        if not (isinstance(module, type) and issubclass(module, torch.nn.Module)):
            raise ValueError(
                f"{path} holds a student whose module was the class {name}, and a student "
                f"file holds no code: pass that class, load_student(path, module={short})."
            )
        given = module
    else:
        if not isinstance(module, torch.nn.Module):
            raise ValueError(
                f"{path} holds a student whose module was an instance of {name}, and a "
                f"student file holds no code: pass an instance built like it, "
                f"load_student(path, module={short}(...)); the file's weights replace its own."
            )
        given = type(module)
    if given.__qualname__ != name.rpartition(".")[2]:
        raise ValueError(
            f"{path} holds a student whose module was {name}; the module passed to "
            f"load_student is {_qualified(given)}. Pass {short}."
        )
    return module


def load_student(path: str | os.PathLike | IO[bytes], *, module: Any = None,
                 device: str | None = None) -> DistilledClassifier | DistilledRegressor:
    """Read a file of :func:`save_student`; no code from the file runs.

    The file is read with ``torch.load(weights_only=True)`` (tensors and plain
    values only) and the estimator rebuilt from skkd's code: a fitted
    ``DistilledClassifier`` or ``DistilledRegressor`` (the one saved) with no
    teacher whose ``predict`` (and a classifier's ``predict_proba``) are
    exactly those of the saved student's ``without_teacher()``, that exports
    to ONNX, and that continues training with ``warm_start=True`` (a fresh
    optimizer, as a slim copy's).

    Parameters
    ----------
    path : str, path-like or binary file
        A file written by :func:`save_student`.
    module : torch.nn.Module class or instance, default=None
        Only for a student whose ``module`` was a class (pass that class) or
        an instance (pass an instance of the same architecture; the file's
        weights replace its own): the file names it but holds no code, and
        nothing is imported by name. Its class name must be the saved one.
    device : str or None, default=None
        The student's device; None keeps the saved one (``"cpu"`` loads a
        student trained on a GPU where there is none).

    Returns
    -------
    DistilledClassifier or DistilledRegressor
        Fitted, without a teacher. Parameters that were not plain values
        (see :func:`save_student`) have their defaults.

    Raises
    ------
    ValueError
        If the file is not a student file (a pickle among them: it is not
        unpickled), was written by a newer skkd, needs ``module``, or its
        weights do not fit the rebuilt module; the message says which.

    Examples
    --------
    See :func:`save_student`.
    """
    data = _read(path)
    kind = data.get("estimator", "DistilledClassifier")  # version 1 files: classifiers
    estimator_class = _ESTIMATORS.get(kind) if isinstance(kind, str) else None
    if estimator_class is None:
        raise ValueError(
            f"{path}: its estimator entry {kind!r} is not one save_student writes "
            f"({', '.join(_ESTIMATORS)})."
        )
    params = _unplain(data["params"])
    params["module"] = _module_value(data["module"], module, path)
    if data.get("optimizer") is not None:
        optimizer = getattr(torch.optim, data["optimizer"], None)
        if not (isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer)):
            raise ValueError(f"{path}: optimizer {data['optimizer']!r} is not in torch.optim.")
        params["optimizer"] = optimizer
    if device is not None:
        params["device"] = device
    saved_device = str(params.get("device", "cpu"))
    if saved_device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"{path} holds a student on device {saved_device!r}, and CUDA is not available "
            "here: pass device='cpu' to load_student."
        )
    estimator = estimator_class(**params)
    validate_parameters(estimator.get_params(deep=False), estimator_class.__name__,
                        estimator._parameter_overrides)
    fitted = _unplain(data["fitted"])
    for name, value in fitted.items():  # the width of the student's output reads them
        setattr(estimator, name, value)
    encoding = dict(fitted.get("encoding_", {}))
    net = estimator._build_net(int(fitted["n_features_in_"]), estimator._n_outputs(),
                               {"alpha": estimator.alpha, **estimator._soft_loss_params()},
                               encoding)
    with forked_cpu_rng():  # the initial weights drawn here are replaced
        net.initialize()
    try:
        net.module_.load_state_dict(_unplain(data["state_dict"]))
    except RuntimeError as exc:
        raise ValueError(
            f"{path}: the saved weights do not fit the student module rebuilt from "
            f"{data['module']['name']} and the saved module__* options: "
            f"{str(exc).strip().splitlines()[0]}"
        ) from None
    net.fitted_encoding = encoding
    net.history.extend(_unplain(data.get("history", [])))
    estimator._keep(net, RandomState(None, saved_device))
    for name, value in fitted.items():  # the saved random state, not _keep's fresh one
        setattr(estimator, name, value)
    estimator.teacher_ = None
    return estimator
