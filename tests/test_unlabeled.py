"""Unlabeled rows (``unlabeled=-1``) learn from the teacher alone; score ignores them."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from skkd import DistilledClassifier
from skkd.exceptions import InvalidParameterError


@pytest.fixture(scope="module")
def scarce(digits):
    """120 labeled rows (12 per class), the rest of the training rows unlabeled."""
    X_train, X_test, y_train, y_test = digits
    labeled = np.concatenate([np.flatnonzero(y_train == c)[:12] for c in range(10)])
    y_partial = np.full(len(y_train), -1)
    y_partial[labeled] = y_train[labeled]
    return X_train, X_test, y_train, y_test, y_partial, labeled


def test_unlabeled_rows_help_when_labels_are_scarce(scarce):
    X_train, X_test, y_train, y_test, y_partial, labeled = scarce
    teacher = LogisticRegression(max_iter=1000).fit(X_train, y_train)  # fitted on all labels
    kw = {"alpha": 0.3, "temperature": 4.0, "max_epochs": 30, "random_state": 0,
          "unlabeled": -1}
    only_labeled = DistilledClassifier(teacher, **kw).fit(X_train[labeled], y_train[labeled])
    with_unlabeled = DistilledClassifier(teacher, **kw).fit(X_train, y_partial)
    assert list(with_unlabeled.classes_) == list(range(10))
    assert with_unlabeled.score(X_test, y_test) > only_labeled.score(X_test, y_test) + 0.03


def test_score_ignores_unlabeled_rows(scarce):
    X_train, X_test, y_train, y_test, y_partial, labeled = scarce
    clf = DistilledClassifier(LogisticRegression(max_iter=300), max_epochs=2, unlabeled=-1,
                              random_state=0).fit(X_train, y_partial)
    assert clf.score(X_train, y_partial) == pytest.approx(
        clf.score(X_train[labeled], y_train[labeled]))
    search = GridSearchCV(clf, {"alpha": [0.2, 0.5]}, cv=2).fit(X_train, y_partial)
    assert 0 < search.best_score_ <= 1


def test_an_unfitted_teacher_is_fitted_on_the_labeled_rows(scarce):
    X_train, _, _, _, y_partial, labeled = scarce
    clf = DistilledClassifier(LogisticRegression(max_iter=300), max_epochs=1, unlabeled=-1,
                              random_state=0).fit(X_train, y_partial)
    assert list(clf.teacher_.classes_) == list(range(10))
    assert clf.teacher_score_ == pytest.approx(
        clf.teacher_.score(X_train[labeled], y_partial[labeled]))


def test_unlabeled_rows_need_a_soft_term(scarce):
    X_train, _, _, _, y_partial, _ = scarce
    with pytest.raises(ValueError, match="unlabeled .* no soft term: pass a teacher"):
        DistilledClassifier(max_epochs=1, unlabeled=-1).fit(X_train, y_partial)
    with pytest.raises(ValueError, match="no soft term"):
        DistilledClassifier(LogisticRegression(), alpha=1.0, max_epochs=1,
                            unlabeled=-1).fit(X_train, y_partial)


def test_string_labels_mark_unlabeled_rows_with_a_string_of_their_own(scarce):
    X_train, _, y_train, _, y_partial, _ = scarce
    names = np.array(list("abcdefghij"))
    y_names = np.where(y_partial >= 0, names[np.maximum(y_partial, 0)], "")
    teacher = LogisticRegression(max_iter=300).fit(X_train, names[y_train])
    clf = DistilledClassifier(teacher, unlabeled="", max_epochs=2, random_state=0)
    clf.fit(X_train, y_names)
    assert list(clf.classes_) == list("abcdefghij")
    assert clf.score(X_train, y_names) == clf.score(X_train[y_partial >= 0],
                                                    y_names[y_partial >= 0])


def test_without_a_marker_minus_one_is_an_ordinary_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)).astype(np.float32)
    y = np.where(X[:, 0] > 0, 1, -1)
    clf = DistilledClassifier(max_epochs=5, random_state=0).fit(X, y)
    assert list(clf.classes_) == [-1, 1]
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize(("labels", "marker"), [("strings", -1), ("ints", ""),
                                                 ("objects", -1)])
def test_a_marker_of_another_type_than_y_is_refused(labels, marker, scarce):
    X_train, _, _, _, y_partial, _ = scarce
    y = {"strings": np.array([f"c{v}" for v in y_partial]),
         "objects": np.array([f"c{v}" for v in y_partial], dtype=object),
         "ints": y_partial}[labels]
    clf = DistilledClassifier(LogisticRegression(max_iter=300), max_epochs=1, unlabeled=marker)
    with pytest.raises(InvalidParameterError, match=rf"unlabeled={marker!r} cannot mark a row: "
                                                    "y holds .*Pass a marker of y's type"):
        clf.fit(X_train, y)
    assert not hasattr(clf, "classes_")


def test_minus_one_in_y_without_unlabeled_points_to_the_parameter(scarce, lr_teacher):
    X_train, _, _, _, y_partial, _ = scarce  # -1 marks the unlabeled rows
    hint = "pass unlabeled=-1 if -1 marks unlabeled rows"
    with pytest.raises(ValueError, match=hint):
        DistilledClassifier(lr_teacher, max_epochs=1).fit(X_train, y_partial)
    with pytest.raises(ValueError, match=hint):
        DistilledClassifier(max_epochs=1).fit(
            X_train, y_partial, teacher_logits=lr_teacher.predict_log_proba(X_train))
