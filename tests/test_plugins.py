"""The plugin contract: registration, lookup, entry points, and failing well."""

import json
import textwrap

import pytest
import torch

from skkd import DistilledClassifier, hookimpl
from skkd.cli import main
from skkd.plugins import PluginError


class HalfKL:
    """A runtime plugin registering one loss."""

    @hookimpl
    def skkd_register_losses(self, register):
        from skkd.losses import kl_divergence

        def half_kl(s, t, *, temperature, y=None, scale=0.5):
            return scale * kl_divergence(s, t, temperature=temperature)

        register("half_kl", half_kl)


def _loss_plugin(name, fn):
    class Plugin:
        @hookimpl
        def skkd_register_losses(self, register):
            register(name, fn)

    return Plugin()


@pytest.mark.filterwarnings("ignore::skkd.estimator.TeacherNearChanceWarning")
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


def test_a_name_registered_twice_names_both_plugins(fresh_plugins):
    fresh_plugins.register(_loss_plugin("kl", lambda s, t, **kw: s.sum()), name="my-kl")
    with pytest.raises(PluginError, match="'kl' is registered twice") as info:
        fresh_plugins.get_loss("kl")
    assert "plugin 'skkd.losses' (distribution 'skkd')" in str(info.value)
    assert "plugin 'my-kl' (distribution '<runtime>')" in str(info.value)


def test_an_exception_inside_a_hook_names_the_plugin(fresh_plugins):
    class Broken:
        @hookimpl
        def skkd_register_losses(self, register):
            raise RuntimeError("boom")

    fresh_plugins.register(Broken(), name="broken-plugin", distribution="broken-dist")
    with pytest.raises(PluginError, match=r"'broken-plugin' \(distribution 'broken-dist'\) "
                                          r"raised inside skkd_register_losses: RuntimeError"):
        fresh_plugins.get_loss("kl")


def test_registering_something_of_the_wrong_shape_is_an_error(fresh_plugins):
    fresh_plugins.register(_loss_plugin("bad", 42), name="shape-plugin")
    with pytest.raises(PluginError, match="'shape-plugin'.*loss 'bad' as int, which is not"):
        fresh_plugins.get_loss("kl")


def test_a_bad_hook_signature_is_refused(fresh_plugins):
    class WrongArg:
        @hookimpl
        def skkd_register_losses(self, registry):
            pass

    with pytest.raises(PluginError, match="wrong-arg"):
        fresh_plugins.register(WrongArg(), name="wrong-arg")


@pytest.mark.parametrize(
    ("fn", "error", "match"),
    [
        (lambda s, t, **kw: (s - t).pow(2).mean(1), ValueError,
         r"KD loss 'rowwise' returned \(32,\); a loss must return a scalar"),
        (lambda s, t, **kw: s.sum() * float("nan"), FloatingPointError,
         "KD loss 'rowwise' returned a non-finite value"),
    ],
)
@pytest.mark.filterwarnings("ignore::skkd.estimator.TeacherNearChanceWarning")
def test_a_loss_of_the_wrong_shape_or_value_fails_the_fit(fresh_plugins, digits, fn, error,
                                                          match):
    X_train, _, y_train, _ = digits
    fresh_plugins.register(_loss_plugin("rowwise", fn), name="rowwise-plugin")
    with pytest.raises(error, match=match):
        DistilledClassifier(teacher=torch.nn.Linear(64, 10), loss="rowwise",
                            max_epochs=1).fit(X_train, y_train)


@pytest.fixture
def installed_plugins(tmp_path, monkeypatch, fresh_plugins):
    """Two fake distributions on sys.path: one working plugin, one that fails to import."""
    (tmp_path / "fake_kd_plugin.py").write_text(textwrap.dedent("""
        from skkd import hookimpl

        @hookimpl
        def skkd_register_losses(register):
            register("fake", lambda s, t, *, temperature, y=None: (s - t).abs().mean())
    """))
    (tmp_path / "broken_kd_plugin.py").write_text("raise ImportError('missing dependency')\n")
    for dist, module, version in (("fake-kd", "fake_kd_plugin", "1.2"),
                                  ("broken-kd", "broken_kd_plugin", "0.1")):
        info = tmp_path / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[skkd]\n{module} = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return fresh_plugins


def test_entry_point_plugins_load_and_are_listed(installed_plugins, monkeypatch, capsys):
    monkeypatch.delenv("SKKD_LOAD_PLUGINS", raising=False)
    with pytest.warns(RuntimeWarning, match=r"'broken_kd_plugin' \(distribution 'broken-kd'\) "
                                            "failed to import and was skipped"):
        assert installed_plugins.get_loss("fake") is not None
    main(["plugins", "--json"])
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["fake_kd_plugin"]["distribution"] == "fake-kd"
    assert listed["fake_kd_plugin"]["version"] == "1.2"
    assert listed["fake_kd_plugin"]["registers"]["losses"] == ["fake"]
    assert "broken_kd_plugin" not in listed
    assert listed["skkd.losses"]["registers"]["losses"] == ["kl", "soft_ce", "mse"]


def test_the_allow_list_limits_which_plugins_load(installed_plugins, monkeypatch):
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "fake-kd")
    assert installed_plugins.get_loss("fake") is not None  # and no warning: broken-kd not tried
    installed_plugins.reset()
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "")
    with pytest.raises(ValueError, match="Unknown loss 'fake'"):
        installed_plugins.get_loss("fake")


def test_skkd_plugins_prints_each_loss_with_its_plugin_and_distribution(capsys):
    main(["plugins"])
    out = capsys.readouterr().out
    assert "skkd.losses (skkd " in out
    assert "losses: kl, soft_ce, mse" in out
    assert "models: mlp, cnn-teacher, cnn-student" in out


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
        from skkd.teachers import Teacher

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


def test_an_adapter_returning_the_wrong_type_names_its_plugin(fresh_plugins, digits):
    class Bad:
        @hookimpl
        def skkd_register_teachers(self, register):
            register("bad-adapter", lambda obj: "not a teacher")

    fresh_plugins.register(Bad(), name="bad-teacher-plugin", distribution="bad-dist")
    with pytest.raises(TypeError, match="'bad-adapter' of plugin 'bad-teacher-plugin' "
                                        r"\(distribution 'bad-dist'\) returned str"):
        DistilledClassifier(teacher=torch.nn.Linear(64, 10)).fit(*digits[0::2])


def test_a_model_factory_building_no_module_names_its_plugin(fresh_plugins, digits):
    class Bad:
        @hookimpl
        def skkd_register_models(self, register):
            register("not-a-net", lambda n_features, n_classes: "oops")

    fresh_plugins.register(Bad(), name="bad-model-plugin")
    with pytest.raises(TypeError, match="Model 'not-a-net' of plugin 'bad-model-plugin'.*"
                                        "built str, not a torch.nn.Module"):
        DistilledClassifier(module="not-a-net", max_epochs=1).fit(*digits[0::2])
