"""Augmentations: MUNGE transfer sets, shifted images, mixup, and plugins adding more."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from skkd import DistilledClassifier, hookimpl
from skkd.augmentations import Mixup, Munge, Shift
from skkd.exceptions import InvalidParameterError


def test_munge_keeps_shapes_and_categorical_values():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=300), rng.integers(0, 4, size=300),
                         rng.normal(5, 2, size=300)]).astype(np.float32)
    out = Munge(p=0.5, s=2.0, size=2.0).transfer_set(X, np.zeros(300), random_state=0)
    assert out.shape == (600, 3) and out.dtype == np.float32
    assert set(np.unique(out[:, 1])) <= {0.0, 1.0, 2.0, 3.0}  # a category stays a category
    assert not np.isin(out[:, 0], X[:, 0]).all()  # continuous values are perturbed
    assert abs(out[:, 2].mean() - X[:, 2].mean()) < 0.5  # ... locally
    same = Munge(p=0.5, s=2.0, size=2.0).transfer_set(X, np.zeros(300), random_state=0)
    np.testing.assert_array_equal(out, same)
    # p=0 copies the training rows.
    assert np.isin(Munge(p=0.0).transfer_set(X, None, random_state=0), X).all()


def test_munge_swaps_a_one_hot_block_as_a_whole():
    # Two rows, each the other's nearest neighbour, in different categories.
    X = np.array([[0.0, 1, 0, 0], [1.0, 0, 0, 1]], dtype=np.float32)
    block = [1, 2, 3]
    grouped = Munge(p=0.5, size=200, categorical=[block]).transfer_set(X, None, random_state=0)
    np.testing.assert_array_equal(grouped[:, block].sum(axis=1), 1.0)  # still one-hot
    assert {tuple(r) for r in grouped[:, block]} == {(1, 0, 0), (0, 0, 1)}  # and swapped
    # column by column, blocks break: the reason for groups
    loose = Munge(p=0.5, size=200, categorical=block).transfer_set(X, None, random_state=0)
    assert (loose[:, block].sum(axis=1) != 1).mean() > 0.2


def test_shift_translates_images_and_keeps_labels():
    torch.manual_seed(0)
    images = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 16) + 1  # two 4x4 images
    labels = torch.tensor([3, 5])
    out, out_labels = Shift(max_shift=1).augment_batch(images, labels)
    assert out.shape == images.shape and torch.equal(out_labels, labels)
    for original, shifted in zip(images.reshape(2, 4, 4), out.reshape(2, 4, 4), strict=True):
        candidates = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                padded = torch.nn.functional.pad(original, (1, 1, 1, 1))
                candidates.append(padded[1 + dy : 5 + dy, 1 + dx : 5 + dx])
        assert any(torch.equal(shifted, c) for c in candidates)


def test_mixup_appends_soft_only_convex_mixes():
    torch.manual_seed(0)
    xb = torch.rand(8, 5)
    yb = torch.arange(8)
    out, labels = Mixup(alpha=0.4).augment_batch(xb, yb)
    assert out.shape == (16, 5) and torch.equal(out[:8], xb)
    assert torch.equal(labels, torch.cat([yb, torch.full((8,), -1)]))
    assert (out[8:] >= xb.min() - 1e-6).all() and (out[8:] <= xb.max() + 1e-6).all()


class CountingTeacher(LogisticRegression):
    rows = []

    def predict_proba(self, X):
        type(self).rows.append(len(X))
        return super().predict_proba(X)


def test_munge_rows_are_labelled_once_by_the_teacher(digits):
    X_train, X_test, y_train, y_test = digits
    CountingTeacher.rows = []
    teacher = CountingTeacher(max_iter=300).fit(X_train, y_train)
    clf = DistilledClassifier(teacher, augment="munge", augment__size=2.0, max_epochs=2,
                              random_state=0).fit(X_train, y_train)
    assert CountingTeacher.rows == [3 * len(X_train)]
    assert clf.history_[-1, "train_batch_count"] == int(np.ceil(3 * len(X_train) / 32))
    assert clf.score(X_test, y_test) > 0.8


class RecordingNet(torch.nn.Module):
    def __init__(self, seen):
        super().__init__()
        self.seen = seen
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(64, 10)

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.linear(x)


@pytest.mark.filterwarnings("ignore:The teacher.s accuracy")
def test_the_teacher_sees_the_augmented_batch_the_student_sees(digits):
    X_train, _, y_train, _ = digits
    teacher_seen, student_seen = [], []
    student = RecordingNet(student_seen)
    clf = DistilledClassifier(RecordingNet(teacher_seen), module=student, augment="shift",
                              augment__max_shift=2, max_epochs=1, random_state=0)
    clf.fit(X_train, y_train)
    # The net trains a copy of the module: read what that copy recorded.
    n_batches = clf.history_[-1, "train_batch_count"]
    training_batches = clf.net_.module_.seen[:n_batches]
    teacher_batches = teacher_seen[-n_batches:]  # before them: the probe on training rows
    assert all(torch.equal(t, s) for t, s in zip(teacher_batches, training_batches,
                                                  strict=True))
    assert not torch.equal(training_batches[0], torch.from_numpy(X_train[:32]))


@pytest.mark.parametrize("params", [{"teacher": None}, {"alpha": 1.0}])
def test_a_scratch_student_trains_on_shifted_batches(digits, lr_teacher, params):
    X_train, X_test, y_train, y_test = digits
    student_seen = []
    clf = DistilledClassifier(**{"teacher": lr_teacher, **params}, module=RecordingNet(
        student_seen), augment="shift", max_epochs=1, random_state=0).fit(X_train, y_train)
    assert clf.teacher_ is None  # no soft term: the teacher is not used
    first_batch = clf.net_.module_.seen[0]
    assert first_batch.shape == (32, 64)
    # Unshifted, all 32 rows would be training rows; shifted, only the ~1/25
    # drawn with a (0, 0) shift are.
    raw = {row.tobytes() for row in X_train.astype(np.float32)}
    assert sum(row.numpy().tobytes() in raw for row in first_batch) < 16
    assert 0 <= clf.score(X_test, y_test) <= 1


class HalfFlip:
    """A third-party augmentation: appends horizontally flipped 8x8 digits, soft term only."""

    calls = 0

    def __init__(self, side=8):
        self.side = side

    def augment_batch(self, xb, yb):
        type(self).calls += 1
        flipped = xb.reshape(-1, self.side, self.side).flip(2).reshape(len(xb), -1)
        return torch.cat([xb, flipped]), torch.cat([yb, torch.full_like(yb, -1)])


class FlipPlugin:
    @hookimpl
    def skkd_register_augmentations(self, register):
        register("flip", HalfFlip)


def test_an_augmentation_from_a_plugin_works_by_name(fresh_plugins, digits, lr_teacher):
    X_train, _, y_train, _ = digits
    with pytest.raises(InvalidParameterError, match="Unknown augmentation 'flip'"):
        DistilledClassifier(lr_teacher, augment="flip", max_epochs=1).fit(X_train, y_train)
    fresh_plugins.register(FlipPlugin(), name="flip-plugin")
    assert fresh_plugins.plugin_of("augmentations", "flip").name == "flip-plugin"
    HalfFlip.calls = 0
    clf = DistilledClassifier(lr_teacher, augment="flip", augment__side=8, max_epochs=1,
                              random_state=0).fit(X_train, y_train)
    assert HalfFlip.calls == clf.history_[-1, "train_batch_count"] > 0


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"augment": "shift", "augment__shift": 2}, InvalidParameterError,
         r"augment__shift: augmentation 'shift' takes no option 'shift'. Accepted augment__\* "
         r"options: max_shift, input_shape"),
        ({"augment__p": 0.5}, InvalidParameterError, r"augment__\* parameters \['p'\] are set "
                                                    "but augment=None"),
        ({"augment": "munge", "augment__p": 2}, InvalidParameterError, "0 <= augment__p <= 1"),
        ({"augment": "mixup", "teacher": None}, ValueError, "makes rows only a teacher can"),
        ({"augment": "mixup", "alpha": 1.0}, ValueError, "makes rows only a teacher can"),
        ({"augment": "munge", "alpha": 1.0}, ValueError, "makes rows only a teacher can"),
    ],
)
def test_augmentation_mistakes_are_named(digits, lr_teacher, params, error, match):
    X_train, _, y_train, _ = digits
    with pytest.raises(error, match=match):
        DistilledClassifier(**{"teacher": lr_teacher, "max_epochs": 1, **params}).fit(
            X_train, y_train)
