"""ONNX export through skl2onnx: estimators and pipelines round-trip through onnxruntime."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skkd import DistilledClassifier
from skkd.exceptions import StudentError

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
    np.testing.assert_array_equal(labels.astype(bool), kd.predict(X_test))
    np.testing.assert_allclose(probabilities, kd.predict_proba(X_test), atol=1e-4)


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
    assert main(["export", str(tmp_path / "model.joblib"), "--onnx", str(out),
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
                                     "DistilledClassifier or a Pipeline ending in one"),
        ([str(tmp_path / "missing.pkl")], "missing.pkl is not a file"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["export", *argv, "--onnx", str(tmp_path / "out.onnx")])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out.onnx").exists()
