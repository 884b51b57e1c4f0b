"""The student file's sections, as data, and the checks that read them back.

A student file (:func:`skkd.save_student`) is a ``torch.save`` zip archive of one
dict of tensors and plain values. Everything in it comes from whoever wrote the
file, so :func:`skkd.load_student` accepts only what this module defines: the
sections of :data:`SECTIONS`, parameters the estimator takes, the fitted
attributes of :data:`FITTED` with their types, and weights whose shapes the
rebuilt module has. Any other content raises
:class:`~skkd.exceptions.StudentFileError` naming the file and the entry.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from skkd._columns import KINDS, MAX_ONE_HOT, ROLES
from skkd.estimators._classifier import DistilledClassifier
from skkd.estimators._regressor import DistilledRegressor
from skkd.exceptions import StudentFileError

#: The ``format`` entry of a student file.
FORMAT = "skkd.student"

#: The newest file layout this skkd writes and reads. Version 2 added the
#: ``estimator`` entry and regressors; a classifier's file is still written as
#: version 1, which older skkd reads (a file without ``estimator`` is a classifier's).
#: Version 3 added ``categorical_features`` and the fitted ``columns_`` (a student
#: fitted on a raw DataFrame), written only by students that have them.
FORMAT_VERSION = 3

#: The sections of a student file: name -> required.
SECTIONS: dict[str, bool] = {
    "format": True, "version": True, "estimator": False, "skkd_version": False,
    "torch_version": False, "module": True, "params": True, "optimizer": False,
    "reset": False, "fitted": True, "state_dict": True, "history": False,
}

_ARRAY_TAG = "__ndarray__"
_ARRAY_KINDS = "biufUSO"  # the dtypes _plain writes
# What torch.load(weights_only=True) may rebuild that a student file holds.
_SCALARS = (type(None), bool, int, float, str, bytes)


#: The estimators a student file holds, by the name its ``estimator`` entry gives.
ESTIMATORS: dict[str, type] = {cls.__name__: cls
                                for cls in (DistilledClassifier, DistilledRegressor)}


def qualified(cls: type) -> str:
    """``module.QualifiedName`` of a class, as the file names a student module's class."""
    return f"{cls.__module__}.{cls.__qualname__}"


class NotPlainError(Exception):
    """A value that ``torch.load(weights_only=True)`` could not rebuild."""


class DamagedEntryError(Exception):
    """What is wrong with one entry; :func:`damaged` adds the file's name."""


def file_name(path: Any) -> str:
    """How messages name the file: its path, or a file object's name."""
    if isinstance(path, str | bytes) or hasattr(path, "__fspath__"):
        return str(path)
    name = getattr(path, "name", None)
    return str(name) if isinstance(name, str) else f"the student file ({type(path).__name__})"


def damaged(path: Any, what: str) -> StudentFileError:
    """The one error a file that is not a valid student file raises."""
    return StudentFileError(
        f"{file_name(path)} is not a valid student file (skkd.save_student): {what}. "
        "It was not loaded; write it again with save_student."
    )


# --------------------------------------------------------------------------- plain data


def plain(value: Any) -> Any:
    """``value`` as tensors and plain Python values, arrays tagged; else :class:`NotPlainError`."""
    if isinstance(value, np.generic):
        return value.item()
    if value is None or type(value) in _SCALARS:
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, torch.device):
        return str(value)
    if type(value) in (list, tuple):
        return type(value)(plain(v) for v in value)
    if type(value) in (dict, OrderedDict):  # a state_dict is an OrderedDict
        return type(value)((plain(k), plain(v)) for k, v in value.items())
    if isinstance(value, np.ndarray) and (value.dtype.kind in "biufUS" or (
            value.dtype.kind == "O" and value.ndim == 1)):
        return {_ARRAY_TAG: [plain(v) for v in value.tolist()] if value.dtype.kind == "O"
                else value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
    raise NotPlainError(type(value).__name__)


def _array(tagged: dict[str, Any], where: str) -> np.ndarray:
    """A tagged array rebuilt, its dtype, shape and size checked against its values."""
    if set(tagged) != {_ARRAY_TAG, "dtype", "shape"}:
        raise DamagedEntryError(f"{where} is an array entry with keys {sorted(map(str, tagged))}; "
                      f"expected {_ARRAY_TAG!r}, 'dtype' and 'shape'")
    values, dtype, shape = tagged[_ARRAY_TAG], tagged["dtype"], tagged["shape"]
    try:
        dtype = np.dtype(dtype) if isinstance(dtype, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _ARRAY_KINDS or dtype.subdtype is not None:
        raise DamagedEntryError(f"{where} has dtype {tagged['dtype']!r}; a student file holds "
                                "arrays of booleans, numbers, strings or objects")
    if not (isinstance(values, list) and isinstance(shape, list)
            and all(type(n) is int and n >= 0 for n in shape)):
        raise DamagedEntryError(f"{where} is an array entry whose values or shape is not a list")
    if dtype.kind == "O":
        if len(shape) != 1 or shape[0] != len(values):
            raise DamagedEntryError(f"{where} holds {len(values)} objects but has shape {shape}")
        array = np.empty(len(values), dtype=object)
        array[:] = [unplain(v, where) for v in values]
        return array
    try:
        natural = np.array(values)
        if natural.dtype.kind in "US" and not (
                natural.itemsize <= dtype.itemsize <= 8 * natural.itemsize + 4096):
            raise DamagedEntryError(f"{where} declares dtype {dtype.str} for strings of "
                          f"{natural.dtype.str}")
        array = natural.astype(dtype, copy=False) if natural.size else np.array(values, dtype)
        return array.reshape(shape)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DamagedEntryError(f"{where} is not an array of shape {shape} and dtype {dtype.str} "
                      f"({exc})") from None


def unplain(value: Any, where: str) -> Any:
    """The inverse of :func:`plain`; what :func:`plain` never writes raises DamagedEntryError."""
    if type(value) is dict and _ARRAY_TAG in value:
        return _array(value, where)
    if type(value) in (dict, OrderedDict):
        for key in value:  # labels key class_weight and criterion__weight dicts
            if type(key) not in (str, int, float, bool):
                raise DamagedEntryError(f"{where} has a key {key!r} that is not a string, a "
                                        "number or a bool")
        return type(value)((k, unplain(v, f"{where}[{k!r}]")) for k, v in value.items())
    if type(value) in (list, tuple):
        return type(value)(unplain(v, where) for v in value)
    if type(value) in _SCALARS or type(value) is torch.Tensor:
        return value
    raise DamagedEntryError(f"{where} holds a {type(value).__name__}, which save_student "
                            "never writes")


def count_values(value: Any) -> int:
    """How many numbers and strings ``value`` holds (a tensor or array counts its elements)."""
    if isinstance(value, torch.Tensor | np.ndarray):
        return int(value.size if isinstance(value, np.ndarray) else value.numel())
    if isinstance(value, dict):
        return sum(count_values(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(count_values(v) for v in value)
    return 1


# --------------------------------------------------------------------------- sections


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def check_sections(data: Any, path: Any) -> int:
    """The file's top level: its sections, format and version; returns the version."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StudentFileError(
            f"{file_name(path)} is a torch file but not a student file written by "
            f"skkd.save_student (it has no format entry {FORMAT!r})."
        )
    version, written_by = data.get("version"), data.get("skkd_version")
    if not _is_int(version) or version < 1:
        raise damaged(path, f"its version entry is {version!r}; a student-file version is an "
                            f"integer from 1 to {FORMAT_VERSION}")
    if version > FORMAT_VERSION:
        by = f"skkd {written_by}" if isinstance(written_by, str) else "a newer skkd"
        raise StudentFileError(
            f"{file_name(path)} was written by {by} in student-file version {version}; this "
            f"skkd reads versions 1 to {FORMAT_VERSION}. Upgrade skkd to load it."
        )
    unknown = sorted(map(repr, set(data) - set(SECTIONS)))
    if unknown:
        raise damaged(path, f"it has the sections {', '.join(unknown)}, which version "
                            f"{version} does not define (it defines {', '.join(SECTIONS)})")
    missing = [name for name, required in SECTIONS.items() if required and name not in data]
    if missing:
        raise damaged(path, f"it lacks the {', '.join(missing)} section"
                            f"{'s' if len(missing) > 1 else ''}")
    for name in ("skkd_version", "torch_version"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise damaged(path, f"its {name} entry is {data[name]!r}, not a string")
    return int(version)


def check_module_spec(spec: Any, path: Any) -> tuple[str, str]:
    """The ``module`` section: ``{"kind": "name" | "class" | "instance", "name": str}``."""
    if not (type(spec) is dict and set(spec) == {"kind", "name"}
            and spec["kind"] in ("name", "class", "instance")
            and isinstance(spec["name"], str) and spec["name"]):
        raise damaged(path, f"its module entry is {spec!r}; save_student writes "
                            "{'kind': 'name', 'class' or 'instance', 'name': a name}")
    return spec["kind"], spec["name"]


def check_names(value: Any, section: str, path: Any) -> list[str]:
    """A section that is a list of strings (``reset``)."""
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise damaged(path, f"its {section} entry is {value!r}, not a list of parameter names")
    return value


def check_optimizer(name: Any, path: Any) -> type | None:
    """The ``optimizer`` section: None, or the name of a ``torch.optim`` optimizer class."""
    if name is None:
        return None
    optimizer = getattr(torch.optim, name, None) if isinstance(name, str) else None
    if not (isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer)):
        raise damaged(path, f"its optimizer entry {name!r} is not an optimizer class of "
                            "torch.optim")
    return optimizer


def check_history(history: Any, path: Any) -> list[dict[str, Any]]:
    """The ``history`` section: skorch's history, a list of dicts of plain values per epoch."""
    if not isinstance(history, list):
        raise damaged(path, f"its history entry is a {type(history).__name__}, not a list of "
                            "epochs")
    for i, epoch in enumerate(history):
        if type(epoch) is not dict:
            raise damaged(path, f"history[{i}] is a {type(epoch).__name__}, not a dict")
        batches = epoch.get("batches", [])
        if not (isinstance(batches, list) and all(type(b) is dict for b in batches)):
            raise damaged(path, f"history[{i}]['batches'] is not a list of dicts")
    try:
        return unplain(history, "history")
    except DamagedEntryError as exc:
        raise damaged(path, str(exc)) from None


def check_state_dict(state: Any, path: Any) -> dict[str, torch.Tensor]:
    """The ``state_dict`` section: parameter names to dense tensors."""
    if type(state) not in (dict, OrderedDict):
        raise damaged(path, f"its state_dict entry is a {type(state).__name__}, not a dict of "
                            "tensors")
    for key, tensor in state.items():
        if not isinstance(key, str) or not isinstance(tensor, torch.Tensor) \
                or tensor.layout != torch.strided:
            raise damaged(path, f"state_dict[{key!r}] is a {type(tensor).__name__}, not a "
                                "dense tensor")
    return state


# --------------------------------------------------------------------------- fitted


def _expect(ok: bool, what: str) -> str | None:
    return None if ok else what


def _positive_int(value: Any, fitted: dict[str, Any]) -> str | None:
    return _expect(_is_int(value) and value >= 1, "an integer >= 1")


def _optional_real(value: Any, fitted: dict[str, Any]) -> str | None:
    return _expect(value is None or _is_real(value), "a real number or None")


def _optional_reals(value: Any, fitted: dict[str, Any]) -> str | None:
    return _expect(value is None or (isinstance(value, list) and all(map(_is_real, value))),
                   "a list of real numbers or None")


def _options(value: Any, fitted: dict[str, Any]) -> str | None:
    return _expect(type(value) is dict, "a dict of module__* options")


def _feature_names(value: Any, fitted: dict[str, Any]) -> str | None:
    return _expect(isinstance(value, np.ndarray) and value.ndim == 1
                   and len(value) == fitted.get("n_features_in_")
                   and all(isinstance(v, str) for v in value),
                   "a 1-D array of n_features_in_ strings")


def _labels(value: Any, fitted: dict[str, Any]) -> str | None:
    return _expect(isinstance(value, np.ndarray) and value.ndim == 1 and len(value) >= 1
                   and len(set(value.tolist())) == len(value),
                   "a 1-D array of distinct labels")


def _target_stats(value: Any, fitted: dict[str, Any]) -> str | None:
    return _expect(isinstance(value, np.ndarray) and value.shape == (fitted.get("n_outputs_"),)
                   and value.dtype.kind == "f" and bool(np.isfinite(value).all()),
                   "a 1-D float array of n_outputs_ finite numbers")


def _target_ndim(value: Any, fitted: dict[str, Any]) -> str | None:
    return _expect(value in (1, 2) and _is_int(value)
                   and (value == 2 or fitted.get("n_outputs_") == 1),
                   "1 (one target, n_outputs_ 1) or 2")


#: What each role of a ``columns_`` entry holds besides its name, kind and role.
_ROLE_FIELDS = {"category": ("categories",), "numeric": ("mean", "scale", "flag"),
                "binary": ("low", "high", "fill", "flag"), "constant": ()}


def _column_entry(c: Any, one_hot: bool) -> bool:
    """Whether ``c`` is one column of a ``columns_`` encoding (see skkd._columns)."""
    if not (type(c) is dict and c.get("role") in ROLES and c.get("kind") in KINDS
            and isinstance(c.get("name"), str)
            and set(c) == {"name", "kind", "role", *_ROLE_FIELDS[c["role"]]}):
        return False
    if c["role"] == "category":
        found = c["categories"]
        if not (isinstance(found, list) and 1 <= len(found) <= (MAX_ONE_HOT if one_hot else 2**31)
                and all(type(v) in (str, int, float, bool) for v in found)):
            return False
        if c["kind"] not in ("category", "string") and not all(type(v) is float for v in found):
            return False
        try:  # distinct and sorted: looked up by position
            return found == sorted(found) and len(set(found)) == len(found)
        except TypeError:  # strings mixed with numbers
            return False
    numbers_ = [c[k] for k in _ROLE_FIELDS[c["role"]] if k != "flag"]
    if not (all(_is_real(v) and math.isfinite(v) for v in numbers_)
            and type(c.get("flag", False)) is bool):
        return False
    if c["role"] == "numeric":
        return c["scale"] > 0
    return c["role"] == "constant" or (c["low"] != c["high"] and c["fill"] in (0.0, 1.0))


def _columns(value: Any, fitted: dict[str, Any]) -> str | None:
    ok = value is None or (
        type(value) is dict and set(value) == {"version", "one_hot", "columns"}
        and value["version"] == 1 and type(value["one_hot"]) is bool
        and isinstance(value["columns"], list)
        and len(value["columns"]) == fitted.get("n_features_in_")
        and all(_column_entry(c, value["one_hot"]) for c in value["columns"]))
    return _expect(ok, "None, or the encoding of n_features_in_ DataFrame columns "
                       "(skkd._columns: version 1, one_hot, and a dict per column)")


def _rng_state(value: Any, fitted: dict[str, Any]) -> str | None:
    def byte_state(t: Any) -> bool:
        return isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and t.ndim == 1

    ok = value is None or (
        isinstance(value, tuple | list) and len(value) == 2
        and byte_state(value[0]) and value[0].numel() == torch.get_rng_state().numel()
        and isinstance(value[1], list) and all(map(byte_state, value[1])))
    return _expect(ok, "None or torch's random state (a CPU generator state and a list of "
                       "CUDA ones)")


_COMMON = {
    "n_features_in_": (True, _positive_int),
    "feature_names_in_": (False, _feature_names),
    "encoding_": (False, _options),
    "columns_": (False, _columns),
    "teacher_score_": (False, _optional_real),
    "teacher_scores_": (False, _optional_reals),
    "_torch_random_state": (False, _rng_state),
}

#: The fitted attributes a student file holds, per estimator:
#: name -> (required, check(value, fitted) -> what was expected, or None).
FITTED: dict[str, dict[str, tuple[bool, Any]]] = {
    "DistilledClassifier": {**_COMMON, "classes_": (True, _labels)},
    "DistilledRegressor": {**_COMMON, "n_outputs_": (True, _positive_int),
                           "target_mean_": (True, _target_stats),
                           "target_scale_": (True, _target_stats),
                           "target_ndim_": (True, _target_ndim)},
}


def check_fitted(fitted: Any, estimator: str, path: Any) -> dict[str, Any]:
    """The ``fitted`` section: the attributes :data:`FITTED` lists, each of its type."""
    if type(fitted) is not dict:
        raise damaged(path, f"its fitted entry is a {type(fitted).__name__}, not a dict")
    table = FITTED[estimator]
    unknown = sorted(map(repr, set(fitted) - set(table)))
    if unknown:
        raise damaged(path, f"its fitted entry holds {', '.join(unknown)}, which is not a "
                            f"fitted attribute of {estimator} (those are {', '.join(table)})")
    missing = [name for name, (required, _) in table.items() if required and name not in fitted]
    if missing:
        raise damaged(path, f"its fitted entry lacks {', '.join(missing)}")
    try:
        fitted = {name: unplain(value, f"fitted[{name!r}]") for name, value in fitted.items()}
    except DamagedEntryError as exc:
        raise damaged(path, str(exc)) from None
    for name, value in fitted.items():
        expected = table[name][1](value, fitted)
        if expected is not None:
            shown = repr(value) if len(repr(value)) < 80 else f"a {type(value).__name__}"
            raise damaged(path, f"fitted[{name!r}] is {shown}; {estimator}'s {name} is "
                                f"{expected}")
    return fitted
