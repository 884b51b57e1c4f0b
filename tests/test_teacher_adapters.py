"""One teacher adapter, registered by a plugin, serves both estimators.

The adapter's :class:`~skkd.teachers.Teacher` answers the model's raw outputs:
``DistilledClassifier`` reads them as class scores, ``DistilledRegressor`` as
predictions in ``y``'s units. The regressor asks the adapters only about a
teacher its own rules (``predict``, a torch module) do not serve.
"""

import types

import numpy as np
import pytest
import torch
from sklearn.datasets import make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score

from skkd import (
    DistilledClassifier,
    DistilledRegressor,
    PluginError,
    PluginWarning,
    TeacherError,
    TeacherNearMeanWarning,
    hookimpl,
    plugins,
)
from skkd.teachers import Teacher

FAST = dict(max_epochs=1, random_state=0)


class Affine:
    """A model kind no built-in rule or adapter knows: its outputs come from ``.outputs(X)``."""

    def __init__(self, weights, bias):
        self.weights, self.bias = np.asarray(weights), np.asarray(bias)
        self.calls = 0

    def outputs(self, X):
        self.calls += 1
        return np.asarray(X, dtype=np.float64) @ self.weights + self.bias


class AffineTeacher(Teacher):
    def logits(self, X, batch_size=1024):
        return self.model.outputs(X)


def _plugin(adapter, module_name="skkd_affine_teacher"):
    """A plugin module whose one hook registers ``adapter`` as ``"affine"``."""
    module = types.ModuleType(module_name)

    @hookimpl
    def skkd_register_teachers(register):
        register("affine", adapter)

    module.skkd_register_teachers = skkd_register_teachers
    return module


@pytest.fixture
def registered():
    """Register a plugin module for the test, and unregister it after."""
    names = []

    def register(adapter):
        names.append(plugins.register(_plugin(adapter), name="affine-plugin"))

    yield register
    for name in names:
        plugins.unregister(name)


def adapt_affine(obj):
    return AffineTeacher(obj) if isinstance(obj, Affine) else None


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=5, n_targets=2, noise=5.0,
                           random_state=0)
    return X.astype(np.float32), y


def test_one_adapter_serves_the_classifier_and_the_regressor(registered, digits, regression):
    registered(adapt_affine)
    X_train, _, y_train, _ = digits
    lr = LogisticRegression(max_iter=500).fit(X_train, y_train)
    scores = Affine(lr.coef_.T, lr.intercept_)
    clf = DistilledClassifier(scores, **FAST).fit(X_train, y_train)
    expected = np.mean(np.argmax(scores.outputs(X_train).astype(np.float32), axis=1) == y_train)
    assert clf.teacher_score_ == expected > 0.9

    X, y = regression
    ridge = Ridge().fit(X, y[:, 0])
    model = Affine(ridge.coef_, ridge.intercept_)  # 1-D outputs: one prediction per row
    reg = DistilledRegressor(model, **FAST).fit(X, y[:, 0])
    assert model.calls == 1
    assert reg.teacher_score_ == pytest.approx(r2_score(y[:, 0], model.outputs(X)), rel=1e-9)
    assert reg.teacher_score_ > 0.9

    both = Ridge().fit(X, y)  # two outputs: one column each
    model = Affine(both.coef_.T, both.intercept_)
    reg = DistilledRegressor(model, **FAST).fit(X, y)
    assert reg.n_outputs_ == 2
    assert reg.teacher_score_ == pytest.approx(r2_score(y, model.outputs(X)), rel=1e-9)


class Anything(Teacher):
    """What a greedy adapter answers: outputs no teacher of the tests gives."""

    def logits(self, X, batch_size=1024):
        return np.full((len(X), 1), 1e6)


def test_the_regressor_s_own_rules_come_before_any_adapter(registered, regression):
    registered(lambda obj: Anything(obj))  # accepts every object
    X, y = regression
    ridge = Ridge().fit(X, y[:, 0])
    reg = DistilledRegressor(ridge, **FAST).fit(X, y[:, 0])  # predict, not the adapter
    assert reg.teacher_score_ == pytest.approx(r2_score(y[:, 0], ridge.predict(X)), rel=1e-9)
    torch.manual_seed(0)
    module = torch.nn.Linear(5, 1)
    with torch.no_grad():
        expected = module(torch.as_tensor(X)).numpy()[:, 0]
    with pytest.warns(TeacherNearMeanWarning):  # an untrained module predicts worse than y's mean
        reg = DistilledRegressor(module, **FAST).fit(X, y[:, 0])
    assert reg.teacher_score_ == pytest.approx(r2_score(y[:, 0], expected), rel=1e-5)
    classifier = LogisticRegression().fit(X, y[:, 0] > 0)
    with pytest.raises(TeacherError, match="LogisticRegression is a classifier"):
        DistilledRegressor(classifier, **FAST).fit(X, y[:, 0])


def test_the_regressor_refuses_what_an_adapter_serves_as_a_classifier(registered, regression):
    registered(lambda obj: Teacher(obj, classes=[0, 1]) if isinstance(obj, Affine) else None)
    X, y = regression
    with pytest.raises(TeacherError, match=r"Affine is a classifier.*classes_ \[0, 1\]"):
        DistilledRegressor(Affine(np.ones(5), 0.0), **FAST).fit(X, y[:, 0])


def test_a_model_nothing_serves_names_the_hook_and_a_broken_adapter_its_plugin(
        registered, regression):
    X, y = regression
    with pytest.raises(TeacherError, match="cannot predict.*skkd_register_teachers"):
        DistilledRegressor(Affine(np.ones(5), 0.0), **FAST).fit(X, y[:, 0])

    def broken(obj):
        raise RuntimeError("boom")

    registered(broken)
    named = "Teacher adapter 'affine' of plugin 'affine-plugin'"
    with pytest.warns(PluginWarning, match=named), \
            pytest.raises(PluginError, match=f"{named}.*teacher_predictions="):
        DistilledRegressor(Affine(np.ones(5), 0.0), **FAST).fit(X, y[:, 0])
