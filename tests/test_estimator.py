"""DistilledClassifier through scikit-learn's public API."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from skorch.dataset import ValidSplit

from skkd import DistilledClassifier
from skkd.models._mlp import MLP


def test_alpha_one_trains_exactly_like_plain_cross_entropy(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    kw = {"max_epochs": 4, "random_state": 3}
    with_teacher = DistilledClassifier(teacher=lr_teacher, alpha=1.0, **kw).fit(X_train, y_train)
    plain = DistilledClassifier(teacher=None, **kw).fit(X_train, y_train)
    assert with_teacher.history_[:, "train_loss"] == plain.history_[:, "train_loss"]
    np.testing.assert_array_equal(with_teacher.predict_proba(X_train),
                                  plain.predict_proba(X_train))


def test_knowledge_transfers_with_soft_labels_only(digits, lr_teacher):
    X_train, X_test, y_train, y_test = digits
    student = DistilledClassifier(teacher=lr_teacher, alpha=0.0, temperature=4.0,
                                  random_state=0).fit(X_train, y_train)
    assert student.score(X_test, y_test) >= 0.90


def test_soft_term_changes_training(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    kw = {"max_epochs": 2, "random_state": 0}
    a = DistilledClassifier(teacher=lr_teacher, alpha=0.1, **kw).fit(X_train, y_train)
    b = DistilledClassifier(teacher=lr_teacher, alpha=1.0, **kw).fit(X_train, y_train)
    assert a.history_[:, "train_loss"] != b.history_[:, "train_loss"]


def test_random_state_makes_fit_reproducible_and_restores_torch_rng(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(teacher=lr_teacher, max_epochs=2, random_state=7)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    p1 = clf.fit(X_train, y_train).predict_proba(X_train)
    assert torch.equal(torch.rand(1), expected_next)
    p2 = clone(clf).fit(X_train, y_train).predict_proba(X_train)
    np.testing.assert_array_equal(p1, p2)


def test_per_batch_teacher_matches_precomputed_teacher(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    kw = {"teacher": lr_teacher, "max_epochs": 2, "random_state": 0}
    once = DistilledClassifier(teacher_inference="once", **kw).fit(X_train, y_train)
    online = DistilledClassifier(teacher_inference="per_batch", **kw).fit(X_train, y_train)
    np.testing.assert_allclose(once.history_[:, "train_loss"], online.history_[:, "train_loss"],
                               rtol=1e-5)


def test_teacher_logits_are_used_instead_of_the_teacher(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    logits = np.log(lr_teacher.predict_proba(X_train))
    kw = {"max_epochs": 2, "random_state": 0}
    via_teacher = DistilledClassifier(teacher=lr_teacher, **kw).fit(X_train, y_train)
    via_logits = DistilledClassifier(**kw).fit(X_train, y_train, teacher_logits=logits)
    np.testing.assert_allclose(via_teacher.history_[:, "train_loss"],
                               via_logits.history_[:, "train_loss"], rtol=1e-5)
    assert via_logits.teacher_score_ == pytest.approx(lr_teacher.score(X_train, y_train))


def test_predict_proba_is_softmax_of_student_logits(digits, lr_teacher):
    X_train, X_test, y_train, _ = digits
    clf = DistilledClassifier(teacher=lr_teacher, max_epochs=2, random_state=0)
    clf.fit(X_train, y_train)
    proba = clf.predict_proba(X_test)
    logits = clf.net_.module_(torch.from_numpy(X_test)).detach().double().numpy()
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(proba, expected, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[proba.argmax(1)])


def test_fitted_attributes(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                       "nine"])[y_train]
    teacher = LogisticRegression(max_iter=1000).fit(X_train, labels)
    clf = DistilledClassifier(teacher=teacher, max_epochs=2).fit(X_train, labels)
    assert list(clf.classes_) == sorted(set(labels))
    assert clf.n_features_in_ == 64
    assert clf.teacher_ is teacher
    assert 0.9 < clf.teacher_score_ <= 1
    assert len(clf.history_) == 2
    assert set(clf.predict(X_train[:20])) <= set(labels)


def test_skorch_knobs_are_forwarded(digits):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(
        module="mlp", module__hidden_sizes=(17, 9), optimizer=torch.optim.SGD,
        optimizer__momentum=0.5, lr=0.05, max_epochs=3, batch_size=64,
        train_split=ValidSplit(0.2, stratified=True), iterator_train__drop_last=True,
    ).fit(X_train, y_train)
    sizes = [m.out_features for m in clf.net_.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert sizes == [17, 9, 10]
    assert isinstance(clf.net_.optimizer_, torch.optim.SGD)
    assert clf.net_.optimizer_.param_groups[0]["momentum"] == 0.5
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.05
    assert len(clf.history_) == 3 and "valid_loss" in clf.history_[-1]
    # drop_last over 80% of the data in batches of 64
    assert clf.history_[-1, "train_batch_count"] == int(0.8 * len(X_train)) // 64


def test_module_class_and_instance(digits):
    X_train, _, y_train, _ = digits
    by_class = DistilledClassifier(module=MLP, module__n_features=64, module__n_classes=10,
                                   max_epochs=1).fit(X_train, y_train)
    assert isinstance(by_class.net_.module_, MLP)
    instance = MLP(64, 10)
    before = {k: v.clone() for k, v in instance.state_dict().items()}
    by_instance = DistilledClassifier(module=instance, max_epochs=1).fit(X_train, y_train)
    assert by_instance.net_.module_ is not instance
    assert all(torch.equal(before[k], v) for k, v in instance.state_dict().items())


def test_get_set_params_and_clone_carry_prefixed_parameters():
    clf = DistilledClassifier(module__hidden_sizes=(8,), loss__beta=2.0)
    params = clf.get_params()
    assert params["module__hidden_sizes"] == (8,) and params["loss__beta"] == 2.0
    clf.set_params(module__hidden_sizes=(4,), alpha=0.3)
    cloned = clone(clf)
    assert cloned.get_params()["module__hidden_sizes"] == (4,) and cloned.alpha == 0.3


def test_bad_data_gets_clear_errors(digits):
    X_train, _, y_train, _ = digits
    X_nan = X_train.copy()
    X_nan[3, 5] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        DistilledClassifier(max_epochs=1).fit(X_nan, y_train)
    X_inf = X_train.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        DistilledClassifier(max_epochs=1).fit(X_inf, y_train)
    with pytest.raises(ValueError, match="only one class"):
        DistilledClassifier(max_epochs=1).fit(X_train, np.zeros(len(X_train)))
    clf = DistilledClassifier(max_epochs=1).fit(X_train, y_train)
    with pytest.raises(ValueError, match="X has 10 features, but DistilledClassifier is "
                                         "expecting 64 features"):
        clf.predict(X_train[:, :10])
    with pytest.raises(ValueError, match=r"teacher_logits has shape \(5, 10\), expected"):
        DistilledClassifier(max_epochs=1).fit(X_train, y_train, teacher_logits=np.zeros((5, 10)))


def test_messages_print_labels_as_the_user_wrote_them(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match=r"only one class \(3\)") as info:
        DistilledClassifier(max_epochs=1).fit(X_train, np.full(len(X_train), 3))
    assert "np." not in str(info.value)
    teacher = LogisticRegression(max_iter=200).fit(X_train, y_train % 2)
    with pytest.raises(ValueError, match=r"classes_ \[0, 1\] differ from the classes in y "
                                         r"\[0, 1, 2\]: the teacher never saw \[2\]") as info:
        DistilledClassifier(teacher, max_epochs=1).fit(X_train, y_train % 3)
    assert "np." not in str(info.value)
