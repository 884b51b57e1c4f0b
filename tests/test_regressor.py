"""``DistilledRegressor``: the regression twin, through scikit-learn's public API."""

import copy
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import make_regression
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import EpochScoring

from skkd import DistilledRegressor, EnsembleTeacher
from skkd.exceptions import InvalidParameterError, TeacherError, TeacherNearMeanWarning
from skkd.losses import huber, logit_mse
from skkd.teachers._regression import regression_outputs, teacher_predictions
from skkd.training._data import WEIGHT_KEY
from skkd.training._net import RegressionNet

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


# the untrained torch teacher predicts worse than y's mean, and is told so
@pytest.mark.filterwarnings("ignore::skkd.TeacherNearMeanWarning")
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
    np.testing.assert_array_equal(out.values[labeled], 0.0)
    np.testing.assert_array_equal(out.values[~labeled], 0.0)  # the full clone never saw them
    full = regression_outputs(SeenRows(), X, targets, labeled)
    np.testing.assert_array_equal(full.values[labeled], 1.0)
    with pytest.warns(TeacherNearMeanWarning):  # out of fold, it always predicts 0
        clf = DistilledRegressor(SeenRows(), teacher_cv=5, **FAST).fit(X, y)
    assert set(clf.teacher_.seen_) == {row.tobytes() for row in X}


def test_ensembles_average_the_members_predictions(data):
    X, y = data
    a, b = Ridge(alpha=1.0).fit(X, y), Ridge(alpha=1e4).fit(X, y)
    out = regression_outputs(EnsembleTeacher([a, b], weights=[3, 1]), X, y.reshape(-1, 1),
                             np.ones(len(y), bool))
    np.testing.assert_allclose(out.values[:, 0], 0.75 * a.predict(X) + 0.25 * b.predict(X),
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


# --------------------------------------------------------------------------- any scale


def linear_data():
    X, y = make_regression(200, 5, noise=0.0, random_state=1)
    return X, y  # float64 rows: LinearRegression fits y in X's dtype


SCALE_FIT = {"max_epochs": 8, "lr": 1e-2, "batch_size": 64, "random_state": 0,
             "module__hidden_sizes": (16,)}


@pytest.fixture(scope="module")
def unit_scale():
    """The student of a perfect linear teacher at offset 0 and scale 1: the reference."""
    X, y = linear_data()
    return DistilledRegressor(LinearRegression().fit(X, y), alpha=0.2, **SCALE_FIT).fit(X, y)


def fit_at(offset, scale, ensemble=False, given=False):
    X, y0 = linear_data()
    y = y0 * scale + offset
    teacher = LinearRegression().fit(X, y)
    if ensemble:  # members combined in float64 too
        teacher = EnsembleTeacher([teacher, LinearRegression().fit(X, y)], weights=[1, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, and no near-mean warning
        if given:
            student = DistilledRegressor(alpha=0.2, **SCALE_FIT).fit(
                X, y, teacher_predictions=teacher_predictions(teacher, X, 1))
        else:
            student = DistilledRegressor(teacher, alpha=0.2, **SCALE_FIT).fit(X, y)
        own = r2_score((y - offset) / scale, (teacher_predictions(teacher, X, 1) - offset) / scale)
        return student, student.score(X, y), X, y, own


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset_exp=st.integers(0, 15), scale_exp=st.integers(-30, 150),
       sign=st.sampled_from([-1.0, 1.0]), ensemble=st.booleans(), given_outputs=st.booleans())
def test_the_student_learns_alike_at_any_offset_and_scale(unit_scale, offset_exp, scale_exp,
                                                          sign, ensemble, given_outputs):
    X, y0 = linear_data()
    scale = 10.0 ** scale_exp
    offset = sign * 10.0**offset_exp * scale  # targets near 1e12 + x, in any units
    student, score, X, y, own = fit_at(offset, scale, ensemble, given_outputs)
    # LinearRegression itself loses digits on a 1e15 offset; skkd scores what it predicts
    assert student.teacher_score_ == pytest.approx(own, abs=1e-6) and own > 0.99
    assert score > unit_scale.score(X, y0) - 0.01
    # the student in standardized units is the reference's (y itself holds 16 digits)
    np.testing.assert_allclose(student.target_scale_ / scale, unit_scale.target_scale_,
                               rtol=1e-6, atol=1e-15 * 10.0**offset_exp)
    np.testing.assert_allclose((student.predict(X) - offset) / scale, unit_scale.predict(X),
                               atol=0.05 * y0.std())


@pytest.mark.parametrize(("offset", "scale"), [(1e12, 1.0), (1.7e9, 1.0), (1e15, 1.0),
                                               (0.0, 1e-30), (0.0, 1e150), (0.0, 1e200),
                                               (1e12 * 1e200, 1e200)])
def test_perfect_teachers_score_1_at_large_offsets_and_scales(unit_scale, offset, scale):
    X, y0 = linear_data()
    student, score, _, y, _ = fit_at(offset, scale)
    assert student.teacher_score_ > 0.999
    assert np.isfinite(student.target_scale_).all() and np.isfinite(student.predict(X)).all()
    assert score > unit_scale.score(X, y0) - 0.01
    assert score == pytest.approx(r2_score((y - offset) / scale,
                                           (student.predict(X) - offset) / scale), abs=1e-6)


def test_targets_beyond_what_float64_predicts_are_refused_by_name():
    X, y0 = linear_data()
    with pytest.raises(ValueError, match=r"y reaches 1.*e\+30[5-8].*divide y by a power"):
        DistilledRegressor(**SCALE_FIT).fit(X, y0 / np.abs(y0).max() * 1e305)


def test_predictions_many_spreads_away_are_refused_in_y_units():
    X, y = linear_data()
    far = np.full(len(y), 1e300)
    with pytest.raises(TeacherError, match="standard deviations of y.*in y's units"):
        DistilledRegressor(**SCALE_FIT).fit(X, y, teacher_predictions=far)


# --------------------------------------------------------------------------- teacher checks


class CountingClassifier(LogisticRegression):
    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


def test_a_classifier_teacher_is_refused_fitted_or_not(data):
    X, y = data
    labels = (y > np.median(y)).astype(int)
    fitted = LogisticRegression().fit(X, labels)
    CountingClassifier.fits = 0
    for teacher in (fitted, FrozenEstimator(fitted), make_pipeline(StandardScaler(), fitted),
                    CountingClassifier(), [Ridge().fit(X, y), CountingClassifier()]):
        with pytest.raises(TeacherError, match="is a classifier.*use DistilledClassifier"):
            DistilledRegressor(teacher, **FAST).fit(X, labels.astype(float))
    assert CountingClassifier.fits == 0  # refused before anything was fitted


@pytest.mark.parametrize("bad", [
    [["a"]] * 400,                       # a cell that is not a number
    [[1.0]] * 399 + [[1.0, 2.0]],        # rows of different lengths
    np.r_[np.zeros(399), np.inf],         # not finite
    np.zeros((400, 3)),                   # another shape
])
def test_teacher_errors_speak_of_predictions(data, bad):
    X, y = data
    for how in ("given", "queried"):
        class Bad(RegressorMixin, BaseEstimator):
            def fit(self, X, y):
                return self

            def predict(self, X):
                return bad

        with pytest.raises(TeacherError) as info:
            if how == "given":
                DistilledRegressor(**FAST).fit(X, y, teacher_predictions=bad)
            else:
                DistilledRegressor(FrozenEstimator(Bad().fit(X, y)), **FAST).fit(X, y)
        message = str(info.value).lower()
        assert "logit" not in message and "softmax" not in message and "class" not in message


def test_a_teacher_worse_than_the_mean_is_named(data, ridge):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DistilledRegressor(ridge, **FAST).fit(X, y)  # a fair teacher: no warning
    # the student inside TransformedTargetRegressor sees y standardized, the teacher y's units
    wrapped = TransformedTargetRegressor(DistilledRegressor(ridge, **FAST),
                                         transformer=StandardScaler())
    with pytest.warns(TeacherNearMeanWarning, match="R² on the training data is -.*"
                                                    "TransformedTargetRegressor"):
        wrapped.fit(X, y + 500)
    # after a scaler, a teacher fitted on raw features sees other inputs
    raw = X * 50 + 200
    teacher = Ridge().fit(raw, y)
    with pytest.warns(TeacherNearMeanWarning, match="teacher_predictions="):
        make_pipeline(StandardScaler(), DistilledRegressor(teacher, **FAST)).fit(raw, y)
    with pytest.warns(TeacherNearMeanWarning):  # the same for given predictions
        DistilledRegressor(**FAST).fit(X, y, teacher_predictions=-ridge.predict(X))


# --------------------------------------------------------------------------- fit's inputs


@pytest.mark.parametrize("delta", [0, -1.0, "big", float("nan"), float("inf"), None])
def test_huber_options_are_checked_before_the_teacher_is_fitted(data, delta):
    X, y = data
    CountingRidge.fits = 0
    with pytest.raises(InvalidParameterError, match=r"loss='huber'.*loss__delta="):
        DistilledRegressor(CountingRidge(), loss="huber", loss__delta=delta, **FAST).fit(X, y)
    assert CountingRidge.fits == 0
    DistilledRegressor(CountingRidge(), loss="huber", loss__delta=0.5, **FAST).fit(X, y)


def test_labeled_rows_weighing_nothing_are_refused_by_name(data, ridge):
    X, y = data
    partial = y.copy()
    partial[::2] = np.nan
    weights = np.where(np.isnan(partial), 1.0, 0.0)  # only the unlabeled rows weigh
    with pytest.raises(ValueError, match="sample_weight is 0 on all 200 rows with a target"):
        DistilledRegressor(ridge, unlabeled=np.nan, **FAST).fit(X, partial,
                                                                sample_weight=weights)


def test_score_takes_rows_as_lists_with_unlabeled_targets(data, ridge):
    X, y = data
    partial = y.copy()
    partial[::2] = np.nan
    clf = DistilledRegressor(ridge, unlabeled=np.nan, **FAST).fit(X, partial)
    expected = clf.score(X[1::2], y[1::2])
    assert clf.score(X.tolist(), partial.tolist()) == pytest.approx(expected)
    assert clf.score(X, partial, sample_weight=np.ones(len(y))) == pytest.approx(expected)


def test_a_warm_start_predicts_in_the_shape_of_the_latest_y(data, ridge):
    X, y = data
    clf = DistilledRegressor(ridge, warm_start=True, **FAST).fit(X, y.reshape(-1, 1))
    assert clf.predict(X).shape == (len(X), 1)
    clf.fit(X, y)
    assert clf.predict(X).shape == (len(X),)
    clf.fit(X, y.reshape(-1, 1))
    assert clf.predict(X).shape == (len(X), 1)


# --------------------------------------------------------------------------- callbacks


def test_epoch_scoring_is_in_y_units_and_leaves_unlabeled_rows_out(data, ridge):
    X, y = data
    y = 1000 * y + 1e6  # standardized units would be a thousand times smaller
    teacher_predictions = 1000 * ridge.predict(X) + 1e6
    # one batch and a tiny step: the epoch's predictions are the fitted student's
    one_step = {**FAST, "max_epochs": 1, "batch_size": -1, "lr": 1e-9}
    clf = DistilledRegressor(callbacks=[EpochScoring("neg_mean_squared_error", on_train=True,
                                                     name="mse")], **one_step)
    clf.fit(X, y, teacher_predictions=teacher_predictions)
    assert -clf.history_[-1, "mse"] == pytest.approx(mean_squared_error(y, clf.predict(X)),
                                                    rel=1e-4)
    partial = y.copy()
    partial[::2] = np.nan
    clf = DistilledRegressor(callbacks=[EpochScoring("r2", on_train=True, name="r2")],
                             unlabeled=np.nan, **{**one_step, "max_epochs": 2})
    clf.fit(X, partial, teacher_predictions=teacher_predictions)
    assert clf.history_[-1, "r2"] == pytest.approx(clf.score(X, partial), abs=1e-4)
