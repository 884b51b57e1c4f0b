"""A student's sizes checked before its weights exist: the module built on the meta device.

A file's options (``hidden_sizes``, cardinalities, ...) could ask for a
student larger than memory; :func:`check_shapes` builds the module with
size-made tensors on the meta device (data-made ones stay real, so bins
that read values still build) and compares its ``state_dict`` shapes with
the file's before any real build.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from skkd.exceptions import StudentFileError
from skkd.persistence._format import count_values, damaged, file_name

_SIZED = ("empty", "empty_strided", "empty_permuted", "zeros", "ones", "full", "rand",
          "randn", "randint", "randperm", "eye", "arange", "linspace", "logspace",
          "tril_indices", "triu_indices")


class _ShapesOnly(TorchFunctionMode):
    """Tensors made from a size (weights) go to the meta device: shapes, no memory.

    Tensors made from data (``torch.tensor(bins)``) stay real, so a module whose
    construction reads its options' values (piecewise-linear bins) still builds.
    """

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in _SIZED_FUNCTIONS and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


_SIZED_FUNCTIONS = {getattr(torch, name) for name in _SIZED if hasattr(torch, name)}


def check_shapes(build: Any, state: dict[str, torch.Tensor], options: dict[str, Any],
                 path: Any, passed: str | None = None) -> None:
    """Build the module without its weights' memory and compare it with the file's weights.

    ``build()`` constructs the module; ``options`` (what the file sets: the
    ``module__*`` options, ``n_features_in_``, ...) only name the culprits;
    ``passed`` names a module the caller passed, which is then the one to blame.
    A module whose options hold more values than the file's weights, or
    whose shapes differ from them, is refused before any memory is taken.
    """
    shown = ", ".join(f"{k}={v!r}" if len(repr(v)) < 60 else f"{k}=..." for k, v in
                      options.items())
    held = sum(t.numel() for t in state.values())
    if count_values(options) > held + 1024:
        raise damaged(path, f"its module options hold {count_values(options):,} values, more "
                            f"than its weights' {held:,} ({shown})")
    try:
        with _ShapesOnly():
            module = build()
    except Exception as exc:  # noqa: BLE001 - any failure is the file's options'
        first = (str(exc).strip().splitlines() or [""])[0]
        raise damaged(path, f"its module cannot be built from the file's options ({shown}): "
                            f"{type(exc).__name__}: {first}") from None
    expected = {k: (tuple(v.shape), v.dtype) for k, v in module.state_dict().items()}
    got = {k: (tuple(v.shape), v.dtype) for k, v in state.items()}
    for problem, names in (("lacks", expected.keys() - got.keys()),
                           ("has extra", got.keys() - expected.keys())):
        if names:
            raise damaged(path, f"its state_dict {problem} weights {sorted(names)[:5]} for the "
                                f"module its options build ({shown})")
    for key, (shape, dtype) in expected.items():
        if (shape, dtype) != got[key] and passed is not None:
            raise StudentFileError(
                f"{file_name(path)}: the saved weights do not fit the student module passed to "
                f"load_student, {passed}: its {key} has shape {shape} ({dtype}), the file's "
                f"{got[key][0]} ({got[key][1]}). Pass a module built like the saved one."
            )
        if (shape, dtype) != got[key]:
            raise damaged(path, f"the module its options build ({shown}) has {key} of shape "
                                f"{shape} ({math.prod(shape):,} values, {dtype}), but the "
                                f"file's is {got[key][0]} ({got[key][1]}): its options "
                                "disagree with its weights")
