"""Read a student file back without running its code: :func:`load_student`."""

from __future__ import annotations

import os
import pickle
import warnings
from typing import IO, Any

import torch

from skkd._columns import encoded_width
from skkd._seeding import RandomState, forked_cpu_rng
from skkd.estimators._classifier import DistilledClassifier
from skkd.estimators._params import AUTO_MODULE, PREFIXES, validate_parameters
from skkd.estimators._regressor import DistilledRegressor
from skkd.exceptions import StudentFileError
from skkd.persistence._format import (
    ESTIMATORS,
    DamagedEntryError,
    check_fitted,
    check_history,
    check_module_spec,
    check_names,
    check_optimizer,
    check_sections,
    check_state_dict,
    damaged,
    file_name,
    qualified,
    unplain,
)
from skkd.persistence._sizes import check_shapes
from skkd.plugins import get_model

# Parameters the file's other sections give (module, optimizer), or never kept (teacher).
_NOT_IN_PARAMS = ("teacher", "module", "optimizer")


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
        raise StudentFileError(
            f"{file_name(path)} holds objects other than tensors and plain data, so it is not "
            "a student file written by skkd.save_student; it was not loaded (torch.load with "
            f"weights_only=True refused it: {reason}). A pickle runs any code it holds: open "
            "it with joblib or pickle only if you trust where it came from."
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError, IndexError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or ["the file is empty or truncated"])[0]
        raise StudentFileError(
            f"{file_name(path)} is not a student file written by skkd.save_student "
            f"(torch.load cannot read it: {type(exc).__name__}: {first})."
        ) from None
    check_sections(data, path)
    return data


def _estimator_class(data: dict[str, Any], path: Any) -> type:
    """The estimator the file holds; version 1 files without the entry hold classifiers."""
    kind = data.get("estimator")
    if kind is None and data["version"] == 1:
        return DistilledClassifier
    estimator_class = ESTIMATORS.get(kind) if isinstance(kind, str) else None
    if estimator_class is None:
        raise damaged(path, f"its estimator entry is {kind!r}; save_student writes "
                            f"{' or '.join(map(repr, ESTIMATORS))}")
    if estimator_class is DistilledRegressor and data["version"] < 2:
        raise damaged(path, f"it says version {data['version']}, which holds classifiers "
                            "only, and estimator 'DistilledRegressor' (version 2)")
    return estimator_class


def _params(data: dict[str, Any], estimator_class: type, path: Any) -> dict[str, Any]:
    """The ``params`` and ``reset`` sections: parameters of ``estimator_class``, plain values."""
    params, owner = data["params"], estimator_class.__name__
    if type(params) is not dict:
        raise damaged(path, f"its params entry is a {type(params).__name__}, not a dict")
    names = set(estimator_class._get_param_names()) - set(_NOT_IN_PARAMS)
    reset = check_names(data.get("reset", []), "reset", path)
    for name in [*params, *reset]:
        if not isinstance(name, str) or not (name in names
                                             or name.startswith(tuple(PREFIXES))):
            raise damaged(path, f"its params or reset entry names {name!r}, which is not a "
                                f"parameter of {owner} a student file holds")
    twice = sorted(set(params) & set(reset))
    if twice:
        raise damaged(path, f"{twice[0]!r} is both in its params and in its reset entries")
    try:
        return unplain(params, "params")
    except DamagedEntryError as exc:
        raise damaged(path, str(exc)) from None


def _module_value(data: dict[str, Any], module: Any, path: Any) -> Any:
    """The ``module`` parameter of the rebuilt estimator."""
    kind, name = check_module_spec(data["module"], path)
    if kind == "name" and name == AUTO_MODULE:  # resolved by the fitted columns_, as in fit
        if module is not None:
            raise ValueError(f"{file_name(path)} holds a student of module='auto'; do not "
                             "pass module to load_student.")
        return name
    if kind == "name":
        if module is not None:
            raise ValueError(
                f"{file_name(path)} names its student module, {name!r} (a registered model); "
                "do not pass module to load_student."
            )
        try:
            get_model(name)
        except ValueError as exc:
            raise StudentFileError(f"{file_name(path)} holds a student whose module is "
                                   f"{name!r}, which is not registered here: {exc}") from None
        return name
    short = name.rpartition(".")[2]
    if kind == "class":
        if not (isinstance(module, type) and issubclass(module, torch.nn.Module)):
            raise ValueError(
                f"{file_name(path)} holds a student whose module was the class {name}, and a "
                f"student file holds no code: pass that class, "
                f"load_student(path, module={short})."
            )
        given = module
    else:
        if not isinstance(module, torch.nn.Module):
            raise ValueError(
                f"{file_name(path)} holds a student whose module was an instance of {name}, "
                f"and a student file holds no code: pass an instance built like it, "
                f"load_student(path, module={short}(...)); the file's weights replace its own."
            )
        given = type(module)
    if given.__qualname__ != short:
        raise ValueError(
            f"{file_name(path)} holds a student whose module was {name}; the module passed "
            f"to load_student is {qualified(given)}. Pass {short}."
        )
    return module


def _periodic_before_ple(params: dict[str, Any], fitted: dict[str, Any]) -> None:
    """A ``tabular-mlp`` of a file written before ``"ple"`` became its default numeric
    encoding read numbers periodically: say so, as its weights need."""
    module = params["module"]
    tabular = module == "tabular-mlp" or (module == AUTO_MODULE
                                          and fitted.get("columns_") is not None)
    told = "module__numeric_encoding" in params or "module__bins" in params
    if tabular and not told and "bins" not in fitted.get("encoding_", {}):
        params["module__numeric_encoding"] = "periodic"


def _estimator(data: dict[str, Any], module: Any, device: str | None, path: Any
               ) -> tuple[DistilledClassifier | DistilledRegressor, dict[str, Any]]:
    """The unfitted estimator the file's parameters describe, and its fitted attributes."""
    estimator_class = _estimator_class(data, path)
    params = _params(data, estimator_class, path)
    params["module"] = _module_value(data, module, path)
    params.setdefault("lr_schedule", "constant")  # files leave it out when constant
    optimizer = check_optimizer(data.get("optimizer"), path)
    if optimizer is not None:
        params["optimizer"] = optimizer
    fitted = check_fitted(data["fitted"], estimator_class.__name__, path)
    _periodic_before_ple(params, fitted)
    if device is not None:
        params["device"] = device
    try:
        estimator = estimator_class(**params)
        validate_parameters(estimator.get_params(deep=False), estimator_class.__name__,
                            estimator._parameter_table)
        estimator._module_factory()  # its module__* options are ones the module takes
    except (TypeError, ValueError) as exc:
        raise damaged(path, f"its params entry: {exc}") from None
    saved_device = str(params.get("device", "cpu"))
    if saved_device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"{file_name(path)} holds a student on device {saved_device!r}, and CUDA is not "
            "available here: pass device='cpu' to load_student."
        )
    return estimator, fitted


def _net(estimator: DistilledClassifier | DistilledRegressor, fitted: dict[str, Any],
         data: dict[str, Any], path: Any) -> Any:
    """The student's skorch net with the file's weights, its size checked before it is built."""
    state = check_state_dict(data["state_dict"], path)
    encoding = dict(fitted.get("encoding_", {}))
    columns = fitted.get("columns_")  # a raw DataFrame's columns, as the student reads them
    n_features = int(fitted["n_features_in_"]) if columns is None else encoded_width(columns)
    try:
        net = estimator._build_net(n_features, estimator._n_outputs(),
                                   {"alpha": estimator._setting("alpha"),
                                    **estimator._soft_loss_params()},
                                   encoding)
    except (TypeError, ValueError) as exc:
        raise damaged(path, f"its params entry: {exc}") from None
    shaping = {name: fitted[name] for name in ("n_features_in_", "n_outputs_") if name in fitted}
    if "classes_" in fitted:
        shaping["n_classes"] = len(fitted["classes_"])
    check_shapes(lambda: net.initialized_instance(net.module, net.get_params_for("module")),
                 state, {**{f"module__{k}": v for k, v in net.get_params_for("module").items()},
                         **shaping}, path,
                 None if isinstance(estimator.module, str) else estimator._module_name())
    try:
        with forked_cpu_rng():  # the initial weights drawn here are replaced
            net.initialize()
        net.module_.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise damaged(path, f"its weights do not fit the student module rebuilt from "
                            f"{data['module']['name']} and its options: "
                            f"{(str(exc).strip().splitlines() or [''])[0]}") from None
    net.fitted_encoding = encoding
    net.history.extend(check_history(data.get("history", []), path))
    return net


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

    Only what the format defines is accepted (see ``skkd/persistence/_format.py``):
    its sections, parameters of the saved estimator with plain values, its
    fitted attributes with their types, and weights whose names, shapes and
    dtypes are those of the module the file's options build. That module is
    first built on torch's ``meta`` device (shapes, no memory): options that
    disagree with the weights (``module__hidden_sizes=[10**13]``) are refused
    before any memory is taken.

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
    skkd.StudentFileError
        (a ``ValueError``) If the file is not a student file (a pickle among
        them: it is not unpickled), was written by a newer skkd, or any of
        its sections is damaged or holds what the format does not define;
        the message names the file and the entry.
    ValueError
        If the file needs ``module``, or was saved on a GPU that is missing here.

    Examples
    --------
    See :func:`save_student`.
    """
    data = _read(path)
    try:
        estimator, fitted = _estimator(data, module, device, path)
        fitted.setdefault("columns_", None)  # a file without one: X was not encoded
        for name, value in fitted.items():  # the student's input and output widths read them
            setattr(estimator, name, value)
        net = _net(estimator, fitted, data, path)
    except RecursionError:  # lists nested beyond what save_student writes
        raise damaged(path, "it holds values nested too deep") from None
    estimator._keep(net, RandomState(None, str(estimator.device)))
    for name, value in fitted.items():  # the saved random state, not _keep's fresh one
        setattr(estimator, name, value)
    estimator.teacher_ = None
    return estimator
