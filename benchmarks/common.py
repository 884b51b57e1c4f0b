"""What the benchmark scripts share: the machine they ran on, results files, timings.

A script run as ``python benchmarks/NAME.py`` finds this module beside it (Python
puts the script's folder first on ``sys.path``): ``from common import machine``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import LRScheduler

import skkd

RESULTS = Path(__file__).parent / "results"


def log(*args) -> None:
    print(*args, flush=True)


def write_results(stem: str, report: dict, markdown: str) -> None:
    """``results/{stem}.json`` and ``results/{stem}.md``; the Markdown is printed too."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=1, default=float))
    (RESULTS / f"{stem}.md").write_text(markdown)
    log(markdown)


def machine() -> dict:
    """The CPU, cores, torch threads and versions a result was measured with."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "skkd": skkd.__version__, "platform": platform.platform()}


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)


def checksum(module: torch.nn.Module) -> str:
    """A digest of a module's weights and modes: proof that a teacher was left untouched."""
    digest = hashlib.sha256()
    for key, value in module.state_dict().items():
        digest.update(key.encode() + value.cpu().numpy().tobytes())
    digest.update(str([m.training for m in module.modules()]).encode())
    return digest.hexdigest()


def cosine(n_rows: int, epochs: int, batch_size: int) -> LRScheduler:
    """Cosine annealing of the learning rate to zero over every batch of the budget."""
    steps = epochs * math.ceil(n_rows / batch_size)
    return LRScheduler(policy="CosineAnnealingLR", T_max=steps, step_every="batch")


def n_parameters(model) -> int:
    """Student or torch module: trainable weights; trees: nodes (a GBM's over all its trees)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    if isinstance(model, skkd.DistilledClassifier):
        model = model.net_.module_
    if isinstance(model, torch.nn.Module):
        return sum(p.numel() for p in model.parameters())
    if hasattr(model, "steps"):
        model = model.steps[-1][1]
    if isinstance(model, HistGradientBoostingClassifier):
        return int(sum(len(p.nodes) for it in model._predictors for p in it))
    if isinstance(model, RandomForestClassifier):
        return int(sum(t.tree_.node_count for t in model.estimators_))
    return int(sum(n_parameters(m) for m in model))


def latency(fn, X: np.ndarray, repeats: int) -> dict:
    """Median seconds of ``fn`` on one row (``repeats`` different rows) and per row of 1,000."""
    fn(X[:1])
    single = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(X[i:i + 1])
        single.append(time.perf_counter() - start)
    batch = []
    for _ in range(3):
        start = time.perf_counter()
        fn(X[:1000])
        batch.append(time.perf_counter() - start)
    return {"one_row_ms": 1e3 * statistics.median(single),
            "per_row_in_1000_us": 1e3 * statistics.median(batch)}


def one_thread_session(onx):
    """An onnxruntime session of ``onx`` on the CPU, one thread (one row has nothing to share
    out; more threads only add their wake-up)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(onx.SerializeToString(), options,
                                        providers=["CPUExecutionProvider"])


def onnx_probabilities(onx):
    """``rows -> probabilities`` of a student's ONNX graph in onnxruntime, on one thread."""
    session = one_thread_session(onx)

    def proba(rows):
        return session.run(["probabilities"], {"X": rows})[0]
    return proba


def _spin(stop) -> None:
    x = 0.0
    while not stop.is_set():
        for i in range(100_000):
            x += i * 1e-9


@contextlib.contextmanager
def busy_process(busy: bool = True):
    """Run the block beside one CPU-bound process (a Python loop of float arithmetic),
    started a second before the block and stopped after it; nothing when not ``busy``."""
    if not busy:
        yield
        return
    stop = multiprocessing.Event()
    spinner = multiprocessing.Process(target=_spin, args=(stop,))
    spinner.start()
    time.sleep(1.0)  # the busy process is running before the block starts
    try:
        yield
    finally:
        stop.set()
        spinner.join()
