"""A fit completes or leaves the estimator as it was; a warm start cannot change the build."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from skkd import DistilledClassifier
from skkd.exceptions import InvalidParameterError, TeacherError


def _fitted_state(clf):
    return {k: v for k, v in vars(clf).items() if k.endswith("_")}


class RaisingTeacher(LogisticRegression):
    """A fitted teacher whose outputs fail (or are interrupted) when queried."""

    error: type[BaseException] = RuntimeError

    def predict_proba(self, X):
        raise type(self).error("the teacher failed")


def nan_loss(student_logits, teacher_logits, *, temperature, y=None):
    return (student_logits * float("nan")).sum()


@pytest.fixture
def fitted(digits):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(max_epochs=2, random_state=0).fit(X_train, y_train)
    return clf, clf.predict(X_train[:20]), clf.predict_proba(X_train[:20])


@pytest.mark.parametrize("failure", ["teacher_logits", "teacher", "interrupt", "training",
                                     "n_features"])
def test_a_failed_refit_leaves_the_fitted_estimator_as_it_was(failure, fitted, digits):
    X_train, _, y_train, _ = digits
    clf, labels, proba = fitted
    state = _fitted_state(clf)
    letters = np.array(list("abcdefghij"))[y_train]
    error: type[BaseException] = ValueError
    if failure == "teacher_logits":  # the wrong number of columns
        refit = lambda: clf.fit(X_train, letters, teacher_logits=np.zeros((len(X_train), 3)))  # noqa: E731
    elif failure in ("teacher", "interrupt"):  # the teacher raises, or Ctrl-C in its pass
        RaisingTeacher.error = RuntimeError if failure == "teacher" else KeyboardInterrupt
        error = TeacherError if failure == "teacher" else KeyboardInterrupt
        teacher = RaisingTeacher(max_iter=200).fit(X_train, letters)
        refit = lambda: clf.set_params(teacher=teacher).fit(X_train, letters)  # noqa: E731
    elif failure == "training":  # a new student that fails in training
        error = FloatingPointError
        refit = lambda: clf.set_params(  # noqa: E731
            teacher=LogisticRegression(max_iter=200), loss=nan_loss).fit(X_train, letters)
    else:
        refit = lambda: clf.fit(X_train[:, :10], np.zeros(len(X_train)))  # noqa: E731
    with pytest.raises(error):
        refit()
    assert _fitted_state(clf).keys() == state.keys()
    assert all(getattr(clf, k) is v for k, v in state.items())
    np.testing.assert_array_equal(clf.predict(X_train[:20]), labels)
    np.testing.assert_array_equal(clf.predict_proba(X_train[:20]), proba)


def test_a_failed_first_fit_leaves_no_fitted_attribute(digits):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(max_epochs=1)
    with pytest.raises(ValueError, match="teacher_logits"):
        clf.fit(X_train, y_train, teacher_logits=np.zeros((len(X_train), 3)))
    assert _fitted_state(clf) == {}


def test_an_interrupt_in_training_keeps_the_partly_trained_student_with_its_labels(
        fitted, digits):
    from skorch.callbacks import Callback

    class InterruptAfterFirstEpoch(Callback):
        def on_epoch_end(self, net, **kwargs):
            raise KeyboardInterrupt

    X_train, _, y_train, _ = digits
    clf, _, _ = fitted
    letters = np.array(list("abcdefghij"))[y_train]
    clf.set_params(callbacks=[InterruptAfterFirstEpoch()])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X_train, letters)
    assert list(clf.classes_) == list("abcdefghij")
    assert len(clf.history_) == 1
    assert set(clf.predict(X_train[:20])) <= set("abcdefghij")


@pytest.mark.parametrize(("change", "name"), [
    ({"module__hidden_sizes": (16,)}, "module__hidden_sizes"),
    ({"module": "tabular-mlp"}, "module"),
    ({"optimizer": torch.optim.SGD}, "optimizer"),
    ({"optimizer__weight_decay": 0.1}, "optimizer__weight_decay"),
    ({"criterion__label_smoothing": 0.2}, "criterion__label_smoothing"),
])
def test_warm_start_refuses_a_changed_build_naming_the_parameter(change, name, digits):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(max_epochs=1, warm_start=True, random_state=0,
                              module__hidden_sizes=(8,)).fit(X_train, y_train)
    weights = [p.detach().clone() for p in clf.net_.module_.parameters()]
    with pytest.raises(InvalidParameterError, match=rf"built with other {name} .*"
                                                    "warm_start=False"):
        clf.set_params(**change).fit(X_train, y_train)
    assert len(clf.history_) == 1
    assert all(torch.equal(a, b) for a, b in zip(weights, clf.net_.module_.parameters(),
                                                 strict=True))


def test_warm_start_still_applies_what_it_can_change(digits):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(max_epochs=1, warm_start=True, random_state=0,
                              module__hidden_sizes=(8,)).fit(X_train, y_train)
    clf.set_params(max_epochs=2, lr=1e-2, batch_size=64,
                   module__hidden_sizes=[8]).fit(X_train, y_train)  # a list equals the tuple
    assert len(clf.history_) == 3 and clf.net_.lr == 1e-2
