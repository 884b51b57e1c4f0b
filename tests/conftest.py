import os

# Installed third-party plugins stay off unless a test asks for them.
os.environ.setdefault("SKKD_LOAD_PLUGINS", "")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    """Digits scaled to [0, 1], split 75/25, stratified."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(
        (X / 16).astype(np.float32), y, test_size=0.25, random_state=0, stratify=y
    )


@pytest.fixture
def fresh_plugins(monkeypatch):
    """A plugin manager rebuilt for this test and reset afterwards."""
    from skkd import plugins

    plugins.reset()
    yield plugins
    plugins.reset()
