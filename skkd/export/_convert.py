"""skl2onnx's side: the converters of skkd's estimators, and :func:`to_onnx`."""

from __future__ import annotations

from typing import Any

from skkd.export._graph import _is_regressor, refuse_raw_columns, student_graph
from skkd.export._labels import onnx_labels


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
        :func:`onnx_labels`), the student module cannot be exported, or the
        student was fitted on a raw DataFrame it encodes (``columns_``).
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
    refuse_raw_columns(last)
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
