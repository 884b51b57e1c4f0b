"""A search spread over a dask cluster gives the scores of a search in one process."""

import json

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


# ------------------------------------------------------------------ data-parallel fits

def test_two_torchrun_ranks_train_the_student_one_process_trains(tmp_path, capfd):
    import os
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    torch = pytest.importorskip("torch")
    pytest.importorskip("accelerate")
    import distributed_fit as rank_script
    from doubles import torch_threads

    script = Path(rank_script.__file__)
    # Like with like: each rank trains with one thread, and so does the reference below.
    env = {**os.environ, "OMP_NUM_THREADS": str(rank_script.THREADS)}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
         "2", str(script), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("train_loss") == 2  # two fits' logs, printed by rank 0 alone
    assert sorted(p.name for p in tmp_path.glob("*.pkl")) == ["once.pkl", "per_batch.pkl"]
    X, y = rank_script.data()
    for inference in ("once", "per_batch"):
        ranks = [torch.load(tmp_path / f"{inference}-rank{r}.pt") for r in (0, 1)]
        records = [json.loads((tmp_path / f"{inference}-rank{r}.json").read_text())
                   for r in (0, 1)]
        assert records[0]["world"] == 2 and records[0]["module"] == "MLP"  # unwrapped
        assert all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0])
        assert records[0]["train_loss"] == records[1]["train_loss"]
        # one process, the same global batches and seed: the same student up to rounding
        with torch_threads(rank_script.THREADS):
            alone = DistilledClassifier(rank_script.teacher(X, y), teacher_inference=inference,
                                        **rank_script.PARAMS).fit(X, y)
        for key, value in alone.net_.module_.state_dict().items():
            torch.testing.assert_close(ranks[0][key], value, rtol=0, atol=1e-5)
        np.testing.assert_allclose(records[0]["train_loss"],
                                   alone.history_[:, "train_loss"], rtol=1e-6)
        fitted = pickle.loads((tmp_path / f"{inference}.pkl").read_bytes())
        np.testing.assert_array_equal(fitted.predict(X), alone.predict(X))
        shipped = fitted.without_teacher()
        assert shipped.accelerator is None and shipped.net_.accelerator is None
        np.testing.assert_array_equal(shipped.predict(X), alone.predict(X))


def test_one_process_with_an_accelerator_fits_what_it_fits_without(digits, lr_teacher, capsys):
    accelerate = pytest.importorskip("accelerate")
    X_train, X_test, y_train, _ = digits
    params = {"max_epochs": 2, "random_state": 0, "alpha": 0.5}
    plain = DistilledClassifier(lr_teacher, **params).fit(X_train, y_train)
    accelerator = accelerate.Accelerator(cpu=True)
    accelerated = DistilledClassifier(lr_teacher, accelerator=accelerator, **params)
    accelerated.fit(X_train, y_train)
    assert capsys.readouterr().out == ""  # verbose=0 prints nothing, as without
    np.testing.assert_array_equal(accelerated.predict_proba(X_test), plain.predict_proba(X_test))
    from sklearn.base import clone

    assert clone(accelerated).accelerator is accelerator  # shared, as the teacher is


def test_an_accelerator_shared_by_many_fits_keeps_none_of_their_students(digits, lr_teacher):
    import gc
    import weakref

    import torch

    accelerate = pytest.importorskip("accelerate")
    X_train, _, y_train, _ = digits
    accelerator = accelerate.Accelerator(cpu=True)
    mine = torch.nn.Linear(2, 2)
    mine_optimizer = torch.optim.SGD(mine.parameters(), lr=0.1)
    mine, mine_optimizer = accelerator.prepare(mine, mine_optimizer)  # the user's own
    est = DistilledClassifier(lr_teacher, accelerator=accelerator, max_epochs=1,
                              random_state=0)
    search = GridSearchCV(est, {"alpha": [0.1, 0.5, 0.9]}, cv=3).fit(X_train, y_train)
    assert search.best_estimator_.net_.module_ is not None
    students = []
    for seed in range(3):
        fitted = DistilledClassifier(lr_teacher, accelerator=accelerator, max_epochs=1,
                                     random_state=seed).fit(X_train, y_train)
        students.append((weakref.ref(fitted.net_.module_),
                         weakref.ref(fitted.net_.optimizer_)))
        del fitted
    gc.collect()
    assert [(module(), optimizer()) for module, optimizer in students] == [(None, None)] * 3
    # what the user prepared stays prepared (accelerator.save_state saves it)
    assert accelerator._models == [mine] and accelerator._optimizers == [mine_optimizer]


@pytest.mark.parametrize(("params", "env", "match"), [
    ({}, {"WORLD_SIZE": "2"}, r"one of 2 ranks.*Accelerator\(cpu=True\)"),
    ({"device": "cuda"}, {}, r"device='cuda', but the accelerator places the student on cpu"),
    ({"mixed_precision": "bf16"}, {}, r"set mixed precision on the Accelerator"),
])
def test_accelerator_mistakes_are_named(params, env, match, digits, lr_teacher, monkeypatch):
    accelerate = pytest.importorskip("accelerate")
    from skkd.exceptions import InvalidParameterError

    X_train, _, y_train, _ = digits
    accelerator = accelerate.Accelerator(cpu=True)  # made before WORLD_SIZE says otherwise
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InvalidParameterError, match=match):
        DistilledClassifier(lr_teacher, accelerator=accelerator, max_epochs=1,
                            **params).fit(X_train, y_train)


def test_rank_shares_of_a_global_batch_partition_it():
    from skkd.training._data import _IndexBatches

    def batches(shard):
        gen = torch_generator()
        return list(_IndexBatches(10, 4, True, False, gen, shard))

    whole = batches(None)  # 4 + 4 + 2 rows
    for world in (2, 3):
        shares = [batches((rank, world)) for rank in range(world)]
        kept = [b for b in whole if len(b) >= world]  # a last batch too small is dropped
        assert {len(s) for s in shares} == {len(kept)}
        for i, batch in enumerate(kept):
            joined = sorted(int(j) for s in shares for j in s[i])
            assert joined == sorted(int(j) for j in batch)


def torch_generator():
    import torch

    return torch.Generator().manual_seed(0)


# ------------------------------------------------------------- teacher outputs on dask

def test_teacher_logits_on_a_dask_cluster_equal_the_in_memory_ones(digits):
    distributed = pytest.importorskip("dask.distributed")
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    from sklearn.ensemble import RandomForestClassifier

    from skkd import teacher_logits

    X_train, X_test, y_train, _ = digits
    forest = RandomForestClassifier(30, random_state=0).fit(X_train, y_train)
    frame = pd.DataFrame(X_train, columns=[f"px{i}" for i in range(64)])
    frame_forest = RandomForestClassifier(30, random_state=0).fit(frame, y_train)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster),
    ):
        lazy = teacher_logits(forest, da.from_array(X_train, chunks=(300, 16)))
        assert isinstance(lazy, da.Array) and lazy.chunks[0][0] == 300
        np.testing.assert_array_equal(lazy.compute(), teacher_logits(forest, X_train))
        from_frame = teacher_logits(frame_forest, dd.from_pandas(frame, npartitions=3))
        np.testing.assert_array_equal(from_frame.compute(), teacher_logits(frame_forest, frame))
        # fit takes what teacher_logits returns
        params = {"max_epochs": 1, "random_state": 0}
        on_dask = DistilledClassifier(**params).fit(X_train, y_train, teacher_logits=lazy)
    in_memory = DistilledClassifier(**params).fit(
        X_train, y_train, teacher_logits=teacher_logits(forest, X_train))
    np.testing.assert_array_equal(on_dask.predict_proba(X_test), in_memory.predict_proba(X_test))


def test_dask_rows_of_unknown_length_are_named(digits):
    da = pytest.importorskip("dask.array")
    from sklearn.linear_model import LogisticRegression

    from skkd import teacher_logits

    X_train, _, y_train, _ = digits
    teacher = LogisticRegression(max_iter=200).fit(X_train, y_train)
    rows = da.from_array(X_train, chunks=100)
    unknown = rows[rows[:, 0] >= 0]  # a boolean mask: chunk lengths unknown
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        teacher_logits(teacher, unknown)


# ------------------------------------------------------------- data larger than memory

def test_a_fit_on_a_memory_mapped_array_does_not_load_it(tmp_path):
    import importlib.util
    import os
    import subprocess
    import sys
    from pathlib import Path

    # the procedure benchmarks/scale_out.py measures, in a process of its own
    script = Path(__file__).parents[1] / "benchmarks" / "scale_out.py"
    spec = importlib.util.spec_from_file_location("scale_out", script)
    scale_out = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scale_out)
    scale_out.write_rows(tmp_path / "X.npy", 800_000)
    out = tmp_path / "memmap.json"
    run = subprocess.run(
        [sys.executable, str(script), "--memory", "memmap", str(tmp_path / "X.npy"), str(out)],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
        timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    measured = json.loads(out.read_text())
    # a budget smaller than the array: loading it whole would alone exceed it
    budget = 0.75 * measured["x_mib"]
    assert measured["peak_mib"] - measured["before_mib"] < budget, measured
    assert measured["accuracy"] > 0.8
