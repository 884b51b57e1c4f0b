"""A search spread over a dask cluster gives the scores of a search in one process."""

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from skkd import DistilledClassifier


def test_grid_search_on_a_dask_cluster_matches_n_jobs_1(digits):
    distributed = pytest.importorskip("dask.distributed")
    X_train, y_train = digits[0][:500], digits[2][:500]
    teacher = LogisticRegression(max_iter=500).fit(X_train, y_train)
    est = DistilledClassifier(teacher, max_epochs=2, module__dropout=0.2, random_state=0)
    grid = {"alpha": [0.1, 0.5]}
    serial = GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X_train, y_train)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
    ):
        on_dask = GridSearchCV(est, grid, cv=2, n_jobs=-1).fit(X_train, y_train)
        workers = client.run(lambda: True)
    assert len(workers) == 2
    for key in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(on_dask.cv_results_[key], serial.cv_results_[key])
    assert on_dask.best_params_ == serial.best_params_
