"""Parameters: each estimator's validation table, keyword parameters, clone and metadata routing."""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import EarlyStopping

from skkd import DistilledClassifier, DistilledRegressor
from skkd.exceptions import InvalidParameterError
from skkd.losses import kl_divergence


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alpha": 1.5},
         r"'alpha' parameter .* must be 'auto' or a real number in \[0, 1\].*Got 1.5"),
        ({"alpha": -0.1}, r"'alpha' parameter .* must be 'auto' or a real number in \[0, 1\]"),
        ({"alpha": True}, r"'alpha' parameter .* Got True"),
        ({"temperature": 0}, r"'temperature' parameter .* real number in \[0.0001, 10000\]"),
        ({"temperature": float("inf")}, r"'temperature' parameter .* Got inf"),
        ({"temperature": 1e-8}, r"'temperature' .* below, the soft term's gradient vanishes"),
        ({"temperature": 1e8}, r"'temperature' .*for logit matching use loss='mse'.*Got 1"),
        ({"batch_size": 0}, r"'batch_size' parameter .* integer >= 1, or -1"),
        ({"max_epochs": 0}, r"'max_epochs' parameter .* integer >= 1. Got 0"),
        ({"max_epochs": 2.0}, r"'max_epochs' parameter .* Got 2.0"),
        ({"lr": "x"}, r"'lr' parameter .* finite real number > 0. Got 'x'"),
        ({"optimizer": "adam"}, r"'optimizer' parameter .* torch optimizer class"),
        ({"callbacks": "x"}, r"'callbacks' parameter .* list of skorch callbacks"),
        ({"callbacks": [42]}, r"'callbacks' parameter"),
        ({"train_split": 0.2}, r"'train_split' parameter .*ValidSplit\(0.2\)"),
        ({"verbose": "x"}, r"'verbose' parameter .* integer >= 0"),
        ({"warm_start": "yes"}, r"'warm_start' parameter .* True or False"),
        ({"teacher_inference": "always"}, r"'teacher_inference' parameter .* 'once' or"),
        ({"teacher_batch_size": 0}, r"'teacher_batch_size' parameter"),
        ({"random_state": -1}, r"'random_state' parameter"),
        ({"teacher_combine": "mean"}, r"'teacher_combine' parameter .* 'proba' or 'logits'"),
        ({"unlabeled": float("nan")}, r"'unlabeled' parameter .* a number or a string"),
        ({"module": 3}, r"'module' parameter .* registered model name"),
        ({"loss": 3}, r"'loss' parameter .* registered loss name or a callable"),
        ({"loss": "nope"},
         r"loss='nope': Unknown loss 'nope'. Registered losses: 'huber', 'kl', 'mse', 'soft_ce'"),
        ({"module": "nope"}, r"module='nope': Unknown model 'nope'. Registered models: .*'mlp'"),
        ({"modul__x": 1}, r"Unknown parameter 'modul__x'.*must start with one of module__"),
        ({"loss__bta": 1}, r"loss__bta: loss 'kl' takes no option 'bta'. Accepted loss__\* "
                           "options: none"),
        ({"module__hiden_sizes": (3,)},
         r"module__hiden_sizes: model 'mlp' takes no option 'hiden_sizes'. Accepted module__\* "
         r"options: hidden_sizes, dropout"),
        ({"module": "cnn-student", "module__shape": (1, 8, 8)},
         r"Accepted module__\* options: input_shape"),
        ({"criterion__smoothing": 0.1}, r"criterion__smoothing: .*CrossEntropyLoss takes no "
                                        r"option 'smoothing'.*label_smoothing"),
        ({"callbacks": [EarlyStopping()]},
         r"EarlyStopping monitors 'valid_loss', which needs a validation split, but "
         r"train_split=None. Set train_split=skorch.dataset.ValidSplit"),
        # checked against the data (features, classes), still before the teacher
        ({"module__hidden_sizes": "ab"},
         r"module='mlp' cannot be built .*module__hidden_sizes must be a sequence of integer"),
        ({"module__dropout": 1.5}, r"module__dropout must be a number in \[0, 1\)"),
        ({"criterion__weight": [1.0, 2.0]}, r"criterion__weight has shape \(2,\)"),
        ({"criterion__weight": {"one": 2.0}}, r"criterion__weight names \['one'\], which are "
                                              r"not classes of y.*key the weights by y's labels"),
        ({"criterion__weight": "balanced"}, r"criterion__weight='balanced'.*class_weight="),
        ({"class_weight": "balance"}, r"'class_weight' parameter .* None, 'balanced' or a dict"),
        ({"class_weight": [1.0] * 10}, r"'class_weight' parameter .* dict \{label: weight\}"),
        ({"class_weight": {3: -1.0}}, r"class_weight: the weights .* must be finite and >= 0"),
        ({"class_weight": {10: 2.0}}, r"class_weight names \[10\], which are not classes of y"),
        ({"class_weight": {0: 2.0}, "criterion__weight": [1.0] * 10},
         r"class_weight and criterion__weight both weight the classes: pass one"),
        ({"class_weight": "balanced", "augment": "mixup"},
         r"class_weight='balanced' weights the rows of each class, as sample_weight does. "
         r"sample_weight is not supported with augment='mixup'.*criterion__weight"),
        ({"criterion__label_smoothing": 2.0}, r"criterion__\* \['label_smoothing'\]: "
                                              r"torch.nn.CrossEntropyLoss refuses them"),
        ({"device": "nodevice"}, r"device='nodevice' cannot be used here"),
        ({"augment": "shift", "augment__input_shape": (1, 5, 5)},
         r"augment='shift': augment__input_shape=\(1, 5, 5\) must be \(channels, height, "
         r"width\) holding the 64 features"),
    ],
)
@pytest.mark.parametrize("fitted", [True, False], ids=["fitted", "unfitted"])
def test_bad_parameters_fail_up_front_naming_the_parameter(params, match, fitted, digits):
    X_train, _, y_train, _ = digits

    class ExplodingTeacher(LogisticRegression):
        def predict_proba(self, X):
            raise AssertionError("the teacher was queried before the parameters were checked")

        def fit(self, X, y, sample_weight=None):
            if not fitted:
                raise AssertionError("the teacher was fitted before the parameters were checked")
            return super().fit(X, y, sample_weight)

    teacher = ExplodingTeacher().fit(X_train[:50], y_train[:50]) if fitted else (
        ExplodingTeacher())
    with pytest.raises(InvalidParameterError, match=match):
        DistilledClassifier(teacher, **{"max_epochs": 1, **params}).fit(X_train, y_train)


@pytest.mark.parametrize("estimator", [DistilledClassifier, DistilledRegressor])
def test_each_estimator_s_table_holds_exactly_its_parameters(estimator):
    # composed per class: every parameter checked, none the other estimator's
    assert set(estimator._parameter_table) == set(estimator._get_param_names())


def test_the_estimators_share_only_the_parameters_they_both_have():
    classifier, regressor = DistilledClassifier._parameter_table, (
        DistilledRegressor._parameter_table)
    shared = {name for name in classifier.keys() & regressor.keys()
              if classifier[name] is regressor[name]}
    assert shared == set(DistilledClassifier._get_param_names()) & set(
        DistilledRegressor._get_param_names()) - {"unlabeled"}  # each reads its own way
    with pytest.raises(InvalidParameterError, match=r"'unlabeled' .* None or float\('nan'\)"):
        DistilledRegressor(unlabeled=-1).fit(np.zeros((4, 2)), np.arange(4.0))


def test_the_regressor_has_no_classifier_parameter_as_an_attribute():
    regressor = DistilledRegressor()
    only_classifier = (set(DistilledClassifier._get_param_names())
                       - set(DistilledRegressor._get_param_names()))
    assert {"temperature", "teacher_inference", "hints", "hint_loss"} <= only_classifier
    assert not [name for name in only_classifier if hasattr(regressor, name)]


def test_arguments_after_teacher_are_keyword_only():
    with pytest.raises(TypeError, match="positional"):
        DistilledClassifier(None, "mlp")


def test_public_attributes_are_not_parameters(digits):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(max_epochs=1, module__hidden_sizes=(8,))
    clf.note = "x"
    assert "note" not in clf.get_params()
    clf.fit(X_train, y_train)  # does not fail on the attribute
    assert clone(clf).get_params()["module__hidden_sizes"] == (8,)
    assert not hasattr(clone(clf), "note")


def test_set_params_accepts_keyword_parameters_and_rejects_unknown_names():
    clf = DistilledClassifier(loss__beta=1.0)
    clf.set_params(loss__beta=2.0, criterion__label_smoothing=0.1, alpha=0.3)
    params = clf.get_params()
    assert params["loss__beta"] == 2.0 and params["criterion__label_smoothing"] == 0.1
    with pytest.raises(ValueError, match="Invalid parameter 'lerning_rate'"):
        clf.set_params(lerning_rate=0.1)


def test_a_fitted_teachers_parameters_are_not_reachable(digits):
    X_train, _, y_train, _ = digits
    teacher = LogisticRegression(C=1.0, max_iter=200).fit(X_train, y_train)
    kd = DistilledClassifier(teacher)
    assert not any(k.startswith("teacher__") for k in kd.get_params(deep=True))
    with pytest.raises(InvalidParameterError, match="teacher is fitted and shared"):
        clone(kd).set_params(teacher__C=123)
    assert teacher.C == 1.0
    # An unfitted teacher is ours to tune: it is cloned and fitted in fit.
    unfitted = DistilledClassifier(LogisticRegression(C=1.0))
    assert unfitted.get_params(deep=True)["teacher__C"] == 1.0
    cloned = clone(unfitted).set_params(teacher__C=5.0)
    assert cloned.teacher.C == 5.0 and unfitted.teacher.C == 1.0


def test_criterion_parameters_reach_the_hard_loss(digits):
    X_train, _, y_train, _ = digits
    weight = np.linspace(0.5, 2.0, 10)
    clf = DistilledClassifier(max_epochs=1, criterion__weight=weight,
                              criterion__label_smoothing=0.1).fit(X_train, y_train)
    criterion = clf.net_.criterion_
    assert criterion.label_smoothing == 0.1
    np.testing.assert_allclose(criterion.weight.numpy(), weight, rtol=1e-6)
    with pytest.raises(InvalidParameterError, match=r"criterion__weight has shape \(3,\)"):
        DistilledClassifier(max_epochs=1, criterion__weight=[1, 2, 3]).fit(X_train, y_train)


def test_criterion_weight_may_be_a_dict_of_labels(digits):
    X_train, _, y_train, _ = digits
    labels = np.array(list("abcdefghij"))[y_train]
    weight = np.linspace(0.5, 2.0, 10)
    by_label = DistilledClassifier(max_epochs=1, criterion__weight=dict(
        zip("jihgfedcba", weight[::-1], strict=True))).fit(X_train, labels)
    np.testing.assert_allclose(by_label.net_.criterion_.weight.numpy(), weight, rtol=1e-6)
    # a class left out weighs 1, as in scikit-learn's class_weight
    partial = DistilledClassifier(max_epochs=1, criterion__weight={"c": 3.0}).fit(X_train, labels)
    np.testing.assert_allclose(partial.net_.criterion_.weight.numpy(),
                               np.where(np.arange(10) == 2, 3.0, 1.0))


def test_class_weight_is_a_parameter_like_the_others(digits):
    X_train, _, y_train, _ = digits
    weights = {c: 1.0 + c for c in range(10)}
    clf = DistilledClassifier(max_epochs=1, class_weight=weights)
    assert clf.get_params()["class_weight"] is weights
    assert clone(clf).get_params()["class_weight"] == weights
    assert clf.set_params(class_weight="balanced").class_weight == "balanced"
    search = GridSearchCV(DistilledClassifier(max_epochs=1, random_state=0),
                          {"class_weight": [None, "balanced", weights]}, cv=2)
    search.fit(X_train[:300], y_train[:300])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["class_weight"] in (None, "balanced", weights)
    assert pickle.loads(pickle.dumps(search.best_estimator_)).class_weight == (
        search.best_params_["class_weight"])


def scaled_kl(student_logits, teacher_logits, *, temperature, y=None, scale=1.0):
    """A module-level loss: picklable with the estimator."""
    return scale * kl_divergence(student_logits, teacher_logits, temperature=temperature)


def test_loss_may_be_a_callable_with_the_loss_contract(digits):
    X_train, _, y_train, _ = digits
    teacher = LogisticRegression(max_iter=300).fit(X_train, y_train)
    kw = {"alpha": 0.0, "max_epochs": 1, "random_state": 0}
    by_name = DistilledClassifier(teacher, loss="kl", **kw).fit(X_train, y_train)
    by_callable = DistilledClassifier(teacher, loss=scaled_kl, loss__scale=0.5, **kw)
    by_callable.fit(X_train, y_train)
    assert by_callable.history_[0, "batches", 0, "train_loss"] == pytest.approx(
        0.5 * by_name.history_[0, "batches", 0, "train_loss"], rel=1e-5)
    restored = pickle.loads(pickle.dumps(by_callable))
    np.testing.assert_array_equal(restored.predict(X_train), by_callable.predict(X_train))
    with pytest.raises(InvalidParameterError, match="loss 'scaled_kl' takes no option 'sclae'"):
        DistilledClassifier(teacher, loss=scaled_kl, loss__sclae=1, **kw).fit(X_train, y_train)


def test_clone_keeps_the_fit_request_and_grid_search_routes_teacher_logits(digits):
    X_train, X_test, y_train, y_test = digits
    logits = np.log(LogisticRegression(max_iter=500).fit(X_train, y_train)
                    .predict_proba(X_train))
    with sklearn.config_context(enable_metadata_routing=True):
        student = DistilledClassifier(max_epochs=3, random_state=0)
        student.set_fit_request(teacher_logits=True)
        assert clone(student).get_metadata_routing().fit.requests["teacher_logits"] is True
        pipe = make_pipeline(StandardScaler(), student)
        search = GridSearchCV(pipe, {"distilledclassifier__alpha": [0.1, 0.5]}, cv=2)
        search.fit(X_train, y_train, teacher_logits=logits)
    best = search.best_estimator_[-1]
    assert best.teacher_score_ == pytest.approx(
        np.mean(logits.argmax(1) == y_train))
    assert search.score(X_test, y_test) > 0.8


def test_alpha_one_neither_fits_nor_queries_the_teacher(digits):
    X_train, _, y_train, _ = digits

    class Untouchable(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            raise AssertionError("fitted")

    clf = DistilledClassifier(Untouchable(), alpha=1.0, max_epochs=1).fit(X_train, y_train)
    assert clf.teacher_ is None and clf.teacher_score_ is None


def test_teacher_is_none_when_teacher_logits_are_passed(digits):
    X_train, _, y_train, _ = digits
    unfitted = LogisticRegression()
    logits = np.zeros((len(X_train), 10), dtype=np.float32)
    logits[np.arange(len(X_train)), y_train] = 5
    clf = DistilledClassifier(unfitted, max_epochs=1).fit(X_train, y_train,
                                                          teacher_logits=logits)
    assert clf.teacher_ is None
    assert clf.teacher_score_ == 1.0
    assert not hasattr(unfitted, "coef_")


def test_module_instance_with_module_options_is_refused(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(InvalidParameterError, match="module is an instance"):
        DistilledClassifier(module=torch.nn.Linear(64, 10), module__bias=False,
                            max_epochs=1).fit(X_train, y_train)
