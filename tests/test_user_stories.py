"""End to end: the stories of the core issue, through scikit-learn's public API."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from doubles import CountingLR, NoCopyNet
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skkd import DistilledClassifier
from skkd.exceptions import TeacherNearChanceWarning

NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
GRID = {"alpha": [0.1, 0.5], "temperature": [2.0, 5.0]}


@pytest.fixture(scope="module")
def string_digits(digits):
    X_train, X_test, y_train, y_test = digits
    return X_train, X_test, NAMES[y_train], NAMES[y_test]


def test_grid_search_with_a_fitted_sklearn_teacher_never_refits_it(string_digits):
    X_train, X_test, y_train, y_test = string_digits
    CountingLR.fits = 0
    teacher = CountingLR(max_iter=1000).fit(X_train, y_train)
    search = GridSearchCV(DistilledClassifier(teacher=teacher, max_epochs=5, random_state=0),
                          GRID, cv=3).fit(X_train, y_train)
    assert CountingLR.fits == 1
    assert search.best_estimator_.teacher_ is teacher
    assert set(search.predict(X_test)) <= set(NAMES)
    assert search.score(X_test, y_test) > 0.85


def test_grid_search_with_a_torch_teacher_never_copies_it(digits):
    X_train, X_test, y_train, y_test = digits
    teacher = NoCopyNet()
    # a few real steps, so that the teacher's logits mean something
    opt = torch.optim.Adam(teacher.parameters(), lr=1e-2)
    X_t, y_t = torch.from_numpy(X_train), torch.from_numpy(y_train)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(teacher(X_t), y_t).backward()
        opt.step()
    teacher.eval()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    # A torch teacher has no classes_: its columns follow the sorted labels 0..9.
    search = GridSearchCV(DistilledClassifier(teacher=teacher, max_epochs=5, random_state=0),
                          GRID, cv=3).fit(X_train, y_train)
    assert search.best_estimator_.teacher_ is teacher
    assert search.best_estimator_.teacher_score_ > 0.95
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert search.score(X_test, y_test) > 0.85


def test_pipeline_grid_search_with_teacher_logits_and_string_labels(string_digits, tmp_path):
    X_train, X_test, y_train, y_test = string_digits
    raw_teacher = LogisticRegression(max_iter=1000).fit(X_train, y_train)  # raw features
    logits = np.log(raw_teacher.predict_proba(X_train))
    pipe = make_pipeline(StandardScaler(), DistilledClassifier(max_epochs=5, random_state=0))
    grid = {f"distilledclassifier__{k}": v for k, v in GRID.items()}
    search = GridSearchCV(pipe, grid, cv=3).fit(
        X_train, y_train, distilledclassifier__teacher_logits=logits
    )
    student = search.best_estimator_[-1]
    assert student.teacher_score_ == pytest.approx(raw_teacher.score(X_train, y_train))
    predictions = search.predict(X_test)
    assert set(predictions) <= set(NAMES)
    assert search.score(X_test, y_test) > 0.85

    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_array_equal(restored.predict(X_test), predictions)
    joblib.dump(search.best_estimator_, tmp_path / "student.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "student.joblib").predict(X_test),
                                  predictions)


def test_raw_feature_teacher_inside_a_pipeline_warns(string_digits):
    X_train, _, y_train, _ = string_digits
    X_raw = X_train * 16  # digits' own 0..16 pixel scale
    raw_teacher = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X_raw, y_train)
    pipe = make_pipeline(StandardScaler(),
                         DistilledClassifier(teacher=raw_teacher, max_epochs=1, random_state=0))
    with pytest.warns(TeacherNearChanceWarning, match="teacher_logits"):
        pipe.fit(X_raw, y_train)
    assert pipe[-1].teacher_score_ < 0.3
    # The fix the warning names: the teacher's outputs on its own inputs.
    logits = np.log(np.clip(raw_teacher.predict_proba(X_raw), 1e-12, None))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TeacherNearChanceWarning)
        pipe.fit(X_raw, y_train, distilledclassifier__teacher_logits=logits)
    assert pipe[-1].teacher_score_ > 0.95
