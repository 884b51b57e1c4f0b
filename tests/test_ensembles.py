"""Teacher ensembles, out-of-fold teacher outputs and precomputed teacher logits."""

import re

import numpy as np
import pytest
import sklearn
from doubles import CountingLR, NoCopyNet
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skkd import DistilledClassifier, EnsembleTeacher, teacher_logits
from skkd._labels import encode_labels
from skkd.exceptions import InvalidParameterError, SampleWeightIgnoredWarning, TeacherError
from skkd.teachers._classification import teacher_outputs
from skkd.teachers._ensembles import combine_outputs


@pytest.mark.filterwarnings("ignore:The teacher.s accuracy")
def test_a_mixed_ensemble_shares_fitted_members_and_fits_clones_of_unfitted_ones(digits):
    X_train, X_test, y_train, y_test = digits
    hgb = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X_train, y_train)
    forest = RandomForestClassifier(n_estimators=30, random_state=0)  # unfitted
    net = NoCopyNet()
    clf = DistilledClassifier([hgb, forest, net], max_epochs=3, random_state=0)
    clf.fit(X_train, y_train)
    assert clf.teacher_[0] is hgb and clf.teacher_[2] is net
    assert clf.teacher_[1] is not forest and hasattr(clf.teacher_[1], "estimators_")
    assert not hasattr(forest, "estimators_")
    assert len(clf.teacher_scores_) == 3 and clf.teacher_scores_[1] == 1.0
    assert clf.teacher_score_ > 0.95
    assert clf.score(X_test, y_test) > 0.8


def test_an_ensemble_in_grid_search_is_never_refitted_or_copied(digits):
    X_train, _, y_train, _ = digits
    CountingLR.fits = 0
    lr = CountingLR(max_iter=300).fit(X_train, y_train)
    teacher = EnsembleTeacher([lr, NoCopyNet()], weights=[3, 1])
    search = GridSearchCV(DistilledClassifier(teacher, max_epochs=2, random_state=0),
                          {"alpha": [0.1, 0.5]}, cv=2).fit(X_train, y_train)
    assert CountingLR.fits == 1
    assert search.best_estimator_.teacher_.teachers[0] is lr
    assert search.best_estimator_.teacher_.weights == [3.0, 1.0]


def test_ensemble_outputs_average_probabilities_or_logits(digits):
    X_train, _, y_train, _ = digits
    a = LogisticRegression(max_iter=300).fit(X_train, y_train)
    b = LogisticRegression(C=0.01, max_iter=300).fit(X_train, y_train)
    pa, pb = a.predict_proba(X_train), b.predict_proba(X_train)
    np.testing.assert_allclose(teacher_logits([a, b], X_train),
                               np.log(0.5 * pa + 0.5 * pb), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        teacher_logits(EnsembleTeacher([a, b], weights=[1, 3]), X_train, combine="logits"),
        0.25 * np.log(pa) + 0.75 * np.log(pb), rtol=1e-4, atol=1e-4)
    # A weight of zero leaves a member out.
    np.testing.assert_allclose(teacher_logits(EnsembleTeacher([a, b], weights=[1, 0]), X_train),
                               np.log(pa), rtol=1e-4, atol=1e-5)


def test_the_student_learns_the_combination_it_was_given(digits):
    X_train, _, y_train, _ = digits
    a = LogisticRegression(max_iter=300).fit(X_train, y_train)
    b = RandomForestClassifier(n_estimators=20, random_state=0).fit(X_train, y_train)
    kw = {"max_epochs": 2, "random_state": 0, "teacher_combine": "logits"}
    via_list = DistilledClassifier([a, b], **kw).fit(X_train, y_train)
    logits = teacher_logits([a, b], X_train, combine="logits")
    via_logits = DistilledClassifier(**kw).fit(X_train, y_train, teacher_logits=logits)
    np.testing.assert_allclose(via_list.history_[:, "train_loss"],
                               via_logits.history_[:, "train_loss"], rtol=1e-5)


@pytest.mark.parametrize("weights", [[1], [1, -1], [0, 0], [1, float("nan")]])
def test_bad_ensemble_weights_are_refused(digits, weights):
    X_train, _, y_train, _ = digits
    lr = LogisticRegression(max_iter=100).fit(X_train, y_train)
    with pytest.raises(InvalidParameterError, match="weights .* must be 2 finite, non-negative"):
        DistilledClassifier(EnsembleTeacher([lr, lr], weights=weights),
                            max_epochs=1).fit(X_train, y_train)


class RecordingLR(LogisticRegression):
    """Records the rows every clone was fitted on and asked about (rows are tagged)."""

    log = []

    def fit(self, X, y, sample_weight=None):
        self.seen_ = set(X[:, -1].astype(int))
        return super().fit(X[:, :-1], y, sample_weight)

    def predict_proba(self, X):
        type(self).log.append((self.seen_, set(X[:, -1].astype(int))))
        return super().predict_proba(X[:, :-1])


def test_teacher_cv_never_shows_a_clone_the_rows_it_predicts(digits):
    X_train, _, y_train, _ = digits
    X = np.column_stack([X_train, np.arange(len(X_train))])  # last column: the row id
    RecordingLR.log = []
    clf = DistilledClassifier(RecordingLR(max_iter=300), teacher_cv=KFold(4), max_epochs=1,
                              random_state=0).fit(X, y_train)
    full, *folds = RecordingLR.log
    assert full[0] == set(range(len(X)))  # teacher_: fitted on every labeled row
    assert len(folds) == 4
    assert all(not (seen & asked) for seen, asked in folds)
    assert set().union(*(asked for _, asked in folds)) == set(range(len(X)))
    assert clf.teacher_.seen_ == set(range(len(X)))
    # Out-of-fold outputs are an honest estimate: below the teacher's training accuracy.
    training_accuracy = np.mean(clf.teacher_.predict_proba(X).argmax(1) == y_train)
    assert clf.teacher_score_ < training_accuracy


def test_teacher_cv_needs_an_unfitted_teacher_and_once_inference(digits):
    X_train, _, y_train, _ = digits
    fitted = LogisticRegression(max_iter=100).fit(X_train, y_train)
    with pytest.raises(InvalidParameterError, match="teacher_cv needs an unfitted"):
        DistilledClassifier(fitted, teacher_cv=3, max_epochs=1).fit(X_train, y_train)
    with pytest.raises(InvalidParameterError, match="teacher_cv needs teacher_inference='once'"):
        DistilledClassifier(LogisticRegression(), teacher_cv=3, teacher_inference="per_batch",
                            max_epochs=1).fit(X_train, y_train)
    with pytest.raises(InvalidParameterError, match="'teacher_cv' parameter"):
        DistilledClassifier(LogisticRegression(), teacher_cv=1, max_epochs=1).fit(X_train,
                                                                                  y_train)


def test_precomputed_teacher_logits_serve_a_whole_grid_search(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array(list("abcdefghij"))
    teacher = LogisticRegression(max_iter=300).fit(X_train, names[y_train])
    logits = teacher_logits(teacher, X_train)
    np.testing.assert_allclose(logits, np.log(teacher.predict_proba(X_train)), rtol=1e-4,
                               atol=1e-5)
    search = GridSearchCV(DistilledClassifier(max_epochs=3, random_state=0),
                          {"temperature": [2.0, 4.0]}, cv=2)
    search.fit(X_train, names[y_train], teacher_logits=logits)
    assert search.best_estimator_.teacher_score_ == pytest.approx(
        teacher.score(X_train, names[y_train]))
    assert search.score(X_test, names[y_test]) > 0.8


# --------------------------------------------------------------------------- hardening


def _two_fitted(digits):
    X_train, _, y_train, _ = digits
    a = LogisticRegression(max_iter=300).fit(X_train, y_train)
    b = LogisticRegression(C=0.01, max_iter=300).fit(X_train, y_train)
    return a, b


@pytest.mark.parametrize(("weights", "share"), [([1e308, 1e308], 0.5),
                                               ([3e307, 1e308], 3 / 13),
                                               ([1e-320, 3e-320], 1 / 4)])
def test_weights_of_any_size_keep_their_ratios(digits, weights, share):
    # Before: [1e308, 1e308] summed to inf and normalised to [0, 0]: a uniform teacher.
    a, b = _two_fitted(digits)
    X = digits[0][:50]
    np.testing.assert_allclose(EnsembleTeacher([a, b], weights=weights).normalized_weights(),
                               [share, 1 - share], rtol=1e-12)
    pa, pb = a.predict_proba(X), b.predict_proba(X)
    np.testing.assert_allclose(teacher_logits(EnsembleTeacher([a, b], weights=weights), X),
                               np.log(share * pa + (1 - share) * pb), rtol=1e-4, atol=1e-5)
    raw = [np.log(pa), np.log(pb)]
    np.testing.assert_allclose(combine_outputs(raw, np.array(weights), "logits"),
                               share * raw[0] + (1 - share) * raw[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("weights", "problem"), [
    ([1, float("inf")], "a weight is NaN or infinite"), ([0, 0], "all weights are zero"),
    ([1], "1 weight for 2 teachers")])
def test_bad_weights_say_what_is_wrong_and_name_weights(weights, problem):
    with pytest.raises(InvalidParameterError, match=re.escape(problem) + ".*weights=None"):
        EnsembleTeacher([object(), object()], weights=weights).normalized_weights()


def test_empty_ensembles_are_refused_by_name(digits):
    # Before: teacher_logits([], X) raised IndexError.
    a, _ = _two_fitted(digits)
    X = digits[0][:10]
    with pytest.raises(InvalidParameterError, match=r"^teacher is an empty ensemble \(\[\]\)"):
        teacher_logits([], X)
    with pytest.raises(InvalidParameterError,
                       match=r"^teacher\[1\] is an empty ensemble \(EnsembleTeacher\(\[\]\)\)"):
        teacher_logits([a, EnsembleTeacher([])], X)
    with pytest.raises(InvalidParameterError, match="empty ensemble"):
        DistilledClassifier([], max_epochs=1).fit(X, digits[2][:10])


@pytest.mark.parametrize("combine", ["proba", "logits"])
def test_a_nested_ensemble_is_combined_first_with_its_own_weights(digits, combine):
    # Before: "teacher of type EnsembleTeacher is not supported".
    X_train, _, y_train, _ = digits
    a, b = _two_fitted(digits)
    c = RandomForestClassifier(n_estimators=10, random_state=0).fit(X_train, y_train)
    X = X_train[:100]
    nested = teacher_logits([EnsembleTeacher([a, b], weights=[3, 1]), c], X, combine=combine)
    flat = teacher_logits(EnsembleTeacher([a, b, c], weights=[3 / 8, 1 / 8, 1 / 2]), X,
                          combine=combine)
    np.testing.assert_allclose(nested, flat, rtol=1e-4, atol=1e-4)
    # a list inside a list is the same as an EnsembleTeacher inside it
    np.testing.assert_allclose(teacher_logits([[a, b], c], X, combine=combine),
                               teacher_logits([EnsembleTeacher([a, b]), c], X,
                                              combine=combine), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:The teacher.s accuracy")
@pytest.mark.parametrize("inference", ["once", "per_batch"])
def test_a_nested_ensemble_fits_clones_of_its_unfitted_members(digits, inference):
    X_train, _, y_train, _ = digits
    X, y = X_train[:400], y_train[:400]
    a = LogisticRegression(max_iter=300).fit(X, y)
    forest = RandomForestClassifier(n_estimators=10, random_state=0)  # unfitted
    inner = EnsembleTeacher([forest, a], weights=[1, 2])
    clf = DistilledClassifier([inner, [NoCopyNet(), a]], teacher_inference=inference,
                              max_epochs=1, random_state=0)
    clf.fit(X, y)
    fitted_inner, fitted_list = clf.teacher_
    assert isinstance(fitted_inner, EnsembleTeacher) and fitted_inner.weights == [1.0, 2.0]
    assert fitted_inner.teachers[1] is a and fitted_inner.teachers[0] is not forest
    assert hasattr(fitted_inner.teachers[0], "estimators_") and not hasattr(forest,
                                                                            "estimators_")
    assert isinstance(fitted_list, list) and fitted_list[1] is a
    assert len(clf.teacher_scores_) == 2  # one per outer member
    expected = teacher_logits(clf.teacher_, X)
    assert clf.teacher_score_ == pytest.approx(np.mean(expected.argmax(1) == np.searchsorted(
        clf.classes_, y)))
    assert clf.teacher_scores_[0] == pytest.approx(np.mean(
        teacher_logits(fitted_inner, X).argmax(1) == y))


class WeightedLR(LogisticRegression):
    """Records the rows (tagged in the last column) and weights of every fit."""

    log = []

    def fit(self, X, y, sample_weight=None):
        type(self).log.append((X[:, -1].astype(int), sample_weight))
        return super().fit(X[:, :-1], y, sample_weight)

    def predict_proba(self, X):
        return super().predict_proba(X[:, :-1])


def _tagged(digits, n=240):
    X_train, _, y_train, _ = digits
    X = np.column_stack([X_train[:n], np.arange(n)])
    y = y_train[:n]
    classes, y_enc = encode_labels(y, None)
    return X, y, y_enc, classes


def test_sample_weight_reaches_every_clone_sliced_to_its_rows(digits):
    X, y, y_enc, classes = _tagged(digits)
    y_enc[::7] = -1  # unlabeled rows: neither fitted on nor weighed
    weights = np.linspace(0.5, 2.0, len(y))
    WeightedLR.log = []
    out = teacher_outputs(WeightedLR(max_iter=200), X, y, y_enc, classes, cv=KFold(3),
                          sample_weight=weights)
    (full_rows, full_w), *folds = WeightedLR.log
    labeled = np.flatnonzero(y_enc >= 0)
    np.testing.assert_array_equal(full_rows, labeled)
    np.testing.assert_array_equal(full_w, weights[labeled])
    assert len(folds) == 3
    for rows, w in folds:
        np.testing.assert_array_equal(w, weights[rows])
    reference = LogisticRegression(max_iter=200).fit(X[labeled, :-1], y[labeled],
                                                     sample_weight=weights[labeled])
    np.testing.assert_allclose(out.fitted.coef_, reference.coef_, rtol=1e-6)


def test_a_teacher_whose_fit_takes_no_weights_is_fitted_unweighted_with_one_warning(digits):
    X, y, y_enc, classes = _tagged(digits)
    X = X[:, :-1]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    with pytest.warns(SampleWeightIgnoredWarning) as record:
        out = teacher_outputs([pipe, KNeighborsClassifier()], X, y, y_enc, classes,
                              cv=3, sample_weight=np.ones(len(y)))
    (message,) = [str(w.message) for w in record]  # once, for all clones of both
    assert "teacher[0] (Pipeline), teacher[1] (KNeighborsClassifier)" in message
    assert "set_fit_request(sample_weight=True)" in message
    assert out.member_scores[0] > 0.8


def test_with_metadata_routing_the_teachers_request_routes_sample_weight(digits):
    X, y, y_enc, classes = _tagged(digits)
    weights = np.linspace(0.5, 2.0, len(y))
    WeightedLR.log = []
    with sklearn.config_context(enable_metadata_routing=True):
        step = WeightedLR(max_iter=200).set_fit_request(sample_weight=True)
        teacher_outputs(make_pipeline(FunctionTransformer(), step), X, y, y_enc, classes,
                        sample_weight=weights)
        with pytest.raises(UnsetMetadataPassedError, match="WeightedLR.fit"):
            teacher_outputs(WeightedLR(), X, y, y_enc, classes, sample_weight=weights)
    ((rows, w),) = WeightedLR.log
    np.testing.assert_array_equal(w, weights[rows])


def test_teacher_cv_with_groups_keeps_each_group_out_of_its_own_clone(digits):
    # Before: GroupKFold failed ("The 'groups' parameter should not be None"), and
    # teacher_outputs took no groups.
    X, y, y_enc, classes = _tagged(digits)
    y_enc[:12] = -1  # unlabeled rows are not split: their groups are dropped alike
    groups = np.arange(len(y)) % 4
    RecordingTaggedLR.log = []
    teacher_outputs(RecordingTaggedLR(max_iter=200), X, y, y_enc, classes, cv=GroupKFold(4),
                    groups=groups)
    _, *folds = RecordingTaggedLR.log
    assert len(folds) == 4
    for seen, asked in folds:
        assert not set(groups[list(seen)]) & set(groups[list(asked)])
        assert not set(range(12)) & (seen | asked)
    with pytest.raises(InvalidParameterError, match=r"teacher_cv=GroupKFold.*splits the rows "
                                                    r"by groups.*pass fit\(\.\.\., groups="):
        teacher_outputs(RecordingTaggedLR(), X, y, y_enc, classes, cv=GroupKFold(4))
    with pytest.raises(InvalidParameterError, match=r"groups has shape \(3,\), expected "
                                                    r"\(240,\)"):
        teacher_outputs(RecordingTaggedLR(), X, y, y_enc, classes, cv=GroupKFold(4),
                        groups=[1, 2, 3])


class RecordingTaggedLR(LogisticRegression):
    """Records the row ids (last column) every clone was fitted on and asked about."""

    log = []

    def fit(self, X, y, sample_weight=None):
        self.seen_ = set(X[:, -1].astype(int))
        return super().fit(X[:, :-1], y, sample_weight)

    def predict_proba(self, X):
        type(self).log.append((self.seen_, set(X[:, -1].astype(int))))
        return super().predict_proba(X[:, :-1])


def test_a_fold_missing_a_class_names_the_fold_the_classes_and_the_fix():
    # Before: the solver's own "needs samples of at least 2 classes" error.
    X = np.arange(40, dtype=float)[:, None]
    y = np.repeat([0, 1], 20)  # sorted: each unshuffled KFold(2) fold trains on one class
    classes, y_enc = encode_labels(y, None)
    with pytest.raises(TeacherError, match=r"fitting a clone of LogisticRegression on the "
                                           r"training rows of fold 1 of 2 failed: ValueError: "
                                           r".*no row of class \[0\] \(only \[1\]\).*"
                                           r"StratifiedKFold"):
        teacher_outputs(LogisticRegression(), X, y, y_enc, classes, cv=KFold(2))
    # stratified folds (an int) train on both classes
    teacher_outputs(LogisticRegression(), X, y, y_enc, classes, cv=2)
