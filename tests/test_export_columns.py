"""ONNX of a student fitted on a raw DataFrame: one graph input per column, as skl2onnx has it.

The graph reads the columns as the student does (``skkd._columns``):
codes or one-hot columns of categories (unseen and missing: unknown), standardized
numbers (missing: the mean), 0/1 binaries, missing-value flags. onnxruntime returns
``predict``'s labels and its probabilities to 1e-5, under skl2onnx's default options.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skkd import DistilledClassifier, DistilledRegressor, save_student
from skkd.exceptions import StudentError

pd = pytest.importorskip("pandas")
onnxruntime = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
from onnx import TensorProto  # noqa: E402 - skl2onnx's dependency

from skkd.export import compare_onnx, student_graph, to_onnx  # noqa: E402

FAST = {"alpha": 1.0, "max_epochs": 2, "random_state": 0, "module__hidden_sizes": (16,)}
N = 240


def _frame(n=N, seed=0):
    """Every dtype the student reads, missing values in some."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "income": np.where(rng.random(n) < 0.2, np.nan, rng.normal(50, 10, n)),
        "visits": rng.integers(0, 20, n),
        "member": rng.random(n) > 0.5,
        "name": pd.Series(rng.choice(["ann", "bob", "cy", None], n), dtype=object),
        "city": pd.Categorical(rng.choice(["lyon", "nice", "paris", None], n)),
        "doors": rng.choice([3.0, 5.0], n),  # two values: binary
        "flat": np.full(n, 7.0),  # constant in training
        "x": rng.normal(size=n),
    })


def _labels(df):
    return np.where((df["x"] > 0) ^ (df["city"] == "nice").to_numpy(), "yes", "no")


def _new_rows(df):
    """Rows with what training never saw: new categories, missing values where there were none."""
    rows = df.iloc[:40].copy()
    rows.loc[rows.index[:8], "name"] = "zed"
    rows["city"] = rows["city"].cat.add_categories(["rome"])
    rows.loc[rows.index[8:16], "city"] = "rome"
    rows.loc[rows.index[16:24], "x"] = np.nan  # no NaN in training: reads the mean
    rows.loc[rows.index[24:32], "doors"] = np.nan  # binary: reads the more frequent value
    rows.loc[rows.index[32:], "name"] = None
    rows.loc[rows.index[32:], "income"] = 1e3  # far out
    return rows


@pytest.fixture(scope="module")
def frame():
    df = _frame()
    return df, _labels(df)


@pytest.fixture(scope="module", params=["auto", "mlp"])
def classifier(request, frame):
    """tabular-mlp (category codes) and mlp (one-hot columns)."""
    df, y = frame
    return DistilledClassifier(module=request.param, **FAST).fit(df, y)


def _ok(result):
    assert result["labels_equal"], result
    assert result["max_abs_proba_diff"] <= 1e-5, result


def test_the_inputs_follow_skl2onnx_for_dataframes(classifier, frame):
    df, _ = frame
    onx = to_onnx(classifier, X=df)
    types = {i.name: i.type.tensor_type.elem_type for i in onx.graph.input}
    assert types == {"income": TensorProto.DOUBLE, "visits": TensorProto.INT64,
                     "member": TensorProto.BOOL, "name": TensorProto.STRING,
                     "city": TensorProto.STRING, "doors": TensorProto.DOUBLE,
                     "flat": TensorProto.DOUBLE, "x": TensorProto.DOUBLE}
    assert all([d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim][1:] == [1]
               for i in onx.graph.input)
    # skl2onnx's own to_onnx(model, X=frame) types them the same way
    theirs = skl2onnx.to_onnx(classifier, X=df)
    assert {i.name: i.type.tensor_type.elem_type for i in theirs.graph.input} == types
    _ok(compare_onnx(classifier, theirs, df))


def test_labels_and_probabilities_agree_with_the_default_zipmap(classifier, frame):
    df, _ = frame
    onx = to_onnx(classifier, X=df)  # skl2onnx's default: ZipMap, which takes float32
    assert [o.name for o in onx.graph.output] == ["output_label", "output_probability"]
    _ok(compare_onnx(classifier, onx, df))
    _ok(compare_onnx(classifier, onx, _new_rows(df)))
    _ok(compare_onnx(classifier, to_onnx(classifier, X=df, zipmap=False), _new_rows(df)))


def test_without_a_frame_numbers_are_float64_inputs(classifier, frame):
    df, _ = frame
    onx = to_onnx(classifier)
    types = {i.name: i.type.tensor_type.elem_type for i in onx.graph.input}
    assert types["visits"] == TensorProto.DOUBLE and types["member"] == TensorProto.BOOL
    assert types["name"] == types["city"] == TensorProto.STRING
    _ok(compare_onnx(classifier, onx, _new_rows(df)))


def test_feeding_onnxruntime_by_hand(classifier, frame):
    """What the docs show: each column an (N, 1) array, a missing string as ""."""
    df, _ = frame
    rows = _new_rows(df)
    onx = to_onnx(classifier, X=df)
    session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    feed = {}
    for column in rows.columns:
        values = rows[[column]]
        if rows[column].dtype == object or isinstance(rows[column].dtype, pd.CategoricalDtype):
            values = rows[[column]].astype(object).where(rows[[column]].notna(), "")
        feed[column] = values.to_numpy()
    labels, probabilities = session.run(None, feed)
    np.testing.assert_array_equal(labels, classifier.predict(rows))
    expected = classifier.predict_proba(rows)
    got = np.array([[row[c] for c in classifier.classes_] for row in probabilities])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_a_regressor(frame):
    df, _ = frame
    y = df["x"].to_numpy() * 3 + (df["city"] == "nice").to_numpy()
    for module in ("auto", "mlp"):
        regressor = DistilledRegressor(module=module, **FAST).fit(df, y)
        onx = to_onnx(regressor, X=df)
        assert [o.name for o in onx.graph.output] == ["variable"]
        assert len(onx.graph.input) == df.shape[1]
        result = compare_onnx(regressor, onx, _new_rows(df), rtol=1e-5)
        assert result["ok"], result


def test_a_student_of_a_gbm_on_the_raw_frame(frame):
    """Zero-config: the teacher reads the frame as passed, the student encodes it."""
    df, y = frame
    df = df.drop(columns=["name"])  # HistGradientBoosting takes no object columns
    gbm = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=20,
                                         random_state=0).fit(df, y)
    student = DistilledClassifier(gbm, max_epochs=2, random_state=0).fit(df, y)
    onx = skl2onnx.to_onnx(student, X=df)  # skl2onnx's defaults
    _ok(compare_onnx(student, onx, _new_rows(df).drop(columns=["name"])))


def _one_column(kind, rng, n=120):
    return {
        "float with NaN": pd.Series(np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n))),
        "float32": pd.Series(rng.normal(size=n).astype(np.float32)),
        "int64": pd.Series(rng.integers(-5, 50, n)),
        "nullable Int64": pd.Series(np.where(rng.random(n) < 0.2, None, rng.integers(0, 9, n)),
                                    dtype="Int64"),
        "bool": pd.Series(rng.random(n) > 0.5),
        "nullable bool": pd.Series(np.where(rng.random(n) < 0.2, None, rng.random(n) > 0.5),
                                   dtype="boolean"),
        "object with None": pd.Series(rng.choice(["a", "b", "c", None], n), dtype=object),
        "string": pd.Series(rng.choice(["a", "b", "c"], n), dtype="string"),
        "categorical": pd.Series(pd.Categorical(rng.choice(["a", "b", None], n))),
        "categorical of ints": pd.Series(pd.Categorical(rng.choice([1, 5, 9], n))),
        "two values": pd.Series(rng.choice([-1.5, 4.0], n)),
        "constant": pd.Series(np.full(n, 3.0)),
        "all missing": pd.Series(np.full(n, np.nan)),
    }[kind]


@pytest.mark.parametrize("kind", ["float with NaN", "float32", "int64", "nullable Int64", "bool",
                                  "nullable bool", "object with None", "string", "categorical",
                                  "categorical of ints", "two values", "constant", "all missing"])
@pytest.mark.parametrize("module", ["auto", "mlp"])
def test_each_dtype(kind, module):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"c": _one_column(kind, rng), "z": rng.normal(size=120),
                       "s": rng.choice(["u", "v"], 120)})  # a string: the student encodes
    y = rng.integers(0, 3, 120)
    est = DistilledClassifier(module=module, **FAST).fit(df, y)
    assert est.columns_ is not None
    for onx in (to_onnx(est, X=df), to_onnx(est)):
        _ok(compare_onnx(est, onx, df))


def test_a_numeric_column_named_categorical():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"n": rng.choice([2, 4, 8], 120), "z": rng.normal(size=120),
                       "f": np.where(rng.random(120) < 0.1, np.nan, rng.normal(size=120))})
    y = rng.integers(0, 2, 120)
    est = DistilledClassifier(categorical_features=["n"], **FAST).fit(df, y)
    assert est.columns_["columns"][0]["role"] == "category"
    rows = df.assign(n=np.where(np.arange(120) < 10, 3, df["n"]))  # 3: not seen in training
    _ok(compare_onnx(est, to_onnx(est, X=df), rows))


def test_the_column_nodes_read_as_the_student(classifier, frame):
    """The rows the graph hands the student are transform_columns' (and the 'clip' reading)."""
    from onnx import helper

    from skkd._columns import transform_columns
    from skkd.export._frame import column_nodes, column_types, frame_inputs

    df, _ = frame
    rows = _new_rows(df)
    encoding = classifier.columns_
    clipped = {**encoding, "columns": [dict(c) for c in encoding["columns"]]}
    clipped["columns"][0]["clip"] = 2.0  # income: x / sqrt(1 + (x / 2)**2) once standardized
    for enc in (encoding, clipped):
        types = column_types(enc, df)
        nodes, out = column_nodes(enc, types)
        graph = helper.make_graph(
            nodes.nodes, "columns",
            [helper.make_tensor_value_info(name, t, ["N", 1]) for name, t in types],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", None])],
            nodes.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                        helper.make_opsetid("ai.onnx.ml", 2)])
        session = onnxruntime.InferenceSession(model.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        (got,) = session.run(None, frame_inputs(session.get_inputs(), rows))
        expected = transform_columns(encoding, rows)
        if enc is clipped:
            at = sum(len(c["categories"]) if encoding["one_hot"] else 1  # income: after
                     for c in encoding["columns"] if c["role"] == "category")  # the codes
            x = expected[:, at].astype(np.float64)
            expected[:, at] = x / np.sqrt(1 + (x / 2.0) ** 2)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_a_date_column_is_refused_naming_it():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"when": pd.Timestamp("2024-01-01")
                       + pd.to_timedelta(rng.integers(0, 300, 60), unit="D"),
                       "z": rng.normal(size=60)})
    est = DistilledClassifier(**FAST).fit(df, rng.integers(0, 2, 60))
    for export in (lambda: to_onnx(est), lambda: to_onnx(est, X=df), lambda: student_graph(est)):
        with pytest.raises(StudentError, match=r"Column 'when' held datetime.*before fit"):
            export()


def test_a_pipeline_over_float64_runs_under_the_default_zipmap(digits):
    """ZipMap takes float32 probabilities only; a float64 input used to give float64."""
    X_train, X_test, y_train, _ = digits
    pipe = make_pipeline(StandardScaler(), DistilledClassifier(max_epochs=1, random_state=0))
    pipe.fit(X_train[:300], y_train[:300])
    onx = skl2onnx.to_onnx(pipe, X_train[:1].astype(np.float64))
    assert compare_onnx(pipe, onx, X_test.astype(np.float64))["ok"]


def test_skkd_export_takes_a_student_file(classifier, frame, tmp_path, capsys):
    from skkd.cli import main

    df, _ = frame
    save_student(classifier, tmp_path / "student.skkd")
    _new_rows(df).to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "model.onnx"
    assert main(["export", str(tmp_path / "student.skkd"), "--onnx", str(out),
                 "--check", str(tmp_path / "rows.csv")]) == 0
    printed = capsys.readouterr().out
    assert "one input per DataFrame column, 8: income double, visits double" in printed
    assert "check on 40 rows" in printed and "labels equal" in printed and "(ok," in printed
    session = onnxruntime.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(df.columns)
    np.save(tmp_path / "rows.npy", np.zeros((3, 8)))
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(tmp_path / "student.skkd"), "--onnx", str(out),
              "--check", str(tmp_path / "rows.npy")])
    assert exit_info.value.code == 2
    assert "is not a .csv or .parquet file" in capsys.readouterr().err


def test_missing_value_flags_come_in_the_frame_s_column_order():
    """A flagged two-valued column before a flagged number: flags in column order, as the
    student reads them (the graph reads numbers and binaries as one block each)."""
    from onnx import helper

    from skkd._columns import fit_columns, transform_columns
    from skkd.export._frame import column_nodes, column_types, frame_inputs

    rng = np.random.default_rng(7)
    df = pd.DataFrame({"two": rng.choice([3.0, 5.0, np.nan], 80),
                       "num": np.where(rng.random(80) < 0.2, np.nan, rng.normal(size=80)),
                       "const": np.full(80, np.nan), "k": rng.integers(0, 9, 80)})
    encoding = fit_columns(df)
    assert [c["role"] for c in encoding["columns"]] == ["binary", "numeric", "constant",
                                                        "numeric"]
    types = column_types(encoding, df)
    nodes, out = column_nodes(encoding, types)
    graph = helper.make_graph(
        nodes.nodes, "columns",
        [helper.make_tensor_value_info(name, t, ["N", 1]) for name, t in types],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", None])], nodes.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    (got,) = session.run(None, frame_inputs(session.get_inputs(), df))
    np.testing.assert_allclose(got, transform_columns(encoding, df), rtol=1e-6, atol=1e-6)
