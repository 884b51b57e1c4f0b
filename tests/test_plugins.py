"""The plugin contract: registration, lookup, entry points, and failing well."""

import json
import os
import re
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from skkd import DistilledClassifier, PluginError, PluginWarning, hookimpl, plugins
from skkd.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
NEAR_CHANCE = "ignore::skkd.exceptions.TeacherNearChanceWarning"


class HalfKL:
    """A runtime plugin registering one loss."""

    @hookimpl
    def skkd_register_losses(self, register):
        from skkd.losses import kl_divergence

        def half_kl(s, t, *, temperature, y=None, scale=0.5):
            return scale * kl_divergence(s, t, temperature=temperature)

        register("half_kl", half_kl)


def _loss_plugin(name, fn, model=None):
    """A plugin registering one loss (and, if given, one model named ``model``)."""

    class Plugin:
        @hookimpl
        def skkd_register_losses(self, register):
            register(name, fn)

        @hookimpl
        def skkd_register_models(self, register):
            if model is not None:
                register(model, lambda n_features, n_classes: torch.nn.Linear(n_features,
                                                                              n_classes))

    return Plugin()


def _install(root, dist, module, source, version="0.1", ep_name=None):
    """A fake installed distribution on ``root``: a module and its ``skkd`` entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[skkd]\n{ep_name or module} = {module}\n")


@pytest.mark.filterwarnings(NEAR_CHANCE)
def test_a_registered_loss_is_found_by_name_and_gets_loss_options(fresh_plugins, digits):
    X_train, _, y_train, _ = digits
    fresh_plugins.register(HalfKL(), name="half-kl-plugin")
    assert "half_kl" in fresh_plugins.plugin_of("losses", "half_kl").registered["losses"]
    teacher = torch.nn.Linear(64, 10)
    kw = {"teacher": teacher, "alpha": 0.0, "max_epochs": 1, "random_state": 0}
    a = DistilledClassifier(loss="half_kl", loss__scale=0.5, **kw).fit(X_train, y_train)
    b = DistilledClassifier(loss="kl", **kw).fit(X_train, y_train)
    assert a.history_[0, "batches", 0, "train_loss"] == pytest.approx(
        0.5 * b.history_[0, "batches", 0, "train_loss"], rel=1e-5)
    with pytest.raises(TypeError, match="nope"):
        DistilledClassifier(loss="half_kl", loss__nope=1, **kw).fit(X_train, y_train)


# --------------------------------------------------------------------------- broken plugins


def test_a_plugin_reusing_a_builtin_name_is_skipped_whole_and_the_rest_works(fresh_plugins):
    kl = fresh_plugins.get_loss("kl")
    imposter = _loss_plugin("kl", lambda s, t, **kw: s.sum(), model="imposter-net")
    with pytest.warns(PluginWarning) as record:
        fresh_plugins.register(imposter, name="my-kl")
    (message,) = [str(w.message) for w in record]
    assert "plugin 'my-kl' (distribution '<runtime>')" in message
    assert "its loss 'kl' is already registered by plugin 'skkd.losses' (distribution 'skkd')" \
        in message
    assert "skkd.plugins.unregister('my-kl')" in message
    assert fresh_plugins.get_loss("kl") is kl  # the built-in, not the imposter
    assert fresh_plugins.get_loss("soft_ce") is not None
    with pytest.raises(ValueError, match="Unknown model 'imposter-net'"):
        fresh_plugins.get_model("imposter-net")  # its other kinds are dropped too
    (broken,) = fresh_plugins.broken_plugins()
    assert (broken.name, broken.registered["models"]) == ("my-kl", [])
    assert "my-kl" not in [p.name for p in fresh_plugins.list_plugins()]
    fresh_plugins.unregister("my-kl")
    assert fresh_plugins.broken_plugins() == []


@pytest.mark.parametrize(
    ("plugin", "problem"),
    [
        (_loss_plugin("bad", 42), "it registered loss 'bad' as int, which is not callable"),
        (_loss_plugin("", lambda s, t, **kw: s.sum()),
         "it registered a loss under ''; names must be non-empty strings"),
        (_loss_plugin(np.int64(0), lambda s, t, **kw: s.sum()),
         "it registered a loss under 0; names must be"),
        (_loss_plugin("fine", lambda s, t, **kw: s.sum(), model="auto"),
         "it registered model 'auto', a name skkd reserves: module='auto' chooses"),
    ],
    ids=["not-callable", "empty-name", "numpy-name", "reserved-name"],
)
def test_a_registration_of_the_wrong_shape_skips_the_plugin(fresh_plugins, plugin, problem):
    with pytest.warns(PluginWarning, match=re.escape(problem)):
        fresh_plugins.register(plugin, name="shape-plugin", distribution="shape-dist")
    assert fresh_plugins.get_loss("kl") is not None
    assert [p.name for p in fresh_plugins.broken_plugins()] == ["shape-plugin"]


def test_an_exception_inside_a_hook_skips_the_plugin_and_names_it(fresh_plugins):
    class Broken:
        @hookimpl
        def skkd_register_models(self, register):
            register("half-made", lambda n_features, n_classes: torch.nn.Identity())

        @hookimpl
        def skkd_register_losses(self, register):
            raise RuntimeError("boom")

    with pytest.warns(PluginWarning, match=r"plugin 'broken-plugin' \(distribution "
                                           r"'broken-dist'\): it raised inside "
                                           "skkd_register_losses: RuntimeError: boom"):
        fresh_plugins.register(Broken(), name="broken-plugin", distribution="broken-dist")
    for _ in range(2):  # the same answer every time: no half-loaded registry
        assert fresh_plugins.get_loss("kl") is not None
        with pytest.raises(ValueError, match="Unknown model 'half-made'"):
            fresh_plugins.get_model("half-made")


def test_a_plugin_swallowing_the_registration_error_is_still_skipped(fresh_plugins):
    class Sneaky:
        @hookimpl
        def skkd_register_losses(self, register):
            try:
                register("kl", lambda s, t, **kw: s.sum())
            except Exception:
                pass
            register("sneaky", lambda s, t, **kw: s.sum())

    with pytest.warns(PluginWarning, match="'kl' is already registered"):
        fresh_plugins.register(Sneaky(), name="sneaky")
    with pytest.raises(ValueError, match="Unknown loss 'sneaky'"):
        fresh_plugins.get_loss("sneaky")


class _Wrapper:
    @hookimpl(hookwrapper=True)
    def skkd_register_losses(self, register):
        register("wrapped", lambda s, t, **kw: s.sum())
        yield


class _NewStyleWrapper:
    @hookimpl(wrapper=True)
    def skkd_register_losses(self, register):
        register("wrapped", lambda s, t, **kw: s.sum())
        return (yield)


@pytest.mark.parametrize("plugin", [_Wrapper(), _NewStyleWrapper()], ids=["hookwrapper", "wrapper"])
def test_a_hook_wrapper_is_refused_not_silently_ignored(fresh_plugins, plugin):
    with pytest.warns(PluginWarning, match="wrappers are not supported for skkd hooks"):
        fresh_plugins.register(plugin, name="wrapper-plugin")
    assert [p.name for p in fresh_plugins.broken_plugins()] == ["wrapper-plugin"]
    assert fresh_plugins.get_loss("kl") is not None


def test_hooks_that_would_register_nothing_silently_are_refused(fresh_plugins):
    class Misspelt:
        @hookimpl
        def skkd_register_loss(self, register):  # no such hook
            register("x", lambda s, t, **kw: s.sum())

    class Generator:
        @hookimpl
        def skkd_register_losses(self, register):
            yield register("x", lambda s, t, **kw: s.sum())

    class NoRegister:
        @hookimpl
        def skkd_register_losses(self):
            pass

    for plugin, problem in ((Misspelt(), "'skkd_register_loss', which is not a skkd hook"),
                            (Generator(), "is a generator function"),
                            (NoRegister(), "takes no 'register' argument")):
        with pytest.warns(PluginWarning, match=problem):
            fresh_plugins.register(plugin)


def test_register_called_after_the_hook_returned_is_an_error(fresh_plugins):
    kept = []

    class Late:
        @hookimpl
        def skkd_register_losses(self, register):
            kept.append(register)

    fresh_plugins.register(Late(), name="late")
    with pytest.raises(PluginError, match="after skkd_register_losses had returned"):
        kept[0]("late-loss", lambda s, t, **kw: s.sum())


def test_a_bad_hook_signature_is_refused_at_register(fresh_plugins):
    class WrongArg:
        @hookimpl
        def skkd_register_losses(self, registry):
            pass

    with pytest.raises(PluginError, match="wrong-arg"):
        fresh_plugins.register(WrongArg(), name="wrong-arg")
    assert "wrong-arg" not in [p.name for p in fresh_plugins.list_plugins()]
    fresh_plugins.register(HalfKL(), name="wrong-arg")  # the name is still free
    with pytest.raises(PluginError, match="already registered under that name"):
        fresh_plugins.register(HalfKL(), name="wrong-arg")


def test_unregistering_an_unknown_plugin_names_the_known_ones(fresh_plugins):
    with pytest.raises(ValueError, match="No plugin named 'nope'.*'skkd.losses'"):
        fresh_plugins.unregister("nope")


def test_unknown_names_are_shown_as_written(fresh_plugins):
    # GridSearchCV over np.array(["kl", "dkd"]) hands numpy strings to get_loss.
    with pytest.raises(ValueError, match=r"Unknown loss 'nope'\. Registered") as info:
        fresh_plugins.get_loss(np.str_("nope"))
    assert "np.str_" not in str(info.value)
    assert fresh_plugins.get_loss(np.str_("kl")) is fresh_plugins.get_loss("kl")


@pytest.mark.parametrize(
    ("fn", "error", "match"),
    [
        (lambda s, t, **kw: (s - t).pow(2).mean(1), ValueError,
         r"KD loss 'rowwise' returned \(32,\); a loss must return a scalar"),
        (lambda s, t, **kw: s.sum() * float("nan"), FloatingPointError,
         "KD loss 'rowwise' returned a non-finite value"),
    ],
)
@pytest.mark.filterwarnings(NEAR_CHANCE)
def test_a_loss_of_the_wrong_shape_or_value_fails_the_fit(fresh_plugins, digits, fn, error,
                                                          match):
    X_train, _, y_train, _ = digits
    fresh_plugins.register(_loss_plugin("rowwise", fn), name="rowwise-plugin")
    with pytest.raises(error, match=match):
        DistilledClassifier(teacher=torch.nn.Linear(64, 10), loss="rowwise",
                            max_epochs=1).fit(X_train, y_train)


# --------------------------------------------------------------------------- entry points


FAKE_SOURCE = """
    from skkd import hookimpl

    @hookimpl
    def skkd_register_losses(register):
        register("fake", lambda s, t, *, temperature, y=None: (s - t).abs().mean())
"""


@pytest.fixture
def installed_plugins(tmp_path, monkeypatch, fresh_plugins):
    """Two fake distributions on sys.path: one working plugin, one that fails to import."""
    _install(tmp_path, "fake-kd", "fake_kd_plugin", FAKE_SOURCE, "1.2")
    _install(tmp_path, "broken-kd", "broken_kd_plugin",
             "raise ImportError('missing dependency')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return fresh_plugins


def test_entry_point_plugins_load_and_are_listed(installed_plugins, monkeypatch, capsys):
    monkeypatch.delenv("SKKD_LOAD_PLUGINS", raising=False)
    with pytest.warns(PluginWarning, match=r"'broken_kd_plugin' \(distribution 'broken-kd'\): "
                                           "it failed to import: ImportError: missing dep"):
        assert installed_plugins.get_loss("fake") is not None
    main(["plugins", "--json"])
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["fake_kd_plugin"]["distribution"] == "fake-kd"
    assert listed["fake_kd_plugin"]["version"] == "1.2"
    assert listed["fake_kd_plugin"]["registers"]["losses"] == ["fake"]
    assert listed["fake_kd_plugin"]["error"] is None
    assert listed["broken_kd_plugin"]["distribution"] == "broken-kd"
    assert listed["broken_kd_plugin"]["error"] == (
        "it failed to import: ImportError: missing dependency")
    assert listed["skkd.losses"]["registers"]["losses"] == ["kl", "soft_ce", "mse", "huber"]


def test_skkd_plugins_lists_a_plugin_that_failed_to_import_instead_of_warning(
        installed_plugins, monkeypatch, capsys):
    monkeypatch.delenv("SKKD_LOAD_PLUGINS", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "fake_kd_plugin (fake-kd 1.2)\n  losses: fake" in out
    assert ("skipped (broken; SKKD_LOAD_PLUGINS can leave them out):\nbroken_kd_plugin "
            "(broken-kd 0.1)\n  error: it failed to import: ImportError: missing dependency"
            in out)


def test_an_installed_plugin_taking_a_builtin_name_is_skipped(tmp_path, monkeypatch,
                                                              fresh_plugins, capsys):
    _install(tmp_path, "fake-kd", "fake_kd_plugin", FAKE_SOURCE, "1.2")
    _install(tmp_path, "greedy-kd", "greedy_kd_plugin", """
        from skkd import hookimpl

        @hookimpl
        def skkd_register_losses(register):
            register("greedy", lambda s, t, **kw: s.sum())
            register("kl", lambda s, t, **kw: s.sum())
    """, "0.3")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("SKKD_LOAD_PLUGINS", raising=False)
    with pytest.warns(PluginWarning) as record:
        assert fresh_plugins.get_loss("fake") is not None  # an unrelated plugin still works
    (message,) = [str(w.message) for w in record if "greedy" in str(w.message)]
    assert "plugin 'greedy_kd_plugin' (distribution 'greedy-kd')" in message
    assert "its loss 'kl' is already registered by plugin 'skkd.losses'" in message
    assert "SKKD_LOAD_PLUGINS" in message and "'fake-kd" in message
    with pytest.raises(ValueError, match="Unknown loss 'greedy'"):
        fresh_plugins.get_loss("greedy")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "fake_kd_plugin (fake-kd 1.2)\n  losses: fake" in out
    assert re.search(r"greedy_kd_plugin \(greedy-kd 0\.3\)\n  error: its loss 'kl' is already "
                     r"registered by plugin 'skkd\.losses' \(distribution 'skkd'\)", out)


def test_an_installed_plugin_with_a_bad_hook_signature_is_skipped(tmp_path, monkeypatch,
                                                                  fresh_plugins):
    _install(tmp_path, "wrong-kd", "wrong_kd_plugin", """
        from skkd import hookimpl

        @hookimpl
        def skkd_register_losses(registry):
            pass
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "wrong-kd")
    with pytest.warns(PluginWarning, match="'wrong_kd_plugin'.*does not match the skkd hooks"):
        assert fresh_plugins.get_loss("kl") is not None
    assert fresh_plugins.get_plugin_manager().get_plugin("wrong_kd_plugin") is None


def test_two_distributions_with_one_entry_point_name_keep_the_first(tmp_path, monkeypatch,
                                                                    fresh_plugins):
    _install(tmp_path, "one-kd", "one_kd", FAKE_SOURCE, ep_name="shared")
    _install(tmp_path, "two-kd", "two_kd", FAKE_SOURCE.replace('"fake"', '"fake2"'),
             ep_name="shared")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "one-kd,two-kd")
    with pytest.warns(PluginWarning, match="its name is already taken by plugin 'shared'"):
        losses = {fresh_plugins.plugin_of("losses", name).distribution
                  for name in ("fake", "fake2") if _has_loss(fresh_plugins, name)}
    assert len(losses) == 1


def _has_loss(registry, name):
    try:
        registry.get_loss(name)
    except ValueError:
        return False
    return True


def test_a_failed_load_publishes_nothing_and_fails_again(fresh_plugins, monkeypatch):
    # Before: the first lookup raised, and later ones silently used what was
    # half-loaded (built-ins only).
    def entry_points(**kwargs):
        raise OSError("unreadable site-packages")

    monkeypatch.setattr("importlib.metadata.entry_points", entry_points)
    for _ in range(2):
        with pytest.raises(OSError, match="unreadable"):
            fresh_plugins.get_loss("kl")
        assert fresh_plugins._state.snapshot is None
    monkeypatch.undo()
    assert fresh_plugins.get_loss("kl") is not None


def test_a_skip_warning_turned_error_fails_every_lookup_alike(fresh_plugins, tmp_path,
                                                              monkeypatch):
    _install(tmp_path, "broken-kd", "broken_kd_plugin", "raise ImportError('gone')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "broken-kd")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)
        for _ in range(2):
            with pytest.raises(PluginWarning, match="broken-kd"):
                fresh_plugins.get_loss("kl")
    with pytest.warns(PluginWarning):
        assert fresh_plugins.get_loss("kl") is not None


def test_the_allow_list_limits_which_plugins_load(installed_plugins, monkeypatch):
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "fake-kd")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # broken-kd is not even tried
        assert installed_plugins.get_loss("fake") is not None
    installed_plugins.reset()
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "")
    with pytest.raises(ValueError, match="Unknown loss 'fake'"):
        installed_plugins.get_loss("fake")


def test_a_misspelt_allow_list_warns_and_unknown_names_mention_it(installed_plugins,
                                                                  monkeypatch):
    # Before: the typo silently dropped every plugin; "Unknown loss" never said why.
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "fake-kdd")
    with pytest.warns(PluginWarning) as record:
        installed_plugins.get_loss("kl")
    (message,) = [str(w.message) for w in record]
    assert "SKKD_LOAD_PLUGINS='fake-kdd' names 'fake-kdd'" in message
    assert "Installed plugin distributions: broken-kd, fake-kd" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, at loading
        with pytest.raises(ValueError, match=r"Unknown loss 'fake'.*SKKD_LOAD_PLUGINS="
                                             r"'fake-kdd' limits which installed plugins "
                                             r"load \(installed but not loaded: broken-kd, "
                                             r"fake-kd[,)]"):
            installed_plugins.get_loss("fake")
        with pytest.raises(ValueError, match=r"Unknown model 'nope'.*SKKD_LOAD_PLUGINS="):
            installed_plugins.get_model("nope")
        with pytest.raises(ValueError, match=r"Unknown hint loss 'nope'.*SKKD_LOAD_PLUGINS="):
            installed_plugins.get_hint_loss("nope")
        with pytest.raises(TypeError, match=r"not supported.*SKKD_LOAD_PLUGINS='fake-kdd'"):
            DistilledClassifier(teacher=object()).fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_an_allow_list_of_installed_names_is_not_warned_about(installed_plugins, monkeypatch):
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "Fake_KD")  # names are normalized
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert installed_plugins.get_loss("fake") is not None
        with pytest.raises(ValueError, match=r"not loaded: broken-kd[,)]") as info:
            installed_plugins.get_loss("other")
    assert "fake-kd" not in re.search(r"not loaded: [^)]*", str(info.value)).group()
    installed_plugins.reset()
    monkeypatch.delenv("SKKD_LOAD_PLUGINS")
    with pytest.warns(PluginWarning, match="broken_kd_plugin"):  # the import failure
        with pytest.raises(ValueError, match="Unknown loss 'other'") as info:
            installed_plugins.get_loss("other")
    assert "SKKD_LOAD_PLUGINS" not in str(info.value)


def test_first_lookups_in_two_threads_both_see_installed_plugins(tmp_path, monkeypatch,
                                                                 fresh_plugins):
    # The plugin is slow to import, so a second thread looks up while the first loads.
    _install(tmp_path, "slow-kd", "slow_kd_plugin", """
        import time

        from skkd import hookimpl

        time.sleep(0.05)

        @hookimpl
        def skkd_register_losses(register):
            register("slow", lambda s, t, **kw: s.sum())
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "slow-kd")
    for _ in range(4):
        fresh_plugins.reset()
        sys.modules.pop("slow_kd_plugin", None)
        barrier = threading.Barrier(2)
        outcomes = []

        def first_lookup(barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                outcomes.append(fresh_plugins.get_loss("slow"))
            except Exception as exc:  # recorded, then asserted on in the main thread
                outcomes.append(exc)

        threads = [threading.Thread(target=first_lookup) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(outcomes) == 2
        assert all(callable(o) for o in outcomes), outcomes
        assert outcomes[0] is outcomes[1]


def test_skkd_plugins_prints_each_loss_with_its_plugin_and_distribution(capsys):
    main(["plugins"])
    out = capsys.readouterr().out
    assert "skkd.losses (skkd " in out
    assert "losses: kl, soft_ce, mse" in out
    assert "models: mlp, cnn-teacher, cnn-student" in out
    assert "skipped" not in out


# --------------------------------------------------------------------------- the plugin guide


def _guide_files():
    """``{file name: code}`` for each block of docs/plugins.md introduced by `name`:."""
    text = DOCS.read_text()
    blocks = re.findall(r"^`([\w./-]+)`:\n\n```\w*\n(.*?)^```", text, flags=re.M | re.S)
    return dict(blocks)


def test_the_plugin_guide_example_runs_and_leaves_no_trace(pytester, installed_plugins,
                                                           monkeypatch):
    tomllib = pytest.importorskip("tomllib")
    files = _guide_files()
    assert set(files) == {"pyproject.toml", "skkd_hinge_loss.py", "tests/test_hinge.py"}
    project = tomllib.loads(files["pyproject.toml"])["project"]
    ((ep_name, module),) = project["entry-points"]["skkd"].items()
    _install(pytester.path, project["name"], module, files[f"{module}.py"],
             project["version"], ep_name=ep_name)
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_hinge.py").write_text(files["tests/test_hinge.py"])
    monkeypatch.syspath_prepend(str(pytester.path))

    # What a test suite around the example has: an allow-list and a loaded registry.
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "fake-kd")
    assert installed_plugins.get_loss("fake") is not None
    result = pytester.runpytest_inprocess("tests/test_hinge.py", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)

    # The example's test restored both: later tests still get their plugins.
    assert os.environ["SKKD_LOAD_PLUGINS"] == "fake-kd"
    assert installed_plugins.get_loss("fake") is not None
    with pytest.raises(ValueError, match="Unknown loss 'hinge'"):
        installed_plugins.get_loss("hinge")


# The autouse fixture in conftest.py restores the allow-list and the registry
# after a test that changed them. These two run in this order (pytest keeps
# file order): the first leaves a mess, the second must not see it.


def test_global_state_leak_first_half_makes_a_mess():
    os.environ["SKKD_LOAD_PLUGINS"] = "leaky-dist"
    plugins.register(_loss_plugin("leaked", lambda s, t, **kw: s.sum()), name="leaky")
    assert plugins.get_loss("leaked") is not None


def test_global_state_leak_second_half_sees_none_of_it():
    assert os.environ["SKKD_LOAD_PLUGINS"] != "leaky-dist"
    with pytest.raises(ValueError, match="Unknown loss 'leaked'"):
        plugins.get_loss("leaked")


# --------------------------------------------------------------------------- teachers, models


class Scorer:
    """A model type no built-in adapter knows: scores come from .scores(X)."""

    classes_ = None

    def __init__(self, weights):
        self.weights = weights

    def scores(self, X):
        return X @ self.weights


class ScorerPlugin:
    @hookimpl
    def skkd_register_teachers(self, register):
        from skkd.teachers._adapters import Teacher

        class ScorerTeacher(Teacher):
            def logits(self, X, batch_size=1024):
                return self.model.scores(X)

        register("scorer", lambda obj: ScorerTeacher(obj) if isinstance(obj, Scorer) else None)


def test_a_teacher_adapter_plugin_adds_a_kind_of_teacher(fresh_plugins, digits):
    X_train, _, y_train, _ = digits
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(max_iter=500).fit(X_train, y_train)
    teacher = Scorer(lr.coef_.T.astype("float32"))
    with pytest.raises(TypeError, match="not supported"):
        DistilledClassifier(teacher=teacher, max_epochs=1).fit(X_train, y_train)
    fresh_plugins.register(ScorerPlugin(), name="scorer-plugin")
    clf = DistilledClassifier(teacher=teacher, max_epochs=1).fit(X_train, y_train)
    assert clf.teacher_score_ > 0.9
    assert [name for name, _ in fresh_plugins.teacher_adapters()][0] == "scorer"


@pytest.mark.filterwarnings(NEAR_CHANCE)
def test_an_adapter_returning_the_wrong_type_is_skipped_and_named(fresh_plugins, digits):
    class Bad:
        @hookimpl
        def skkd_register_teachers(self, register):
            register("bad-adapter", lambda obj: "not a teacher")

    fresh_plugins.register(Bad(), name="bad-teacher-plugin", distribution="bad-dist")
    named = (r"'bad-adapter' of plugin 'bad-teacher-plugin' \(distribution 'bad-dist'\) "
             "returned str")
    with pytest.warns(PluginWarning, match=named):  # the built-in torch adapter still works
        DistilledClassifier(teacher=torch.nn.Linear(64, 10), max_epochs=1).fit(*digits[0::2])
    with pytest.warns(PluginWarning), pytest.raises(PluginError, match=named):
        DistilledClassifier(teacher=Scorer(np.zeros((64, 10))), max_epochs=1).fit(
            *digits[0::2])


class Kaput:
    """A plugin whose teacher adapter raises on every object."""

    @hookimpl
    def skkd_register_teachers(self, register):
        def kaput(obj):
            raise RuntimeError("kaput")

        register("kaput-adapter", kaput)


@pytest.mark.filterwarnings(NEAR_CHANCE)
def test_an_adapter_that_raises_is_skipped_with_a_warning_naming_it(fresh_plugins, digits):
    # Before: its RuntimeError broke every fit, naming neither adapter nor plugin.
    X, y = digits[0][:200], digits[2][:200]
    fresh_plugins.register(Kaput(), name="kaput-plugin", distribution="kaput-dist")
    named = (r"Teacher adapter 'kaput-adapter' of plugin 'kaput-plugin' \(distribution "
             r"'kaput-dist'\) raised RuntimeError: kaput")
    with pytest.warns(PluginWarning, match=named + ".*skipped it and tries the other"):
        clf = DistilledClassifier(teacher=torch.nn.Linear(64, 10), max_epochs=1).fit(X, y)
    assert clf.teacher_score_ is not None
    # No other adapter takes the object: the error is the broken adapter's, chained.
    with pytest.warns(PluginWarning), pytest.raises(PluginError, match=named) as info:
        DistilledClassifier(teacher=Scorer(np.zeros((64, 10))), max_epochs=1).fit(X, y)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_an_adapters_refusal_of_a_known_object_is_raised_as_it_is(fresh_plugins, digits):
    from skkd.exceptions import TeacherError

    class Picky:
        @hookimpl
        def skkd_register_teachers(self, register):
            def picky(obj):
                if isinstance(obj, Scorer):
                    raise TeacherError("this Scorer has no weights yet")
                return None

            register("picky", picky)

    fresh_plugins.register(Picky(), name="picky-plugin")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)
        with pytest.raises(TeacherError, match="^this Scorer has no weights yet$"):
            DistilledClassifier(teacher=Scorer(None), max_epochs=1).fit(*digits[0::2])


def test_a_model_factory_building_no_module_names_its_plugin(fresh_plugins, digits):
    class Bad:
        @hookimpl
        def skkd_register_models(self, register):
            register("not-a-net", lambda n_features, n_classes: "oops")

    fresh_plugins.register(Bad(), name="bad-model-plugin")
    with pytest.raises(TypeError, match="Model 'not-a-net' of plugin 'bad-model-plugin'.*"
                                        "built str, not a torch.nn.Module"):
        DistilledClassifier(module="not-a-net", max_epochs=1).fit(*digits[0::2])
