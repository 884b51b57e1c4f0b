"""A student of a raw DataFrame (``columns_``) in ONNX: one input per column, as skl2onnx has it.

skl2onnx converts a model of a DataFrame with one graph input per column,
named by the column, of shape ``(N, 1)``: strings as string tensors, numbers
in their own dtype. The nodes built here read those inputs as
:func:`skkd._columns.transform_columns` reads the columns, in float64
then cast to float32 (so the rows the student reads are the ones ``predict``
makes), and concatenate them in its order: category codes (or one-hot
columns), numeric columns, binary columns, missing-value flags.

============================  ==========================================================
column (its role)             graph input and nodes (numeric, binary and constant
                              columns as one block: one node per operation)
============================  ==========================================================
category, string categories   string: ``LabelEncoder`` to the code, ``-1`` for anything
                              not seen in training (missing values are fed as ``""``)
category, number categories   a number: ``Equal`` against the categories (NaN: ``-1``)
numeric                       a number: ``Sub`` the mean, ``Div`` the scale (then the
                              ``clip`` reading when the encoding has one), NaN reads 0
binary                        a number or bool: 0/1 by its two values, NaN reads the fill
constant                      any type: zeros
datetime, timedelta           refused: ONNX has no type for them
============================  ==========================================================

Without a frame to type the inputs by, a column of numbers is a float64 input
(NaN for missing), a bool column a bool one (float64 when it had missing
values in training), and a column of strings or string categories a string one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skkd.exceptions import StudentError

#: The ``ai.onnx.ml`` opset of ``LabelEncoder`` with string keys and int64 values.
ML_OPSET = 2
_PREFIX = "skkd_columns_"


def _onnx():
    from onnx import TensorProto

    return TensorProto


def _numeric_types() -> set[int]:
    T = _onnx()
    return {T.FLOAT16, T.FLOAT, T.DOUBLE, T.INT8, T.INT16, T.INT32, T.INT64, T.UINT8,
            T.UINT16, T.UINT32, T.UINT64, T.BOOL}


def _reads_strings(spec: dict[str, Any]) -> bool:
    """Whether the column's graph input holds strings (its categories are strings)."""
    if spec["role"] == "category":
        return isinstance(spec["categories"][0], str)
    return spec["role"] == "constant" and spec["kind"] in ("category", "string")


def _refuse_dates(spec: dict[str, Any]) -> None:
    if spec["kind"] in ("datetime", "timedelta"):
        raise StudentError(
            f"Column {spec['name']!r} held {spec['kind']} values in fit, which ONNX has no "
            "tensor type for, so the student cannot be exported. Convert the column to "
            "numbers before fit, e.g. days since 1970: (df[col] - pandas.Timestamp(0)) / "
            "pandas.Timedelta(days=1) for dates, df[col] / pandas.Timedelta(days=1) for "
            "durations, and fit the teacher and the student on that frame."
        )


def _type_of_series(spec: dict[str, Any], series: Any) -> int:
    """The graph input type of a column from its dtype in ``series``, as skl2onnx types it."""
    from onnx import helper

    T = _onnx()
    dtype = series.dtype
    if _reads_strings(spec):
        return T.STRING
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        elem_type = helper.np_dtype_to_tensor_dtype(dtype)
        if elem_type in (T.BOOL, T.FLOAT, T.DOUBLE, T.INT64, T.INT32, T.INT8, T.UINT8):
            return elem_type  # the types skl2onnx declares inputs of
    # other widths (read as float64 by the student too), nullable dtypes (Int64,
    # boolean, ...), categories of numbers, objects holding numbers
    return T.DOUBLE


def column_types(encoding: dict[str, Any], frame: Any = None) -> list[tuple[str, int]]:
    """Each column's graph input: its name and ``onnx.TensorProto`` element type.

    Typed by ``frame``'s dtypes when given (rows with the fitted columns, as
    skl2onnx's ``to_onnx(model, X=frame)`` types them), else by what the
    encoding knows (see the module's docstring).

    Raises
    ------
    skkd.StudentError
        For a datetime or timedelta column, or a ``frame`` whose columns are
        not the fitted ones.
    """
    specs = encoding["columns"]
    for spec in specs:
        _refuse_dates(spec)
    T = _onnx()
    if frame is None:
        return [(s["name"], T.STRING if _reads_strings(s)
                 else T.BOOL if s["kind"] == "bool" and not s.get("flag") else T.DOUBLE)
                for s in specs]
    names = [str(c) for c in frame.columns]
    if names != [s["name"] for s in specs]:
        raise StudentError(
            f"X has the columns {names[:20]}; the student was fitted on "
            f"{[s['name'] for s in specs][:20]}: pass rows with those columns, in that order, "
            "to type the ONNX inputs."
        )
    return [(s["name"], _type_of_series(s, frame.iloc[:, j])) for j, s in enumerate(specs)]


class _Nodes:
    """ONNX nodes and constants under unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.uses_ml = False
        self._count = 0

    def name(self, what: str) -> str:
        self._count += 1
        return f"{_PREFIX}{what}_{self._count}"

    def const(self, value: Any, dtype: Any = np.float64) -> str:
        from onnx import numpy_helper

        name = self.name("const")
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def add(self, op: str, inputs: list[str], domain: str = "", **attributes: Any) -> str:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain or None,
                                           **attributes))
        self.uses_ml |= domain == "ai.onnx.ml"
        return out


def _category(b: _Nodes, spec: dict[str, Any], x: str, one_hot: bool) -> str:
    """A category column: its code (float32, -1 unknown) or its one-hot columns."""
    T = _onnx()
    categories = spec["categories"]
    k = len(categories)
    if isinstance(categories[0], str):
        code = b.add("LabelEncoder", [x], domain="ai.onnx.ml", keys_strings=categories,
                     values_int64s=list(range(k)), default_int64=-1)
        if not one_hot:
            return b.add("Cast", [code], to=T.FLOAT)
        equal = b.add("Equal", [code, b.const(np.arange(k).reshape(1, k), np.int64)])
        return b.add("Cast", [equal], to=T.FLOAT)
    table = np.asarray([float(c) for c in categories]).reshape(1, k)
    hot = b.add("Cast", [b.add("Equal", [_as_double(b, x), b.const(table)])], to=T.FLOAT)
    if one_hot:
        return hot
    # one 1 per known row, none for unknown: (k+1)-weighted sum minus 1 is the code, or -1
    weights = b.const(np.arange(1, k + 1).reshape(k, 1), np.float32)
    return b.add("Sub", [b.add("MatMul", [hot, weights]), b.const(1.0, np.float32)])


def _as_double(b: _Nodes, x: str) -> str:
    return b.add("Cast", [x], to=_onnx().DOUBLE)


def _affine(spec: dict[str, Any]) -> tuple[float, float, float, float]:
    """``(shift, scale, fill, clip)`` of a numeric, binary or constant column: it reads
    ``(x - shift) / scale`` (smoothly clipped at ``clip``), and ``fill`` where missing."""
    if spec["role"] == "numeric":
        clip = spec.get("clip")
        return spec["mean"], spec["scale"], 0.0, np.inf if clip is None else float(clip)
    if spec["role"] == "binary":
        return spec["low"], spec["high"] - spec["low"], spec["fill"], np.inf
    return 0.0, 1.0, 0.0, np.inf  # constant: its input is replaced by zeros


def _number_block(b: _Nodes, columns: list[tuple[dict[str, Any], str]]) -> tuple[str, str]:
    """The numeric, binary and constant columns read as one float32 block, with one node
    per operation (not per column): and the float32 block of their missing-value flags.

    ``columns`` are ``(spec, input)`` pairs in the block's order; returns the names of
    the block and of the flags (the flags' name is empty without flags).
    """
    T = _onnx()
    raw = [_zeros(b, x) if spec["role"] == "constant" else _as_double(b, x)
           for spec, x in columns]
    values = raw[0] if len(raw) == 1 else b.add("Concat", raw, axis=1)
    shift, scale, fill, clip = (np.asarray(v, np.float64).reshape(1, -1) for v in zip(
        *(_affine(spec) for spec, _ in columns), strict=True))
    read = b.add("Div", [b.add("Sub", [values, b.const(shift)]), b.const(scale)])
    if np.isfinite(clip).any():  # x / sqrt(1 + (x / c)**2); c = inf reads x
        ratio = b.add("Div", [read, b.const(clip)])
        read = b.add("Div", [read, b.add("Sqrt", [b.add("Add", [
            b.const(1.0), b.add("Mul", [ratio, ratio])])])])
    missing = b.add("IsNaN", [values])  # ints and bools, cast to double, are never NaN
    read = b.add("Cast", [b.add("Where", [missing, b.const(fill), read])], to=T.FLOAT)
    # the flags in the frame's column order, as the student reads them
    order = sorted(range(len(columns)), key=lambda j: columns[j][0]["position"])
    flagged = [j for j in order if columns[j][0].get("flag")]
    if not flagged:
        return read, ""
    flags = b.add("Gather", [missing, b.const(np.asarray(flagged), np.int64)], axis=1)
    return read, b.add("Cast", [flags], to=T.FLOAT)


def _zeros(b: _Nodes, x: str) -> str:
    """A float64 column of zeros, one per row of the ``(N, 1)`` input ``x``."""
    from onnx import helper

    return b.add("ConstantOfShape", [b.add("Shape", [x])],
                 value=helper.make_tensor("zero", _onnx().DOUBLE, [1], [0.0]))


def _check_type(spec: dict[str, Any], elem_type: int) -> None:
    from onnx import TensorProto

    strings = _reads_strings(spec)
    if (elem_type == TensorProto.STRING) == strings and (
            strings or elem_type in _numeric_types()):
        return
    want = "strings" if strings else "numbers (float, int or bool)"
    got = TensorProto.DataType.Name(elem_type).lower()
    raise StudentError(
        f"Column {spec['name']!r} is read as {want}, but its ONNX input is a {got} tensor. "
        "Type the inputs as skkd.export.to_onnx(model, X=frame) does: strings and "
        "categories of strings as strings, numbers and bools as they come."
    )


def column_nodes(encoding: dict[str, Any], types: list[tuple[str, int]]) -> tuple[
        _Nodes, str]:
    """The nodes reading the column inputs ``types`` into the student's float32 rows.

    Returns the nodes and constants, and the name of the ``(N, width)`` rows.
    """
    specs = encoding["columns"]
    if len(types) != len(specs):
        raise StudentError(
            f"The ONNX graph has {len(types)} inputs, but the student reads {len(specs)} "
            "DataFrame columns: give it one input per column (skl2onnx does for a "
            "DataFrame X)."
        )
    b = _Nodes()
    codes: list[str] = []
    numbers: dict[str, list[tuple[dict[str, Any], str]]] = {"numeric": [], "binary": []}
    for position, (spec, (name, elem_type)) in enumerate(zip(specs, types, strict=True)):
        _refuse_dates(spec)
        _check_type(spec, elem_type)
        spec = {**spec, "position": position}
        if spec["role"] == "category":
            codes.append(_category(b, spec, name, encoding["one_hot"]))
        else:  # a constant column reads as a numeric one does: in that block
            numbers["binary" if spec["role"] == "binary" else "numeric"].append((spec, name))
    parts = list(codes)
    columns = [*numbers["numeric"], *numbers["binary"]]
    if columns:
        block, flags = _number_block(b, columns)
        parts += [block] + ([flags] if flags else [])
    return b, parts[0] if len(parts) == 1 else b.add("Concat", parts, axis=1)


def rename(graph: Any, old: str, new: str) -> None:
    """Rename the tensor ``old`` to ``new`` wherever ``graph`` names it."""
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for info in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        if info.name == old:
            info.name = new


def attach_columns(model: Any, encoding: dict[str, Any],
                   types: list[tuple[str, int]] | None = None) -> None:
    """Replace ``model``'s float32 input ``X`` by one input per column, and the nodes reading them.

    ``types`` (see :func:`column_types`) default to the encoding's own. A name
    the student's graph uses that is also a column's is renamed first; a
    column named as one of the graph's outputs is refused.
    """
    from onnx import helper

    graph = model.graph
    types = column_types(encoding) if types is None else types
    outputs = {o.name for o in graph.output}
    clash = [name for name, _ in types if name in outputs]
    if clash:
        raise StudentError(
            f"Column {clash[0]!r} has the name of an output of the ONNX graph "
            f"({', '.join(sorted(outputs))}); rename the column before fit, or convert "
            "with skl2onnx (skkd.export.to_onnx), which names the outputs apart."
        )
    used = {n for node in graph.node for n in (*node.input, *node.output)}
    used |= {t.name for t in graph.initializer} | {i.name for i in graph.input}
    for name, _ in types:
        if name in used:
            new = f"{_PREFIX}renamed_{len(used)}"
            rename(graph, name, new)
            used.add(new)
    b, rows = column_nodes(encoding, types)
    rename(graph, graph.input[0].name, rows)
    del graph.input[:]
    graph.input.extend(helper.make_tensor_value_info(name, elem_type, ["N", 1])
                       for name, elem_type in types)
    nodes = [*b.nodes, *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(b.initializers)
    if b.uses_ml and not any(o.domain == "ai.onnx.ml" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))


#: numpy dtypes of onnxruntime's input types.
_NUMPY = {"tensor(double)": np.float64, "tensor(float)": np.float32,
          "tensor(float16)": np.float16, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
          "tensor(int16)": np.int16, "tensor(int8)": np.int8, "tensor(uint64)": np.uint64,
          "tensor(uint32)": np.uint32, "tensor(uint16)": np.uint16, "tensor(uint8)": np.uint8,
          "tensor(bool)": np.bool_}


def frame_inputs(inputs: Any, frame: Any) -> dict[str, np.ndarray]:
    """onnxruntime's feed for ``frame``: each column as its graph input's ``(N, 1)`` array.

    ``inputs`` are the session's ``get_inputs()``, one per column, in order.
    Strings are fed as ``object`` arrays of ``str``, a missing value (or
    anything but a string) as ``""``; numbers in the input's dtype, NaN for a
    missing value.

    Raises
    ------
    ValueError
        If ``frame`` has another number of columns, or a column with missing
        values goes to an integer or bool input (the message names it).
    """
    import pandas as pd

    if frame.shape[1] != len(inputs):
        raise ValueError(f"X has {frame.shape[1]} columns; the ONNX graph has one input per "
                         f"column, {len(inputs)}: {[i.name for i in inputs][:20]}.")
    feed = {}
    for j, node_arg in enumerate(inputs):
        series = frame.iloc[:, j]
        if node_arg.type == "tensor(string)":
            values = series.astype(object).to_numpy()
            values = np.array([v if isinstance(v, str) and not pd.isna(v) else ""
                               for v in values], dtype=object)
        else:
            dtype = _NUMPY.get(node_arg.type)
            if dtype is None:
                raise ValueError(f"The ONNX input {node_arg.name!r} is a {node_arg.type}, "
                                 "which skkd does not feed.")
            if series.isna().any() and np.dtype(dtype).kind in "biu":
                raise ValueError(
                    f"Column {frame.columns[j]!r} has missing values, but its ONNX input "
                    f"{node_arg.name!r} is {node_arg.type}, which cannot hold them: export "
                    "with X typing the column as float64 (or without X).")
            values = series.to_numpy(dtype=np.float64, na_value=np.nan).astype(dtype) \
                if np.dtype(dtype).kind == "f" else series.to_numpy(dtype=dtype)
        feed[node_arg.name] = values.reshape(-1, 1)
    return feed
