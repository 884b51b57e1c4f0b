"""skl2onnx's side: the converters of skkd's estimators, and :func:`to_onnx`."""

from __future__ import annotations

from typing import Any

from skkd.exceptions import StudentError
from skkd.export._frame import column_types, rename
from skkd.export._graph import _is_regressor, build_graph, proba_type
from skkd.export._labels import onnx_labels


def to_onnx(model: Any, *, zipmap: bool | str | None = None, opset: int | None = None,
            X: Any = None) -> Any:
    """Convert a fitted skkd estimator, or a ``Pipeline`` ending in one, to ONNX.

    A thin layer over ``skl2onnx.convert_sklearn``: the input is ``X``, float32
    rows of ``n_features_in_`` columns, or, for a student fitted on a raw
    DataFrame (``columns_``), one input per column, as skl2onnx converts a
    model of a DataFrame: named by the column, of shape ``(N, 1)``, strings
    (and categories of strings) as string tensors, numbers and bools in the
    dtypes of ``X``'s columns (without ``X``: numbers as float64, bools as
    bool). The graph reads the columns as the student does, missing values
    and categories not seen in training included.

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
    X : pandas.DataFrame or None, default=None
        For a student fitted on a raw DataFrame: rows with its columns (the
        training frame, or a few of its rows), whose dtypes type the inputs,
        e.g. an int64 column as an int64 input. Ignored otherwise.

    Returns
    -------
    onnx.ModelProto
        Input ``X``, or one input per column. A classifier's outputs are the
        labels and the probabilities (float32 under a ZipMap); a regressor's
        one output is ``variable``, float64 predictions of shape ``(N,
        n_outputs_)`` (``(N, 1)`` for a 1-D target).

    Raises
    ------
    skkd.StudentError
        If the labels cannot come back exactly with this ``zipmap`` (see
        :func:`onnx_labels`), the student module cannot be exported, or a
        column of the raw DataFrame cannot be an ONNX input (datetime and
        timedelta: convert them to numbers before fit).
    ValueError
        If ``model`` is not fitted, or ``zipmap`` is set for a regressor.

    Notes
    -----
    To run the graph of a student of a raw DataFrame, feed onnxruntime each
    column as an ``(N, 1)`` array of its input's type: strings as ``object``
    arrays of ``str`` (a missing value as ``""``: a string not seen in
    training reads as unknown), numbers with NaN for missing values::

        session = onnxruntime.InferenceSession(onx.SerializeToString())
        feed = {i.name: df[[c]].to_numpy() for i, c in zip(session.get_inputs(), df.columns)}
        labels, probabilities = session.run(None, feed)

    (replace missing strings first: ``df[c].astype(object).where(df[c].notna(), "")``).
    :func:`compare_onnx` takes the DataFrame and builds this feed.

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
    return convert_sklearn(model, initial_types=_initial_types(model, last, X),
                           target_opset=opset, options=options)


def _initial_types(model: Any, last: Any, X: Any) -> list[tuple[str, Any]]:
    """skl2onnx's inputs: ``X``, float32 rows, or one per column of a raw DataFrame."""
    from skl2onnx.common.data_types import FloatTensorType, _guess_type_proto

    columns = getattr(last, "columns_", None)
    if columns is None:
        return [("X", FloatTensorType([None, model.n_features_in_]))]
    if last is not model:
        raise StudentError(
            f"{type(last).__name__} at the end of this Pipeline was fitted on a DataFrame "
            "whose columns it encodes; ONNX export takes such a student alone (it reads the "
            "raw columns itself): export the estimator, not the Pipeline."
        )
    return [(name, _guess_type_proto(elem_type, [None, 1]))
            for name, elem_type in column_types(columns, X)]


def _options(scope_or_container: Any, estimator: Any) -> tuple[bool | str, bool]:
    """skl2onnx's ``zipmap`` and ``nocl`` options for ``estimator``."""
    options = scope_or_container.get_options(estimator, dict(zipmap=True, nocl=False))
    return options["zipmap"], bool(options["nocl"])


def _shape_calculator(operator: Any) -> None:
    from onnx import TensorProto
    from skl2onnx.common import data_types
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    estimator = operator.raw_operator
    if getattr(estimator, "columns_", None) is None:
        calculate_linear_classifier_output_shapes(operator)  # int64 or string labels
    else:  # one input per column, strings among them
        _, elem_type = onnx_labels(estimator.classes_)
        label_type = (data_types.StringTensorType if elem_type == TensorProto.STRING
                      else data_types.Int64TensorType)
        operator.outputs[0].type = label_type([operator.inputs[0].get_first_dimension()])
    zipmap, nocl = _options(operator.scope_inst, estimator)
    if zipmap is False and not nocl:  # labels ZipMap cannot key keep their own dtype
        _, elem_type = onnx_labels(estimator.classes_)
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
    if len(operator.outputs) > 1:  # float32 under a ZipMap, which runs on nothing else
        shape = [operator.inputs[0].get_first_dimension(), len(estimator.classes_)]
        first = data_types.guess_proto_type(operator.inputs[0].type)
        double = proba_type(first, zipmap) == TensorProto.DOUBLE
        operator.outputs[1].type = (data_types.DoubleTensorType if double
                                    else data_types.FloatTensorType)(shape)


def _input_types(operator: Any) -> int | list[int]:
    """The element types of the operator's inputs: one, or one per column of a raw DataFrame."""
    from skl2onnx.common.data_types import guess_proto_type

    types = [guess_proto_type(variable.type) for variable in operator.inputs]
    if getattr(operator.raw_operator, "columns_", None) is None:
        return types[0]
    return types


def _converter(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.helpers.integration import add_onnx_graph

    estimator = operator.raw_operator
    zipmap, nocl = _options(container, estimator)
    graph = build_graph(estimator, container.target_opset, _input_types(operator),
                        zipmap=zipmap, nocl=nocl, named_by_position=True)
    _reserve_initializer_names(scope, graph)
    add_onnx_graph(scope, operator, container, graph)


def _regressor_shape_calculator(operator: Any) -> None:
    """``variable``: ``(N, n_outputs_)``, float64 (see :func:`_regressor_graph`)."""
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.common.utils import check_input_and_output_numbers

    columns = getattr(operator.raw_operator, "columns_", None)
    check_input_and_output_numbers(
        operator, input_count_range=1 if columns is None else [1, None],
        output_count_range=1)
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = DoubleTensorType([n_rows, int(operator.raw_operator.n_outputs_)])


def _regressor_converter(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.helpers.integration import add_onnx_graph

    graph = build_graph(operator.raw_operator, container.target_opset,
                        _input_types(operator), named_by_position=True)
    _reserve_initializer_names(scope, graph)
    add_onnx_graph(scope, operator, container, graph)


def _reserve_initializer_names(scope: Any, model: Any) -> None:
    """Rename ``model``'s constants to names reserved in skl2onnx's scope.

    ``add_onnx_graph`` names them from the scope's operator names, not its
    variable names, so a constant could take the name of an input (a
    DataFrame column named ``classes``) without this.
    """
    for tensor in list(model.graph.initializer):
        rename(model.graph, tensor.name, scope.get_unique_variable_name(tensor.name))


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
