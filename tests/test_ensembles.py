"""Teacher ensembles, out-of-fold teacher outputs and precomputed teacher logits."""

import numpy as np
import pytest
from doubles import CountingLR, NoCopyNet
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold

from skkd import DistilledClassifier, EnsembleTeacher, teacher_logits
from skkd.exceptions import InvalidParameterError


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
