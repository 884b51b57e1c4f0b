"""Train the Keras example's CNN teacher once per seed and cache its weights.

The cache lives outside the repository (``$SKKD_BENCH_CACHE`` or
``~/.cache/skkd/benchmarks``), keyed by seed and a hash of the teacher's code
and training protocol, so a code change retrains it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import torch
from handwritten import accuracy, train_epoch

from skkd import models

#: The Keras example's teacher protocol, and a better-trained variant of it:
#: same architecture and 5 epochs, a higher learning rate annealed to zero.
PROTOCOLS = {
    "example": {"epochs": 5, "batch_size": 32, "lr": 1e-3, "optimizer": "Adam"},
    "cosine": {"epochs": 5, "batch_size": 32, "lr": 3e-3, "optimizer": "Adam",
               "schedule": "cosine"},
    # one epoch of "cosine", for machines where the CNN trains slowly
    "short": {"epochs": 1, "batch_size": 32, "lr": 3e-3, "optimizer": "Adam",
              "schedule": "cosine"},
}


def cache_dir() -> Path:
    return Path(os.environ.get("SKKD_BENCH_CACHE", Path.home() / ".cache/skkd/benchmarks"))


def _key(seed: int, recipe: str) -> str:
    # The architecture (the module tree) and the protocol, not the source text:
    # an equivalent rewrite of a layer keeps the cached weights valid, which
    # get_teacher checks by re-measuring the recorded test accuracy.
    architecture = repr(models.cnn_teacher(784, 10))
    protocol = json.dumps(PROTOCOLS[recipe], sort_keys=True)
    digest = hashlib.sha256((architecture + protocol).encode())
    return f"cnn-teacher-seed{seed}-{digest.hexdigest()[:12]}"


def get_teacher(seed, X_train, y_train, X_test, y_test, log=print, recipe="example",
                device="cpu"):
    """Return ``(teacher_module, info)``; train and cache it when not cached.

    ``info`` holds the fit time (s), the per-epoch test accuracy and where
    it was trained. The teacher is trained on ``device`` and returned there; a
    cached one is checked on the CPU, where its accuracy was recorded.
    """
    protocol = PROTOCOLS[recipe]
    path = cache_dir() / (_key(seed, recipe) + ".pt")
    teacher = models.cnn_teacher(X_train.shape[1], 10)
    if path.exists():
        blob = torch.load(path, weights_only=False, map_location="cpu")
        teacher.load_state_dict(blob["state_dict"])
        info = blob["info"]
        recorded = info["test_accuracy_per_epoch"][-1]
        measured = accuracy(teacher, torch.as_tensor(X_test), torch.as_tensor(y_test))
        if abs(measured - recorded) > 1e-3:
            raise RuntimeError(f"cached teacher {path} scores {measured:.4f}, recorded "
                               f"{recorded:.4f}: the model code changed; delete the file.")
        log(f"teacher seed {seed}: loaded from cache {path} (test accuracy {measured:.4f})")
        return teacher.to(device).eval(), info
    torch.manual_seed(seed)
    teacher = models.cnn_teacher(X_train.shape[1], 10).to(device)
    opt = torch.optim.Adam(teacher.parameters(), lr=protocol["lr"])
    scheduler = None
    if protocol.get("schedule") == "cosine":
        steps = protocol["epochs"] * -(-len(X_train) // protocol["batch_size"])
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    X, y = torch.as_tensor(X_train, device=device), torch.as_tensor(y_train, device=device)
    Xt, yt = torch.as_tensor(X_test, device=device), torch.as_tensor(y_test, device=device)
    curve, fit_seconds = [], 0.0
    for epoch in range(protocol["epochs"]):
        start = time.perf_counter()
        train_epoch(teacher, opt, X, y, batch_size=protocol["batch_size"], generator=gen,
                    scheduler=scheduler)
        fit_seconds += time.perf_counter() - start
        curve.append(accuracy(teacher, Xt, yt))
        log(f"teacher seed {seed} epoch {epoch + 1}: test acc {curve[-1]:.4f} "
            f"({fit_seconds:.0f} s so far)")
    info = {"fit_seconds": fit_seconds, "test_accuracy_per_epoch": curve,
            "threads": torch.get_num_threads(), "trained_by": "benchmarks/handwritten.py loop",
            "protocol": protocol, "recipe": recipe, "device": str(device)}
    state = {k: v.cpu() for k, v in teacher.state_dict().items()}
    if str(device) != "cpu":  # the cache check above re-measures on the CPU
        cpu = models.cnn_teacher(X_train.shape[1], 10)
        cpu.load_state_dict(state)
        info["test_accuracy_per_epoch"][-1] = accuracy(
            cpu.eval(), torch.as_tensor(X_test), torch.as_tensor(y_test))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "info": info}, path)
    return teacher.eval(), info


if __name__ == "__main__":
    import sys

    from skkd.datasets import load_fashion_mnist

    data = load_fashion_mnist()
    recipe = sys.argv[1] if len(sys.argv) > 1 else "example"
    for s in [int(a) for a in sys.argv[2:]] or [0]:
        get_teacher(s, *data, recipe=recipe)
