"""The student as an ONNX graph: torch.onnx for the module, then what ``predict`` adds."""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from skkd._columns import encoded_width
from skkd.exceptions import StudentError
from skkd.export._frame import attach_columns, column_types
from skkd.export._labels import onnx_labels

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
    columns = getattr(estimator, "columns_", None)
    width = estimator.n_features_in_ if columns is None else encoded_width(columns)
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
                module, (torch.zeros(2, width),), buffer, dynamo=False,
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


def student_graph(estimator: Any, opset: int = 17,
                  input_type: int | Sequence[int] | None = None, *,
                  zipmap: bool | str = False, nocl: bool = False) -> Any:
    """The student of a fitted ``DistilledClassifier`` or ``DistilledRegressor`` as ONNX.

    Parameters
    ----------
    estimator : DistilledClassifier or DistilledRegressor
        Fitted.
    opset : int, default=17
        Target opset of the default domain (at most :data:`TORCH_MAX_OPSET`
        is used for the student's own operators).
    input_type : int, sequence of int, or None, default=None
        The ``onnx.TensorProto`` element type of the input rows; None is
        float32. Other types are cast to float32 first. For a student fitted
        on a raw DataFrame (``columns_``), one type per column (None: float64
        for numbers, bool for bools, strings for strings and string
        categories).
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
        Input ``X`` of shape ``(N, n_features_in_)``, or, for a student
        fitted on a raw DataFrame, one input per column, named by the column,
        of shape ``(N, 1)`` (as skl2onnx converts a model of a DataFrame;
        see :func:`to_onnx`). A classifier's outputs
        are ``label`` (the original labels, shape ``(N,)``: strings, int64 for
        integers, else ``classes_``'s dtype) and ``probabilities`` (``(N,
        n_classes)``, columns in ``classes_`` order). A regressor's one output
        is ``variable``, the predictions of shape ``(N, n_outputs_)`` (``(N,
        1)`` for a 1-D target, as skl2onnx's regressors), the student's
        outputs times ``target_scale_`` plus ``target_mean_``, float64
        whatever the input (as ``predict``; float32 would lose the
        predictions' differences on a large offset). Probabilities are
        float64 when the input is and no ZipMap follows (onnxruntime's ZipMap
        takes float32 only), else float32.

    Raises
    ------
    skkd.StudentError
        If ONNX cannot return the labels exactly as ``predict`` does (the
        message names them and the fix), if ``torch.onnx`` cannot export
        the student module (the message names the module and the reason), or
        if a column of a raw DataFrame cannot be an ONNX input (datetime or
        timedelta: the message names it and the fix).
    ValueError
        If ``zipmap`` or ``nocl`` is set for a regressor.
    """
    return build_graph(estimator, opset, input_type, zipmap=zipmap, nocl=nocl)


def build_graph(estimator: Any, opset: int, input_type: Any, *, zipmap: bool | str = False,
                nocl: bool = False, named_by_position: bool = False) -> Any:
    """:func:`student_graph`; ``named_by_position``: a raw DataFrame's column inputs are
    named ``column_0``, ``column_1``, ... (skl2onnx maps them to its inputs by position)."""
    columns = getattr(estimator, "columns_", None)
    types, first_type = None, input_type
    if columns is not None:
        types = column_types(columns) if input_type is None else _paired(columns, input_type)
        if named_by_position:
            types = [(f"column_{j}", elem_type) for j, (_, elem_type) in enumerate(types)]
        input_type, first_type = None, types[0][1]
    if _is_regressor(estimator):
        if zipmap or nocl:
            raise ValueError(
                f"zipmap={zipmap!r}, nocl={nocl!r}: zipmap and nocl are classifier options, "
                f"and {type(estimator).__name__} is a regressor (its one output, 'variable', "
                "holds the predictions); leave them unset."
            )
        student = _regressor_graph(estimator, opset, input_type)
    else:
        student = _classifier_graph(estimator, opset, input_type, zipmap, nocl,
                                    proba_type(first_type, zipmap))
    if types is not None:
        attach_columns(student, columns, types)
    return student


def _paired(columns: dict[str, Any], input_type: Any) -> list[tuple[str, int]]:
    """The column names of ``columns`` paired with ``input_type``, one type per column."""
    names = [c["name"] for c in columns["columns"]]
    types = [input_type] if isinstance(input_type, int) else list(input_type)
    if len(types) != len(names):
        raise StudentError(
            f"The student reads {len(names)} DataFrame columns ({names[:20]}), and ONNX "
            f"gives it {len(types)} inputs: convert it with one input per column, e.g. "
            "skkd.export.to_onnx(model, X=frame)."
        )
    column_types(columns)  # datetime columns are refused before anything is built
    return list(zip(names, types, strict=True))


def _classifier_graph(estimator: Any, opset: int, input_type: int | None,
                      zipmap: bool | str, nocl: bool, probabilities: int) -> Any:
    """A classifier's student followed by the softmax, the arg-max and the labels
    (``probabilities``: their element type)."""
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
    graph.node.extend([
        helper.make_node("Softmax", ["logits"], ["proba_float"], name="softmax", axis=1),
        helper.make_node("Cast", ["proba_float"], ["probabilities"], name="cast_proba",
                         to=probabilities),
        helper.make_node("ArgMax", ["logits"], ["index"], name="argmax", axis=1, keepdims=0),
        helper.make_node("Gather", ["classes", "index"], ["label"], name="label", axis=0),
    ])
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info("label", label_type, ["N"]),
        helper.make_tensor_value_info("probabilities", probabilities, ["N", len(classes)]),
    ])
    return student


def proba_type(input_type: Any, zipmap: bool | str) -> int:
    """The probabilities' element type: float64 for a float64 (first) input, as skl2onnx
    declares them, except under a ZipMap, which onnxruntime runs on float32 only."""
    from onnx import TensorProto

    zipped = bool(zipmap) and zipmap != "columns"
    return TensorProto.DOUBLE if input_type == TensorProto.DOUBLE and not zipped \
        else TensorProto.FLOAT


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


