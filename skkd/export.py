"""ONNX export of a fitted student, as a scikit-learn classifier, through skl2onnx.

With the ``onnx`` extra installed (``pip install "skkd[onnx]"``), importing
:class:`~skkd.DistilledClassifier` registers a skl2onnx converter for it, so
``skl2onnx.to_onnx(model, X)`` converts a fitted ``DistilledClassifier`` and any
``Pipeline`` that ends in one. The student's graph is exported by
``torch.onnx``; the converter adds the softmax, the arg-max and the lookup of
the original labels (strings included), and skl2onnx its usual classifier
options (``zipmap``, ``nocl``). The teacher is never part of the graph.
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


def student_graph(estimator: Any, opset: int = 17, input_type: int | None = None) -> Any:
    """The student of a fitted ``DistilledClassifier`` as an ONNX model.

    Parameters
    ----------
    estimator : DistilledClassifier
        Fitted.
    opset : int, default=17
        Target opset of the default domain (at most :data:`TORCH_MAX_OPSET`
        is used for the student's own operators).
    input_type : int or None, default=None
        The ``onnx.TensorProto`` element type of the input rows; None is
        float32. Other types are cast to float32 first.

    Returns
    -------
    onnx.ModelProto
        Input ``X`` of shape ``(N, n_features_in_)``; outputs ``label`` (the
        original labels, shape ``(N,)``) and ``probabilities``
        (``(N, n_classes)``, columns in ``classes_`` order; float64 when the
        input is, else float32).

    Raises
    ------
    skkd.StudentError
        If ``torch.onnx`` cannot export the student module; the message names
        the module and the reason.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

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
                input_names=["X"], output_names=["logits"],
                dynamic_axes={"X": {0: "N"}, "logits": {0: "N"}},
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
    classes = np.asarray(estimator.classes_)
    if classes.dtype.kind in "OUS":
        constant = helper.make_tensor("classes", TensorProto.STRING, [len(classes)],
                                      [str(c).encode() for c in classes])
        label_type = TensorProto.STRING
    elif classes.dtype.kind in "iub":
        constant = numpy_helper.from_array(classes.astype(np.int64), "classes")
        label_type = TensorProto.INT64
    else:
        raise StudentError(
            f"ONNX export supports integer, boolean or string labels; classes_ has dtype "
            f"{classes.dtype}. Encode the labels as integers or strings before fitting."
        )
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


def to_onnx(model: Any, *, zipmap: bool | str = True, opset: int | None = None) -> Any:
    """Convert a fitted ``DistilledClassifier``, or a ``Pipeline`` ending in one, to ONNX.

    A thin layer over ``skl2onnx.convert_sklearn``: the input is ``X``, float32
    rows of ``n_features_in_`` columns.

    Parameters
    ----------
    model : DistilledClassifier or Pipeline
        Fitted.
    zipmap : bool or "columns", default=True
        skl2onnx's classifier option: True gives one ``{label: probability}``
        map per row, False a ``(N, n_classes)`` tensor, ``"columns"`` one
        output per class.
    opset : int or None, default=None
        Target opset; None is skl2onnx's newest tested one.

    Returns
    -------
    onnx.ModelProto
        Input ``X``; outputs the labels and the probabilities.
    """
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise ValueError(f"{type(model).__name__} is not fitted, or has no n_features_in_.")
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    return convert_sklearn(model, initial_types=[("X", FloatTensorType([None, n_features]))],
                           target_opset=opset, options={id(last): {"zipmap": zipmap}})


def compare_onnx(model: Any, onx: Any, X: Any) -> dict[str, Any]:
    """Run ``onx`` with onnxruntime on ``X`` and compare it with ``model`` in scikit-learn.

    Parameters
    ----------
    model : DistilledClassifier or Pipeline
        The fitted model ``onx`` was converted from.
    onx : onnx.ModelProto
        Its ONNX graph (ZipMap or not).
    X : array-like of shape (n_samples, n_features)
        The rows to compare on.

    Returns
    -------
    dict
        ``labels_equal`` (bool), ``max_abs_proba_diff`` (float) and ``rows``.
    """
    import onnxruntime

    X = np.asarray(X, dtype=np.float32)
    session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, {session.get_inputs()[0].name: X})[:2]
    if isinstance(probabilities, list):  # ZipMap: one {label: probability} per row
        order = list(model.classes_)
        probabilities = np.array([[row[c] for c in order] for row in probabilities])
    expected = model.predict(X)
    return {
        "labels_equal": bool(np.array_equal(np.asarray(labels).astype(expected.dtype),
                                            expected)),
        "max_abs_proba_diff": float(np.max(np.abs(probabilities - model.predict_proba(X)))),
        "rows": len(X),
    }


def _shape_calculator(operator: Any) -> None:
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)


def _converter(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.helpers.integration import add_onnx_graph

    estimator = operator.raw_operator
    input_type = guess_proto_type(operator.inputs[0].type)
    graph = student_graph(estimator, container.target_opset, input_type)
    add_onnx_graph(scope, operator, container, graph)


def register_converter(estimator_class: type) -> None:
    """Register the skl2onnx converter of ``estimator_class`` (``DistilledClassifier``).

    ``skkd.estimator`` calls it on import when skl2onnx is installed.

    Parameters
    ----------
    estimator_class : type
        The class skl2onnx maps to this converter.
    """
    from skl2onnx import update_registered_converter

    update_registered_converter(
        estimator_class, "SkkdDistilledClassifier", _shape_calculator, _converter,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
        overwrite=True,
    )
