"""The "auto" training settings: resolved by the student, and the cosine schedule."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback

from skkd import DistilledClassifier, DistilledRegressor, InvalidParameterError
from skkd.persistence import load_student, save_student

TABULAR = {"alpha": 0.1, "temperature": 2.0, "lr": 1e-2, "max_epochs": 30, "batch_size": 128}
OTHER = {"alpha": 0.5, "temperature": 1.0, "lr": 1e-3, "max_epochs": 20, "batch_size": 32}


class RecordLR(Callback):
    """The first parameter group's learning rate at the end of every epoch."""

    def initialize(self):
        self.lrs = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.lrs.append(net.optimizer_.param_groups[0]["lr"])


def _used(kd):
    return {name: getattr(kd.net_, name) for name in TABULAR}


def _schedule(kd):
    return [name for name, _ in kd.net_.callbacks_ if name == "lr_schedule"]


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


def test_arrays_train_with_the_settings_measured_on_digits(rows):
    X, y = rows
    kd = DistilledClassifier(max_epochs=1, random_state=0).fit(X, y)  # module "auto" -> mlp
    assert _used(kd) == {**OTHER, "max_epochs": 1} and _schedule(kd) == []
    assert kd.get_params()["alpha"] == "auto" and kd.get_params()["lr_schedule"] == "auto"


def test_a_tabular_student_trains_with_the_tabular_settings(rows):
    X, y = rows
    named = DistilledClassifier(module="tabular-mlp", max_epochs=2, random_state=0).fit(X, y)
    assert _used(named) == {**TABULAR, "max_epochs": 2} and _schedule(named) == ["lr_schedule"]
    frame = pd.DataFrame({"x": X[:, 0], "city": np.where(X[:, 1] > 0, "a", "b")})
    chosen = DistilledClassifier(max_epochs=1, random_state=0).fit(frame, y)  # auto -> tabular
    assert chosen.net_.lr == TABULAR["lr"] and chosen.net_.alpha == TABULAR["alpha"]


def test_values_given_are_used_as_given(rows):
    X, y = rows
    kd = DistilledClassifier(module="tabular-mlp", alpha=0.3, temperature=4.0, lr=0.01,
                             batch_size=16, max_epochs=1, lr_schedule="constant",
                             random_state=0).fit(X, y)
    assert _used(kd) == {"alpha": 0.3, "temperature": 4.0, "lr": 0.01, "max_epochs": 1,
                         "batch_size": 16} and _schedule(kd) == []


def test_the_regressor_resolves_the_same_settings(rows):
    X, _ = rows
    y = X @ np.arange(1.0, 5.0)
    kd = DistilledRegressor(module="tabular-mlp", max_epochs=1, random_state=0).fit(X, y)
    assert (kd.net_.alpha, kd.net_.lr, kd.net_.batch_size) == (0.1, 1e-2, 128)


def test_the_cosine_schedule_anneals_each_fit_from_lr(rows):
    X, y = rows
    record = RecordLR()
    kd = DistilledClassifier(lr=0.02, lr_schedule="cosine", max_epochs=4, warm_start=True,
                             callbacks=[("record", record)], random_state=0).fit(X, y)
    expected = [0.02 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    np.testing.assert_allclose(dict(kd.net_.callbacks_)["record"].lrs,
                               expected, rtol=1e-12)
    assert kd.net_.optimizer_.param_groups[0]["lr"] == 0.02  # given back after the fit
    kd.fit(X, y)  # a warm start anneals its own epochs again
    lrs = dict(kd.net_.callbacks_)["record"].lrs
    np.testing.assert_allclose(lrs[-4:], expected, rtol=1e-12)


def test_a_schedule_with_every_callback_disabled_is_refused(rows):
    X, y = rows
    with pytest.raises(InvalidParameterError, match="lr_schedule='constant'"):
        DistilledClassifier(lr_schedule="cosine", callbacks="disable", max_epochs=1).fit(X, y)
    kd = DistilledClassifier(callbacks="disable", max_epochs=1).fit(X, y)  # constant: fine
    assert _schedule(kd) == []


@pytest.mark.parametrize("params", [{"lr_schedule": "linear"}, {"lr": "fast"},
                                    {"max_epochs": "many"}, {"batch_size": "Auto"}])
def test_other_strings_are_refused_naming_the_parameter(rows, params):
    X, y = rows
    name = next(iter(params))
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        DistilledClassifier(**params).fit(X, y)


def test_a_file_holds_auto_as_auto_and_older_files_load_constant(rows, tmp_path):
    X, y = rows
    kd = DistilledClassifier(module="tabular-mlp", max_epochs=2, random_state=0).fit(X, y)
    save_student(kd, tmp_path / "auto.skkd")
    data = torch.load(tmp_path / "auto.skkd", weights_only=True)
    assert data["version"] == 3 and data["params"]["lr"] == "auto"
    loaded = load_student(tmp_path / "auto.skkd")
    assert loaded.lr_schedule == "auto" and loaded.net_.lr == TABULAR["lr"]
    np.testing.assert_array_equal(loaded.predict_proba(X), kd.predict_proba(X))
    del data["params"]["lr_schedule"]  # as a file of skkd before lr_schedule
    torch.save(data, tmp_path / "older.skkd")
    assert load_student(tmp_path / "older.skkd").lr_schedule == "constant"


def test_a_file_of_a_periodic_tabular_student_before_ple_loads(rows, tmp_path):
    X, y = rows
    kd = DistilledClassifier(module="tabular-mlp", module__numeric_encoding="periodic",
                             max_epochs=1, random_state=0).fit(X, y)
    save_student(kd, tmp_path / "periodic.skkd")
    data = torch.load(tmp_path / "periodic.skkd", weights_only=True)
    del data["params"]["module__numeric_encoding"]  # periodic was the default then
    torch.save(data, tmp_path / "older.skkd")
    loaded = load_student(tmp_path / "older.skkd")
    assert loaded.get_params()["module__numeric_encoding"] == "periodic"
    np.testing.assert_array_equal(loaded.predict_proba(X), kd.predict_proba(X))
