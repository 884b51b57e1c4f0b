"""Ctrl-C stops a fit and a search; warm_start resumes exactly where training stopped."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from skkd import DistilledClassifier


class InterruptAt(Callback):
    """Simulates Ctrl-C at the end of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_what_was_trained_and_is_reraised(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(lr_teacher, max_epochs=5, callbacks=[InterruptAt(2)],
                              random_state=0)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X_train, y_train)
    assert len(clf.history_) == 2
    assert clf.predict(X_train[:5]).shape == (5,)


def test_ctrl_c_stops_a_grid_search(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    fits = []

    class Count(Callback):
        def on_train_begin(self, net, **kwargs):
            fits.append(1)

    search = GridSearchCV(
        DistilledClassifier(lr_teacher, max_epochs=3, callbacks=[Count(), InterruptAt(1)]),
        {"alpha": [0.1, 0.5]}, cv=2)
    with pytest.raises(KeyboardInterrupt):
        search.fit(X_train, y_train)
    assert len(fits) == 1
    assert not hasattr(search, "best_params_")


@pytest.mark.parametrize("module__dropout", [0.0, 0.3])
def test_warm_start_twice_equals_one_longer_fit(digits, lr_teacher, module__dropout):
    X_train, X_test, y_train, _ = digits
    kw = {"random_state": 3, "module__dropout": module__dropout}
    once = DistilledClassifier(lr_teacher, max_epochs=4, **kw).fit(X_train, y_train)
    twice = DistilledClassifier(lr_teacher, max_epochs=2, warm_start=True, **kw)
    twice.fit(X_train, y_train).fit(X_train, y_train)
    assert len(twice.history_) == 4
    np.testing.assert_allclose(twice.predict_proba(X_test), once.predict_proba(X_test),
                               atol=1e-5)


def test_resume_after_ctrl_c_equals_not_stopping(digits, lr_teacher):
    X_train, X_test, y_train, _ = digits
    kw = {"random_state": 1, "module__dropout": 0.2}
    full = DistilledClassifier(lr_teacher, max_epochs=3, **kw).fit(X_train, y_train)
    stop = InterruptAt(2)
    clf = DistilledClassifier(lr_teacher, max_epochs=3, callbacks=[stop], warm_start=True, **kw)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X_train, y_train)
    stop.epoch = -1
    clf.set_params(max_epochs=1).fit(X_train, y_train)
    assert len(clf.history_) == 3
    np.testing.assert_allclose(clf.predict_proba(X_test), full.predict_proba(X_test),
                               atol=1e-5)


def test_warm_start_keeps_the_optimizer_state(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(lr_teacher, max_epochs=1, warm_start=True, random_state=0)
    clf.fit(X_train, y_train)
    optimizer = clf.net_.optimizer_
    steps = next(iter(optimizer.state.values()))["step"].item()
    clf.fit(X_train, y_train)
    assert clf.net_.optimizer_ is optimizer
    assert next(iter(optimizer.state.values()))["step"].item() == 2 * steps


def test_warm_start_refuses_other_classes_or_features(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(max_epochs=1, warm_start=True).fit(X_train, y_train)
    with pytest.raises(ValueError, match="warm_start=True continues the fitted student"):
        clf.fit(X_train, y_train % 5)
    with pytest.raises(ValueError, match="X has 10 features"):
        clf.fit(X_train[:, :10], y_train)


def test_net_partial_fit_refuses_to_drop_the_soft_term(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    clf = DistilledClassifier(lr_teacher, max_epochs=1).fit(X_train, y_train)
    before = {k: v.clone() for k, v in clf.net_.module_.state_dict().items()}
    with pytest.raises(RuntimeError, match="warm_start=True"):
        clf.net_.partial_fit(X_train, y_train)
    assert all(torch.equal(before[k], v) for k, v in clf.net_.module_.state_dict().items())
    # A student trained without a soft term may continue on plain rows.
    plain = DistilledClassifier(max_epochs=1).fit(X_train, y_train)
    plain.net_.partial_fit(X_train, y_train)
    assert len(plain.history_) == 2


def test_resume_in_a_new_estimator_from_skorch_checkpoints(digits, lr_teacher, tmp_path):
    from skorch.callbacks import Checkpoint, LoadInitState

    X_train, X_test, y_train, _ = digits

    def callbacks():
        checkpoint = Checkpoint(monitor="train_loss_best", dirname=str(tmp_path))
        return [checkpoint, LoadInitState(checkpoint)]

    first = DistilledClassifier(lr_teacher, max_epochs=2, callbacks=callbacks(), random_state=0)
    first.fit(X_train, y_train)
    assert (tmp_path / "params.pt").exists()
    # A new estimator (e.g. in a new process) picks up the saved student and history.
    second = DistilledClassifier(lr_teacher, max_epochs=1, callbacks=callbacks(), random_state=5)
    second.fit(X_train, y_train)
    assert len(second.history_) == 3
    fresh = DistilledClassifier(lr_teacher, max_epochs=1, random_state=5).fit(X_train, y_train)
    assert second.score(X_test, digits[3]) > fresh.score(X_test, digits[3])


def test_early_stopping_ends_the_fit_without_an_interrupt(digits, lr_teacher):
    from skorch.callbacks import EarlyStopping
    from skorch.dataset import ValidSplit

    X_train, X_test, y_train, y_test = digits
    # a vanishing lr never improves the validation loss: patience 2 stops after 3 epochs
    clf = DistilledClassifier(lr_teacher, max_epochs=20, lr=1e-12, train_split=ValidSplit(0.2),
                              callbacks=[EarlyStopping(patience=2)], random_state=0)
    clf.fit(X_train, y_train)
    assert len(clf.history_) == 3
    assert 0 <= clf.score(X_test, y_test) <= 1
