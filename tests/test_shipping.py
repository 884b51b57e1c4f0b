"""Shipping the student alone: ``without_teacher()`` copies, small pickles, fresh processes."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError

from skkd import DistilledClassifier


@pytest.fixture(scope="module")
def forest_student(digits):
    X_train, _, y_train, _ = digits
    forest = RandomForestClassifier(100, random_state=0).fit(X_train, y_train)
    return DistilledClassifier(forest, alpha=0.5, temperature=2.0, max_epochs=2,
                               random_state=0).fit(X_train, y_train)


def test_the_slim_copy_predicts_the_same_and_pickles_small(forest_student, digits):
    _, X_test, _, y_test = digits
    slim = forest_student.without_teacher()
    assert slim.teacher is None and slim.teacher_ is None
    assert forest_student.teacher_ is forest_student.teacher  # the original keeps its teacher
    np.testing.assert_array_equal(slim.predict(X_test), forest_student.predict(X_test))
    np.testing.assert_array_equal(slim.predict_proba(X_test),
                                  forest_student.predict_proba(X_test))
    assert slim.score(X_test, y_test) == forest_student.score(X_test, y_test)
    np.testing.assert_array_equal(slim.classes_, forest_student.classes_)
    assert slim.teacher_score_ == forest_student.teacher_score_
    full, small = pickle.dumps(forest_student), pickle.dumps(slim)
    assert b"RandomForestClassifier" in full and b"RandomForestClassifier" not in small
    assert len(small) < len(full) / 5


def test_the_slim_copy_does_not_share_the_student(forest_student, digits):
    X_train, X_test, y_train, _ = digits
    slim = forest_student.without_teacher()
    before = forest_student.predict_proba(X_test)
    slim.set_params(warm_start=True, max_epochs=1).fit(X_train, y_train)  # trains on, no teacher
    np.testing.assert_array_equal(forest_student.predict_proba(X_test), before)
    assert not np.array_equal(slim.predict_proba(X_test), before)


def test_a_per_batch_teacher_and_augmentation_are_left_behind(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    kd = DistilledClassifier(lr_teacher, augment="shift", max_epochs=1, random_state=0)
    kd.fit(X_train, y_train)
    assert kd.net_.online_teacher is not None and kd.net_.augmentation is not None
    slim = kd.without_teacher()
    assert slim.net_.online_teacher is None and slim.net_.augmentation is None
    assert kd.net_.online_teacher is not None  # the original is untouched
    assert b"LogisticRegression" not in pickle.dumps(slim)


def test_an_unfitted_estimator_has_no_student_to_ship():
    with pytest.raises(NotFittedError):
        DistilledClassifier().without_teacher()


def test_the_slim_pickle_loads_where_the_teacher_cannot_be_imported(tmp_path, digits):
    """The teacher's class lives in a module only the training process can import."""
    X_train, X_test, y_train, _ = digits
    code = tmp_path / "code"
    code.mkdir()
    (code / "private_teacher.py").write_text(textwrap.dedent("""
        from sklearn.linear_model import LogisticRegression

        class PrivateTeacher(LogisticRegression):
            pass
    """))
    sys.path.insert(0, str(code))
    try:
        from private_teacher import PrivateTeacher

        teacher = PrivateTeacher(max_iter=500).fit(X_train, y_train)
        kd = DistilledClassifier(teacher, max_epochs=1, random_state=0).fit(X_train, y_train)
        (tmp_path / "full.pkl").write_bytes(pickle.dumps(kd))
    finally:
        sys.path.remove(str(code))
        sys.modules.pop("private_teacher", None)
    (tmp_path / "slim.pkl").write_bytes(pickle.dumps(kd.without_teacher()))
    np.save(tmp_path / "X.npy", X_test)
    np.save(tmp_path / "expected.npy", kd.predict_proba(X_test))
    script = textwrap.dedent("""
        import pickle, sys
        import numpy as np
        folder = sys.argv[1]
        try:
            pickle.load(open(f"{folder}/full.pkl", "rb"))
        except ModuleNotFoundError as exc:
            print("full:", exc.name)
        slim = pickle.load(open(f"{folder}/slim.pkl", "rb"))
        proba = slim.predict_proba(np.load(f"{folder}/X.npy"))
        print("slim equal:", np.array_equal(proba, np.load(f"{folder}/expected.npy")))
    """)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                            text=True, cwd=tmp_path, check=True)
    assert "full: private_teacher" in result.stdout  # without_teacher is what makes it load
    assert "slim equal: True" in result.stdout


def test_the_student_weights_alone_load_with_weights_only(forest_student, digits, tmp_path):
    import torch

    from skkd.plugins import get_model

    _, X_test, _, _ = digits
    torch.save(forest_student.net_.module_.state_dict(), tmp_path / "student.pt")
    module = get_model("mlp")(forest_student.n_features_in_, len(forest_student.classes_))
    module.load_state_dict(torch.load(tmp_path / "student.pt", weights_only=True))
    with torch.no_grad():
        logits = module.eval()(torch.from_numpy(X_test)).numpy()
    np.testing.assert_array_equal(forest_student.classes_[logits.argmax(1)],
                                  forest_student.predict(X_test))
