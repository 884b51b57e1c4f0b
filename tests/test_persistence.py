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


#: Training settings given as values (not "auto"), which skkd before "auto" reads.
SETTINGS = {"lr": 1e-3, "batch_size": 32, "lr_schedule": "constant"}

@pytest.fixture(scope="module")
def forest_student(digits):
    X_train, _, y_train, _ = digits
    forest = RandomForestClassifier(50, random_state=0).fit(X_train, NAMES[y_train])
    # module="mlp" by name and no "auto" setting: a file that skkd before "auto" reads (v1)
    return DistilledClassifier(forest, module="mlp", alpha=0.5, temperature=2.0, max_epochs=2,
                               **SETTINGS, random_state=0).fit(X_train, NAMES[y_train])


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


def test_module_auto_travels_as_auto(digits, tmp_path):
    # the default module="auto" is a rule, not a module: the file keeps the rule (version 3,
    # which skkd before "auto" refuses by its version), and the loaded student applies it
    X_train, X_test, y_train, _ = digits
    student = DistilledClassifier(max_epochs=1, random_state=0).fit(X_train, y_train)
    save_student(student, tmp_path / "auto.skkd")
    data = torch.load(tmp_path / "auto.skkd", weights_only=True)
    assert data["module"] == {"kind": "name", "name": "auto"} and data["version"] == 3
    loaded = load_student(tmp_path / "auto.skkd")
    assert loaded.module == "auto" and type(loaded.net_.module_).__name__ == "MLP"
    np.testing.assert_array_equal(loaded.predict_proba(X_test), student.predict_proba(X_test))
    with pytest.raises(ValueError, match="module='auto'; do not pass module"):
        load_student(tmp_path / "auto.skkd", module=SmallNet)


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


# --------------------------------------------------------------------------- every field


def assert_same_student(loaded, original, X, reset=()):
    """A loaded student holds every fitted attribute of the original and predicts as it."""
    slim = original.without_teacher()
    for name in ("n_features_in_", "encoding_", "teacher_score_", "teacher_scores_",
                 "feature_names_in_", "classes_", "n_outputs_", "target_mean_",
                 "target_scale_", "target_ndim_"):
        assert hasattr(loaded, name) == hasattr(slim, name), name
        if hasattr(slim, name):
            expected, got = getattr(slim, name), getattr(loaded, name)
            assert type(got) is type(expected), name
            if isinstance(expected, np.ndarray):
                assert got.dtype == expected.dtype and got.tolist() == expected.tolist(), name
            else:
                assert got == expected, name
    state = loaded._torch_random_state
    assert state is not None and torch.equal(state[0], slim._torch_random_state[0])
    kept = {k: v for k, v in slim.get_params().items() if k not in reset}
    assert {k: v for k, v in loaded.get_params().items() if k not in reset} == kept
    assert all(loaded.get_params()[k] == type(slim)().get_params()[k] for k in reset)
    assert loaded.history_.to_list() == slim.history_.to_list()
    np.testing.assert_array_equal(loaded.predict(X), slim.predict(X))


@pytest.mark.filterwarnings("ignore:The teacher's accuracy")
def test_every_field_of_a_classifier_round_trips(digits, tmp_path):
    """Feature names, an ensemble's scores, unlabeled rows, an encoding, options, an optimizer."""
    pd = pytest.importorskip("pandas")
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train, _ = digits
    X_train, y_train = X_train[:400, :8].copy(), NAMES[y_train[:400] % 4].astype(object)
    X_train[:, 0] = np.arange(400) % 3  # a categorical column
    y_train[::5] = ""  # unlabeled rows
    frame = pd.DataFrame(X_train, columns=[f"c{i}" for i in range(8)])
    teachers = [LogisticRegression(max_iter=300), LogisticRegression(C=0.1, max_iter=300)]
    kd = DistilledClassifier(teachers, module="tabular-mlp", module__categorical=[0],
                             module__numeric_encoding="ple", module__n_bins=4, unlabeled="",
                             optimizer=torch.optim.SGD, optimizer__momentum=0.5,
                             criterion__label_smoothing=0.1, callbacks=[GradientNormClipping(1)],
                             max_epochs=2, random_state=0).fit(frame, y_train)
    assert kd.teacher_scores_ is not None and kd.encoding_["bins"]
    save_student(kd, tmp_path / "student.skkd")
    assert_same_student(load_student(tmp_path / "student.skkd"), kd,
                        pd.DataFrame(X_test[:, :8], columns=frame.columns), reset=["callbacks"])


@pytest.mark.parametrize("target", ["1-D", "2-D"])
def test_every_field_of_a_regressor_round_trips(tmp_path, target):
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge

    from skkd import DistilledRegressor

    X, y = make_regression(200, 5, n_targets=1 if target == "1-D" else 2, random_state=0)
    kd = DistilledRegressor(Ridge().fit(X, y), module="tabular-mlp", module__n_frequencies=8,
                            max_epochs=1, alpha=0.5, **SETTINGS, random_state=0).fit(X, y)
    save_student(kd, tmp_path / "student.skkd")
    assert torch.load(tmp_path / "student.skkd", weights_only=True)["version"] == 2
    assert_same_student(load_student(tmp_path / "student.skkd"), kd, X)


@pytest.mark.parametrize("param", ["class_weight", "criterion__weight"])
def test_weights_keyed_by_numeric_labels_round_trip(digits, lr_teacher, tmp_path, param):
    X_train, X_test, y_train, _ = digits
    weights = {label: 1.0 + label / 2 for label in range(10)}  # keys: the int labels
    kd = DistilledClassifier(lr_teacher, max_epochs=1, random_state=0,
                             **{param: weights}).fit(X_train, y_train)
    save_student(kd, tmp_path / "student.skkd")
    loaded = load_student(tmp_path / "student.skkd")
    assert loaded.get_params()[param] == weights
    assert_same_student(loaded, kd, X_test)


def test_files_of_older_layouts_still_load(forest_student, digits, tmp_path):
    """Version 1 files of older skkd: no estimator entry, no encoding_ or teacher_scores_."""
    _, X_test, _, _ = digits
    save_student(forest_student, tmp_path / "student.skkd")
    data = torch.load(tmp_path / "student.skkd", weights_only=True)
    del data["estimator"], data["fitted"]["encoding_"], data["fitted"]["teacher_scores_"]
    torch.save(data, tmp_path / "v1.skkd")
    np.testing.assert_array_equal(load_student(tmp_path / "v1.skkd").predict_proba(X_test),
                                  forest_student.predict_proba(X_test))
    torch.save({**data, "version": 2, "estimator": "DistilledClassifier"}, tmp_path / "v2.skkd")
    np.testing.assert_array_equal(load_student(tmp_path / "v2.skkd").predict(X_test),
                                  forest_student.predict(X_test))


def test_save_student_refuses_a_fitted_attribute_the_format_does_not_define(forest_student,
                                                                            tmp_path):
    kd = forest_student.without_teacher()
    kd.extra_ = 1
    with pytest.raises(ValueError, match="fitted attribute extra_ is not one a student file "
                                         "defines for DistilledClassifier"):
        save_student(kd, tmp_path / "student.skkd")


# --------------------------------------------------------------------------- hostile files


@pytest.fixture(scope="module")
def saved(digits, tmp_path_factory):
    """The content of a small student's file, to damage."""
    X_train, _, y_train, _ = digits
    kd = DistilledClassifier(module="mlp", max_epochs=1, alpha=0.5, temperature=1.0,
                             **SETTINGS,  # a version 1 file
                             random_state=0).fit(X_train[:300], y_train[:300])
    path = tmp_path_factory.mktemp("saved") / "student.skkd"
    save_student(kd, path)
    return torch.load(path, weights_only=True)


def _set(section, key, value):
    def change(data):
        data[section][key] = value
    return change


def _top(key, value):
    def change(data):
        data[key] = value
    return change


def _drop(section, key=None):
    def change(data):
        del (data if key is None else data[section])[section if key is None else key]
    return change


HOSTILE = {
    # format and sections
    "format": (_top("format", "skkd.other"), "is a torch file but not a student file"),
    "unknown section": (_top("code", "print(1)"), r"sections 'code', which version 1 does not "
                                                  "define"),
    "no params": (_drop("params"), "lacks the params section"),
    "no module": (_drop("module"), "lacks the module section"),
    "no state_dict": (_drop("state_dict"), "lacks the state_dict section"),
    "skkd_version": (_top("skkd_version", 2), "skkd_version entry is 2, not a string"),
    # version
    "version str": (_top("version", "2"), "version entry is '2'; a student-file version is an "
                                          f"integer from 1 to {FORMAT_VERSION}"),
    "version 0": (_top("version", 0), "version entry is 0"),
    "version bool": (_top("version", True), "version entry is True"),
    "version newer": (_top("version", FORMAT_VERSION + 1),
                      f"student-file version {FORMAT_VERSION + 1}; this skkd reads versions 1 "
                      f"to {FORMAT_VERSION}. Upgrade skkd"),
    # estimator
    "other estimator": (_top("estimator", "LogisticRegression"),
                        "estimator entry is 'LogisticRegression'"),
    "regressor in v1": (_top("estimator", "DistilledRegressor"),
                        "version 1, which holds classifiers only"),
    "regressor's class": (lambda d: d.update(version=2, estimator="DistilledRegressor", params={}),
                          r"fitted entry holds 'classes_', which is not a fitted attribute of "
                          "DistilledRegressor"),
    # module
    "module str": (_top("module", "mlp"), "module entry is 'mlp'"),
    "module kind": (_set("module", "kind", "import"), "module entry is"),
    "module extra key": (_set("module", "code", "x"), "module entry is"),
    "module unknown": (_set("module", "name", "no-such-model"), "module is 'no-such-model', "
                                                               "which is not registered here"),
    # params
    "params list": (_top("params", [1]), "params entry is a list, not a dict"),
    "params unknown": (_set("params", "predict", 1), "names 'predict', which is not a "
                                                     "parameter of DistilledClassifier"),
    "params teacher": (_set("params", "teacher", None), "names 'teacher'"),
    "params bad value": (_set("params", "alpha", 7.0), r"params entry: The 'alpha' parameter "
                                                       "of DistilledClassifier must be"),
    "params object": (_set("params", "lr", torch.float32), r"params\['lr'\] holds a dtype"),
    "params tuple key": (_set("params", "class_weight", {(1, 2): 1.0}),
                         r"has a key \(1, 2\) that is not a string, a number or a bool"),
    "params module option": (_set("params", "module__no_such_option", 3),
                             "takes no option 'no_such_option'"),
    "params bad array": (_set("params", "module__hidden_sizes",
                              {"__ndarray__": [1], "dtype": "V8", "shape": [1]}),
                         "has dtype 'V8'"),
    "params wide strings": (_set("params", "loss", {"__ndarray__": ["kl"],
                                                    "dtype": "<U100000000", "shape": [1]}),
                            r"declares dtype <U100000000 for strings of <U2"),
    # optimizer
    "optimizer": (_top("optimizer", "lr_scheduler"), "optimizer entry 'lr_scheduler' is not "
                                                     "an optimizer class of torch.optim"),
    "optimizer type": (_top("optimizer", 3), "optimizer entry 3"),
    # reset
    "reset str": (_top("reset", "callbacks"), "reset entry is 'callbacks', not a list"),
    "reset unknown": (_top("reset", ["net_"]), "names 'net_', which is not a parameter"),
    "reset twice": (_top("reset", ["alpha"]), "'alpha' is both in its params and in its reset"),
    # fitted
    "fitted list": (_top("fitted", []), "fitted entry is a list, not a dict"),
    "fitted predict": (_set("fitted", "predict", 1), r"fitted entry holds 'predict', which is "
                                                     "not a fitted attribute"),
    "fitted net_": (_set("fitted", "net_", None), "holds 'net_'"),
    "fitted _build_net": (_set("fitted", "_build_net", None), "holds '_build_net'"),
    "fitted missing": (_drop("fitted", "classes_"), "fitted entry lacks classes_"),
    "fitted n_features str": (_set("fitted", "n_features_in_", "64"),
                              r"fitted\['n_features_in_'\] is '64'; DistilledClassifier's "
                              "n_features_in_ is an integer >= 1"),
    "fitted classes 2-D": (_set("fitted", "classes_", {"__ndarray__": [[0, 1]], "dtype": "<i8",
                                                       "shape": [1, 2]}),
                           "classes_ is a 1-D array of distinct labels"),
    "fitted classes list": (_set("fitted", "classes_", [0, 1]), "classes_ is a 1-D array"),
    "fitted bad shape": (_set("fitted", "classes_", {"__ndarray__": [0, 1], "dtype": "<i8",
                                                     "shape": [3]}),
                         r"is not an array of shape \[3\]"),
    "fitted feature names": (_set("fitted", "feature_names_in_", ["a"]), "feature_names_in_ is "
                                                                        "a 1-D array"),
    "fitted random state": (_set("fitted", "_torch_random_state", (torch.zeros(3), [])),
                            "_torch_random_state is None or torch's random state"),
    "fitted score": (_set("fitted", "teacher_score_", "high"), "teacher_score_ is a real"),
    "fitted encoding": (_set("fitted", "encoding_", [1]), "encoding_ is a dict"),
    # state_dict
    "state_dict missing": (lambda d: d["state_dict"].pop("layers.0.bias"),
                           r"state_dict lacks weights \['layers.0.bias'\]"),
    "state_dict extra": (_set("state_dict", "layers.9.weight", torch.zeros(2)),
                         r"state_dict has extra weights \['layers.9.weight'\]"),
    "state_dict not tensor": (_set("state_dict", "layers.0.bias", [0.0]),
                              r"state_dict\['layers.0.bias'\] is a list, not a dense tensor"),
    "state_dict shape": (_set("state_dict", "layers.0.bias", torch.zeros(3)),
                         "has layers.0.bias of shape \\(128,\\).*the file's is \\(3,\\)"),
    "state_dict dtype": (lambda d: d["state_dict"].update(
        {"layers.0.bias": d["state_dict"]["layers.0.bias"].double()}), "torch.float64"),
    "state_dict list": (_top("state_dict", []), "state_dict entry is a list"),
    # sizes chosen by the file
    "hidden sizes": (_set("params", "module__hidden_sizes", [10**13]),
                     r"module__hidden_sizes=\[10000000000000\].*has layers.0.weight of shape "
                     r"\(10000000000000, 64\).*its options disagree with its weights"),
    "n_features_in_": (_set("fitted", "n_features_in_", 10**12), "n_features_in_=1000000000000"),
    "many layers": (_set("params", "module__hidden_sizes", [1] * 100_000),
                    "its module options hold 100,00[0-9] values, more than its weights'"),
    "nested": (_set("params", "module__hidden_sizes", [[[[1]]]]),
               "its module cannot be built from the file's options"),
    # history
    "history dict": (_top("history", {}), "history entry is a dict, not a list of epochs"),
    "history entry": (_top("history", [3]), r"history\[0\] is a int, not a dict"),
    "history batches": (_top("history", [{"batches": 3}]), r"history\[0\]\['batches'\] is not"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_damaged_or_hostile_section_is_one_named_error(saved, tmp_path, case):
    import copy

    from skkd import StudentFileError

    change, message = HOSTILE[case]
    data = copy.deepcopy(saved)
    change(data)
    torch.save(data, tmp_path / "bad.skkd")
    with pytest.raises(StudentFileError, match=message) as info:
        load_student(tmp_path / "bad.skkd")
    assert str(tmp_path / "bad.skkd") in str(info.value)
    assert "\n" not in str(info.value)


def test_a_module_size_the_file_chooses_is_checked_before_any_memory(saved, tmp_path):
    import copy
    import resource
    import time

    data = copy.deepcopy(saved)
    data["params"]["module__hidden_sizes"] = [2_000_000]  # 64 x 2e6 float32 weights: 512 MB
    torch.save(data, tmp_path / "big.skkd")
    before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    with pytest.raises(ValueError, match=r"module__hidden_sizes=\[2000000\]"):
        load_student(tmp_path / "big.skkd")
    assert time.perf_counter() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04broken", b"\x80\x04K\x01."])
def test_empty_truncated_and_non_torch_files_are_named(tmp_path, content):
    from skkd import StudentFileError

    (tmp_path / "student.skkd").write_bytes(content)
    with pytest.raises(StudentFileError, match="student.skkd .*not a student file"):
        load_student(tmp_path / "student.skkd")
