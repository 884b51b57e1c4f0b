"""Feature distillation by module path: hint losses, adapters, hooks, the teacher left alone."""

import copy
import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from torch import nn

from skkd import DistilledClassifier, hookimpl
from skkd.exceptions import InvalidParameterError
from skkd.hints._losses import attention_transfer, fitnets
from skkd.hints._modules import build_adapter, capture_features
from skkd.plugins import get_hint_loss, get_model

NEAR_CHANCE = "ignore::skkd.exceptions.TeacherNearChanceWarning"
pytestmark = pytest.mark.filterwarnings(NEAR_CHANCE)


def _no_hooks(module):
    return all(not m._forward_hooks for m in module.modules())


def _teacher():
    """A small train-mode torch teacher with BatchNorm and Dropout (modes mixed)."""
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(32, 10))
    teacher.train()
    teacher[3].eval()  # a submodule in its own mode: must come back as it was
    return teacher


def _small(digits, n=300):
    X_train, X_test, y_train, y_test = digits
    return X_train[:n], X_test, y_train[:n], y_test


MLP_KW = {"module": "mlp", "module__hidden_sizes": (16,), "max_epochs": 1, "batch_size": 64,
          "random_state": 0}


# --------------------------------------------------------------------------- the losses


def test_fitnets_is_the_mean_squared_error():
    s = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert fitnets(s, torch.zeros(2, 2)).item() == pytest.approx(7.5)  # (1+4+9+16)/4
    assert fitnets(s, s).item() == 0.0


def test_attention_transfer_against_hand_computed_maps():
    # sample 1: student map [1, 0] -> [1, 0]; teacher [0, 2]**2 = [0, 4] -> [0, 1]: 2
    # sample 2: student channels all ones -> [1, 1]/sqrt(2); teacher [1, 0]: 2 - sqrt(2)
    s = torch.tensor([[[[1.0, 0.0]], [[1.0, 0.0]]],
                      [[[1.0, 1.0]], [[1.0, 1.0]]]])  # (2, 2, 1, 2)
    t = torch.tensor([[[[0.0, 2.0]]], [[[1.0, 0.0]]]])  # (2, 1, 1, 2): channels may differ
    expected = (2 + (2 - math.sqrt(2))) / 2
    assert attention_transfer(s, t).item() == pytest.approx(expected, rel=1e-6)
    # 2-D features are their own maps: [3, 4] -> [.6, .8] against [1, 0]: .16 + .64
    assert attention_transfer(torch.tensor([[3.0, 4.0]]),
                              torch.tensor([[1.0, 0.0]])).item() == pytest.approx(0.8)
    # p enters the map: |f|**4 of [1, 2] is [1, 16] -> [1, 16]/sqrt(257), against [1, 0]
    m = torch.tensor([[[[1.0, 2.0]]]])
    ref = torch.tensor([[[[1.0, 0.0]]]])
    assert attention_transfer(m, ref, p=4.0).item() == pytest.approx(2 - 2 / math.sqrt(257),
                                                                     rel=1e-6)


def test_attention_transfer_pools_the_student_map_to_the_teachers_size():
    s = torch.ones(1, 3, 4, 4)
    t = torch.rand(1, 5, 2, 2) + 1.0
    t_uniform = torch.ones(1, 5, 2, 2)
    assert attention_transfer(s, t_uniform).item() == pytest.approx(0.0, abs=1e-7)
    assert attention_transfer(s, t).item() >= 0
    with pytest.raises(ValueError, match="equal widths"):
        attention_transfer(torch.ones(1, 3), torch.ones(1, 4))


def test_the_built_ins_are_registered_hint_losses(fresh_plugins):
    assert get_hint_loss("fitnets") is fitnets
    assert get_hint_loss("at") is attention_transfer
    assert fresh_plugins.plugin_of("hint_losses", "at").name == "skkd.hints"
    with pytest.raises(ValueError, match="Unknown hint loss 'nope'.*'at', 'fitnets'"):
        get_hint_loss("nope")


def test_a_plugin_hint_loss_is_used_by_name_with_its_options(fresh_plugins, digits):
    X, _, y, _ = _small(digits)
    calls = []

    class Plugin:
        @hookimpl
        def skkd_register_hint_losses(self, register):
            def l1(s, t, *, scale=1.0):
                calls.append(scale)
                return scale * (s - t).abs().mean()

            register("l1", l1)

    fresh_plugins.register(Plugin(), name="l1-plugin")
    DistilledClassifier(_teacher(), hints=[("layers.0", "0")], hint_loss="l1",
                        hint_loss__scale=2.0, **MLP_KW).fit(X, y)
    assert calls and set(calls) == {2.0}


# --------------------------------------------------------------------------- adapters


def test_adapter_shapes():
    conv = build_adapter((16, 4, 4), (256, 4, 4))
    assert isinstance(conv, nn.Conv2d)
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (16, 256, (1, 1))
    assert conv(torch.zeros(2, 16, 4, 4)).shape == (2, 256, 4, 4)
    lin = build_adapter((16,), (32,))
    assert isinstance(lin, nn.Linear) and (lin.in_features, lin.out_features) == (16, 32)
    assert isinstance(build_adapter((8, 2, 2), (8, 2, 2)), nn.Identity)
    with pytest.raises(ValueError, match="same spatial size"):
        build_adapter((16, 4, 4), (32, 2, 2))


def test_adapters_train_with_the_student_and_stay_out_of_it(digits):
    X, _, y, _ = _small(digits)
    clf = DistilledClassifier(_teacher(), hints=[("layers.0", "0"), ("layers.1", "2")],
                              **MLP_KW).fit(X, y)
    net = clf.net_
    adapters = net.hint_adapters_
    assert [(a.in_features, a.out_features) for a in adapters] == [(16, 32), (16, 32)]
    student_params = {id(p) for p in net.module_.parameters()}
    assert not student_params & {id(p) for p in adapters.parameters()}
    assert type(net.module_).__name__ == "MLP"
    optimized = {id(p) for g in net.optimizer_.param_groups for p in g["params"]}
    assert {id(p) for p in adapters.parameters()} <= optimized
    at = DistilledClassifier(_teacher(), hints=[("layers.0", "0")], hint_loss="at",
                             **{**MLP_KW, "module__hidden_sizes": (32,)}).fit(X, y)
    assert all(isinstance(a, nn.Identity) for a in at.net_.hint_adapters_)


def test_the_loss_is_alpha_ce_plus_soft_plus_weighted_hints(digits):
    X, _, y, _ = _small(digits, 200)
    teacher = _teacher()
    torch.manual_seed(1)
    student = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    s0 = copy.deepcopy(student)
    for inference in ("once", "per_batch"):
        clf = DistilledClassifier(teacher, module=student, hints=[("0", "0")], hint_loss="at",
                                  hint_weight=3.0, alpha=0.3, temperature=2.0, max_epochs=1,
                                  batch_size=-1, teacher_inference=inference, random_state=0)
        clf.fit(X, y)
        xb = torch.as_tensor(X)
        with torch.no_grad(), capture_features([s0[0]]) as sf:
            s_logits = s0(xb)
        was = [m.training for m in teacher.modules()]
        teacher.eval()
        with torch.no_grad(), capture_features([teacher[0]]) as tf:
            t_logits = teacher(xb)
        for m, mode in zip(teacher.modules(), was, strict=True):
            m.training = mode
        from skkd.losses import kl_divergence

        expected = (0.3 * nn.functional.cross_entropy(s_logits, torch.as_tensor(y))
                    + 0.7 * kl_divergence(s_logits, t_logits, temperature=2.0)
                    + 3.0 * attention_transfer(sf[0][-1], tf[0][-1]))
        assert clf.history_[0, "batches", 0, "train_loss"] == pytest.approx(expected.item(),
                                                                            rel=1e-5)


# --------------------------------------------------------------------------- hooks, teacher


@pytest.mark.parametrize("inference", ["once", "per_batch"])
def test_the_teacher_is_untouched_and_in_its_own_modes(digits, inference):
    X, _, y, _ = _small(digits)
    teacher = _teacher()
    state = copy.deepcopy(teacher.state_dict())
    modes = [m.training for m in teacher.modules()]
    DistilledClassifier(teacher, hints=[("layers.0", "1")], teacher_inference=inference,
                        **MLP_KW).fit(X, y)
    after = teacher.state_dict()
    assert state.keys() == after.keys()
    assert all(torch.equal(state[k], after[k]) for k in state)  # running stats included
    assert [m.training for m in teacher.modules()] == modes
    assert _no_hooks(teacher)
    assert all(p.grad is None for p in teacher.parameters())


class _Recording(nn.Module):
    """A student that remembers its instances, to inspect the trained copy's hooks."""

    instances = []

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(64, 16)
        self.head = nn.Linear(16, 10)
        _Recording.instances.append(self)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


def test_hooks_are_removed_after_fit_and_after_an_error(digits):
    X, _, y, _ = _small(digits)
    teacher = _teacher()
    _Recording.instances.clear()
    clf = DistilledClassifier(teacher, module=_Recording, hints=[("body", "0")], max_epochs=1,
                              random_state=0).fit(X, y)
    assert _no_hooks(teacher) and _no_hooks(clf.net_.module_)

    def exploding(s, t):
        if exploding.calls == 1:
            raise RuntimeError("boom in the hint loss")
        exploding.calls += 1
        return fitnets(s, t)

    exploding.calls = 0
    _Recording.instances.clear()
    for inference in ("once", "per_batch"):
        exploding.calls = 0
        with pytest.raises(RuntimeError, match="boom"):
            DistilledClassifier(teacher, module=_Recording, hints=[("body", "0")],
                                hint_loss=exploding, teacher_inference=inference,
                                max_epochs=1, random_state=0).fit(X, y)
        assert _no_hooks(teacher)
    assert _Recording.instances and all(_no_hooks(m) for m in _Recording.instances)
    module = nn.Linear(2, 2)
    with pytest.raises(KeyError), capture_features([module]):
        raise KeyError("inside")
    assert _no_hooks(module)


class _Counting(nn.Module):
    """A teacher that counts its forward passes."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_cached_features_cost_one_teacher_pass(digits, alpha):
    X, _, y, _ = _small(digits)  # 300 rows: the features are cached
    teacher = _Counting(_teacher())
    DistilledClassifier(teacher, hints=[("layers.0", "inner.1")], alpha=alpha,
                        teacher_batch_size=100, **MLP_KW).fit(X, y)
    # A probe on 2 rows for the shapes, then one pass of 3 batches: with a soft term
    # its logits and features come from the same pass (their values are checked by
    # test_the_loss_is_alpha_ce_plus_soft_plus_weighted_hints); without one (alpha=1)
    # only the features are computed.
    assert teacher.calls == 1 + 3


# --------------------------------------------------------------------------- errors


def test_a_wrong_path_names_it_and_the_closest_names(digits):
    X, _, y, _ = _small(digits)
    teacher = _teacher()
    with pytest.raises(InvalidParameterError,
                       match=r"student MLP has no module 'layers\.O'.*closest: .*'layers\.0'"):
        DistilledClassifier(teacher, hints=[("layers.O", "0")], **MLP_KW).fit(X, y)
    with pytest.raises(InvalidParameterError, match=r"teacher Sequential has no module '5'"):
        DistilledClassifier(teacher, hints=[("layers.0", "5")], **MLP_KW).fit(X, y)
    assert _no_hooks(teacher)


class _SharedActivation(nn.Module):
    """One ReLU module used after both hidden layers."""

    def __init__(self):
        super().__init__()
        self.first, self.second, self.head = nn.Linear(64, 16), nn.Linear(16, 16), nn.Linear(16, 10)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.head(self.act(self.second(self.act(self.first(x)))))


def test_a_module_that_runs_twice_per_pass_is_refused(digits):
    X, _, y, _ = _small(digits)
    teacher = _teacher()
    with pytest.raises(InvalidParameterError,
                       match=r"student module 'act' ran 2 times in one forward pass.*ambiguous"):
        DistilledClassifier(teacher, module=_SharedActivation, hints=[("act", "2")],
                            max_epochs=1, random_state=0).fit(X, y)
    torch.manual_seed(0)
    shared_teacher = _SharedActivation().eval()
    with pytest.raises(InvalidParameterError, match=r"teacher module 'act' ran 2 times"):
        DistilledClassifier(shared_teacher, hints=[("layers.0", "act")], **MLP_KW).fit(X, y)
    # the layers around it run once: they are fine
    DistilledClassifier(shared_teacher, module=_SharedActivation, hints=[("second", "second")],
                        max_epochs=1, random_state=0).fit(X, y)
    assert _no_hooks(teacher) and _no_hooks(shared_teacher)


class _Pair(nn.Module):
    """Returns a (features, extra) tuple, like an LSTM's (output, state)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, x):
        out = self.linear(x)
        return out, out.sum(1)


class _Branchy(nn.Module):
    """A model with a tuple-returning block and a layer forward() never calls."""

    def __init__(self, n_in=64, n_classes=10):
        super().__init__()
        self.block = _Pair(n_in, 16)
        self.unused = nn.Linear(16, 16)
        self.head = nn.Linear(16, n_classes)

    def forward(self, x):
        features, _ = self.block(x)
        return self.head(features)


@pytest.mark.parametrize(("owner", "hints", "problem"), [
    ("teacher", [("layers.0", "unused")],
     r"hints \('layers\.0', 'unused'\): the teacher module 'unused' \(Linear\) did not run "
     r"in the teacher's forward pass.*name a module the teacher's forward\(\) runs"),
    ("teacher", [("layers.0", "block")],
     r"hints \('layers\.0', 'block'\): the teacher module 'block' \(_Pair\) returns a "
     r"tuple, not a tensor.*name a submodule that returns a single tensor"),
    ("student", [("block", "0")],
     r"hints \('block', '0'\): the student module 'block' \(_Pair\) returns a tuple"),
    ("student", [("unused", "0")],
     r"the student module 'unused' \(Linear\) did not run in the student's forward pass"),
])
def test_a_hinted_module_that_does_not_give_one_tensor_is_named(digits, owner, hints,
                                                                problem):
    # Before: a raw IndexError (a module that never ran) or AttributeError (a tuple).
    X, _, y, _ = _small(digits)
    torch.manual_seed(0)
    teacher = _Branchy().eval() if owner == "teacher" else _teacher()
    student = {"module": "mlp", "module__hidden_sizes": (16,)} if owner == "teacher" else {
        "module": _Branchy}
    with pytest.raises(InvalidParameterError, match=problem):
        DistilledClassifier(teacher, hints=hints, max_epochs=1, random_state=0,
                            **student).fit(X, y)
    assert _no_hooks(teacher)


def test_hints_with_a_teacher_class_say_pass_an_instance(digits):
    X, _, y, _ = _small(digits)
    with pytest.raises(InvalidParameterError,
                       match=r"teacher is the class _Branchy; pass an instance, e\.g\. "
                             r"_Branchy\(\)"):
        DistilledClassifier(_Branchy, hints=[("layers.0", "head")], **MLP_KW).fit(X, y)


def test_hints_need_a_torch_teacher(digits):
    X, _, y, _ = _small(digits)
    fitted = DummyClassifier().fit(X, y)
    with pytest.raises(InvalidParameterError,
                       match="hints need a torch teacher.*DummyClassifier"):
        DistilledClassifier(fitted, hints=[("layers.0", "0")], **MLP_KW).fit(X, y)
    with pytest.raises(InvalidParameterError, match="hints need a torch teacher.*no teacher"):
        DistilledClassifier(None, hints=[("layers.0", "0")], **MLP_KW).fit(X, y)
    with pytest.raises(InvalidParameterError, match="hints"):
        DistilledClassifier(LogisticRegression(), hints="layers.0", **MLP_KW).fit(X, y)


def test_hint_parameters_are_checked(digits):
    X, _, y, _ = _small(digits)
    teacher = _teacher()
    with pytest.raises(InvalidParameterError, match="hint_weight"):
        DistilledClassifier(teacher, hints=[("layers.0", "0")], hint_weight=-1.0,
                            **MLP_KW).fit(X, y)
    with pytest.raises(InvalidParameterError, match="hint_loss__nope"):
        DistilledClassifier(teacher, hints=[("layers.0", "0")], hint_loss="at",
                            hint_loss__nope=1, **MLP_KW).fit(X, y)
    with pytest.raises(InvalidParameterError, match="hints=None"):
        DistilledClassifier(teacher, hint_loss__p=3, **MLP_KW).fit(X, y)
    with pytest.raises(InvalidParameterError, match="Unknown hint loss"):
        DistilledClassifier(teacher, hints=[("layers.0", "0")], hint_loss="nope",
                            **MLP_KW).fit(X, y)
    with pytest.raises(InvalidParameterError, match="no adapter maps"):
        DistilledClassifier(teacher, hints=[("features.0", "0")], module="cnn-student",
                            module__input_shape=(1, 8, 8), max_epochs=1).fit(X, y)
    assert _no_hooks(teacher)


# --------------------------------------------------------------------------- scikit-learn


def test_grid_search_over_hint_weight_clones_and_shares_the_teacher(digits):
    X, _, y, _ = _small(digits)
    teacher = _teacher()
    est = DistilledClassifier(teacher, hints=[("layers.0", "0")], hint_loss="at",
                              hint_loss__p=2.0, **{**MLP_KW, "module__hidden_sizes": (32,)})
    twin = clone(est)
    assert twin.teacher is teacher
    assert twin.get_params()["hints"] == [("layers.0", "0")]
    assert twin.get_params()["hint_loss__p"] == 2.0
    search = GridSearchCV(est, {"hint_weight": [0.0, 10.0]}, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_params_["hint_weight"] in (0.0, 10.0)
    assert search.best_estimator_.teacher is teacher
    assert search.best_estimator_.net_.hint_plan.weight == search.best_params_["hint_weight"]


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def cnn_fits(digits):
    X_train, _, y_train, _ = digits
    torch.manual_seed(0)
    teacher = get_model("cnn-teacher")(64, 10, input_shape=(1, 8, 8))  # untrained is enough
    fits = {}
    for loss in ("fitnets", "at"):
        fits[loss] = DistilledClassifier(
            teacher, module="cnn-student", module__input_shape=(1, 8, 8),
            hints=[("features.0", "features.0"), ("features.3", "features.3")],
            hint_loss=loss, max_epochs=2, batch_size=32, lr=3e-3, random_state=0,
        ).fit(X_train[:256], y_train[:256])
    return teacher, fits


@pytest.mark.filterwarnings(NEAR_CHANCE)
@pytest.mark.parametrize("loss", ["fitnets", "at"])
def test_a_hinted_cnn_student_trains_and_predicts(digits, cnn_fits, loss):
    _, X_test, _, y_test = digits
    teacher, fits = cnn_fits
    clf = fits[loss]
    assert clf.history_[-1, "train_loss"] < clf.history_[0, "train_loss"]
    assert clf.score(X_test, y_test) > 0.2  # chance: 0.1; 256 rows, 2 epochs
    assert type(clf.net_.module_).__name__ == "KerasExampleCNN"
    if loss == "fitnets":
        shapes = [(a.in_channels, a.out_channels) for a in clf.net_.hint_adapters_]
        assert shapes == [(16, 256), (32, 512)]
    assert _no_hooks(teacher) and _no_hooks(clf.net_.module_)


@pytest.mark.filterwarnings(NEAR_CHANCE)
def test_without_teacher_pickles_no_teacher(digits, cnn_fits):
    _, X_test, _, _ = digits
    teacher, fits = cnn_fits
    clf = fits["fitnets"]
    slim = clf.without_teacher()
    assert slim.teacher is None and slim.net_.hint_plan.teacher is None
    blob = pickle.dumps(slim)
    teacher_bytes = sum(p.numel() * 4 for p in teacher.parameters())
    assert len(blob) < teacher_bytes / 4
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.predict(X_test), clf.predict(X_test))
    assert clf.teacher is teacher  # the original keeps its teacher
