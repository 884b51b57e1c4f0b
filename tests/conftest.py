import os

# Installed third-party plugins stay off unless a test asks for them.
os.environ.setdefault("SKKD_LOAD_PLUGINS", "")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skkd import plugins  # noqa: E402

# pytester runs the plugin guide's example test as a pytest session of its own.
pytest_plugins = ["pytester"]


def pytest_report_header(config):
    """Torch's thread count in the header: rounding, and so some comparisons, depend on it."""
    import torch

    omp = os.environ.get("OMP_NUM_THREADS", "unset")
    return f"torch {torch.__version__}: {torch.get_num_threads()} threads (OMP_NUM_THREADS={omp})"


@pytest.fixture(scope="session")
def digits():
    """Digits scaled to [0, 1], split 75/25, stratified."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(
        (X / 16).astype(np.float32), y, test_size=0.25, random_state=0, stratify=y
    )


@pytest.fixture(scope="session")
def lr_teacher(digits):
    """A logistic regression fitted on the digits training split: a quick, good teacher."""
    from sklearn.linear_model import LogisticRegression

    X_train, _, y_train, _ = digits
    return LogisticRegression(max_iter=1000).fit(X_train, y_train)


@pytest.fixture(autouse=True)
def _restore_plugin_state():
    """Give every test the plugin allow-list and registry it started with.

    Cheap when nothing changed: the env value and the registry's identity are
    compared. A registry a test loaded lazily is kept if it is what a fresh
    load would give now (same allow-list and sys.path, nothing registered).
    """
    env = os.environ.get(plugins.ALLOW_ENV)
    before = plugins._state.snapshot
    yield
    if os.environ.get(plugins.ALLOW_ENV) != env:
        if env is None:
            os.environ.pop(plugins.ALLOW_ENV, None)
        else:
            os.environ[plugins.ALLOW_ENV] = env
    after = plugins._state.snapshot
    if after is not before and not (
        before is None and after.pristine and after.origin == plugins._origin()
    ):
        plugins._restore(before)


@pytest.fixture
def fresh_plugins():
    """A plugin registry loaded anew for this test (the previous one comes back after)."""
    plugins.reset()
    return plugins
