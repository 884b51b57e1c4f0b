"""Write a fitted student as tensors and plain data: :func:`save_student`."""

from __future__ import annotations

import os
from typing import IO, Any

import torch
from sklearn.utils.validation import check_is_fitted

from skkd._version import __version__
from skkd.estimators._classifier import DistilledClassifier
from skkd.estimators._params import AUTO, AUTO_MODULE, AUTO_SETTINGS
from skkd.estimators._regressor import DistilledRegressor
from skkd.persistence._format import (
    ESTIMATORS,
    FITTED,
    FORMAT,
    NotPlainError,
    qualified,
)
from skkd.persistence._format import plain as _plain

_DROPPED = object()  # what _plain_parts leaves out


# Fitted attributes rebuilt rather than stored: the net from the weights, the
# teacher never kept.
_REBUILT = ("net_", "history_", "teacher_")

# What version 3 added, written only when set (so older skkd reads the other files):
# parameter -> its default; fitted attribute -> its value when absent.
_V3_PARAMS = {"categorical_features": "from_dtype", "lr_schedule": "constant"}
_V3_FITTED = {"columns_": None}


def _plain_parts(value: Any) -> Any:
    """What of ``value`` is plain: entries of dicts and lists that are not are left out."""
    if type(value) is dict or isinstance(value, list):  # skorch's History is a list
        items = value.items() if type(value) is dict else enumerate(value)
        kept = {k: _plain_parts(v) for k, v in items}
        kept = {k: v for k, v in kept.items() if v is not _DROPPED}
        return kept if type(value) is dict else list(kept.values())
    try:
        return _plain(value)
    except NotPlainError:
        return _DROPPED


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
    if type(estimator) not in ESTIMATORS.values():
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
        spec = {"kind": "class", "name": qualified(module)}
    else:
        spec = {"kind": "instance", "name": qualified(type(module))}

    params, reset = {}, []
    optimizer = None
    newer = module == AUTO_MODULE  # the file needs version 3 (older skkd knows no "auto")
    for name, value in estimator.get_params(deep=False).items():
        if name in ("teacher", "module") or (
                name in _V3_PARAMS and isinstance(value, str) and value == _V3_PARAMS[name]):
            continue
        newer = newer or name in _V3_PARAMS or (  # older skkd knows no "auto" setting
            name in AUTO_SETTINGS["other"] and isinstance(value, str) and value == AUTO)
        if name == "optimizer":
            if (isinstance(value, type) and getattr(torch.optim, value.__name__, None)
                    is value):
                optimizer = value.__name__
            else:
                reset.append(name)
            continue
        try:
            params[name] = _plain(value)
        except NotPlainError:
            reset.append(name)

    fitted = {}
    defined = FITTED[type(estimator).__name__]
    for name, value in vars(estimator).items():
        is_fitted = name.endswith("_") and not name.startswith("_")
        if not (is_fitted or name == "_torch_random_state") or name in _REBUILT or (
                name in _V3_FITTED and value is _V3_FITTED[name]):
            continue
        newer = newer or name in _V3_FITTED
        if name not in defined:  # load_student would refuse the file
            raise ValueError(
                f"save_student: the fitted attribute {name} is not one a student file "
                f"defines for {type(estimator).__name__} ({', '.join(defined)}); add it to "
                "skkd.persistence._format.FITTED with its type, or keep the student with pickle."
            )
        try:
            fitted[name] = _plain(value)
        except NotPlainError as exc:
            raise ValueError(
                f"save_student stores plain data only, and the fitted attribute {name} holds a "
                f"{exc}. Keep the student with pickle (trusted files only), or export it to "
                "ONNX."
            ) from None
    try:
        state = _plain(estimator.net_.module_.state_dict())
    except NotPlainError as exc:
        raise ValueError(
            f"The student module {type(estimator.net_.module_).__name__}'s state_dict holds a "
            f"{exc} (extra state), which save_student cannot store as plain data."
        ) from None
    regressor = type(estimator) is DistilledRegressor
    torch.save({
        "format": FORMAT,
        # the oldest layout that holds this estimator
        "version": 3 if newer else 2 if regressor else 1,
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
