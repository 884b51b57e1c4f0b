"""Shipping a DistilledRegressor: ONNX, ``skkd export``, student files and slim pickles."""

import math
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from sklearn.datasets import make_regression
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skkd import DistilledClassifier, DistilledRegressor, load_student, save_student
from skkd.persistence import FORMAT_VERSION

onnxruntime = pytest.importorskip("onnxruntime")  # the "onnx" extra; CI installs it
skl2onnx = pytest.importorskip("skl2onnx")

from skkd.export import compare_onnx, to_onnx  # noqa: E402  (needs skl2onnx)


@pytest.fixture(scope="module")
def data():
    """Two targets of different size and offset, so the de-standardization matters."""
    X, y = make_regression(500, 8, n_targets=2, noise=5.0, random_state=0)
    y = y * [1.0, 0.01] + [1000.0, -3.0]
    X = X.astype(np.float32)
    return X[:400], X[400:], y[:400], y[400:]


@pytest.fixture(scope="module")
def students(data):
    """Fitted regressors, by name: 1-D and 2-output MLPs, a pipeline, a tabular-mlp (ple)."""
    X_train, _, y_train, _ = data
    teacher = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X_train,
                                                                            y_train[:, 0])
    common = {"max_epochs": 3, "random_state": 0}
    return {
        "1-D": DistilledRegressor(teacher, **common).fit(X_train, y_train[:, 0]),
        "2 outputs": DistilledRegressor(**common).fit(X_train, y_train),
        "pipeline": make_pipeline(StandardScaler(), DistilledRegressor(**common)).fit(
            X_train, y_train),
        "tabular-mlp": DistilledRegressor(teacher, module="tabular-mlp",
                                          module__numeric_encoding="ple", **common).fit(
            X_train, y_train[:, 0]),
    }


def output_info(onx):
    return [(o.name, o.type.tensor_type.elem_type,
             [d.dim_value if d.HasField("dim_value") else None
              for d in o.type.tensor_type.shape.dim]) for o in onx.graph.output]


def run(onx, X):
    session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"X": X})


def relative(got, expected):
    """Each output's largest difference over its largest prediction (compare_onnx's rule)."""
    expected = np.asarray(expected).reshape(len(expected), -1)
    diff = np.abs(np.asarray(got, np.float64).reshape(expected.shape) - expected)
    return float((diff.max(axis=0) / np.abs(expected).max(axis=0)).max())


# --------------------------------------------------------------------------- ONNX


@pytest.mark.parametrize("name", ["1-D", "2 outputs", "pipeline", "tabular-mlp"])
def test_onnx_agrees_with_predict_within_1e_5_relative(students, data, name):
    _, X_test, _, _ = data
    model = students[name]
    onx = to_onnx(model)
    (variable,) = run(onx, X_test)
    expected = model.predict(X_test)
    n_outputs = 1 if expected.ndim == 1 else expected.shape[1]
    assert variable.shape == (len(X_test), n_outputs) and variable.dtype == np.float64
    assert relative(variable, expected) <= 1e-5
    result = compare_onnx(model, onx, X_test)
    assert result["ok"] and result["rows"] == len(X_test)
    assert result["max_rel_diff"] <= 1e-5 and result["max_abs_diff"] < 1e-2


@pytest.mark.parametrize(("name", "y"), [("1-D", lambda y: y[:, 0]), ("2 outputs", None)])
def test_the_output_is_what_skl2onnx_regressors_give_in_float64(students, data, name, y):
    """Name and shape of LinearRegression's output; float64, as predict, for any rows."""
    from onnx import TensorProto

    X_train, X_test, y_train, _ = data
    target = y_train if y is None else y(y_train)
    reference = LinearRegression().fit(X_train, target)
    for dtype in (np.float32, np.float64):
        ours = skl2onnx.to_onnx(students[name], X_test[:1].astype(dtype))
        theirs = skl2onnx.to_onnx(reference, X_test[:1].astype(dtype))
        [(name_, elem_type, shape)] = output_info(ours)
        assert [(name_, shape)] == [(o[0], o[2]) for o in output_info(theirs)]
        assert elem_type == TensorProto.DOUBLE
        (variable,) = run(ours, X_test.astype(dtype))
        assert variable.dtype == np.float64
        assert relative(variable, students[name].predict(X_test)) <= 1e-5


def test_zipmap_is_a_classifier_option(students):
    regressor = students["1-D"]
    for model in (regressor, students["pipeline"]):
        with pytest.raises(ValueError, match="zipmap=False: zipmap is a classifier option, and "
                                             "DistilledRegressor is a regressor"):
            to_onnx(model, zipmap=False)
    with pytest.raises(NameError, match="Option 'zipmap' not in"):  # skl2onnx's own check
        skl2onnx.to_onnx(regressor, np.zeros((1, 8), np.float32), options={"zipmap": False})


def test_compare_onnx_sees_predictions_that_differ(students, data):
    from onnx import numpy_helper

    _, X_test, _, _ = data
    model = students["2 outputs"]
    onx = to_onnx(model)
    (mean,) = [t for t in onx.graph.initializer if t.name.endswith("target_mean")]
    shifted = numpy_helper.to_array(mean) + np.array([0.0, 0.01])  # the small output
    mean.CopyFrom(numpy_helper.from_array(shifted, mean.name))
    result = compare_onnx(model, onx, X_test)
    assert not result["ok"] and result["max_rel_diff"] > 1e-5
    assert result["max_abs_diff"] == pytest.approx(0.01, rel=1e-2)


def test_onnx_keeps_predictions_apart_on_a_large_offset():
    from onnx import TensorProto, numpy_helper

    from skkd.export import student_graph

    X, y = make_regression(300, 8, noise=5.0, random_state=0)
    X = X.astype(np.float32)
    y = y + 1e12  # amounts in cents, nanosecond timestamps
    model = DistilledRegressor(max_epochs=3, random_state=0).fit(X, y)
    onx = to_onnx(model)
    (variable,) = run(onx, X)
    expected = model.predict(X)
    assert len(np.unique(variable)) == len(np.unique(expected)) > 250
    spread = model.target_scale_[0]
    assert np.max(np.abs(variable[:, 0] - expected)) / spread < 1e-5
    result = compare_onnx(model, onx, X)
    assert result["ok"] and result["max_rel_diff"] < 1e-5
    # a graph that de-standardizes in float32 loses the student's signal, and is reported
    broken = student_graph(model)
    graph = broken.graph
    for node in graph.node:
        if node.name == "cast_outputs":
            node.attribute[0].i = TensorProto.FLOAT
    for i, tensor in enumerate(graph.initializer):
        if tensor.name in ("target_scale", "target_mean"):
            graph.initializer[i].CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(tensor).astype(np.float32), tensor.name))
    graph.output[0].type.tensor_type.elem_type = TensorProto.FLOAT
    (lossy,) = run(broken, X)
    assert len(np.unique(lossy)) < 20  # float32 holds 1e12 to the nearest 65,536
    result = compare_onnx(model, broken, X)
    assert not result["ok"] and result["max_rel_diff"] > 1.0


# --------------------------------------------------------------------------- skkd export


@pytest.fixture(scope="module")
def exported(students, data, tmp_path_factory):
    import joblib

    _, X_test, _, _ = data
    folder = tmp_path_factory.mktemp("regressor-export")
    joblib.dump(students["pipeline"], folder / "pipeline.joblib")
    joblib.dump(students["1-D"].without_teacher(), folder / "regressor.pkl")
    save_student(students["tabular-mlp"], folder / "student.skkd")
    np.save(folder / "X.npy", X_test)
    return folder


@pytest.mark.parametrize(("model", "name"), [("pipeline.joblib", "pipeline"),
                                             ("regressor.pkl", "1-D"),
                                             ("student.skkd", "tabular-mlp")])
def test_the_export_command_checks_predictions(exported, students, data, capsys, tmp_path,
                                               model, name):
    from skkd.cli import main

    _, X_test, _, _ = data
    out = tmp_path / "model.onnx"
    assert main(["export", str(exported / model), "--trust-pickle", "--onnx", str(out), "--check",
                 str(exported / "X.npy")]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "input X: float32 rows of 8 columns" in printed
    assert f"check on {len(X_test)} rows" in printed and "predictions, max |difference|" in printed
    assert "in units of y's spread" in printed and "(ok, tolerance 1e-5)" in printed
    session = onnxruntime.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    (variable,) = session.run(None, {"X": X_test})
    assert relative(variable, students[name].predict(X_test)) <= 1e-5


def test_the_export_command_refuses_no_zipmap_for_a_regressor(exported, capsys, tmp_path):
    from skkd.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(exported / "regressor.pkl"), "--trust-pickle", "--onnx",
              str(tmp_path / "out.onnx"),
              "--no-zipmap"])
    assert exit_info.value.code == 2
    assert "argument --no-zipmap: " in capsys.readouterr().err
    assert not (tmp_path / "out.onnx").exists()


def test_exit_status_1_is_a_prediction_difference(exported, capsys, tmp_path, monkeypatch):
    from skkd import export
    from skkd.cli import main

    def differs(model, onx, X, rtol):
        return {"max_abs_diff": 0.5, "max_rel_diff": 1e-3, "rows": len(X), "ok": False}

    monkeypatch.setattr(export, "compare_onnx", differs)
    out = tmp_path / "out.onnx"
    assert main(["export", str(exported / "regressor.pkl"), "--trust-pickle", "--onnx", str(out),
                 "--check",
                 str(exported / "X.npy")]) == 1
    assert "in units of y's spread 1.00e-03 (FAILED" in capsys.readouterr().out
    assert out.is_file()


# --------------------------------------------------------------------------- student files


def same_params(a, b):
    """get_params equality, NaN equal to NaN (unlabeled=float('nan'))."""
    assert a.keys() == b.keys()
    for key in a:
        nan = isinstance(a[key], float) and math.isnan(a[key])
        assert (nan and math.isnan(b[key])) if nan else a[key] == b[key], key


@pytest.mark.parametrize("name", ["1-D", "2 outputs", "tabular-mlp"])
def test_a_loaded_regressor_predicts_as_the_slim_copy(students, data, tmp_path, name):
    _, X_test, _, y_test = data
    student = students[name]
    save_student(student, tmp_path / "student.skkd")
    loaded = load_student(tmp_path / "student.skkd")
    slim = student.without_teacher()
    assert type(loaded) is DistilledRegressor
    np.testing.assert_array_equal(loaded.predict(X_test), slim.predict(X_test))
    assert loaded.predict(X_test).shape == student.predict(X_test).shape
    for attribute in ("n_features_in_", "n_outputs_", "target_ndim_", "teacher_score_",
                      "teacher_scores_"):
        assert getattr(loaded, attribute) == getattr(student, attribute)
    np.testing.assert_array_equal(loaded.target_mean_, student.target_mean_)
    np.testing.assert_array_equal(loaded.target_scale_, student.target_scale_)
    assert loaded.encoding_.keys() == student.encoding_.keys()
    assert loaded.teacher is None and loaded.teacher_ is None
    same_params(loaded.get_params(), slim.get_params())
    assert compare_onnx(loaded, to_onnx(loaded), X_test)["ok"]
    assert b"HistGradientBoosting" not in (tmp_path / "student.skkd").read_bytes()


def test_a_loaded_regressor_trains_on_like_the_slim_copy(students, data, tmp_path):
    X_train, X_test, y_train, _ = data
    student = students["2 outputs"]
    save_student(student, tmp_path / "student.skkd")
    loaded = load_student(tmp_path / "student.skkd")
    slim = student.without_teacher()
    for kd in (loaded, slim):
        kd.set_params(warm_start=True, max_epochs=1).fit(X_train, y_train)
    np.testing.assert_array_equal(loaded.predict(X_test), slim.predict(X_test))
    assert len(loaded.history_) == 4


def test_the_file_names_its_estimator_and_version(data, digits, tmp_path):
    X_train, _, y_train, _ = data
    # module="auto" and "auto" settings would need version 3, which older skkd refuses
    settings = {"alpha": 0.5, "lr": 1e-3, "batch_size": 32, "lr_schedule": "constant"}
    regressor = DistilledRegressor(module="mlp", max_epochs=1, random_state=0,
                                   **settings).fit(X_train, y_train[:, 0])
    save_student(regressor, tmp_path / "regressor.skkd")
    data = torch.load(tmp_path / "regressor.skkd", weights_only=True)
    # version 2 (regressors), not FORMAT_VERSION: 3 is for raw DataFrames and "auto"
    assert data["estimator"] == "DistilledRegressor" and data["version"] == 2 < FORMAT_VERSION
    # a classifier's file keeps version 1, which skkd before regressors reads
    X_train, _, y_train, _ = digits
    save_student(DistilledClassifier(module="mlp", max_epochs=1, random_state=0,
                                     temperature=1.0, **settings).fit(X_train, y_train),
                 tmp_path / "classifier.skkd")
    data = torch.load(tmp_path / "classifier.skkd", weights_only=True)
    assert data["estimator"] == "DistilledClassifier" and data["version"] == 1
    del data["estimator"]  # as skkd before regressors wrote it
    torch.save(data, tmp_path / "old.skkd")
    assert type(load_student(tmp_path / "old.skkd")) is DistilledClassifier
    torch.save({**data, "estimator": "os.system"}, tmp_path / "odd.skkd")
    with pytest.raises(ValueError, match="its estimator entry.*'os.system'"):
        load_student(tmp_path / "odd.skkd")


def test_save_student_refuses_a_regressor_pipeline(students, tmp_path):
    with pytest.raises(TypeError, match="saves a fitted DistilledClassifier or "
                                        "DistilledRegressor; got Pipeline"):
        save_student(students["pipeline"], tmp_path / "s.skkd")


# --------------------------------------------------------------------------- slim pickles


def test_the_slim_pickle_predicts_where_the_teacher_cannot_be_imported(data, tmp_path):
    """The teacher's class lives in a module only this process can import."""
    X_train, X_test, y_train, _ = data
    code = tmp_path / "code"
    code.mkdir()
    (code / "private_regressor.py").write_text(textwrap.dedent("""
        from sklearn.linear_model import Ridge

        class PrivateTeacher(Ridge):
            pass
    """))
    sys.path.insert(0, str(code))
    try:
        from private_regressor import PrivateTeacher

        teacher = PrivateTeacher().fit(X_train, y_train)
        kd = DistilledRegressor(teacher, max_epochs=2, random_state=0).fit(X_train, y_train)
        (tmp_path / "full.pkl").write_bytes(pickle.dumps(kd))
    finally:
        sys.path.remove(str(code))
        sys.modules.pop("private_regressor", None)
    (tmp_path / "slim.pkl").write_bytes(pickle.dumps(kd.without_teacher()))
    np.save(tmp_path / "X.npy", X_test)
    np.save(tmp_path / "expected.npy", kd.predict(X_test))
    script = textwrap.dedent("""
        import pickle, sys
        import numpy as np
        folder = sys.argv[1]
        try:
            pickle.load(open(f"{folder}/full.pkl", "rb"))
        except ModuleNotFoundError as exc:
            print("full:", exc.name)
        slim = pickle.load(open(f"{folder}/slim.pkl", "rb"))
        predictions = slim.predict(np.load(f"{folder}/X.npy"))
        print("slim:", type(slim).__name__, predictions.shape,
              np.array_equal(predictions, np.load(f"{folder}/expected.npy")))
    """)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                            text=True, cwd=tmp_path, check=True)
    assert "full: private_regressor" in result.stdout  # without_teacher is what makes it load
    assert f"slim: DistilledRegressor ({len(X_test)}, 2) True" in result.stdout
