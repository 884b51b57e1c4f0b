"""Check an ONNX graph against the model it came from, with onnxruntime."""

from __future__ import annotations

from typing import Any

import numpy as np

from skkd._columns import is_dataframe
from skkd.export._frame import frame_inputs
from skkd.export._graph import _is_regressor


def compare_onnx(model: Any, onx: Any, X: Any, *, atol: float = 1e-4,
                 rtol: float = 1e-5) -> dict[str, Any]:
    """Run ``onx`` with onnxruntime on ``X`` and compare it with ``model`` in scikit-learn.

    What is compared is what a user receives. For a classifier: each label
    exactly as onnxruntime returns it against ``model.predict``'s (same value
    and same Python type once read from the arrays, so ``1`` is not ``True``
    nor ``1.0``, and an integer that wrapped around is a difference), and the
    probabilities within ``atol``. For a regressor: the predictions, within
    ``rtol`` relative to the spread of each output (its ``target_scale_``, the
    standard deviation of the training targets): a graph that loses the
    student's signal (all predictions alike on a ``1e12`` offset) fails,
    however large the predictions are.

    Parameters
    ----------
    model : DistilledClassifier, DistilledRegressor or Pipeline
        The fitted model ``onx`` was converted from.
    onx : onnx.ModelProto
        Its ONNX graph (ZipMap or not).
    X : array-like of shape (n_samples, n_features) or pandas.DataFrame
        The rows to compare on, as float32 (float64 for a graph whose input
        is float64). For a student fitted on a raw DataFrame, a DataFrame
        with its columns: each column is fed to its graph input (strings as
        strings, a missing one as ``""``; numbers in the input's dtype, NaN
        for missing), and ``model`` predicts on the frame.
    atol : float, default=1e-4
        Classifiers: the largest absolute probability difference that counts
        as equal.
    rtol : float, default=1e-5
        Regressors: the largest difference, relative to each output's
        ``target_scale_``, that counts as equal.

    Returns
    -------
    dict
        For a classifier: ``labels_equal`` (bool), ``label_mismatches``
        (rows whose labels differ), ``max_abs_proba_diff`` (float; inf when a
        ZipMap lacks one of ``classes_``), ``rows`` and ``ok`` (labels equal
        and probabilities within ``atol``). For a regressor:
        ``max_abs_diff`` (the largest absolute difference of a prediction),
        ``max_rel_diff`` (for each output, its largest absolute difference
        divided by its ``target_scale_``, or, for a model without one, by the
        standard deviation of its predictions; the largest over outputs),
        ``rows`` and ``ok`` (``max_rel_diff`` within ``rtol``); both
        differences are inf when the shapes disagree, e.g. ``(N,
        n_outputs)`` against ``(N,)`` of another length.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    if getattr(last, "columns_", None) is not None or len(inputs) > 1:
        if not is_dataframe(X):
            raise ValueError(f"The ONNX graph has one input per DataFrame column; pass X as a "
                             f"DataFrame with those columns, not a {type(X).__name__}.")
        feed = frame_inputs(inputs, X)
    else:
        first = inputs[0]
        X = np.asarray(X, dtype=np.float64 if first.type == "tensor(double)" else np.float32)
        feed = {first.name: X}
    if _is_regressor(last):
        return _compare_predictions(session.run(None, feed)[0], model.predict(X),
                                    rtol, getattr(last, "target_scale_", None))
    labels, probabilities = session.run(None, feed)[:2]
    expected_proba = model.predict_proba(X)
    if isinstance(probabilities, list):  # ZipMap: one {label: probability} per row
        order = _python_values(model.classes_)
        probabilities = np.array([[row.get(c, np.inf) for c in order]
                                  for row in probabilities], dtype=np.float64)
    got, expected = _python_values(labels), _python_values(model.predict(X))
    if len(got) == len(expected):
        mismatches = sum(type(a) is not type(b) or a != b
                         for a, b in zip(got, expected, strict=True))
    else:
        mismatches = len(expected)
    if np.shape(probabilities) == expected_proba.shape:
        diff = float(np.max(np.abs(probabilities - expected_proba), initial=0.0))
    else:
        diff = float("inf")
    return {
        "labels_equal": mismatches == 0,
        "label_mismatches": int(mismatches),
        "max_abs_proba_diff": diff,
        "rows": len(X),
        "ok": mismatches == 0 and diff <= atol,
    }


def _compare_predictions(got: Any, expected: Any, rtol: float,
                         spread: Any = None) -> dict[str, Any]:
    """:func:`compare_onnx`'s result for a regressor's predictions.

    Differences are relative to ``spread`` (each output's ``target_scale_``),
    or to the predictions' standard deviation without one.
    """
    expected = np.asarray(expected, dtype=np.float64)
    rows = len(expected)
    expected = expected.reshape(rows, -1)  # (N,) predictions are skl2onnx's (N, 1)
    got = np.asarray(got, dtype=np.float64)
    if got.size != expected.size or len(got) != rows:
        abs_diff = rel_diff = float("inf")
    else:
        diff = np.abs(got.reshape(expected.shape) - expected)
        abs_diff = float(np.max(diff, initial=0.0))
        # NaN (a prediction ONNX could not compute) is a difference, not a pass
        diff = np.where(np.isnan(diff), np.inf, diff)
        size = (np.std(expected, axis=0) if spread is None
                else np.asarray(spread, dtype=np.float64).reshape(-1))
        size = np.maximum(size, np.finfo(np.float64).tiny)
        rel_diff = float(np.max(np.max(diff, axis=0, initial=0.0) / size, initial=0.0))
        if np.isnan(abs_diff):
            abs_diff = float("inf")
    return {"max_abs_diff": abs_diff, "max_rel_diff": rel_diff, "rows": rows,
            "ok": rel_diff <= rtol}


def _python_values(values: Any) -> list[Any]:
    """Each element as the Python object a user reads from the array (``.item()``)."""
    return [v.item() if isinstance(v, np.generic) else v
            for v in np.asarray(values).astype(object).ravel()]
