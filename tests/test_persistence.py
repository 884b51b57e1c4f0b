"""Student files: ``save_student`` / ``load_student`` keep tensors and plain data, run no code."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import GradientNormClipping

from skkd import DistilledClassifier, load_student, save_student
from skkd.persistence import FORMAT_VERSION

NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                  "nine"])


class Touch:
    """Unpickling it creates ``path``: the mark that a file's code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import pathlib

        return pathlib.Path.touch, (pathlib.Path(self.path),)


@pytest.fixture(scope="module")
def forest_student(digits):
    X_train, _, y_train, _ = digits
    forest = RandomForestClassifier(50, random_state=0).fit(X_train, NAMES[y_train])
    return DistilledClassifier(forest, alpha=0.5, temperature=2.0, max_epochs=2,
                               random_state=0).fit(X_train, NAMES[y_train])


def test_a_loaded_student_predicts_as_the_slim_copy(forest_student, digits, tmp_path):
    _, X_test, _, y_test = digits
    save_student(forest_student, tmp_path / "student.skkd")
    loaded = load_student(tmp_path / "student.skkd")
    slim = forest_student.without_teacher()
    np.testing.assert_array_equal(loaded.predict_proba(X_test), slim.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.predict(X_test), slim.predict(X_test))
    assert loaded.classes_.dtype == slim.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, slim.classes_)
    assert loaded.score(X_test, NAMES[y_test]) == slim.score(X_test, NAMES[y_test])
    assert loaded.teacher is None and loaded.teacher_ is None
    assert loaded.teacher_score_ == slim.teacher_score_
    assert loaded.get_params() == slim.get_params()
    assert loaded.history_[:, "train_loss"] == slim.history_[:, "train_loss"]
    assert b"RandomForest" not in (tmp_path / "student.skkd").read_bytes()


@pytest.mark.parametrize(("module", "options"), [
    ("tabular-mlp", {"module__numeric_encoding": "ple", "module__n_bins": 8}),
    ("cnn-student", {"module__input_shape": (1, 8, 8)}),
])
def test_built_in_students_with_options_and_encodings_round_trip(digits, tmp_path, module,
                                                                 options):
    X_train, X_test, y_train, _ = digits
    kd = DistilledClassifier(module=module, max_epochs=1, batch_size=64, random_state=0,
                             **options).fit(X_train[:400], y_train[:400])
    save_student(kd, tmp_path / "student.skkd")
    loaded = load_student(tmp_path / "student.skkd")
    np.testing.assert_array_equal(loaded.predict_proba(X_test), kd.predict_proba(X_test))
    assert loaded.encoding_ == kd.encoding_
    assert loaded.get_params() == kd.without_teacher().get_params()


def test_the_file_holds_tensors_and_plain_data_only(forest_student, tmp_path):
    save_student(forest_student, tmp_path / "student.skkd")
    data = torch.load(tmp_path / "student.skkd", weights_only=True)  # refuses any code
    assert data["module"] == {"kind": "name", "name": "mlp"}
    assert set(data["state_dict"]) == set(forest_student.net_.module_.state_dict())


def test_feature_names_labels_and_a_torch_optimizer_survive(digits, tmp_path):
    pd = pytest.importorskip("pandas")
    X_train, X_test, y_train, _ = digits
    columns = [f"pixel {i}" for i in range(X_train.shape[1])]
    big = np.uint64(2**63) + (y_train % 3).astype(np.uint64)  # not an int64
    kd = DistilledClassifier(optimizer=torch.optim.SGD, lr=0.05, max_epochs=1,
                             random_state=0).fit(pd.DataFrame(X_train, columns=columns), big)
    save_student(kd, tmp_path / "student.skkd")
    loaded = load_student(tmp_path / "student.skkd")
    assert loaded.classes_.dtype == np.uint64 and loaded.classes_.tolist() == kd.classes_.tolist()
    assert loaded.feature_names_in_.tolist() == columns
    assert loaded.optimizer is torch.optim.SGD and loaded.lr == 0.05
    frame = pd.DataFrame(X_test, columns=columns)
    np.testing.assert_array_equal(loaded.predict(frame), kd.predict(frame))


def test_parameters_that_are_objects_come_back_as_defaults(digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    kd = DistilledClassifier(callbacks=[GradientNormClipping(1.0)],
                             random_state=np.random.RandomState(0), max_epochs=1)
    kd.fit(X_train, y_train)
    save_student(kd, tmp_path / "student.skkd")
    loaded = load_student(tmp_path / "student.skkd")
    assert loaded.callbacks is None and loaded.random_state is None
    assert torch.load(tmp_path / "student.skkd", weights_only=True)["reset"] == [
        "callbacks", "random_state"]
    np.testing.assert_array_equal(loaded.predict_proba(X_test), kd.predict_proba(X_test))


def test_a_loaded_student_trains_on_like_the_slim_copy(forest_student, digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    save_student(forest_student, tmp_path / "student.skkd")
    loaded = load_student(tmp_path / "student.skkd")
    slim = forest_student.without_teacher()
    for kd in (loaded, slim):  # no teacher: a fresh optimizer, the saved random state
        kd.set_params(warm_start=True, max_epochs=1).fit(X_train, NAMES[y_train])
    np.testing.assert_array_equal(loaded.predict_proba(X_test), slim.predict_proba(X_test))
    assert len(loaded.history_) == 3


class SmallNet(torch.nn.Module):
    def __init__(self, n_features, n_classes, hidden=16):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(n_features, hidden), torch.nn.ReLU(),
                                          torch.nn.Linear(hidden, n_classes))

    def forward(self, x):
        return self.layers(x)


class OtherNet(SmallNet):
    pass


def test_a_module_class_is_passed_in_not_imported(digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    kd = DistilledClassifier(module=SmallNet, module__hidden=8, max_epochs=1,
                             random_state=0).fit(X_train, y_train)
    save_student(kd, tmp_path / "student.skkd")
    with pytest.raises(ValueError, match=r"module was the class (tests\.)?test_persistence\."
                                         r"SmallNet.*holds no code: pass that class, "
                                         r"load_student\(path, module=SmallNet\)"):
        load_student(tmp_path / "student.skkd")
    with pytest.raises(ValueError, match="module passed to load_student is .*OtherNet. "
                                         "Pass SmallNet"):
        load_student(tmp_path / "student.skkd", module=OtherNet)
    loaded = load_student(tmp_path / "student.skkd", module=SmallNet)
    assert loaded.module is SmallNet and loaded.get_params()["module__hidden"] == 8
    np.testing.assert_array_equal(loaded.predict_proba(X_test), kd.predict_proba(X_test))


def test_a_module_instance_takes_an_instance_built_alike(digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    kd = DistilledClassifier(module=SmallNet(64, 10), max_epochs=1,
                             random_state=0).fit(X_train, y_train)
    save_student(kd, tmp_path / "student.skkd")
    with pytest.raises(ValueError, match=r"an instance of .*SmallNet.*pass an instance built "
                                         r"like it, load_student\(path, module=SmallNet\(...\)\)"):
        load_student(tmp_path / "student.skkd", module=SmallNet)
    with pytest.raises(ValueError, match="saved weights do not fit the student module"):
        load_student(tmp_path / "student.skkd", module=SmallNet(64, 10, hidden=4))
    loaded = load_student(tmp_path / "student.skkd", module=SmallNet(64, 10))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), kd.predict_proba(X_test))


def test_a_named_student_takes_no_module(forest_student, tmp_path):
    save_student(forest_student, tmp_path / "student.skkd")
    with pytest.raises(ValueError, match="names its student module, 'mlp'"):
        load_student(tmp_path / "student.skkd", module=SmallNet)


def test_what_save_student_refuses(digits, forest_student, tmp_path):
    X_train, _, y_train, _ = digits
    with pytest.raises(NotFittedError):
        save_student(DistilledClassifier(), tmp_path / "s.skkd")
    pipe = make_pipeline(StandardScaler(), DistilledClassifier(max_epochs=1))
    with pytest.raises(TypeError, match="saves a fitted DistilledClassifier or "
                                        "DistilledRegressor; got Pipeline. For a Pipeline, "
                                        "save its last step"):
        save_student(pipe.fit(X_train, y_train), tmp_path / "s.skkd")
    assert not (tmp_path / "s.skkd").exists()


def test_files_that_hold_code_are_refused_without_running_it(forest_student, tmp_path):
    marker = tmp_path / "code-ran"
    torch.save({"format": "skkd.student", "payload": Touch(marker)}, tmp_path / "evil.skkd")
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Touch(marker)))
    for name in ("evil.skkd", "evil.pkl"):
        with pytest.raises(ValueError, match="holds objects other than tensors and plain data, "
                                             "so it is not a student file.*not loaded"):
            load_student(tmp_path / name)
    assert not marker.exists()


def test_other_files_are_named(forest_student, tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "weights.pt")
    with pytest.raises(ValueError, match="weights.pt is a torch file but not a student file"):
        load_student(tmp_path / "weights.pt")
    np.save(tmp_path / "X.npy", np.zeros(3))
    with pytest.raises(ValueError, match="X.npy .*not a student file"):
        load_student(tmp_path / "X.npy")
    save_student(forest_student, tmp_path / "student.skkd")
    data = torch.load(tmp_path / "student.skkd", weights_only=True)
    torch.save({**data, "version": FORMAT_VERSION + 1}, tmp_path / "newer.skkd")
    with pytest.raises(ValueError, match=f"student-file version {FORMAT_VERSION + 1}.*Upgrade "
                                         "skkd"):
        load_student(tmp_path / "newer.skkd")


def test_the_student_file_is_no_larger_than_the_slim_pickle(forest_student, tmp_path):
    save_student(forest_student, tmp_path / "student.skkd")
    pickled = len(pickle.dumps(forest_student.without_teacher()))
    assert (tmp_path / "student.skkd").stat().st_size <= pickled


@pytest.mark.skipif(torch.cuda.is_available(), reason="the message is for machines without CUDA")
def test_a_gpu_student_loads_on_the_cpu_when_asked(forest_student, digits, tmp_path):
    _, X_test, _, _ = digits
    save_student(forest_student, tmp_path / "student.skkd")
    data = torch.load(tmp_path / "student.skkd", weights_only=True)
    data["params"]["device"] = "cuda"  # as a student trained on a GPU is saved
    torch.save(data, tmp_path / "gpu.skkd")
    with pytest.raises(ValueError, match="on device 'cuda', and CUDA is not available here: "
                                         "pass device='cpu'"):
        load_student(tmp_path / "gpu.skkd")
    loaded = load_student(tmp_path / "gpu.skkd", device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(X_test),
                                  forest_student.predict_proba(X_test))
