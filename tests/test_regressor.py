"""``DistilledRegressor``: the regression twin, through scikit-learn's public API."""

import copy

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.datasets import make_regression
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skkd import DistilledRegressor, EnsembleTeacher
from skkd.exceptions import InvalidParameterError, TeacherError
from skkd.losses import huber, logit_mse
from skkd.net import WEIGHT_KEY, RegressionNet
from skkd.regression_teachers import regression_outputs

FAST = {"max_epochs": 15, "lr": 1e-2, "random_state": 0, "module__hidden_sizes": (16,)}


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(400, 6, noise=3.0, random_state=0)
    return X.astype(np.float32), y + 0.01 * y**2


@pytest.fixture(scope="module")
def ridge(data):
    X, y = data
    return Ridge().fit(X, y)


def test_regression_losses_match_hand_computed_values():
    s = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    t = torch.tensor([[0.5, 1.0], [0.0, 0.0]])
    # mse: per row mean of squares, then the batch mean
    assert logit_mse(s, t).item() == pytest.approx(((0.25 + 0) / 2 + (4 + 1) / 2) / 2)
    # huber, delta=1: 0.5 d^2 inside, |d| - 0.5 outside
    expected = ((0.5 * 0.25 + 0) / 2 + ((2 - 0.5) + 0.5 * 1) / 2) / 2
    assert huber(s, t).item() == pytest.approx(expected)
    w = torch.tensor([1.0, 0.0])
    assert huber(s, t, sample_weight=w).item() == pytest.approx(0.5 * 0.25 / 2)


def test_the_hard_loss_is_the_mse_over_labeled_rows():
    net = RegressionNet(torch.nn.Linear, module__in_features=2, module__out_features=2,
                        soft_loss=None).initialize()
    y_pred = torch.tensor([[1.0, 2.0], [0.0, 0.0], [3.0, 3.0]])
    y_true = torch.tensor([[0.0, 0.0], [float("nan"), float("nan")], [3.0, 1.0]])
    expected = ((1 + 4) / 2 + (0 + 4) / 2) / 2  # the NaN row is unlabeled
    assert net.get_loss(y_pred, y_true).item() == pytest.approx(expected)
    X = {"X": torch.zeros(3, 2), WEIGHT_KEY: torch.tensor([3.0, 5.0, 1.0])}
    assert net.get_loss(y_pred, y_true, X=X).item() == pytest.approx(
        (3 * 2.5 + 1 * 2.0) / 4)


def test_targets_are_standardized_and_predictions_come_back_in_y_units(data, ridge):
    X, y = data
    a = DistilledRegressor(ridge, **FAST).fit(X, y)
    np.testing.assert_allclose(a.target_mean_, [y.mean()])
    np.testing.assert_allclose(a.target_scale_, [y.std()])
    # the student trains on standardized targets: an affine change of y changes nothing else
    b = DistilledRegressor(ridge, **FAST).fit(X, 1000 * y + 5,
                                              teacher_predictions=1000 * ridge.predict(X) + 5)
    np.testing.assert_allclose(b.predict(X), 1000 * a.predict(X) + 5, rtol=1e-4, atol=1e-3)
    raw = a.net_.forward(X, training=False).numpy()[:, 0]
    np.testing.assert_allclose(a.predict(X), raw * y.std() + y.mean(), rtol=1e-6)
    assert a.predict(X).shape == (len(X),) and a.score(X, y) > 0.5


def test_precomputed_teacher_predictions_equal_the_teacher(data, ridge):
    X, y = data
    queried = DistilledRegressor(ridge, alpha=0.2, **FAST).fit(X, y)
    given = DistilledRegressor(alpha=0.2, **FAST).fit(X, y, teacher_predictions=ridge.predict(X))
    np.testing.assert_allclose(queried.predict(X), given.predict(X), rtol=1e-6)
    assert queried.teacher_score_ == pytest.approx(ridge.score(X, y), rel=1e-6)
    pipe = make_pipeline(StandardScaler(), DistilledRegressor(alpha=0.2, **FAST))
    pipe.fit(X, y, distilledregressor__teacher_predictions=ridge.predict(X))
    scaled = StandardScaler().fit_transform(X)
    alone = DistilledRegressor(alpha=0.2, **FAST).fit(scaled, y,
                                                      teacher_predictions=ridge.predict(X))
    np.testing.assert_allclose(pipe.predict(X), alone.predict(scaled), rtol=1e-5)


def test_multi_output_targets(data):
    X, y = data
    Y = np.c_[y, -2 * y + 1]
    clf = DistilledRegressor(Ridge(), **FAST).fit(X, Y)
    assert clf.n_outputs_ == 2 and clf.predict(X).shape == (len(X), 2)
    assert clf.score(X, Y) > 0.5
    with pytest.raises(TeacherError, match="MultiOutputRegressor"):
        DistilledRegressor(HistGradientBoostingRegressor(max_iter=5), **FAST).fit(X, Y)


def test_unlabeled_rows_learn_from_the_teacher_and_score_ignores_them(data, ridge):
    X, y = data
    partial = y.copy()
    partial[::2] = np.nan
    with pytest.raises(ValueError, match=r"Input y contains NaN.*Pass unlabeled=float\('nan'\)"):
        DistilledRegressor(ridge, **FAST).fit(X, partial)
    clf = DistilledRegressor(ridge, unlabeled=np.nan, alpha=0.5, **FAST).fit(X, partial)
    assert clf.score(X, partial) == pytest.approx(clf.score(X[1::2], y[1::2]))
    with pytest.raises(ValueError, match="no soft term"):
        DistilledRegressor(unlabeled=np.nan, **FAST).fit(X, partial)
    with pytest.raises(InvalidParameterError, match=r"'unlabeled' parameter of "
                                                    r"DistilledRegressor must be None or"):
        DistilledRegressor(ridge, unlabeled=-1, **FAST).fit(X, y)


class CountingRidge(Ridge):
    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


class NoCopyRegressorNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(6, 1)

    def forward(self, x):
        return self.linear(x)

    def __deepcopy__(self, memo):
        raise AssertionError("the teacher was deep-copied")


@pytest.mark.parametrize("kind", ["sklearn", "torch"])
def test_grid_search_shares_a_fitted_teacher(kind, data):
    X, y = data
    CountingRidge.fits = 0
    teacher = CountingRidge().fit(X, y) if kind == "sklearn" else NoCopyRegressorNet()
    search = GridSearchCV(DistilledRegressor(teacher, **FAST), {"alpha": [0.2, 0.8]}, cv=2)
    search.fit(X, y)
    assert search.best_estimator_.teacher is teacher
    assert CountingRidge.fits == (1 if kind == "sklearn" else 0)
    assert clone(search.best_estimator_).teacher is teacher


class SeenRows(RegressorMixin, BaseEstimator):
    """Predicts 1 for a row it was fitted on, 0 for any other."""

    def fit(self, X, y, sample_weight=None):
        self.seen_ = {row.tobytes() for row in np.asarray(X)}
        return self

    def predict(self, X):
        return np.array([float(row.tobytes() in self.seen_) for row in np.asarray(X)])


def test_out_of_fold_predictions_never_come_from_a_clone_that_saw_the_row(data):
    X, y = data
    targets = y.reshape(-1, 1)
    labeled = np.ones(len(y), bool)
    labeled[:50] = False  # unlabeled rows get the full clone's answer
    out = regression_outputs(SeenRows(), X, targets, labeled, cv=5)
    np.testing.assert_array_equal(out.logits[labeled], 0.0)
    np.testing.assert_array_equal(out.logits[~labeled], 0.0)  # the full clone never saw them
    full = regression_outputs(SeenRows(), X, targets, labeled)
    np.testing.assert_array_equal(full.logits[labeled], 1.0)
    clf = DistilledRegressor(SeenRows(), teacher_cv=5, **FAST).fit(X, y)
    assert set(clf.teacher_.seen_) == {row.tobytes() for row in X}


def test_ensembles_average_the_members_predictions(data):
    X, y = data
    a, b = Ridge(alpha=1.0).fit(X, y), Ridge(alpha=1e4).fit(X, y)
    out = regression_outputs(EnsembleTeacher([a, b], weights=[3, 1]), X, y.reshape(-1, 1),
                             np.ones(len(y), bool))
    np.testing.assert_allclose(out.logits[:, 0], 0.75 * a.predict(X) + 0.25 * b.predict(X),
                               rtol=1e-5)
    assert len(out.member_scores) == 2


def test_what_a_regressor_cannot_use_is_refused(data, ridge):
    X, y = data
    with pytest.raises(InvalidParameterError, match="loss='kl' needs a temperature"):
        DistilledRegressor(ridge, loss="kl", **FAST).fit(X, y)
    with pytest.raises(InvalidParameterError, match="takes no options"):
        DistilledRegressor(ridge, criterion__weight=[1.0], **FAST).fit(X, y)
    with pytest.raises(InvalidParameterError, match="augment='mixup' makes new rows"):
        DistilledRegressor(ridge, augment="mixup", **FAST).fit(X, y)
    with pytest.raises(TeacherError, match="cannot predict"):
        DistilledRegressor(object(), **FAST).fit(X, y)
    with pytest.raises(InvalidParameterError, match="Unknown parameter 'temperature' for "
                                                    "DistilledRegressor"):
        DistilledRegressor(ridge, temperature=2.0, **FAST).fit(X, y)


def test_munge_and_fresh_munge_train_and_a_failed_refit_keeps_the_student(data, ridge):
    X, y = data
    clf = DistilledRegressor(ridge, augment="munge", augment__fresh=True, alpha=0.3,
                             **FAST).fit(X, y)
    before = clf.predict(X)
    state = {k: v for k, v in vars(clf).items() if k.endswith("_")}
    with pytest.raises(ValueError, match=r"pass a teacher \(not teacher_predictions\)"):
        clf.fit(X, y, teacher_predictions=np.zeros((len(X), 3)))
    plain = DistilledRegressor(ridge, **FAST).fit(X, y)
    plain_before = plain.predict(X)
    with pytest.raises(ValueError, match="teacher_predictions has shape"):
        plain.fit(X, y, teacher_predictions=np.zeros((len(X), 3)))
    np.testing.assert_array_equal(plain.predict(X), plain_before)
    assert all(getattr(clf, k) is v for k, v in state.items())
    np.testing.assert_array_equal(clf.predict(X), before)
    slim = copy.deepcopy(clf.without_teacher())
    np.testing.assert_array_equal(slim.predict(X), clf.predict(X))
