"""Every kind of teacher works, is aligned by label, and stays untouched."""

import copy
import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from skorch import NeuralNetClassifier

from skkd import DistilledClassifier, teacher_logits
from skkd.exceptions import (
    InvalidParameterError,
    StudentError,
    TeacherError,
    TeacherNearChanceWarning,
)
from skkd.teachers._adapters import Teacher, eval_mode
from skkd.teachers._aligned import AlignedTeacher
from skkd.teachers._lookup import as_teacher
from skkd.teachers._outputs import check_teacher_logits


def torch_teacher(n_features=64, n_classes=10, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, 32), torch.nn.Dropout(0.1), torch.nn.ReLU(),
        torch.nn.Linear(32, n_classes),
    )


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def fit_quick(teacher, X, y, **kw):
    params = {"max_epochs": 2, "random_state": 0, **kw}
    return DistilledClassifier(teacher=teacher, **params).fit(X, y)


@pytest.mark.filterwarnings("ignore:The teacher.s accuracy")
def test_torch_teacher_is_bit_for_bit_untouched(digits):
    X_train, _, y_train, _ = digits
    teacher = torch_teacher()
    teacher.train()
    teacher[0].weight.requires_grad_(False)  # a partly frozen teacher stays so
    before = state(teacher)
    modes = [m.training for m in teacher.modules()]
    for inference in ("once", "per_batch"):
        fit_quick(teacher, X_train, y_train, teacher_inference=inference)
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert [m.training for m in teacher.modules()] == modes
    assert [p.requires_grad for p in teacher.parameters()] == [False, True, True, True]
    assert all(p.grad is None for p in teacher.parameters())


def test_eval_mode_restores_mixed_modes():
    module = torch_teacher()
    module.train()
    module[1].eval()
    with eval_mode(module):
        assert not any(m.training for m in module.modules())
    assert module.training and not module[1].training


def test_fitted_sklearn_teacher_is_not_refitted(digits):
    X_train, X_test, y_train, y_test = digits
    teacher = LogisticRegression(max_iter=500).fit(X_train, y_train)
    coef = teacher.coef_.copy()
    blob = pickle.dumps(teacher)
    clf = fit_quick(teacher, X_train[:300], y_train[:300])
    assert clf.teacher_ is teacher
    np.testing.assert_array_equal(teacher.coef_, coef)
    assert pickle.dumps(teacher) == blob


def test_unfitted_sklearn_teacher_is_cloned_and_fitted(digits):
    X_train, _, y_train, _ = digits
    teacher = LogisticRegression(max_iter=500)
    clf = fit_quick(teacher, X_train, y_train)
    assert clf.teacher_ is not teacher
    assert hasattr(clf.teacher_, "coef_") and not hasattr(teacher, "coef_")
    assert clf.teacher_score_ > 0.9


@pytest.mark.parametrize(
    "make_teacher",
    [
        lambda X, y: LogisticRegression(max_iter=500).fit(X, y),
        lambda X, y: make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y),
        lambda X, y: LinearSVC().fit(X, y),  # decision_function only
        lambda X, y: FrozenEstimator(LogisticRegression(max_iter=500).fit(X, y)),
    ],
    ids=["sklearn", "pipeline", "decision_function", "frozen"],
)
def test_sklearn_teachers_give_a_useful_teacher(make_teacher, digits):
    X_train, _, y_train, _ = digits
    clf = fit_quick(make_teacher(X_train, y_train), X_train, y_train)
    assert clf.teacher_score_ > 0.9


def test_skorch_teacher(digits):
    X_train, _, y_train, _ = digits
    net = NeuralNetClassifier(
        torch_teacher, module__n_features=64, criterion=torch.nn.CrossEntropyLoss,
        max_epochs=15, lr=0.1, train_split=None, verbose=0,
    ).fit(X_train, y_train)
    before = state(net.module_)
    clf = fit_quick(net, X_train, y_train)
    assert clf.teacher_score_ > 0.8
    assert all(torch.equal(before[k], v) for k, v in net.module_.state_dict().items())
    # a frozen skorch net is the same teacher
    assert fit_quick(FrozenEstimator(net), X_train, y_train).teacher_score_ == clf.teacher_score_


def test_teacher_columns_are_aligned_by_label_not_position():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "yes", "no")
    teacher = LogisticRegression().fit(X, y)
    # A teacher that lists its classes in reverse order must give the same logits.
    reversed_teacher = copy.deepcopy(teacher)
    reversed_teacher.classes_ = teacher.classes_[::-1].copy()
    reversed_teacher.coef_ = -teacher.coef_
    reversed_teacher.intercept_ = -teacher.intercept_
    a = fit_quick(teacher, X, y)
    b = fit_quick(reversed_teacher, X, y)
    assert a.teacher_score_ == b.teacher_score_ > 0.95
    # Rounding in the teacher's probabilities differs between the two, so the
    # students differ slightly; misaligned columns would swap the classes.
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=5e-3)


def test_teacher_with_other_classes_is_rejected(digits):
    X_train, _, y_train, _ = digits
    teacher = LogisticRegression(max_iter=300).fit(X_train, y_train)
    with pytest.raises(ValueError, match=r"classes_ \[.*\] differ from the classes in y"):
        fit_quick(teacher, X_train, np.where(y_train > 4, "big", "small"))


def test_teacher_with_wrong_width_is_rejected(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="outputs 7 columns but y has 10 classes"):
        fit_quick(torch_teacher(n_classes=7), X_train, y_train)


def test_unsupported_teacher_lists_what_is_supported(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(TypeError, match="not supported.*torch.*sklearn.*teacher_logits"):
        fit_quick(object(), X_train, y_train)


def test_as_teacher_returns_logits_of_the_module(digits):
    X_train = digits[0]
    module = torch_teacher()
    expected = module.eval()(torch.from_numpy(X_train)).detach().numpy()
    np.testing.assert_allclose(as_teacher(module).logits(X_train, batch_size=100), expected,
                               rtol=1e-5, atol=1e-6)


class OneLogit(torch.nn.Module):
    """A binary torch teacher with a single output column: the logit of class 1."""

    def __init__(self, n_features, shape=(-1, 1)):
        super().__init__()
        self.shape = shape
        self.weight = torch.nn.Parameter(torch.zeros(n_features))
        with torch.no_grad():
            self.weight[0] = 4.0

    def forward(self, x):
        return (x @ self.weight).reshape(self.shape)


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("batch_size", [32, -1])
@pytest.mark.parametrize("shape", [(-1, 1), (-1,)])
def test_a_binary_torch_teacher_with_one_logit(binary, batch_size, shape):
    X, y = binary
    clf = fit_quick(OneLogit(3, shape), X, y, batch_size=batch_size, loss="mse", alpha=0.0)
    assert clf.teacher_score_ > 0.95


def test_one_binary_logit_means_the_same_for_every_kind_of_teacher(binary):
    X, y = binary
    torch_logits = AlignedTeacher(as_teacher(OneLogit(3)), np.array([0, 1])).logits(X)
    svc = LinearSVC().fit(X, y)
    svc_logits = AlignedTeacher(as_teacher(svc), np.array([0, 1])).logits(X)
    z_torch = 4.0 * X[:, 0]
    np.testing.assert_allclose(torch_logits, np.column_stack([-z_torch / 2, z_torch / 2]),
                               rtol=1e-5)
    z_svc = svc.decision_function(X)
    np.testing.assert_allclose(svc_logits, np.column_stack([-z_svc / 2, z_svc / 2]),
                               rtol=1e-5)


@pytest.mark.filterwarnings("ignore:The teacher.s accuracy")
def test_batch_size_minus_one_queries_a_torch_teacher_in_one_batch(digits):
    X_train, _, y_train, _ = digits
    clf = fit_quick(torch_teacher(), X_train, y_train, batch_size=-1)
    assert clf.teacher_score_ is not None and clf.history_[-1, "train_batch_count"] == 1


def test_a_student_of_the_wrong_width_is_refused_at_the_first_forward(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(StudentError, match=r"returned \(32, 12\), but the task has 10 classes"):
        DistilledClassifier(module=torch.nn.Linear(64, 12), max_epochs=1).fit(X_train, y_train)


class Constant(torch.nn.Module):
    def __init__(self, out):
        super().__init__()
        self.out = out
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.out(x)


@pytest.mark.parametrize("inference", ["once", "per_batch"])
def test_a_teacher_returning_nan_fails_before_training_without_a_chance_warning(digits,
                                                                               inference):
    X_train, _, y_train, _ = digits
    nan = Constant(lambda x: torch.full((len(x), 10), float("nan")))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TeacherNearChanceWarning)
        with pytest.raises(TeacherError, match="The output of the teacher Constant contains "
                                               "NaN or infinity"):
            fit_quick(nan, X_train, y_train, teacher_inference=inference)


def test_a_teacher_returning_a_tuple_is_named(digits):
    X_train, _, y_train, _ = digits
    pair = Constant(lambda x: (torch.zeros(len(x), 10), torch.zeros(len(x))))
    with pytest.raises(TeacherError, match="torch teacher Constant returned tuple, not a tensor"):
        fit_quick(pair, X_train, y_train)


def test_a_teacher_failing_on_the_input_says_it_is_the_teacher(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(TeacherError, match=r"The teacher Sequential failed on input of shape "
                                           r"\(1347, 64\): RuntimeError"):
        fit_quick(torch_teacher(n_features=30), X_train, y_train)


@pytest.mark.parametrize("inference", ["once", "per_batch"])
def test_a_dataframe_reaches_the_teacher_with_its_column_names(inference):
    pd = pytest.importorskip("pandas")
    from sklearn.compose import make_column_transformer

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"size": rng.normal(size=300), "noise": rng.normal(size=300),
                          "count": rng.integers(0, 5, size=300)})
    y = np.where(frame["size"] > 0, "big", "small")
    # The teacher selects its columns by name: it only works on a DataFrame.
    teacher = make_pipeline(
        make_column_transformer((StandardScaler(), ["size", "count"])),
        LogisticRegression(),
    ).fit(frame, y)
    clf = fit_quick(teacher, frame, y, teacher_inference=inference)
    assert clf.teacher_score_ > 0.95
    assert list(clf.feature_names_in_) == ["size", "noise", "count"]
    assert clf.score(frame, y) > 0.8


# --------------------------------------------------------------------------- hardening


@pytest.mark.parametrize(("teacher", "path", "name"), [
    (LogisticRegression, "teacher", "LogisticRegression"),
    ([LogisticRegression(), LinearSVC], "teacher[1]", "LinearSVC"),
    ([[LogisticRegression(), LinearSVC]], "teacher[0][1]", "LinearSVC"),
], ids=["teacher", "member", "nested-member"])
def test_a_teacher_given_as_a_class_says_pass_an_instance(digits, teacher, path, name):
    # Before: "fit() missing 1 required positional argument", from deep inside.
    X_train, _, y_train, _ = digits
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"{path} is the class {name}; pass an instance, e.g. {name}()")):
        fit_quick(teacher, X_train[:100], y_train[:100])
    with pytest.raises(InvalidParameterError, match="is the class"):
        teacher_logits(teacher, X_train[:10])


def test_teacher_logits_of_the_wrong_kind_name_the_cell_and_the_shape():
    expected = r"expected numeric logits of shape \(3, 2\)"
    with pytest.raises(TeacherError, match=r"teacher_logits holds 'a' \(str\) at row 1, "
                                           r"column 0, which is not a number; " + expected):
        check_teacher_logits([[0.0, 1.0], ["a", 1.0], [2.0, 3.0]], 3, 2)
    with pytest.raises(TeacherError, match=r"teacher_logits has rows of different lengths: "
                                           r"row 0 has 2 values, row 2 has 1; expected an "
                                           r"array of shape \(3, 2\)"):
        check_teacher_logits([[0.0, 1.0], [1.0, 2.0], [3.0]], 3, 2)
    # 1e39 is finite, but float32 (where logits are kept) cannot hold it.
    with pytest.raises(TeacherError, match=r"holds 1e\+39 at row 2, column 1, beyond "
                                           r"float32's range"):
        check_teacher_logits(np.array([[0.0, 1.0], [1.0, 2.0], [3.0, 1e39]]), 3, 2)
    with pytest.raises(TeacherError, match=r"NaN or infinity \(nan at row 1, column 1"):
        check_teacher_logits(np.array([[0.0, 1.0], [1.0, np.nan], [3.0, 1.0]]), 3, 2)


def test_precomputed_teacher_logits_of_the_wrong_kind_fail_the_fit_clearly(binary):
    X, y = binary
    logits = [[0.0, 1.0]] * len(y)
    logits[7] = [0.0, "1.5"]
    with pytest.raises(TeacherError, match=r"holds '1\.5' \(str\) at row 7, column 1"):
        DistilledClassifier(max_epochs=1).fit(X, y, teacher_logits=logits)


class Huge(Teacher):
    """A plugin-style teacher whose float64 logits overflow float32."""

    def logits(self, X, batch_size=1024):
        out = np.zeros((len(X), 2))
        out[3, 0] = -1e39
        return out


def test_a_teacher_whose_logits_overflow_float32_is_not_called_nan(binary):
    X, _ = binary
    with pytest.raises(TeacherError, match=r"The output of the teacher .* holds -1e\+39 at "
                                           r"row 3, column 0, beyond float32's range"):
        teacher_logits(Huge(None), X, classes=[0, 1])


def test_minus_one_in_y_points_to_the_unlabeled_parameter(binary):
    # The semi-supervised convention marks unlabeled rows -1; with unlabeled=None
    # that is a class the teacher never saw.
    X, y = binary
    y_semi = y.copy()
    y_semi[::5] = -1
    hint = r"y has the class -1: pass unlabeled=-1 if -1 marks unlabeled rows"
    teacher = LogisticRegression().fit(X, y)
    with pytest.raises(TeacherError, match=r"classes_ \[0, 1\] differ.*" + hint):
        fit_quick(teacher, X, y_semi)
    with pytest.raises(TeacherError, match=r"outputs 2 columns but y has 3 classes.*" + hint):
        fit_quick(torch.nn.Linear(3, 2), X, y_semi)
    with pytest.raises(TeacherError, match="differ") as info:
        fit_quick(teacher, X, np.where(y_semi == -1, 2, y_semi))  # no -1: no hint
    assert "unlabeled" not in str(info.value)
    assert fit_quick(teacher, X, y_semi, unlabeled=-1).teacher_score_ > 0.9


class IntegerLabelsOnly(ClassifierMixin, BaseEstimator):
    """Like xgboost's XGBClassifier: fit refuses labels other than 0 .. n_classes - 1."""

    def fit(self, X, y):
        y = np.asarray(y)
        if y.dtype.kind not in "iu":
            raise ValueError(f"Invalid classes inferred from unique values of `y`: {y[:2]}")
        self.model_ = LogisticRegression(max_iter=200).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


@pytest.mark.parametrize(("teacher", "name"), [
    (IntegerLabelsOnly(), "IntegerLabelsOnly"),
    ([LogisticRegression(max_iter=200), IntegerLabelsOnly()],
     r"teacher\[1\] \(IntegerLabelsOnly\)"),
])
def test_an_unfitted_teacher_whose_fit_fails_is_named(binary, teacher, name):
    X, y = binary
    words = np.array(["no", "yes"])[y]
    with pytest.raises(TeacherError, match=rf"Fitting a clone of the teacher {name} on the "
                                           r"labeled rows failed: ValueError: Invalid classes"
                       ) as info:
        fit_quick(teacher, X, words)
    assert isinstance(info.value.__cause__, ValueError)
    assert "LabelEncoder" in str(info.value)  # the labels are not 0 .. n_classes - 1
    # the encoded labels are what such a teacher needs: the same student then fits
    assert fit_quick(teacher, X, y).teacher_score_ > 0.8


def test_a_failing_teacher_fit_with_integer_labels_gets_no_label_hint(binary):
    X, y = binary

    class Broken(IntegerLabelsOnly):
        def fit(self, X, y):
            raise RuntimeError("out of licences")

    with pytest.raises(TeacherError, match="Broken on the labeled rows failed: RuntimeError: "
                                           "out of licences") as info:
        fit_quick(Broken(), X, y)
    assert "LabelEncoder" not in str(info.value)


def test_an_unfitted_xgboost_teacher_with_string_labels_is_named(binary):
    xgboost = pytest.importorskip("xgboost")
    X, y = binary
    with pytest.raises(TeacherError, match="teacher XGBClassifier on the labeled rows failed"):
        fit_quick(xgboost.XGBClassifier(n_estimators=3), X, np.array(["no", "yes"])[y])


@pytest.fixture(scope="module")
def rare():
    """Three classes, the last one on the last three rows only: KFold(3) leaves it out."""
    X, y = make_classification(240, 6, n_informative=4, n_classes=3, random_state=0)
    y = np.where(y == 2, 1, y)
    y[-3:] = 2
    return X.astype(np.float32), y


def test_a_teacher_that_knows_more_classes_gives_the_columns_of_ys(rare):
    X, y = rare
    teacher = LogisticRegression(max_iter=500).fit(X, y)
    proba = teacher.predict_proba(X)
    kept = teacher_logits(teacher, X, classes=[0, 2])
    # the softmax of the kept columns renormalizes the teacher over y's classes
    np.testing.assert_allclose(torch.softmax(torch.from_numpy(kept), 1).numpy(),
                               proba[:, [0, 2]] / proba[:, [0, 2]].sum(1, keepdims=True),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("inference", ["once", "per_batch"])
def test_a_fold_without_a_class_the_fitted_teacher_knows_is_distilled(rare, inference):
    X, y = rare
    teacher = LogisticRegression(max_iter=500).fit(X, y)
    student = DistilledClassifier(teacher, max_epochs=2, random_state=0,
                                  teacher_inference=inference)
    scores = cross_val_score(student, X, y, cv=KFold(3), error_score="raise")
    assert np.isfinite(scores).all()
    train = np.arange(len(X) - 80)  # KFold(3)'s first two folds: no row of class 2
    fitted = clone(student).fit(X[train], y[train])
    np.testing.assert_array_equal(fitted.classes_, [0, 1])
    assert fitted.teacher_score_ == pytest.approx(np.mean(
        teacher.predict_proba(X[train])[:, :2].argmax(1) == y[train]))


def test_a_fold_without_a_class_a_torch_teacher_knows_says_to_stratify(rare):
    X, y = rare
    train = np.arange(len(X) - 80)
    with pytest.raises(TeacherError, match=r"outputs 3 columns but y has 2 classes.*"
                                           r"StratifiedKFold"):
        fit_quick(torch_teacher(n_features=6, n_classes=3), X[train], y[train])
    logits = teacher_logits(LogisticRegression(max_iter=500).fit(X, y), X)
    with pytest.raises(TeacherError, match=r"teacher_logits has 3 columns, but y has 2 classes"
                                           r".*StratifiedKFold"):
        DistilledClassifier(max_epochs=1).fit(X[train], y[train], teacher_logits=logits[train])
