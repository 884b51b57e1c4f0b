"""ONNX export through skl2onnx: estimators and pipelines round-trip through onnxruntime."""

import re

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skkd import DistilledClassifier
from skkd.exceptions import StudentError

NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                  "nine"])

onnxruntime = pytest.importorskip("onnxruntime")  # the "onnx" extra; CI installs it
skl2onnx = pytest.importorskip("skl2onnx")


def run_onnx(model, X, **options):
    onx = skl2onnx.to_onnx(model, X[:1], options=options or None)
    session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


def assert_same(model, X, labels, probabilities):
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-4)


def test_a_pipeline_with_string_labels(digits):
    X_train, X_test, y_train, _ = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    teacher = LogisticRegression(max_iter=500)  # unfitted: fitted on the scaled rows
    pipe = make_pipeline(StandardScaler(), DistilledClassifier(teacher, max_epochs=2,
                                                               random_state=0))
    pipe.fit(X_train, names[y_train])
    labels, probabilities = run_onnx(pipe, X_test, zipmap=False)
    assert labels.dtype.kind in "OU" and set(labels) <= set(names)
    assert_same(pipe, X_test, labels, probabilities)
    # skl2onnx's default output: one {label: probability} dict per row (ZipMap)
    _, rows = run_onnx(pipe, X_test[:3])
    assert sorted(rows[0]) == sorted(names)
    seven = list(pipe.classes_).index("seven")
    assert rows[0]["seven"] == pytest.approx(pipe.predict_proba(X_test[:1])[0, seven], abs=1e-4)


@pytest.mark.parametrize("module", ["mlp", "cnn-student", "cnn-teacher"])
def test_every_built_in_student_exports(digits, module):
    X_train, X_test, y_train, _ = digits
    kd = DistilledClassifier(module=module, max_epochs=1, batch_size=64, random_state=0,
                             **({} if module == "mlp" else {"module__input_shape": (1, 8, 8)}))
    kd.fit(X_train[:300], y_train[:300])
    assert_same(kd, X_test, *run_onnx(kd, X_test, zipmap=False))


def test_a_torchvision_student_exports(digits):
    X_train, X_test, y_train, _ = digits
    kd = DistilledClassifier(module="torchvision:resnet18", max_epochs=1, batch_size=64,
                             random_state=0).fit(X_train[:128], y_train[:128])
    assert_same(kd, X_test[:50], *run_onnx(kd, X_test[:50], zipmap=False))


def test_a_binary_problem_and_double_input(digits):
    X_train, X_test, y_train, _ = digits
    binary = y_train % 2 == 1  # odd or not: labels False / True
    kd = DistilledClassifier(max_epochs=2, random_state=0).fit(X_train, binary)
    labels, probabilities = run_onnx(kd, X_test.astype(np.float64), zipmap=False)
    assert probabilities.shape == (len(X_test), 2)
    assert labels.dtype == bool  # not 0 and 1
    np.testing.assert_array_equal(labels, kd.predict(X_test))
    np.testing.assert_allclose(probabilities, kd.predict_proba(X_test), atol=1e-4)


def as_read(values):
    """What a user reads from the array: Python objects, so 1, True and 1.0 differ."""
    return [(type(v), v) for v in np.asarray(values).tolist()]


# Labels int64 cannot hold, or ZipMap cannot key: each comes back exactly, or is refused.
LABELS = {
    "uint64 >= 2**63": lambda y: np.uint64(2**63) + y.astype(np.uint64),
    "bool": lambda y: y == 1,
    "float64": lambda y: y.astype(np.float64) * 10,
    "float32": lambda y: y.astype(np.float32),
}


@pytest.fixture(scope="module")
def small(digits):
    X_train, X_test, y_train, _ = digits
    return X_train[:300], X_test[:100], y_train[:300] % 3


@pytest.mark.parametrize("kind", LABELS)
def test_labels_come_back_exactly_as_predict_gives_them(small, kind):
    from skkd.export import compare_onnx, to_onnx

    X_train, X_test, y_train = small
    kd = DistilledClassifier(max_epochs=1, random_state=0).fit(X_train, LABELS[kind](y_train))
    onx = to_onnx(kd, zipmap=False)
    session = onnxruntime.InferenceSession(onx.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    labels, _ = session.run(None, {"X": X_test})
    assert labels.dtype == kd.classes_.dtype
    assert as_read(labels) == as_read(kd.predict(X_test))
    assert compare_onnx(kd, onx, X_test)["ok"]


@pytest.mark.parametrize("kind", LABELS)
def test_labels_zipmap_cannot_key_are_refused_by_name(small, kind):
    X_train, _, y_train = small
    kd = DistilledClassifier(max_epochs=1, random_state=0).fit(X_train, LABELS[kind](y_train))
    shown = ", ".join(repr(c) for c in kd.classes_.tolist()[:2])
    with pytest.raises(StudentError, match=rf"classes_ holds .*\({re.escape(shown)}.*ZipMap "
                                           r"cannot key .*Export with zipmap=False \(skkd "
                                           r"export --no-zipmap\)"):
        run_onnx(kd, X_train[:5])  # skl2onnx's default: zipmap=True


def test_big_integers_keep_their_values(small):
    X_train, X_test, y_train = small
    labels = np.int64(2**63 - 1) - y_train.astype(np.int64)
    kd = DistilledClassifier(max_epochs=1, random_state=0).fit(X_train, labels)
    got, maps = run_onnx(kd, X_test)
    assert as_read(got) == as_read(kd.predict(X_test))
    assert sorted(maps[0]) == kd.classes_.tolist()


def test_compare_onnx_sees_labels_that_wrapped_around(small):
    """A graph that returns uint64 labels >= 2**63 as int64, as skkd's export once did."""
    from onnx import TensorProto, numpy_helper

    from skkd.export import compare_onnx, to_onnx

    X_train, X_test, y_train = small
    kd = DistilledClassifier(max_epochs=1, random_state=0)
    kd.fit(X_train, LABELS["uint64 >= 2**63"](y_train))
    onx = to_onnx(kd, zipmap=False)
    (table,) = [t for t in onx.graph.initializer if t.data_type == TensorProto.UINT64]
    table.CopyFrom(numpy_helper.from_array(kd.classes_.astype(np.int64), table.name))
    onx.graph.output[0].type.tensor_type.elem_type = TensorProto.INT64
    result = compare_onnx(kd, onx, X_test)
    assert not result["labels_equal"] and result["label_mismatches"] == len(X_test)
    assert not result["ok"] and result["max_abs_proba_diff"] <= 1e-4


@pytest.mark.parametrize(("classes", "message"), [
    (np.array(["a", 1], dtype=object), r"all strings or all integers; classes_ holds labels "
                                       r"of types int \('a', 1\)"),
    (np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]"),
     r"classes_ has dtype datetime64\[D\] .*Encode the labels as integers or strings"),
    (np.array(["ok", "\udc80"]), r"label '\\udc80' cannot be encoded"),
])
def test_onnx_labels_refuses_labels_onnx_cannot_return(classes, message):
    from skkd.export import onnx_labels

    with pytest.raises(StudentError, match=message):
        onnx_labels(classes, zipmap=False)


def test_nocl_gives_class_indices(small):
    X_train, X_test, y_train = small
    kd = DistilledClassifier(max_epochs=1, random_state=0).fit(X_train, NAMES[y_train])
    labels, probabilities = run_onnx(kd, X_test, zipmap=False, nocl=True)
    np.testing.assert_array_equal(labels, kd.predict_proba(X_test).argmax(1))


class BesselNet(torch.nn.Module):
    """A student with an operator torch.onnx cannot export (aten::special_i0e)."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(64, 10)

    def forward(self, x):
        return torch.special.i0e(self.linear(x))


def test_a_student_that_cannot_export_is_named(digits):
    X_train, X_test, y_train, _ = digits
    kd = DistilledClassifier(module=BesselNet, max_epochs=1, random_state=0)
    kd.fit(X_train, y_train)
    with pytest.raises(StudentError, match="student module BesselNet cannot be exported to "
                                           "ONNX by torch.onnx: .*special_i0e"):
        run_onnx(kd, X_test)


def test_the_export_command_end_to_end(tmp_path, digits, capsys):
    import joblib

    from skkd.cli import main

    X_train, X_test, y_train, _ = digits
    pipe = make_pipeline(StandardScaler(), DistilledClassifier(max_epochs=1, random_state=0))
    pipe.fit(X_train, np.array(["even", "odd"])[y_train % 2])
    joblib.dump(pipe, tmp_path / "model.joblib")
    np.save(tmp_path / "X.npy", X_test)
    out = tmp_path / "model.onnx"
    assert main(["export", str(tmp_path / "model.joblib"), "--trust-pickle", "--onnx", str(out),
                 "--check", str(tmp_path / "X.npy")]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "input X: float32 rows of 64 columns" in printed
    assert f"check on {len(X_test)} rows" in printed and "labels equal" in printed
    assert "(ok, tolerance 1e-4)" in printed
    session = onnxruntime.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    labels, maps = session.run(None, {"X": X_test[:5]})
    np.testing.assert_array_equal(labels, pipe.predict(X_test[:5]))
    assert set(maps[0]) == {"even", "odd"}  # ZipMap by default


def test_the_export_command_refuses_what_it_cannot_export(tmp_path, digits, capsys):
    import joblib

    from skkd.cli import main

    X_train, _, y_train, _ = digits
    joblib.dump(LogisticRegression(max_iter=200).fit(X_train, y_train), tmp_path / "lr.pkl")
    for argv, message in (
        ([str(tmp_path / "lr.pkl")], "holds a LogisticRegression; expected a "
                                     "DistilledClassifier, a DistilledRegressor or a "
                                     "Pipeline ending in one"),
        ([str(tmp_path / "missing.pkl")], "missing.pkl is not a file"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["export", *argv, "--trust-pickle", "--onnx", str(tmp_path / "out.onnx")])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out.onnx").exists()


# --------------------------------------------------------------------------- skkd export


@pytest.fixture(scope="module")
def exported(digits, tmp_path_factory):
    """A folder with a pipeline, its student file, check rows and models skl2onnx refuses."""
    import joblib
    from sklearn.preprocessing import FunctionTransformer

    from skkd import save_student

    X_train, X_test, y_train, _ = digits
    folder = tmp_path_factory.mktemp("export")
    pipe = make_pipeline(StandardScaler(), DistilledClassifier(max_epochs=1, random_state=0))
    joblib.dump(pipe.fit(X_train, NAMES[y_train]), folder / "model.joblib")
    kd = DistilledClassifier(max_epochs=1, random_state=0).fit(X_train, y_train * 1.0)
    joblib.dump(kd, folder / "float-labels.joblib")
    save_student(kd, folder / "student.skkd")
    odd = make_pipeline(FunctionTransformer(np.sqrt), DistilledClassifier(max_epochs=1))
    joblib.dump(odd.fit(X_train, y_train), folder / "odd-step.joblib")
    np.save(folder / "X.npy", X_test)
    np.save(folder / "X-narrow.npy", X_test[:, :10])
    np.save(folder / "X-flat.npy", X_test[0])
    np.save(folder / "X-empty.npy", X_test[:0])
    np.save(folder / "X-text.npy", np.array([["a"] * 64]))
    X_nan = X_test.copy()
    X_nan[0, 0] = np.nan
    np.save(folder / "X-nan.npy", X_nan)
    np.savez(folder / "X.npz", X=X_test)
    (folder / "X.txt").write_text("1,2,3\n")
    (folder / "a-folder").mkdir()
    return folder


def export_error(capsys, argv):
    """The one error line of a `skkd export` usage error (exit status 2, no traceback)."""
    from skkd.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["export", *argv])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    (error,) = [line for line in captured.err.splitlines() if "error:" in line]
    return error


@pytest.mark.parametrize(("model", "out", "check", "message"), [
    ("model.joblib", "a-folder", None, "argument --onnx: {d}/a-folder is a directory; name "
                                       "the ONNX file to write, e.g. --onnx "
                                       "{d}/a-folder/model.onnx"),
    ("model.joblib", "x" * 300 + ".onnx", None, "argument --onnx: cannot write {d}/xxx"),
    ("model.joblib", "model.joblib", None, "argument --onnx: {d}/model.joblib is also an input "
                                           "file; writing it would overwrite it"),
    ("model.joblib", "out.onnx", "X-narrow.npy",
     "argument --check: {d}/X-narrow.npy holds an array of shape (450, 10); the model takes "
     "rows of 64 features: shape (n_rows, 64) with n_rows >= 1"),
    ("model.joblib", "out.onnx", "X-flat.npy", "holds an array of shape (64,)"),
    ("model.joblib", "out.onnx", "X-empty.npy", "holds an array of shape (0, 64)"),
    ("model.joblib", "out.onnx", "X-text.npy", "argument --check: {d}/X-text.npy holds <U1 "
                                               "values; the rows must be numbers"),
    ("model.joblib", "out.onnx", "X.npz", "argument --check: {d}/X.npz is an .npz archive; "
                                          "save one array of rows with numpy.save"),
    ("model.joblib", "out.onnx", "X.txt", "argument --check: cannot read {d}/X.txt as a .npy "
                                          "array: "),
    ("model.joblib", "out.onnx", "X-nan.npy", "argument --check: the model cannot predict the "
                                              "rows of {d}/X-nan.npy: ValueError: Input X "
                                              "contains NaN"),
    ("float-labels.joblib", "out.onnx", None,
     "argument MODEL: cannot export {d}/float-labels.joblib to ONNX: StudentError: classes_ "
     "holds float64 labels (0.0, 1.0, 2.0, 3.0, 4.0, ... (10 labels)), which skl2onnx's ZipMap "
     "cannot key"),
    ("odd-step.joblib", "out.onnx", None,
     "argument MODEL: cannot export {d}/odd-step.joblib to ONNX: RuntimeError: "
     "FunctionTransformer is not supported"),
])
def test_the_export_command_says_what_is_wrong_before_writing(exported, capsys, model, out,
                                                              check, message):
    d = exported
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    argv = [str(d / model), "--trust-pickle", "--onnx", str(d / out)]
    error = export_error(capsys, argv + (["--check", str(d / check)] if check else []))
    assert message.format(d=d) in error
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()} == before  # no output


def test_the_export_command_reads_a_student_file_safely(exported, capsys, tmp_path):
    from skkd.cli import main

    out = tmp_path / "student.onnx"
    assert main(["export", str(exported / "student.skkd"), "--onnx", str(out), "--no-zipmap",
                 "--check", str(exported / "X.npy")]) == 0
    assert "labels equal" in capsys.readouterr().out and out.is_file()


def test_the_export_command_does_not_unpickle_a_torch_file(exported, capsys, tmp_path):
    import pathlib

    class Touch:
        def __reduce__(self):
            return pathlib.Path.touch, (tmp_path / "code-ran",)

    torch.save({"format": "skkd.student", "x": Touch()}, tmp_path / "evil.skkd")
    error = export_error(capsys, [str(tmp_path / "evil.skkd"), "--onnx",
                                  str(tmp_path / "out.onnx")])
    assert "holds objects other than tensors and plain data" in error
    assert "only if you trust where it came from" in error
    assert not (tmp_path / "code-ran").exists() and not (tmp_path / "out.onnx").exists()


def test_exit_status_1_is_a_difference_found_by_check(exported, capsys, tmp_path, monkeypatch):
    from skkd import export
    from skkd.cli import main

    def differs(model, onx, X, atol):
        return {"labels_equal": False, "label_mismatches": 3, "max_abs_proba_diff": 0.0,
                "rows": len(X), "ok": False}

    monkeypatch.setattr(export, "compare_onnx", differs)
    out = tmp_path / "out.onnx"
    assert main(["export", str(exported / "model.joblib"), "--trust-pickle", "--onnx", str(out),
                 "--check",
                 str(exported / "X.npy")]) == 1
    assert "labels DIFFER on 3 rows" in capsys.readouterr().out and out.is_file()
