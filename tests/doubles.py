"""Test doubles shared by several test modules."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from sklearn.linear_model import LogisticRegression


class CountingLR(LogisticRegression):
    """Counts every fit, including fits of clones (reset ``CountingLR.fits`` first)."""

    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


class NoCopyNet(torch.nn.Module):
    """A torch teacher for 64 features and 10 classes that fails if it is deep-copied."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                        torch.nn.Linear(64, 10))

    def forward(self, x):
        return self.body(x)

    def __deepcopy__(self, memo):
        raise AssertionError("the teacher was deep-copied")


class RecordingLR(LogisticRegression):
    """Records what every ``predict_proba`` call receives (reset ``RecordingLR.calls`` first)."""

    calls = []

    def predict_proba(self, X):
        type(self).calls.append(X.copy())
        return super().predict_proba(X)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the previous count.

    For comparisons with a process that ran with ``n`` threads: float sums split over
    another number of threads round differently, and training grows the difference.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
