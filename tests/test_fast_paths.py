"""The fast paths of predict and of the training loop give what the general ones give."""

import numpy as np
import pytest
import torch
from sklearn.utils.validation import validate_data
from skorch.callbacks import Callback

from skkd import DistilledClassifier


@pytest.mark.parametrize("params", [
    {"module__hidden_sizes": (32,), "module__dropout": 0.3},
    {"module": "tabular-mlp", "module__hidden_sizes": (16,)},
], ids=["mlp-dropout", "tabular-mlp"])
def test_predict_is_one_forward_pass_of_the_student_in_eval_mode(params, digits, lr_teacher):
    from scipy.special import softmax

    X_train, X_test, y_train, _ = digits
    clf = DistilledClassifier(lr_teacher, max_epochs=1, random_state=0, **params)
    clf.fit(X_train, y_train)
    module = clf.net_.module_
    with torch.inference_mode():
        logits = module.eval()(torch.from_numpy(X_test)).numpy()
    module.train()
    expected = softmax(logits.astype(np.float64), axis=1)
    np.testing.assert_allclose(clf.predict_proba(X_test), expected, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[logits.argmax(1)])
    assert not module.training  # eval mode after predict, as after skorch's forward
    # skorch's forward runs batch_size rows at a time: the same values up to float32
    # rounding (a matrix product's blocking depends on the batch's size)
    chunked = clf.net_.forward(X_test, training=False).numpy()
    np.testing.assert_allclose(logits, chunked, rtol=1e-5, atol=1e-6)


def test_the_lean_batch_loop_trains_the_student_a_dataloader_trains(digits, lr_teacher):
    X_train, X_test, y_train, _ = digits
    params = {"max_epochs": 2, "random_state": 0, "module__dropout": 0.2, "alpha": 0.5}
    lean = DistilledClassifier(lr_teacher, **params).fit(X_train, y_train)
    # any DataLoader keyword hands the same batches to a real torch DataLoader
    loader = DistilledClassifier(lr_teacher, iterator_train__num_workers=0,
                                 iterator_valid__num_workers=0, **params).fit(X_train, y_train)
    np.testing.assert_array_equal(lean.predict_proba(X_test), loader.predict_proba(X_test))
    before = torch.random.get_rng_state()
    lean.predict_proba(X_test)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_callbacks_still_read_per_batch_history(digits):
    X_train, _, y_train, _ = digits
    seen = []

    class BatchReader(Callback):
        def on_batch_end(self, net, training=True, **kwargs):
            if training:
                seen.append(net.history[-1, "batches", -1, "train_loss"])

    clf = DistilledClassifier(max_epochs=1, batch_size=256, callbacks=[BatchReader()])
    clf.fit(X_train, y_train)
    assert len(seen) == -(-len(X_train) // 256) and all(np.isfinite(seen))


class _BatchListener(Callback):
    """Acts on every batch: the net runs skorch's own epoch loop."""

    def __init__(self):
        self.batches = 0

    def on_batch_end(self, net, **kwargs):
        self.batches += 1


def test_the_lean_epoch_records_the_history_skorchs_epoch_records(digits, lr_teacher):
    from skorch.dataset import ValidSplit

    X_train, X_test, y_train, _ = digits
    params = {"max_epochs": 2, "random_state": 0, "alpha": 0.5, "batch_size": 64,
              "train_split": ValidSplit(4)}
    lean = DistilledClassifier(lr_teacher, **params).fit(X_train, y_train)
    listener = _BatchListener()
    skorchs = DistilledClassifier(lr_teacher, callbacks=[listener], **params)
    skorchs.fit(X_train, y_train)
    assert listener.batches == sum(len(h["batches"]) for h in skorchs.history_)
    np.testing.assert_array_equal(lean.predict_proba(X_test), skorchs.predict_proba(X_test))
    for lean_epoch, skorch_epoch in zip(lean.history_, skorchs.history_, strict=True):
        assert lean_epoch["batches"] == skorch_epoch["batches"]
        for key in ("train_loss", "valid_loss", "train_batch_count", "valid_batch_count"):
            assert lean_epoch[key] == skorch_epoch[key]


def nan_on_the_third_batch():
    calls = []

    def loss(student_logits, teacher_logits, *, temperature, y=None):
        calls.append(1)
        value = (student_logits - teacher_logits).square().mean()
        return value * float("nan") if len(calls) == 3 else value

    return loss


@pytest.mark.parametrize("callbacks", [[], [_BatchListener()]], ids=["lean", "skorch-loop"])
def test_a_non_finite_soft_loss_mid_epoch_fails_the_fit_clearly(callbacks, digits, lr_teacher):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(lr_teacher, loss=nan_on_the_third_batch(), max_epochs=2,
                              batch_size=64, callbacks=callbacks)
    with pytest.raises(FloatingPointError, match="returned a non-finite value in epoch 1"):
        clf.fit(X_train, y_train)
    # outside an epoch, the net checks every call at once
    net = DistilledClassifier(lr_teacher, max_epochs=1).fit(X_train, y_train).net_
    net.soft_loss = lambda s, t, **kw: s.sum() + float("inf")
    with pytest.raises(FloatingPointError, match=r"returned a non-finite value \(inf\)"):
        net.get_loss(torch.zeros(2, 10), torch.zeros(2, dtype=torch.long),
                     X={"X": torch.zeros(2, 64), "teacher_logits": torch.zeros(2, 10)})


def test_plain_rows_skip_validation_only_when_it_has_nothing_to_say(digits):
    pd = pytest.importorskip("pandas")
    X_train, X_test, y_train, _ = digits
    clf = DistilledClassifier(max_epochs=1).fit(X_train, y_train)
    for rows in (X_test, X_test.astype(np.float64), X_test[:1]):
        np.testing.assert_array_equal(clf._validated_rows(rows),
                                      validate_data(clf, rows, reset=False, dtype=np.float32))
    bad = X_test.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict(bad)
    huge = X_test.astype(np.float64)
    huge[0, 0] = 1e39  # finite in float64, infinite as the student's float32
    with pytest.raises(ValueError, match="Input X contains infinity or a value too large"):
        clf.predict(huge)
    with pytest.raises(ValueError, match="X has 63 features, but DistilledClassifier is "
                                         "expecting 64 features"):
        clf.predict(X_test[:, 1:])
    framed = DistilledClassifier(max_epochs=1).fit(pd.DataFrame(X_train).add_prefix("f"),
                                                   y_train)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        framed.predict(X_test)


def test_an_adam_step_runs_the_closure_once_then_steps_as_skorchs_closure_did(
        digits, lr_teacher, monkeypatch):
    X_train, X_test, y_train, _ = digits
    closures = {}
    adam_step = torch.optim.Adam.step

    def spy(self, closure=None):
        closures.setdefault(type(self).__name__, set()).add(closure is not None)
        return adam_step(self, closure)

    class SubclassedAdam(torch.optim.Adam):  # may override step: skorch's closure it is
        pass

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    params = {"max_epochs": 2, "random_state": 0, "alpha": 0.5, "batch_size": 64}
    lean = DistilledClassifier(lr_teacher, **params).fit(X_train, y_train)
    skorchs = DistilledClassifier(lr_teacher, optimizer=SubclassedAdam, **params)
    skorchs.fit(X_train, y_train)
    assert closures == {"Adam": {False}, "SubclassedAdam": {True}}
    np.testing.assert_array_equal(lean.predict_proba(X_test), skorchs.predict_proba(X_test))
    assert lean.history_[:, "train_loss"] == skorchs.history_[:, "train_loss"]


def test_on_grad_computed_is_notified_only_when_something_listens(digits, monkeypatch):
    from skorch import NeuralNet
    from skorch.callbacks import GradientNormClipping

    X_train, _, y_train, _ = digits
    events = []
    notify = NeuralNet.notify

    def spy(self, method_name, **kwargs):
        events.append(method_name)
        return notify(self, method_name, **kwargs)

    monkeypatch.setattr(NeuralNet, "notify", spy)
    params = {"max_epochs": 1, "batch_size": 256, "random_state": 0}
    DistilledClassifier(**params).fit(X_train, y_train)
    assert "on_train_begin" in events and "on_grad_computed" not in events
    events.clear()
    DistilledClassifier(callbacks=[GradientNormClipping(1.0)], **params).fit(X_train, y_train)
    assert events.count("on_grad_computed") == -(-len(X_train) // 256)
