"""Array-likes scikit-learn accepts: views, Fortran order, read-only arrays, memmaps.

fit, predict, predict_proba, score and teacher_logits take them all, the
teacher side too, without PyTorch's "not writable" warning, and skkd never
writes into memory the user owns.
"""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from skkd import DistilledClassifier
from skkd._arrays import tensor_of, to_tensor
from skkd.teachers._adapters import Teacher
from skkd.training._data import ArrayDataset

NOT_WRITABLE = ".*not writable"


def _readonly(a):
    a = np.array(a)
    a.setflags(write=False)
    return a


def _memmap(path, a, mode):
    out = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
    out[:] = a
    out.flush()
    return np.memmap(path, dtype=a.dtype, mode=mode, shape=a.shape)


#: Each makes an array equal to ``a`` laid out otherwise (``path``: a file it may use).
VIEWS = {
    "rows reversed": lambda a, path: np.ascontiguousarray(a[::-1])[::-1],
    "columns reversed": lambda a, path: np.ascontiguousarray(a[:, ::-1])[:, ::-1],
    "fortran order": lambda a, path: np.asfortranarray(a),
    "read-only": lambda a, path: _readonly(a),
    "read-only, reversed": lambda a, path: _readonly(a[::-1])[::-1],
    "memmap mode r": lambda a, path: _memmap(path, a, "r"),
    "memmap mode c": lambda a, path: _memmap(path, a, "c"),
    "big-endian": lambda a, path: a.astype(a.dtype.newbyteorder(">")),
}


FAST = {"max_epochs": 1, "batch_size": 64, "random_state": 0}


@pytest.fixture(scope="module")
def small(digits):
    X_train, X_test, y_train, y_test = digits
    return X_train[:300], X_test[:100], y_train[:300], y_test[:100]


@pytest.fixture(scope="module")
def reference(small, lr_teacher):
    """A student fitted on plain arrays, and one fitted on the teacher's logits."""
    X, _, y, _ = small
    logits = np.log(lr_teacher.predict_proba(X)).astype(np.float32)
    return (DistilledClassifier(lr_teacher, **FAST).fit(X, y),
            DistilledClassifier(**FAST).fit(X, y, teacher_logits=logits), logits)


@pytest.mark.parametrize("view", VIEWS)
def test_fit_predict_and_score_take_any_array(small, lr_teacher, reference, view, tmp_path):
    X, X_test, y, y_test = small
    X_view = VIEWS[view](X, tmp_path / "train.dat")
    X_test_view = VIEWS[view](X_test, tmp_path / "test.dat")
    np.testing.assert_array_equal(X_view, X)  # the same values, laid out differently
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=NOT_WRITABLE)
        clf = DistilledClassifier(lr_teacher, **FAST).fit(X_view, y)
        proba = clf.predict_proba(X_test_view)
        labels = clf.predict(X_test_view)
        score = clf.score(X_test_view, y_test)
    np.testing.assert_allclose(proba, reference[0].predict_proba(X_test), atol=1e-6)
    np.testing.assert_array_equal(labels, reference[0].predict(X_test))
    assert score == reference[0].score(X_test, y_test)


@pytest.mark.parametrize("view", VIEWS)
def test_teacher_logits_take_any_array(small, reference, view, tmp_path):
    X, _, y, _ = small
    _, expected, logits = reference
    clf = DistilledClassifier(**FAST).fit(
        X, y, teacher_logits=VIEWS[view](logits, tmp_path / "logits.dat"))
    np.testing.assert_allclose(clf.predict_proba(X), expected.predict_proba(X), atol=1e-6)


def _torch_teacher():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, 10))


@pytest.mark.filterwarnings("ignore:The teacher.s accuracy")
@pytest.mark.parametrize("params", [
    {},
    {"teacher_inference": "per_batch"},
    {"hints": [("layers.0", "0")], "module__hidden_sizes": (32,)},
])
def test_a_torch_teacher_takes_reversed_and_readonly_rows(small, params):
    X, _, y, _ = small
    teacher = _torch_teacher()
    flipped = np.ascontiguousarray(X[:, ::-1])[:, ::-1]
    kw = {**FAST, **params}
    reference = DistilledClassifier(teacher, **kw).fit(X, y)
    for rows in (flipped, _readonly(X)):
        clf = DistilledClassifier(teacher, **kw).fit(rows, y)
        assert clf.teacher_score_ == reference.teacher_score_
        np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X),
                                   atol=1e-6)


def test_class_weights_take_a_reversed_view(small):
    X, _, y, _ = small
    weights = np.linspace(1, 2, 10, dtype=np.float32)
    plain = DistilledClassifier(**FAST, criterion__weight=weights).fit(X, y)
    view = DistilledClassifier(**FAST, criterion__weight=np.ascontiguousarray(weights[::-1])[::-1])
    np.testing.assert_array_equal(view.fit(X, y).predict_proba(X), plain.predict_proba(X))


def test_no_not_writable_warning_reaches_the_user():
    # PyTorch warns once per process, so only a fresh interpreter shows whether
    # any conversion still hands it a read-only array.
    script = textwrap.dedent("""
        import tempfile, warnings
        import numpy as np, torch
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
        from skkd import DistilledClassifier
        warnings.filterwarnings("error", message=".*not writable")
        X, y = load_digits(return_X_y=True)
        X = (X[:200] / 16).astype(np.float32)
        y = y[:200]
        path = tempfile.mktemp(suffix=".dat")
        rows = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
        rows[:] = X
        rows.flush()
        mapped = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
        frozen = X.copy()
        frozen.setflags(write=False)
        teacher = LogisticRegression(max_iter=300).fit(X, y)
        logits = np.log(teacher.predict_proba(X)).astype(np.float32)
        logits.setflags(write=False)
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                  torch.nn.Linear(32, 10))
        for data in (frozen, mapped):
            clf = DistilledClassifier(teacher, max_epochs=1).fit(data, y)
            clf.predict(data), clf.predict_proba(data), clf.score(data, y)
            DistilledClassifier(max_epochs=1).fit(data, y, teacher_logits=logits)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The teacher.s accuracy")
                DistilledClassifier(net, max_epochs=1).fit(data, y)
                DistilledClassifier(net, max_epochs=1, teacher_inference="per_batch",
                                    hints=[("layers.0", "0")],
                                    module__hidden_sizes=(32,)).fit(data, y)
        print("converted")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ,
                                            "SKKD_LOAD_PLUGINS": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "converted" in done.stdout


# --------------------------------------------------------------- the conversion's home


def test_to_tensor_shares_what_it_may_and_copies_the_rest(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    tensor, owned = tensor_of(a)
    assert not owned and np.shares_memory(tensor.numpy(), a)  # no copy of plain arrays
    tensor, owned = tensor_of(np.asfortranarray(a))
    assert not owned and tensor.stride() == (1, 3)
    for i, (name, make) in enumerate(VIEWS.items()):
        view = make(a, tmp_path / f"{i}.dat")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # torch's warning about read-only memory too
            tensor, owned = tensor_of(view)
        np.testing.assert_array_equal(tensor.numpy(), a, err_msg=name)
        if any(s < 0 for s in view.strides):  # torch cannot view them: a copy
            assert owned and not np.shares_memory(tensor.numpy(), view), name
        elif not view.flags.writeable:  # read-only (a memory-mapped file): viewed, not loaded
            assert not owned and np.shares_memory(tensor.numpy(), view), name
    assert to_tensor(a, dtype=torch.float64).dtype == torch.float64


def test_the_dataset_copies_user_memory_before_writing_into_it():
    user = np.zeros((4, 3), dtype=np.float32)
    dataset = ArrayDataset({"X": user, "teacher_logits": user[:, :2].copy()})
    dataset.writable("X")[1:3] = 7.0
    assert not user.any()  # the user's array is as it was
    assert float(dataset[torch.tensor([1])][0]["X"].sum()) == 21.0
    mine = np.zeros((4, 3), dtype=np.float32)
    plain = ArrayDataset(mine)
    plain.writable()[0] = 1.0
    assert not mine.any()


class CachingTeacher(Teacher):
    """A teacher that keeps the arrays it answered with (a cache), and checks them later."""

    def __init__(self, model):
        super().__init__(model)
        self.answers = []

    def logits(self, X, batch_size=1024):
        out = np.log(np.clip(self.model.predict_proba(np.asarray(X)), 1e-12, None))
        out = np.ascontiguousarray(out, dtype=np.float32)
        self.answers.append((out, out.copy()))
        return out


def test_fresh_transfer_rows_are_never_written_into_a_teacher_s_arrays(small):
    X, _, y, _ = small
    teacher = CachingTeacher(LogisticRegression(max_iter=300).fit(X, y))
    DistilledClassifier(teacher, augment="munge", augment__size=0.5, augment__fresh=True,
                        max_epochs=3, batch_size=64, random_state=0).fit(X, y)
    assert len(teacher.answers) == 3
    for answered, as_answered in teacher.answers:
        np.testing.assert_array_equal(answered, as_answered)
