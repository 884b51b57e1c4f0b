"""Which labels an ONNX graph can return, and with which skl2onnx options."""

from __future__ import annotations

from typing import Any

import numpy as np

from skkd.exceptions import StudentError


def _shown(values: Any, limit: int = 5) -> str:
    """At most ``limit`` labels, as a user would type them."""
    values = list(values)
    text = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values[:limit])
    return text + (f", ... ({len(values)} labels)" if len(values) > limit else "")


def onnx_labels(classes: Any, *, zipmap: bool | str = False) -> tuple[np.ndarray, int]:
    """The labels as the ONNX graph holds them, or why ONNX cannot return them exactly.

    onnxruntime must return what ``predict`` returns. Strings come back as
    strings and integers as int64, with the same values. ZipMap (skl2onnx's
    default ``zipmap=True``) keys its maps by int64 or strings only, so labels
    of other types (bool, floating point, uint64 values at or above
    ``2**63``) are kept in their own dtype without ZipMap and refused with it.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        The estimator's ``classes_``.
    zipmap : bool or "columns", default=False
        Whether a ZipMap keys the probabilities by label.

    Returns
    -------
    labels : ndarray of shape (n_classes,)
        The labels to store: UTF-8 bytes for strings, int64 for integers,
        else ``classes``'s own values.
    elem_type : int
        Their ``onnx.TensorProto`` element type.

    Raises
    ------
    skkd.StudentError
        If the labels cannot come back exactly; the message names the labels,
        their dtype and the fix.
    """
    from onnx import TensorProto, helper

    classes = np.asarray(classes)
    kind = classes.dtype.kind
    if kind in "OU":
        others = sorted({type(c).__name__ for c in classes if not isinstance(c, str)})
        if others:
            raise StudentError(
                f"ONNX labels are all strings or all integers; classes_ holds labels of types "
                f"{', '.join(others)} ({_shown(classes)}). Fit on labels of one type, e.g. "
                "y.astype(str)."
            )
        encoded = np.empty(len(classes), dtype=object)
        for i, label in enumerate(classes):
            try:
                encoded[i] = str(label).encode("utf-8")
            except UnicodeEncodeError:
                raise StudentError(
                    f"ONNX stores string labels as UTF-8, and the label {str(label)!r} cannot "
                    "be encoded (a lone surrogate). Fit on labels without such characters."
                ) from None
        return encoded, TensorProto.STRING
    if kind == "i" or (kind == "u" and int(classes.max()) < 2**63):
        return classes.astype(np.int64), TensorProto.INT64
    if kind in "buf":
        if kind == "u":
            what = f"uint64 labels at or above 2**63 ({_shown(classes[classes >= 2**63])})"
            keep, fix = "uint64", "smaller integers or strings (e.g. y - y.min(), y.astype(str))"
        else:
            what = f"{classes.dtype} labels ({_shown(classes)})"
            keep, fix = str(classes.dtype), "integers or strings (e.g. y.astype(int))"
        if zipmap:
            raise StudentError(
                f"classes_ holds {what}, which skl2onnx's ZipMap cannot key (its keys are "
                f"int64 or strings), so onnxruntime would not return them as predict does. "
                f"Export with zipmap=False (skkd export --no-zipmap), which keeps them {keep}, "
                f"or fit on {fix}."
            )
        try:
            return classes, helper.np_dtype_to_tensor_dtype(classes.dtype)
        except (KeyError, ValueError, TypeError):
            pass  # a dtype ONNX has no tensor type for (long double): refused below
    raise StudentError(
        f"ONNX export supports integer, boolean, floating-point or string labels; classes_ "
        f"has dtype {classes.dtype} ({_shown(classes)}). Encode the labels as integers or "
        "strings before fitting, e.g. y.astype(str)."
    )
