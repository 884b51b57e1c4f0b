"""Augmentations: MUNGE transfer sets, shifted images, mixup, and plugins adding more."""

import math

import numpy as np
import pytest
import torch
from doubles import CountingLR, RecordingLR
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state

from skkd import DistilledClassifier, hookimpl
from skkd.augmentations._batches import check_batch_augmentation
from skkd.augmentations._builtins import Mixup, Munge, Shift
from skkd.augmentations._fit_time import FreshTransferSet, Kind, TrainingColumns, kind_of
from skkd.exceptions import InvalidParameterError, PluginError
from skkd.plugins import get_loss


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
    def __init__(self, seen, n_features=64, n_classes=10):
        super().__init__()
        self.seen = seen
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(n_features, n_classes)

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
    # once per training batch, plus at most one try on two rows before the teacher runs
    assert HalfFlip.calls - clf.history_[-1, "train_batch_count"] in (0, 1)
    assert clf.history_[-1, "train_batch_count"] > 0


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
        ({"augment": "munge", "augment__fresh": True, "teacher": None}, ValueError,
         "makes rows only a teacher can"),
        ({"augment": "munge", "augment__fresh": True, "alpha": 1.0}, ValueError,
         "makes rows only a teacher can"),
        ({"augment": "munge", "augment__fresh": "yes"}, InvalidParameterError,
         "augment__fresh must be True or False"),
    ],
)
def test_augmentation_mistakes_are_named(digits, lr_teacher, params, error, match):
    X_train, _, y_train, _ = digits
    with pytest.raises(error, match=match):
        DistilledClassifier(**{"teacher": lr_teacher, "max_epochs": 1, **params}).fit(
            X_train, y_train)


# ------------------------------------------------------------- kinds


class OnlyTransfer:
    def transfer_set(self, X, y, *, random_state):
        return X


class OnlyBatch:
    def augment_batch(self, xb, yb):
        return xb, yb


class Both(OnlyTransfer, OnlyBatch):
    pass


class FreshTransfer(OnlyTransfer):
    fresh = True


class FreshBatch(OnlyBatch):
    fresh = True  # only a transfer set is drawn anew


class LabelPreserving(OnlyBatch):
    needs_teacher = False


class TransferWithoutTeacher(OnlyTransfer):
    needs_teacher = False  # a transfer set's rows are for a teacher to label, whatever it says


@pytest.mark.parametrize(
    ("augmentation", "expected"),
    [
        (None, Kind()),
        (OnlyTransfer(), Kind(transfer_set=True, needs_teacher=True)),
        (OnlyBatch(), Kind(batch=True, needs_teacher=True)),
        (Both(), Kind(transfer_set=True, batch=True, needs_teacher=True)),
        (FreshTransfer(), Kind(transfer_set=True, fresh=True, needs_teacher=True)),
        (FreshBatch(), Kind(batch=True, needs_teacher=True)),
        (LabelPreserving(), Kind(batch=True, needs_teacher=False)),
        (TransferWithoutTeacher(), Kind(transfer_set=True, needs_teacher=True)),
        (Munge(fresh=True), Kind(transfer_set=True, fresh=True, needs_teacher=True)),
        (Shift(), Kind(batch=True, needs_teacher=False)),
        (Mixup(), Kind(batch=True, needs_teacher=True)),
    ],
    ids=["none", "transfer-set", "batch", "both", "fresh", "fresh-batch", "label-preserving",
         "transfer-needs-teacher", "munge-fresh", "shift", "mixup"],
)
def test_kind_of_reads_what_an_augmentation_declares(augmentation, expected):
    kind = kind_of(augmentation)
    assert (kind.transfer_set, kind.fresh, kind.batch, kind.needs_teacher) == (
        expected.transfer_set, expected.fresh, expected.batch, expected.needs_teacher)


# ------------------------------------------------------------- fresh transfer sets

FRESH = {"augment": "munge", "augment__size": 0.5, "augment__fresh": True, "random_state": 0}


def _rows(a):
    return sorted(row.tobytes() for row in np.asarray(a, dtype=np.float32))


def test_fresh_munge_draws_new_rows_every_epoch_labelled_in_one_call(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:400], y_train[:400]
    RecordingLR.calls = []
    teacher = RecordingLR(max_iter=300).fit(X, y)
    targets = []

    def recording_kl(student_logits, teacher_logits, **kw):
        targets.append(teacher_logits.detach().clone())
        return get_loss("kl")(student_logits, teacher_logits, **kw)

    clf = DistilledClassifier(teacher, module=RecordingNet([]), loss=recording_kl,
                              max_epochs=3, **FRESH).fit(X, y)
    # One call labels the training rows and epoch 1's 200 rows, then one per epoch the new ones.
    assert [len(c) for c in RecordingLR.calls] == [600, 200, 200]
    draws = [RecordingLR.calls[0][400:], *RecordingLR.calls[1:]]
    for a, b in zip(draws[:-1], draws[1:], strict=True):
        assert not set(_rows(a)) & set(_rows(b))  # no row drawn twice
    n_batches = math.ceil(600 / 32)  # as many steps per epoch as with fresh=False
    assert clf.history_[:, "train_batch_count"] == [n_batches] * 3
    seen = clf.net_.module_.seen
    assert len(seen) == len(targets) == 3 * n_batches
    for epoch, draw in enumerate(draws):  # each epoch trains on the rows and that epoch's draw
        batches = slice(epoch * n_batches, (epoch + 1) * n_batches)
        assert _rows(torch.cat(seen[batches])) == sorted(_rows(X) + _rows(draw))
    for xb, target in zip(seen, targets, strict=True):  # ... with the teacher's logits
        proba = LogisticRegression.predict_proba(teacher, xb.numpy())
        np.testing.assert_allclose(target, np.log(np.clip(proba, 1e-12, None)), atol=1e-5)
    assert clf.net_.fresh_transfer is None  # the teacher and the rows are not kept


def test_fresh_munge_is_reproducible_and_a_warm_start_continues_it(digits, lr_teacher):
    X_train, X_test, y_train, _ = digits
    X, y = X_train[:300], y_train[:300]

    def proba(**params):
        clf = DistilledClassifier(lr_teacher, **{"max_epochs": 4, **FRESH, **params})
        return clf.fit(X, y).predict_proba(X_test)

    first = proba()
    np.testing.assert_array_equal(first, proba())
    assert not np.allclose(first, proba(augment__fresh=False))
    assert not np.allclose(first, proba(random_state=1))
    warm = DistilledClassifier(lr_teacher, **{**FRESH, "max_epochs": 2}, warm_start=True)
    warm.fit(X, y).fit(X, y)  # epochs 3 and 4 draw what one 4-epoch fit draws
    np.testing.assert_allclose(warm.predict_proba(X_test), first, atol=1e-5)


def test_a_scikit_learn_teacher_labels_fresh_rows_as_frames():
    pd = pytest.importorskip("pandas")
    X, y = make_classification(n_samples=200, n_features=5, n_informative=3, random_state=0)
    frame = pd.DataFrame(X, columns=list("abcde")).assign(k=np.arange(200) % 3)
    RecordingLR.calls = []
    teacher = RecordingLR(max_iter=300).fit(frame, y)
    DistilledClassifier(teacher, max_epochs=3, **FRESH).fit(frame, y)
    assert [len(c) for c in RecordingLR.calls] == [300, 100, 100]
    for call in RecordingLR.calls:
        assert isinstance(call, pd.DataFrame) and list(call.columns) == list(frame.columns)
        assert (call.dtypes == frame.dtypes).all()
        assert set(call["k"]) <= {0, 1, 2}  # a category stays a category


class Jitter:
    """A third-party fresh transfer set: the training rows plus a little noise."""

    fresh = True

    def __init__(self, scale=0.05, grow=False):
        self.scale, self.grow, self.draws = scale, grow, 0

    def transfer_set(self, X, y, *, random_state):
        self.draws += 1
        rows = X[: len(X) - 10 + self.draws] if self.grow else X
        return rows + check_random_state(random_state).normal(0, self.scale, rows.shape)


class Shifted:
    """A fresh transfer set whose epoch-``e`` rows are the training rows plus ``e``."""

    fresh = True

    def __init__(self):
        self.epoch = 0

    def transfer_set(self, X, y, *, random_state):
        return X + self.epoch


def test_a_fresh_transfer_set_loads_each_epoch_s_rows_over_its_own(digits):
    X = digits[0][:6]
    y_enc = np.arange(6)
    augmentation = Shifted()
    fresh = FreshTransferSet(augmentation, X, X, y_enc, random_state=0)
    X_fit, _, _, y_fit = fresh.add(X, X, y_enc, y_enc)
    assert (fresh.start, fresh.stop) == (6, 12) and (y_fit[6:] == -1).all()
    fresh.label_by(lambda rows: rows[:, :3] * 2, batch_size=4)
    rows, logits = torch.from_numpy(X_fit.copy()), torch.zeros(12, 3)
    augmentation.epoch = 1
    fresh.load(1, TrainingColumns(rows, logits))
    assert fresh.epoch == 1
    np.testing.assert_array_equal(rows[:6].numpy(), X)  # the labeled rows stay
    np.testing.assert_array_equal(rows[6:].numpy(), X + 1)
    np.testing.assert_array_equal(logits[:6].numpy(), 0)
    np.testing.assert_array_equal(logits[6:].numpy(), (X[:, :3] + 1) * 2)
    fresh.label_by(None, batch_size=4)
    with pytest.raises(RuntimeError, match="no teacher to label its rows"):
        fresh.load(2, TrainingColumns(rows, logits))
    fresh.load(2, TrainingColumns(rows))  # per-batch teaching: rows only, unlabelled
    np.testing.assert_array_equal(rows[6:].numpy(), X + 1)  # Shifted.epoch is still 1


class JitterPlugin:
    @hookimpl
    def skkd_register_augmentations(self, register):
        register("jitter", Jitter)


def test_a_fresh_transfer_set_from_a_plugin(fresh_plugins, digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:200], y_train[:200]
    fresh_plugins.register(JitterPlugin(), name="jitter-plugin")
    RecordingLR.calls = []
    teacher = RecordingLR(max_iter=300).fit(X, y)
    DistilledClassifier(teacher, augment="jitter", max_epochs=3, random_state=0).fit(X, y)
    assert [len(c) for c in RecordingLR.calls] == [400, 200, 200]
    with pytest.raises(ValueError, match="generated 192 rows for this epoch and 191 for the"):
        DistilledClassifier(teacher, augment="jitter", augment__grow=True, max_epochs=2,
                            random_state=0).fit(X, y)


class CountingTorchTeacher(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                        torch.nn.Linear(32, 10))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.body(x)


@pytest.mark.filterwarnings("ignore:The teacher.s accuracy")
def test_fresh_rows_refresh_cached_hint_features_from_the_labelling_pass(digits):
    X_train, _, y_train, _ = digits
    teacher = CountingTorchTeacher()
    clf = DistilledClassifier(teacher, hints=[("layers.0", "body.0")], module="mlp",
                              module__hidden_sizes=(32,), teacher_batch_size=100,
                              max_epochs=3, **FRESH).fit(X_train[:300], y_train[:300])
    # a probe for the shapes, one pass over the 450 rows, then one over 150 new rows per
    # epoch: their features come from the pass that labels them
    assert teacher.calls == 1 + 5 + 2 * 2
    assert np.isfinite(clf.history_[:, "train_loss"]).all()


# ------------------------------------------------- options checked before the teacher


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"augment": "munge", "augment__categorical": "none"},
         r"augment__categorical='none' is not one of the accepted values: None, 'auto', a "
         "boolean mask"),
        ({"augment": "munge", "augment__categorical": 3}, "augment__categorical=3 is not one"),
        ({"augment": "munge", "augment__categorical": [1.5]}, r"has the item 1.5"),
        ({"augment": "munge", "augment__categorical": [[]]}, r"has the item \[\]"),
        ({"augment": "munge", "augment__categorical": [True, 3]}, "mixes booleans with"),
        ({"augment": "munge", "augment__categorical": [1, [1, 2]]}, r"column\(s\) \[1\] twice"),
        ({"augment": "munge", "augment__size": math.inf}, "a finite augment__size > 0"),
        ({"augment": "munge", "augment__size": "2"}, "a finite augment__size > 0"),
        ({"augment": "shift", "augment__max_shift": math.inf}, "augment__max_shift must be an"),
        ({"augment": "shift", "augment__max_shift": True}, "augment__max_shift must be an"),
        ({"augment": "shift", "augment__input_shape": 64}, "augment__input_shape=64 must be"),
        ({"augment": "shift", "augment__input_shape": (1, -8, -8)}, "three positive ints"),
        ({"augment": "mixup", "augment__alpha": math.inf}, "augment__alpha must be a finite"),
        ({"augment": "mixup", "augment__alpha": "0.4"}, "augment__alpha must be a finite"),
    ],
)
def test_augmentation_options_are_checked_when_built(digits, params, match):
    X_train, _, y_train, _ = digits
    CountingLR.fits = 0
    with pytest.raises(InvalidParameterError, match=match):
        DistilledClassifier(CountingLR(), max_epochs=1, **params).fit(X_train, y_train)
    assert CountingLR.fits == 0  # before any teacher is fitted


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"augment__categorical": [100]},
         r"augment__categorical names column\(s\) \[100\], but X has 64 columns"),
        ({"augment__categorical": [[0, 1], -65]}, r"column\(s\) \[-65\]"),
        ({"augment__categorical": [True, False]},
         r"augment__categorical is a boolean mask of 2 values, but X has 64 columns"),
        ({"augment__size": 1e9},
         r"augment__size=1000000000.0 asks MUNGE for 1,347,000,000,000 synthetic rows of 64 "
         r"columns .*needs about [\d.,]+ PiB of memory.* Lower augment__size"),
    ],
)
def test_munge_options_that_need_the_data_fail_before_the_teacher_is_fitted(
        digits, params, match):
    X_train, _, y_train, _ = digits
    CountingLR.fits = 0
    with pytest.raises(ValueError, match=match):
        DistilledClassifier(CountingLR(), augment="munge", max_epochs=1, **params).fit(
            X_train, y_train)
    assert CountingLR.fits == 0


def test_munge_refuses_a_transfer_set_larger_than_the_memory_available(monkeypatch, digits):
    X_train, _, y_train, _ = digits
    monkeypatch.setattr("skkd.augmentations._builtins.available_memory", lambda: 2**20)
    with pytest.raises(ValueError, match=r"needs about 1.4 MiB of memory, and this machine "
                                         r"has 1.0 MiB available"):
        Munge(size=2.0).transfer_set(X_train[:300], None, random_state=0)
    # negative indices count from the end
    out = Munge(categorical=[-1]).transfer_set(X_train[:300], None, random_state=0)
    assert np.isin(out[:, 63], X_train[:300, 63]).all()


def test_shift_refuses_a_shift_as_large_as_the_image(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    with pytest.raises(InvalidParameterError,
                       match=r"augment='shift'.*augment__max_shift=8 shifts 8x8 images by "
                             r"their whole height or width .* augment__max_shift <= 7"):
        DistilledClassifier(lr_teacher, augment="shift", augment__max_shift=8,
                            max_epochs=1).fit(X_train, y_train)


# ----------------------------------------- DataFrames: the teacher sees the student's rows


def _frame(pd, n=200):
    X, y = make_classification(n_samples=n, n_features=4, n_informative=3, n_redundant=0,
                               random_state=0)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(X, columns=list("abcd")).assign(
        k=np.arange(n) % 3,  # a category: swapped ("auto"), never interpolated
        age=rng.integers(18, 90, size=n),  # an integer column of many values
    )
    return frame, y


class FrameLR(LogisticRegression):
    """Reads columns a-d of a DataFrame; records every frame it is asked about."""

    calls = []

    def fit(self, X, y):
        return super().fit(X[list("abcd")], y)

    def predict_proba(self, X):
        type(self).calls.append(X.copy())
        return super().predict_proba(X[list("abcd")])


def test_munge_refuses_to_truncate_an_integer_column_for_the_teacher():
    pd = pytest.importorskip("pandas")
    frame, y = _frame(pd)
    teacher = FrameLR().fit(frame, y)
    FrameLR.calls = []
    for fresh in (False, True):
        with pytest.raises(ValueError, match=(
                r"augment='munge' made rows that the DataFrame's dtypes cannot hold exactly, "
                r"in column\(s\) 'age' \(int64: [\d.]+ would become \d+\)\. .*X = X.astype\("
                r"\{'age': 'float64'\}\)\), or, if they hold categories, list them in "
                r"augment__categorical")):
            DistilledClassifier(teacher, augment="munge", augment__fresh=fresh,
                                max_epochs=1, random_state=0).fit(frame, y)
    assert FrameLR.calls == []  # the teacher never labelled truncated rows


def test_munge_hands_the_teacher_exactly_the_rows_the_student_learns():
    pd = pytest.importorskip("pandas")
    frame, y = _frame(pd)
    frame["id"] = 2**53 + np.arange(len(frame))  # not exact in float64
    teacher = FrameLR().fit(frame, y)
    FrameLR.calls = []
    seen = []
    clf = DistilledClassifier(teacher, module=RecordingNet(seen, n_features=7, n_classes=2),
                              augment="munge", augment__categorical=[4, 5, 6],
                              max_epochs=1, random_state=0).fit(frame, y)
    (labelled,) = FrameLR.calls
    assert (labelled.dtypes == frame.dtypes).all()
    # the original rows as the user passed them, then the generated ones
    pd.testing.assert_frame_equal(labelled.iloc[: len(frame)], frame)
    student_rows = torch.cat(clf.net_.module_.seen).numpy()
    assert _rows(student_rows) == _rows(np.concatenate([frame.to_numpy(np.float32),
                                                        labelled.iloc[len(frame):]]))
    generated = labelled.iloc[len(frame):].to_numpy(np.float64)
    assert np.array_equal(generated, generated.astype(np.float32))  # float32 values, exactly


def test_a_batch_augmentation_refuses_to_truncate_an_integer_column():
    pd = pytest.importorskip("pandas")
    frame, y = _frame(pd)
    teacher = FrameLR().fit(frame, y)
    with pytest.raises(ValueError, match=r"A batch augmentation made rows .* column\(s\) "
                                         r"'k' \(int64: .*\); 'age' \(int64: "):
        DistilledClassifier(teacher, augment="mixup", max_epochs=1,
                            random_state=0).fit(frame, y)
    floats = frame.astype({"k": "float64", "age": "float64"})
    teacher = FrameLR().fit(floats, y)
    FrameLR.calls = []
    seen = []
    clf = DistilledClassifier(teacher, module=RecordingNet(seen, n_features=6, n_classes=2),
                              augment="mixup", max_epochs=1, random_state=0).fit(floats, y)
    batches = FrameLR.calls[1:]  # after the probe on the training rows
    for xb, asked in zip(clf.net_.module_.seen, batches, strict=True):
        np.testing.assert_array_equal(asked.to_numpy(np.float32), xb.numpy())


# ------------------------------------------------ plugins that break the batch contract


class Broken:
    """A batch augmentation that breaks the contract the way ``mode`` says."""

    def __init__(self, mode="ok"):
        self.mode = mode

    def augment_batch(self, xb, yb):
        if self.mode == "drop a column":
            return xb[:, 1:], yb
        if self.mode == "drop a label":
            return xb, yb[1:]
        if self.mode == "bare tensor":
            return xb
        if self.mode == "labels out of range":
            return xb, yb + 100
        if self.mode == "nan":
            return xb / 0 * 0, yb
        if self.mode == "float64":
            return xb.double(), yb
        if self.mode == "raises":
            raise RuntimeError("shape '[-1, 9, 9]' is invalid")
        return xb, yb


class BrokenPlugin:
    @hookimpl
    def skkd_register_augmentations(self, register):
        register("broken", Broken)


@pytest.mark.parametrize(
    ("mode", "match"),
    [
        ("drop a column", r"augment='broken' returned rows of shape \(\d+, 63\) for a batch "
                          r"of shape \(\d+, 64\)"),
        ("drop a label", r"augment='broken' returned labels of shape \(\d+,\) for \d+ rows"),
        ("bare tensor", r"augment='broken' returned a tensor of shape \(\d+, 64\) for a "
                        r"batch .* must return a pair \(xb, yb\)"),
        ("labels out of range", r"augment='broken' returned labels outside -1..9 \(e.g. 10\d\)"),
        ("nan", r"augment='broken' returned rows holding NaN or infinity"),
        ("float64", r"augment='broken' returned rows of dtype torch.float64"),
        ("raises", r"augment='broken'.*shape '\[-1, 9, 9\]' is invalid"),
    ],
)
def test_a_batch_augmentation_that_breaks_the_contract_is_named(fresh_plugins, digits,
                                                                 lr_teacher, mode, match):
    X_train, _, y_train, _ = digits
    fresh_plugins.register(BrokenPlugin(), name="broken-plugin")
    # a plugin that raises may be caught by fit's try on two rows, before training
    error = (PluginError, InvalidParameterError) if mode == "raises" else PluginError
    with pytest.raises(error, match=match):
        DistilledClassifier(lr_teacher, augment="broken", augment__mode=mode, max_epochs=1,
                            random_state=0).fit(X_train, y_train)


class NanRows:
    def transfer_set(self, X, y, *, random_state):
        return np.where(np.arange(X.shape[1]) == 3, np.nan, X)


class NanRowsPlugin:
    @hookimpl
    def skkd_register_augmentations(self, register):
        register("nan-rows", NanRows)


def test_a_transfer_set_with_nan_is_blamed_on_the_augmentation(fresh_plugins, digits):
    X_train, _, y_train, _ = digits
    fresh_plugins.register(NanRowsPlugin(), name="nan-plugin")
    RecordingLR.calls = []
    teacher = RecordingLR(max_iter=300).fit(X_train, y_train)
    RecordingLR.calls = []
    with pytest.raises(PluginError, match=r"augment='nan-rows' generated rows holding NaN "
                                          r"or infinity \(1347 of 86208 values"):
        DistilledClassifier(teacher, augment="nan-rows", max_epochs=1).fit(X_train, y_train)
    assert RecordingLR.calls == []


def test_a_batch_augmentation_is_tried_on_two_rows_without_touching_torch_s_random_state(
        digits):
    X_train, _, y_train, _ = digits
    state = torch.random.get_rng_state()
    check_batch_augmentation(Mixup(), "mixup", X_train[:2], y_train[:2])
    assert torch.equal(torch.random.get_rng_state(), state)
    with pytest.raises(InvalidParameterError, match=r"augment='shift': augment__input_shape="
                                                    r"\(1, 4, 4\) must be"):
        check_batch_augmentation(Shift(input_shape=(1, 4, 4)), "shift", X_train[:2],
                                 y_train[:2])
    with pytest.raises(PluginError, match=r"augment='broken' returned a tensor of shape"):
        check_batch_augmentation(Broken("bare tensor"), "broken", X_train[:2], y_train[:2])


# ------------------------------------------------- MUNGE knows the category columns


def _coded_rows(n=400):
    """Two numbers and a column of 40 category codes: more than "auto" takes for categories."""
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 40, n)
    X = np.column_stack([rng.randn(n), rng.randn(n), codes]).astype(np.float32)
    return X, (X[:, 0] + codes % 2 > 0.5).astype(int)


@pytest.mark.parametrize(("categorical", "fresh"), [([2], False), ([False, False, True], True)])
def test_munge_copies_the_student_s_category_codes(categorical, fresh):
    X, y = _coded_rows()
    teacher = RecordingLR().fit(X, y)
    RecordingLR.calls = []
    DistilledClassifier(teacher, module="tabular-mlp", module__categorical=categorical,
                        augment="munge", augment__fresh=fresh, max_epochs=2, batch_size=128,
                        random_state=0).fit(X, y)
    shown = np.concatenate(RecordingLR.calls)
    assert len(shown) >= 2 * len(X) + (len(X) if fresh else 0)  # the generated rows too
    assert np.isin(shown[:, 2], X[:, 2]).all()  # codes copied, never interpolated
    assert not np.isin(shown[:, 0], X[:, 0]).all()  # the numbers are perturbed


def test_the_student_s_category_columns_are_told_unless_the_user_named_them():
    from skkd.augmentations._fit_time import with_categorical

    X, _ = _coded_rows()
    X = np.column_stack([X, X[:, 0] > 0]).astype(np.float32)  # and a 0/1 column
    told = with_categorical(Munge(), [False, False, True, False], X.shape[1])
    assert told.categorical == [2, "auto"]
    assert told._groups(X) == [[2], [3]]  # the student's codes, and what "auto" finds
    assert Munge()._groups(X) == [[3]]  # "auto" alone misses 40 codes
    for named in ([1], None, [True, False, False, False]):
        munge = Munge(categorical=named)
        assert with_categorical(munge, [2], X.shape[1]) is munge
    assert with_categorical(Mixup(), [2], X.shape[1]) is not None
    # a boolean mask names columns
    assert Munge(categorical=[False, True, False, True])._groups(X) == [[1], [3]]
