"""The plugin through skkd itself: found via its entry point, searched by GridSearchCV."""

import contextlib
import os

import numpy as np
import pytest
from skkd import DistilledClassifier, plugins
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV


@contextlib.contextmanager
def only_extra_losses():
    """Load skkd's plugins with only this distribution allowed; undo both afterwards.

    The allow-list comes back as it was, and the registry loaded under it is
    forgotten, so the next lookup loads what the restored allow-list says.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SKKD_LOAD_PLUGINS", "skkd-extra-losses")
        plugins.reset()
        try:
            yield
        finally:
            plugins.reset()


@pytest.fixture
def extra_losses_loaded():
    with only_extra_losses():
        yield


def test_loading_only_this_plugin_is_undone_afterwards(monkeypatch):
    monkeypatch.setenv("SKKD_LOAD_PLUGINS", "")
    plugins.reset()
    with pytest.raises(ValueError, match="Unknown loss 'dkd'"):
        plugins.get_loss("dkd")
    with only_extra_losses():
        assert plugins.get_loss("dkd") is not None
    assert os.environ["SKKD_LOAD_PLUGINS"] == ""
    with pytest.raises(ValueError, match="Unknown loss 'dkd'"):
        plugins.get_loss("dkd")


def test_losses_are_registered_by_the_distribution(extra_losses_loaded):
    info = plugins.plugin_of("losses", "dkd")
    assert info.distribution == "skkd-extra-losses"
    assert info.registered["losses"] == ["dkd", "dist"]


def test_grid_search_over_loss_names_and_loss_options(extra_losses_loaded):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    teacher = LogisticRegression(max_iter=1000).fit(X, y)
    grid = [
        {"loss": ["kl", "dist"]},
        {"loss": ["dkd"], "loss__beta": [1.0, 8.0]},
    ]
    search = GridSearchCV(
        DistilledClassifier(teacher=teacher, alpha=0.5, temperature=4.0, max_epochs=4,
                            random_state=0),
        grid, cv=2, error_score="raise",
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.all(scores > 0.7)  # each loss trains a useful student
    tried = [(p["loss"], p.get("loss__beta")) for p in search.cv_results_["params"]]
    assert tried == [("kl", None), ("dist", None), ("dkd", 1.0), ("dkd", 8.0)]
