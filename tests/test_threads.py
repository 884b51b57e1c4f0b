"""Fits in threads keep every promise: reproducible results, an unchanged shared teacher."""

import threading

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from skkd import DistilledClassifier


def run_in_threads(*jobs):
    """Run each job in its own thread, released together; re-raise the first error."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []

    def target(i, job):
        barrier.wait()
        try:
            results[i] = job()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_fits_in_threads_equal_fits_in_sequence(digits, lr_teacher):
    X_train, X_test, y_train, _ = digits
    make = [lambda seed=seed: DistilledClassifier(
        lr_teacher, max_epochs=2, module__dropout=0.2, random_state=seed) for seed in (0, 1)]
    sequential = [m().fit(X_train, y_train).predict_proba(X_test) for m in make]
    threaded = run_in_threads(*[lambda m=m: m().fit(X_train, y_train) for m in make])
    for clf, expected in zip(threaded, sequential, strict=True):
        np.testing.assert_array_equal(clf.predict_proba(X_test), expected)


def test_grid_search_with_threads_matches_n_jobs_1(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    est = DistilledClassifier(lr_teacher, max_epochs=2, module__dropout=0.2, random_state=0)
    grid = {"alpha": [0.1, 0.5]}
    serial = GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X_train, y_train)
    with joblib.parallel_config(backend="threading"):
        threaded = GridSearchCV(est, grid, cv=2, n_jobs=2).fit(X_train, y_train)
    for key in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(threaded.cv_results_[key], serial.cv_results_[key])


class NormTeacher(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(64, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(),
            torch.nn.Dropout(0.5), torch.nn.Linear(32, 10))

    def forward(self, x):
        return self.body(x)


@pytest.mark.parametrize("inference", ["per_batch", "once"])
@pytest.mark.filterwarnings("ignore:The teacher.s accuracy")
def test_a_shared_train_mode_teacher_is_unchanged_by_concurrent_fits(digits, inference):
    X_train, _, y_train, _ = digits
    teacher = NormTeacher().train()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}

    def fit():
        return DistilledClassifier(teacher, max_epochs=1, teacher_inference=inference,
                                   teacher_batch_size=8, random_state=0).fit(X_train, y_train)

    a, b = run_in_threads(fit, fit, fit)[:2]
    assert all(m.training for m in teacher.modules())
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert a.teacher_score_ == b.teacher_score_
