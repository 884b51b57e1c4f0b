"""``fit(X, y, sample_weight=...)`` weights each row's hard and soft loss."""

import inspect

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils.class_weight import compute_class_weight

from skkd import DistilledClassifier
from skkd.exceptions import InvalidParameterError
from skkd.losses import kl_divergence

FULL_BATCH = {"batch_size": -1, "max_epochs": 15, "lr": 1e-2, "random_state": 0,
              "module__hidden_sizes": (16,)}


@pytest.fixture
def small(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    return X_train[:300], y_train[:300], lr_teacher


def _student(teacher, **params):
    return DistilledClassifier(teacher, **{"alpha": 0.5, "temperature": 2.0, **FULL_BATCH,
                                           **params})


def test_integer_weights_equal_repeated_rows(small):
    X, y, teacher = small
    w = np.random.default_rng(0).integers(0, 4, len(X))
    weighted = _student(teacher).fit(X, y, sample_weight=w)
    repeated = _student(teacher).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-5)
    unweighted = _student(teacher).fit(X, y)
    assert np.abs(unweighted.predict_proba(X) - weighted.predict_proba(X)).max() > 1e-3


def test_zero_weights_equal_dropped_rows_and_reach_the_hard_loss_alone(small):
    X, y, teacher = small
    keep = np.arange(len(X)) % 3 != 0
    for alpha in (1.0, 0.5):  # the hard loss alone, then both terms
        weighted = _student(teacher, alpha=alpha).fit(X, y, sample_weight=keep.astype(float))
        dropped = _student(teacher, alpha=alpha).fit(X[keep], y[keep])
        np.testing.assert_allclose(weighted.predict_proba(X), dropped.predict_proba(X),
                                   atol=1e-5)


def test_class_weights_and_sample_weights_multiply(small):
    X, y, teacher = small
    w = np.where(y < 5, 2.0, 1.0)
    class_weight = np.linspace(0.5, 2.0, 10)
    # a row's weight times its class's weight: repeat rows of classes 0-4 twice
    weighted = _student(None, alpha=1.0, criterion__weight=class_weight).fit(
        X, y, sample_weight=w)
    repeated = _student(None, alpha=1.0, criterion__weight=class_weight).fit(
        np.repeat(X, w.astype(int), axis=0), np.repeat(y, w.astype(int)))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_class_weight_weighs_each_labeled_row_by_its_class(small, alpha):
    X, y, teacher = small
    labels = np.array(list("abcdefghij"))[y]
    words = LogisticRegression(max_iter=300).fit(X, labels)
    class_weight = {c: w for c, w in zip("abcdefghij", np.linspace(0.2, 3.0, 10), strict=True)}
    row_weights = np.array([class_weight[c] for c in labels])
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    by_class = _student(words, alpha=alpha, class_weight=class_weight).fit(X, labels,
                                                                          sample_weight=w)
    # scikit-learn's definition: the class weight multiplies the row's sample weight
    by_row = _student(words, alpha=alpha).fit(X, labels, sample_weight=w * row_weights)
    np.testing.assert_allclose(by_class.predict_proba(X), by_row.predict_proba(X), atol=1e-6)
    plain = _student(words, alpha=alpha).fit(X, labels, sample_weight=w)
    assert np.abs(plain.predict_proba(X) - by_class.predict_proba(X)).max() > 1e-3
    if alpha == 1:  # on the hard term alone, it is criterion__weight by label
        hard = _student(words, alpha=alpha, criterion__weight=class_weight).fit(
            X, labels, sample_weight=w)
        np.testing.assert_allclose(by_class.predict_proba(X), hard.predict_proba(X), atol=1e-5)


def test_balanced_class_weight_is_scikit_learns(small):
    X, y, teacher = small
    keep = (y < 3) | (np.arange(len(y)) % 4 == 0)  # classes 3-9 are rarer
    X, y = X[keep], y[keep]
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    kwargs = {"sample_weight": w} if "sample_weight" in inspect.signature(
        compute_class_weight).parameters else {}
    expected = compute_class_weight("balanced", classes=np.arange(10), y=y, **kwargs)
    balanced = _student(teacher, class_weight="balanced").fit(X, y, sample_weight=w)
    by_dict = _student(teacher, class_weight=dict(enumerate(expected))).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(balanced.predict_proba(X), by_dict.predict_proba(X), atol=1e-6)


def test_class_weight_leaves_rows_without_a_class_and_the_teacher_as_they_are(small):
    X, y, teacher = small
    y_partial = np.where(np.arange(len(y)) % 3 == 0, -1, y)
    labeled = y_partial >= 0
    class_weight = {c: 1.0 + c for c in range(10)}
    rows = np.where(labeled, 1.0 + y_partial, 1.0)  # an unlabeled row has no class: 1
    WeightRecordingLR.seen = []
    by_class = _student(WeightRecordingLR(max_iter=300), unlabeled=-1,
                        class_weight=class_weight).fit(X, y_partial)
    assert WeightRecordingLR.seen == [None]  # the teacher's clone is fitted unweighted
    by_row = _student(by_class.teacher_, unlabeled=-1).fit(X, y_partial, sample_weight=rows)
    np.testing.assert_allclose(by_class.predict_proba(X), by_row.predict_proba(X), atol=1e-6)


def test_class_weight_names_classes_a_cross_validation_fold_lacks(small):
    X, y, teacher = small
    class_weight = {c: 1.0 + c for c in range(10)}
    fold = y != 9
    clf = _student(teacher, class_weight=class_weight).fit(X[fold], y[fold])
    np.testing.assert_array_equal(clf.classes_, np.arange(9))
    with pytest.raises(ValueError, match=r"gives every row of the fit the weight 0"):
        _student(None, alpha=1.0, class_weight=dict.fromkeys(range(10), 0.0)).fit(X, y)


class WeightRecordingLR(LogisticRegression):
    seen: list = []

    def fit(self, X, y, sample_weight=None):
        type(self).seen.append(None if sample_weight is None else np.asarray(sample_weight))
        return super().fit(X, y, sample_weight)


def test_an_unfitted_teachers_clone_is_fitted_with_the_weights(small):
    X, y, _ = small
    w = np.linspace(0.1, 2.0, len(X))
    WeightRecordingLR.seen = []
    DistilledClassifier(WeightRecordingLR(max_iter=300), max_epochs=1).fit(X, y, sample_weight=w)
    assert len(WeightRecordingLR.seen) == 1
    np.testing.assert_allclose(WeightRecordingLR.seen[0], w, rtol=1e-6)


seen_weights: list = []


def recording_kl(student_logits, teacher_logits, *, temperature, y=None, sample_weight=None):
    seen_weights.append(sample_weight)
    return kl_divergence(student_logits, teacher_logits, temperature=temperature,
                         sample_weight=sample_weight)


@pytest.mark.parametrize("routing", [False, True], ids=["fit-params", "metadata-routing"])
def test_grid_search_routes_sample_weight_to_fit(routing, small):
    X, y, teacher = small
    seen_weights.clear()
    clf = DistilledClassifier(teacher, loss=recording_kl, max_epochs=1, batch_size=-1)
    with sklearn.config_context(enable_metadata_routing=routing):
        if routing:
            clf.set_fit_request(sample_weight=True, teacher_logits=False, groups=False)
            clf.set_score_request(sample_weight=False)
        GridSearchCV(clf, {"alpha": [0.5]}, cv=2).fit(X, y, sample_weight=np.ones(len(X)))
    assert seen_weights and all(w is not None for w in seen_weights)


@pytest.mark.parametrize(("params", "weights", "match"), [
    ({}, "zeros", "at least one non-zero"),
    ({}, "negative", "[Nn]egative values in data passed to (`)?sample_weight"),
    ({}, "nan", "NaN"),
    ({"loss": lambda s, t, *, temperature, y=None: kl_divergence(s, t, temperature=temperature)},
     "ones", r"takes no sample_weight keyword.*skkd_register_losses"),
    ({"augment": "mixup"}, "ones", r"not supported with augment='mixup'"),
])
def test_weights_that_cannot_apply_are_refused(params, weights, match, small):
    X, y, teacher = small
    w = {"zeros": np.zeros(len(X)), "negative": -np.ones(len(X)), "ones": np.ones(len(X)),
         "nan": np.full(len(X), np.nan)}[weights]
    with pytest.raises(ValueError, match=match):
        DistilledClassifier(teacher, max_epochs=1, **params).fit(X, y, sample_weight=w)


def test_weights_with_unlabeled_rows_and_transfer_rows(small):
    X, y, teacher = small
    y_partial = np.where(np.arange(len(y)) % 2 == 0, y, -1)
    clf = DistilledClassifier(teacher, max_epochs=2, unlabeled=-1, augment="munge",
                              random_state=0).fit(X, y_partial, sample_weight=np.ones(len(X)))
    assert clf.score(X, y) > 0.5
    with pytest.raises(InvalidParameterError, match="groups is passed to fit"):
        clf.fit(X, y, groups=np.arange(len(X)) % 3)


def test_group_splitters_get_fit_groups_also_with_transfer_rows(small):
    from sklearn.model_selection import GroupKFold

    X, y, _ = small
    groups = np.arange(len(X)) % 5
    clf = DistilledClassifier(LogisticRegression(max_iter=300), teacher_cv=GroupKFold(3),
                              augment="munge", max_epochs=1, random_state=0)
    clf.fit(X, y, groups=groups, sample_weight=np.ones(len(X)))
    assert clf.teacher_score_ > 0.5
    with pytest.raises(ValueError, match="groups has 10 entries, but X has 300 rows"):
        clf.fit(X, y, groups=groups[:10])
