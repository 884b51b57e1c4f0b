"""ONNX export of a fitted student, as a scikit-learn classifier or regressor, through skl2onnx.

With the ``onnx`` extra installed (``pip install ".[onnx]"`` in a checkout), importing
:class:`~skkd.DistilledClassifier` or :class:`~skkd.DistilledRegressor`
registers a skl2onnx converter for it, so ``skl2onnx.to_onnx(model, X)``
converts a fitted estimator and any ``Pipeline`` that ends in one. The
student's graph is exported by ``torch.onnx``. For a classifier the converter
adds the softmax, the arg-max and the lookup of the original labels (strings
included), and skl2onnx its usual classifier options (``zipmap``, ``nocl``);
onnxruntime returns the labels ``predict`` returns, or the export is refused
(:func:`onnx_labels` says which labels ONNX can return, and with which
options). For a regressor it adds the de-standardization (``Mul`` by
``target_scale_``, ``Add`` of ``target_mean_``, in float64): one output,
``variable``, of shape ``(N, n_outputs_)`` (``(N, 1)`` for one target), as
skl2onnx's own regressors give, but float64, as ``predict`` returns (in
float32, targets near ``1e12`` would all round to the same few values). The
teacher is never part of the graph.
"""

from __future__ import annotations

import copy
import io
import warnings
from typing import Any

import numpy as np
import torch

from skkd.exceptions import StudentError

#: The newest opset the TorchScript-based ``torch.onnx`` exporter writes.
TORCH_MAX_OPSET = 20


def _is_regressor(estimator: Any) -> bool:
    """Whether ``estimator`` (an instance or a class) is a scikit-learn regressor."""
    from sklearn.base import RegressorMixin

    if isinstance(estimator, type):
        return issubclass(estimator, RegressorMixin)
    return isinstance(estimator, RegressorMixin)


def _torch_graph(estimator: Any, opset: int, input_type: int | None, output: str) -> Any:
    """The student module of ``estimator`` as an ONNX model: input ``X``, output ``output``.

    Rows of another element type than float32 are cast to float32 first.
    """
    import onnx
    from onnx import TensorProto, helper

    module = copy.deepcopy(estimator.net_.module_).cpu().eval()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # The TorchScript-based exporter is deprecated in favour of the
            # torch.export-based one, which needs onnxscript and takes seconds
            # per student; this one exports every built-in student exactly.
            warnings.simplefilter("ignore", DeprecationWarning)
            # Shape checks inside a module (rtdl_num_embeddings' among them) are
            # traced as constants: right, since a student's input width is fixed.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            # a strided slice (the piecewise-linear encoding's) is left unfolded: harmless
            warnings.filterwarnings("ignore", "Constant folding - Only steps=1")
            torch.onnx.export(
                module, (torch.zeros(2, estimator.n_features_in_),), buffer, dynamo=False,
                input_names=["X"], output_names=[output],
                dynamic_axes={"X": {0: "N"}, output: {0: "N"}},
                opset_version=min(opset, TORCH_MAX_OPSET),
            )
    except Exception as exc:  # torch raises many kinds; all mean "cannot export"
        raise StudentError(
            f"The student module {type(module).__name__} cannot be exported to ONNX by "
            f"torch.onnx: {type(exc).__name__}: {exc}"
        ) from exc
    student = onnx.load_model_from_string(buffer.getvalue())
    graph = student.graph
    _name_absent_clip_bounds(graph)
    if input_type not in (None, TensorProto.FLOAT):
        graph.input[0].type.tensor_type.elem_type = input_type
        for node in graph.node:
            node.input[:] = ["X_float" if name == "X" else name for name in node.input]
        graph.node.insert(0, helper.make_node("Cast", ["X"], ["X_float"], name="cast_input",
                                              to=TensorProto.FLOAT))
    return student


def student_graph(estimator: Any, opset: int = 17, input_type: int | None = None, *,
                  zipmap: bool | str = False, nocl: bool = False) -> Any:
    """The student of a fitted ``DistilledClassifier`` or ``DistilledRegressor`` as ONNX.

    Parameters
    ----------
    estimator : DistilledClassifier or DistilledRegressor
        Fitted.
    opset : int, default=17
        Target opset of the default domain (at most :data:`TORCH_MAX_OPSET`
        is used for the student's own operators).
    input_type : int or None, default=None
        The ``onnx.TensorProto`` element type of the input rows; None is
        float32. Other types are cast to float32 first.
    zipmap : bool or "columns", default=False
        Classifiers only: whether a ZipMap will key the probabilities by label
        (skl2onnx's ``zipmap`` option): its keys are int64 or strings, so
        labels of other types (bool, floating point, uint64 at or above
        ``2**63``) are then refused; without it they keep ``classes_``'s
        dtype.
    nocl : bool, default=False
        Classifiers only: skl2onnx's ``nocl`` option, output the index of
        each row's class (int64) instead of its label.

    Returns
    -------
    onnx.ModelProto
        Input ``X`` of shape ``(N, n_features_in_)``. A classifier's outputs
        are ``label`` (the original labels, shape ``(N,)``: strings, int64 for
        integers, else ``classes_``'s dtype) and ``probabilities`` (``(N,
        n_classes)``, columns in ``classes_`` order). A regressor's one output
        is ``variable``, the predictions of shape ``(N, n_outputs_)`` (``(N,
        1)`` for a 1-D target, as skl2onnx's regressors), the student's
        outputs times ``target_scale_`` plus ``target_mean_``, float64
        whatever the input (as ``predict``; float32 would lose the
        predictions' differences on a large offset). Probabilities are
        float64 when the input is, else float32.

    Raises
    ------
    skkd.StudentError
        If ONNX cannot return the labels exactly as ``predict`` does (the
        message names them and the fix), or if ``torch.onnx`` cannot export
        the student module (the message names the module and the reason).
    ValueError
        If ``zipmap`` or ``nocl`` is set for a regressor.
    """
    if _is_regressor(estimator):
        if zipmap or nocl:
            raise ValueError(
                f"zipmap={zipmap!r}, nocl={nocl!r}: zipmap and nocl are classifier options, "
                f"and {type(estimator).__name__} is a regressor (its one output, 'variable', "
                "holds the predictions); leave them unset."
            )
        return _regressor_graph(estimator, opset, input_type)
    from onnx import TensorProto, helper, numpy_helper

    classes = np.asarray(estimator.classes_)
    if nocl:
        labels, label_type = np.arange(len(classes), dtype=np.int64), TensorProto.INT64
    else:
        labels, label_type = onnx_labels(classes, zipmap=zipmap)
    student = _torch_graph(estimator, opset, input_type, "logits")
    graph = student.graph
    if label_type == TensorProto.STRING:
        constant = helper.make_tensor("classes", label_type, [len(labels)], list(labels))
    else:
        constant = numpy_helper.from_array(labels, "classes")
    graph.initializer.append(constant)
    # skl2onnx expects probabilities of the input's float type.
    proba_type = TensorProto.DOUBLE if input_type == TensorProto.DOUBLE else TensorProto.FLOAT
    graph.node.extend([
        helper.make_node("Softmax", ["logits"], ["proba_float"], name="softmax", axis=1),
        helper.make_node("Cast", ["proba_float"], ["probabilities"], name="cast_proba",
                         to=proba_type),
        helper.make_node("ArgMax", ["logits"], ["index"], name="argmax", axis=1, keepdims=0),
        helper.make_node("Gather", ["classes", "index"], ["label"], name="label", axis=0),
    ])
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info("label", label_type, ["N"]),
        helper.make_tensor_value_info("probabilities", proba_type, ["N", len(classes)]),
    ])
    return student


def _regressor_graph(estimator: Any, opset: int, input_type: int | None) -> Any:
    """A regressor's student followed by ``Mul(target_scale_)`` and ``Add(target_mean_)``.

    The student's float32 outputs are cast to float64 first and the
    de-standardization is done in float64, as ``predict`` does: on a ``1e12``
    offset, float32 holds the predictions only to the nearest 65,536.
    """
    from onnx import TensorProto, helper, numpy_helper

    student = _torch_graph(estimator, opset, input_type, "outputs")
    graph = student.graph
    n_outputs = int(estimator.n_outputs_)
    graph.initializer.extend([
        numpy_helper.from_array(np.asarray(estimator.target_scale_, np.float64).reshape(1, -1),
                                "target_scale"),
        numpy_helper.from_array(np.asarray(estimator.target_mean_, np.float64).reshape(1, -1),
                                "target_mean"),
    ])
    graph.node.extend([
        helper.make_node("Cast", ["outputs"], ["outputs_double"], name="cast_outputs",
                         to=TensorProto.DOUBLE),
        helper.make_node("Mul", ["outputs_double", "target_scale"], ["scaled"],
                         name="target_scale_mul"),
        helper.make_node("Add", ["scaled", "target_mean"], ["variable"],
                         name="target_mean_add"),
    ])
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("variable", TensorProto.DOUBLE,
                                                      ["N", n_outputs]))
    return student


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


def _name_absent_clip_bounds(graph: Any) -> None:
    """Give one-sided ``Clip`` nodes an infinite other bound.

    torch.onnx writes ``clamp_min``/``clamp_max`` as a ``Clip`` whose absent
    bound is the empty input name, which skl2onnx cannot rename when it merges
    the student's graph into a pipeline's.
    """
    from onnx import numpy_helper

    bounds = {1: ("clip_no_min", -np.inf), 2: ("clip_no_max", np.inf)}
    used = set()
    for node in graph.node:
        if node.op_type != "Clip":
            continue
        for position, (name, _) in bounds.items():
            if len(node.input) > position and node.input[position] == "":
                node.input[position] = name
                used.add(position)
    for position in sorted(used):
        name, value = bounds[position]
        graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), name))


def to_onnx(model: Any, *, zipmap: bool | str | None = None, opset: int | None = None) -> Any:
    """Convert a fitted skkd estimator, or a ``Pipeline`` ending in one, to ONNX.

    A thin layer over ``skl2onnx.convert_sklearn``: the input is ``X``, float32
    rows of ``n_features_in_`` columns.

    Parameters
    ----------
    model : DistilledClassifier, DistilledRegressor or Pipeline
        Fitted.
    zipmap : bool, "columns" or None, default=None
        skl2onnx's classifier option: True (what None means for a
        classifier) gives one ``{label: probability}`` map per row, False a
        ``(N, n_classes)`` tensor, ``"columns"`` one output per class. A
        regressor has no such option: leave it None.
    opset : int or None, default=None
        Target opset; None is skl2onnx's newest tested one.

    Returns
    -------
    onnx.ModelProto
        Input ``X``. A classifier's outputs are the labels and the
        probabilities; a regressor's one output is ``variable``, float64
        predictions of shape ``(N, n_outputs_)`` (``(N, 1)`` for a 1-D
        target).

    Raises
    ------
    skkd.StudentError
        If the labels cannot come back exactly with this ``zipmap`` (see
        :func:`onnx_labels`) or the student module cannot be exported.
    ValueError
        If ``model`` is not fitted, or ``zipmap`` is set for a regressor.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skkd import DistilledRegressor
    >>> from skkd.export import compare_onnx, to_onnx
    >>> X, y = make_regression(200, 5, random_state=0)
    >>> student = DistilledRegressor(max_epochs=2, random_state=0).fit(X, y)
    >>> onx = to_onnx(student)
    >>> [output.name for output in onx.graph.output]
    ['variable']
    >>> compare_onnx(student, onx, X)["ok"]
    True
    """
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise ValueError(f"{type(model).__name__} is not fitted, or has no n_features_in_.")
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    if _is_regressor(last):
        if zipmap is not None:
            raise ValueError(
                f"zipmap={zipmap!r}: zipmap is a classifier option, and {type(last).__name__} "
                "is a regressor (its one output, 'variable', holds the predictions); leave "
                "zipmap unset."
            )
        options = None
    else:
        options = {id(last): {"zipmap": True if zipmap is None else zipmap}}
    return convert_sklearn(model, initial_types=[("X", FloatTensorType([None, n_features]))],
                           target_opset=opset, options=options)


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
    X : array-like of shape (n_samples, n_features)
        The rows to compare on, as float32 (float64 for a graph whose input
        is float64).
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
    first = session.get_inputs()[0]
    X = np.asarray(X, dtype=np.float64 if first.type == "tensor(double)" else np.float32)
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    if _is_regressor(last):
        return _compare_predictions(session.run(None, {first.name: X})[0], model.predict(X),
                                    rtol, getattr(last, "target_scale_", None))
    labels, probabilities = session.run(None, {first.name: X})[:2]
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


def _options(scope_or_container: Any, estimator: Any) -> tuple[bool | str, bool]:
    """skl2onnx's ``zipmap`` and ``nocl`` options for ``estimator``."""
    options = scope_or_container.get_options(estimator, dict(zipmap=True, nocl=False))
    return options["zipmap"], bool(options["nocl"])


def _shape_calculator(operator: Any) -> None:
    from onnx import TensorProto
    from skl2onnx.common import data_types
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)  # int64 or string labels
    zipmap, nocl = _options(operator.scope_inst, operator.raw_operator)
    if zipmap is False and not nocl:  # labels ZipMap cannot key keep their own dtype
        _, elem_type = onnx_labels(operator.raw_operator.classes_)
        tensor_type = {
            TensorProto.BOOL: data_types.BooleanTensorType,
            TensorProto.FLOAT16: data_types.Float16TensorType,
            TensorProto.FLOAT: data_types.FloatTensorType,
            TensorProto.DOUBLE: data_types.DoubleTensorType,
            TensorProto.UINT64: data_types.UInt64TensorType,
        }.get(elem_type)
        if tensor_type is not None:
            label = operator.outputs[0]
            label.type = tensor_type(shape=label.type.shape)


def _converter(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.helpers.integration import add_onnx_graph

    estimator = operator.raw_operator
    input_type = guess_proto_type(operator.inputs[0].type)
    zipmap, nocl = _options(container, estimator)
    graph = student_graph(estimator, container.target_opset, input_type, zipmap=zipmap,
                          nocl=nocl)
    add_onnx_graph(scope, operator, container, graph)


def _regressor_shape_calculator(operator: Any) -> None:
    """``variable``: ``(N, n_outputs_)``, float64 (see :func:`_regressor_graph`)."""
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.common.utils import check_input_and_output_numbers

    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = DoubleTensorType([n_rows, int(operator.raw_operator.n_outputs_)])


def _regressor_converter(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.helpers.integration import add_onnx_graph

    graph = student_graph(operator.raw_operator, container.target_opset,
                          guess_proto_type(operator.inputs[0].type))
    add_onnx_graph(scope, operator, container, graph)


def register_converter(estimator_class: type) -> None:
    """Register the skl2onnx converter of ``estimator_class``.

    The modules of ``DistilledClassifier`` and ``DistilledRegressor``
    (for ``DistilledRegressor``) call it on import when skl2onnx is
    installed. A regressor's converter takes no options (skl2onnx refuses
    ``zipmap`` for it).

    Parameters
    ----------
    estimator_class : type
        The class skl2onnx maps to this converter: a classifier or a
        regressor (a subclass of scikit-learn's ``RegressorMixin``).
    """
    from skl2onnx import update_registered_converter

    if _is_regressor(estimator_class):
        update_registered_converter(
            estimator_class, "SkkdDistilledRegressor", _regressor_shape_calculator,
            _regressor_converter, overwrite=True,
        )
        return
    update_registered_converter(
        estimator_class, "SkkdDistilledClassifier", _shape_calculator, _converter,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
        overwrite=True,
    )
