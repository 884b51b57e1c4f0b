"""Scale out: a 2-rank data-parallel fit against 1 rank, and a memory-mapped fit's memory.

Issue 20's figures, on this machine:

- throughput (training rows per second, median epoch) of one student trained
  by ``torchrun`` ranks through ``accelerator=Accelerator(cpu=True)``, 1 rank
  against 2, each rank one torch thread, the same global batch;
- peak anonymous memory (RssAnon: what the process allocated, not file pages
  it maps) of ``fit`` on a float32 array opened with ``np.load(mmap_mode="r")``
  against the same array loaded in memory.

    python benchmarks/scale_out.py [--rows 400000] [--memmap-rows 1000000]

Writes ``benchmarks/results/scale_out.{json,md}``. The ranks and the memory
runs are processes of their own (this script re-run with ``--rank`` or
``--memory``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
FEATURES, CLASSES, EPOCHS = 40, 4, 3
GLOBAL_BATCHES = (512, 4096)  # small: one gradient all-reduce per 512 rows; large: per 4096
LABELS = {"memory": "in memory (`np.load`)", "memmap": "memory-mapped (`mmap_mode=\"r\"`)"}


def rank_fit(rows: int, batch: int, out: Path) -> None:
    """One rank: fit a tabular MLP on synthetic rows, write its epoch times."""
    import torch
    from accelerate import Accelerator
    from sklearn.datasets import make_classification

    from skkd import DistilledClassifier

    torch.set_num_threads(1)
    X, y = make_classification(rows, FEATURES, n_informative=20, n_classes=CLASSES,
                               random_state=0)
    X = X.astype(np.float32)
    logits = np.random.default_rng(0).standard_normal((rows, CLASSES)).astype(np.float32)
    accelerator = Accelerator(cpu=True)
    clf = DistilledClassifier(module__hidden_sizes=(256, 256), batch_size=batch,
                              max_epochs=EPOCHS, alpha=0.5, temperature=2.0, random_state=0,
                              accelerator=accelerator, device=None)
    clf.fit(X, y, teacher_logits=logits)
    if accelerator.is_main_process:
        out.write_text(json.dumps({"world": accelerator.num_processes,
                                   "epoch_s": list(clf.history_[:, "dur"])}))


def anonymous_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def write_rows(path: Path, rows: int) -> None:
    """A float32 ``.npy`` file of ``rows`` x 100 standard normal values, written in chunks."""
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 100))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 65536):
        stop = min(start + 65536, rows)
        X[start:stop] = rng.standard_normal((stop - start, 100), dtype=np.float32)
    X.flush()


def memory_fit(mode: str, path: str, out: Path) -> None:
    """Fit one epoch on the array at ``path``, memory-mapped or loaded; write the memory.

    Also run by ``tests/test_scale_out.py`` (a memory-mapped fit must not load the array).
    """
    import torch

    from skkd import DistilledClassifier

    torch.set_num_threads(1)
    X = np.load(path, mmap_mode="r" if mode == "memmap" else None)
    y = (X[:, 0] > 0).astype(np.int64)
    logits = np.stack([X[:, 0], -X[:, 0]], axis=1).astype(np.float32)
    params = {"max_epochs": 1, "batch_size": 4096, "random_state": 0}
    # a first small fit: torch's lazy imports and one-time buffers (the optimizer's
    # first step imports torch._dynamo) are not what the rows cost
    DistilledClassifier(**params).fit(X[:8192], y[:8192], teacher_logits=logits[:8192])
    peak = [0.0]

    def watch() -> None:
        while True:
            peak[0] = max(peak[0], anonymous_mib())
            time.sleep(0.002)

    time.sleep(0.05)
    before = peak[0] = anonymous_mib()
    threading.Thread(target=watch, daemon=True).start()
    start = time.perf_counter()
    clf = DistilledClassifier(**params).fit(X, y, teacher_logits=logits)
    seconds = time.perf_counter() - start
    time.sleep(0.05)
    out.write_text(json.dumps({"mode": mode, "x_mib": X.nbytes / 2**20, "before_mib": before,
                               "peak_mib": peak[0], "fit_s": seconds,
                               "accuracy": float(clf.score(X[:4096], y[:4096]))}))


def throughput(rows: int, batch: int, ranks: int, tmp: Path) -> dict:
    out = tmp / f"ranks{ranks}-batch{batch}.json"
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", str(ranks), __file__, "--rank", str(rows), str(batch),
                    str(out)], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    record = json.loads(out.read_text())
    epoch = statistics.median(record["epoch_s"][1:])  # the first epoch warms up
    return {"ranks": record["world"], "batch": batch, "epoch_s": epoch,
            "rows_per_s": rows / epoch}


def memory(rows: int, tmp: Path) -> list[dict]:
    path = tmp / "X.npy"
    write_rows(path, rows)
    results = []
    for mode in ("memory", "memmap"):
        out = tmp / f"{mode}.json"
        subprocess.run([sys.executable, __file__, "--memory", mode, str(path), str(out)],
                       check=True)
        results.append(json.loads(out.read_text()))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--memmap-rows", type=int, default=1_000_000)
    parser.add_argument("--rank", nargs=3, metavar=("ROWS", "BATCH", "OUT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--memory", nargs=3, metavar=("MODE", "PATH", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank:
        return rank_fit(int(args.rank[0]), int(args.rank[1]), Path(args.rank[2]))
    if args.memory:
        return memory_fit(args.memory[0], args.memory[1], Path(args.memory[2]))

    from common import machine  # beside this script (not on sys.path when a test imports it)

    with tempfile.TemporaryDirectory() as tmp:
        runs = [throughput(args.rows, batch, ranks, Path(tmp))
                for batch in GLOBAL_BATCHES for ranks in (1, 2)]
        mem = memory(args.memmap_rows, Path(tmp))
    info = machine()
    command = "python benchmarks/scale_out.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale_out.json").write_text(json.dumps(
        {"machine": info, "command": command, "throughput": runs, "memory": mem}, indent=2))
    lines = [
        "# Scale out: data-parallel ranks and memory-mapped rows",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}. Command: "
        f"`{command.strip()}`.",
        "",
        f"One student (MLP (256, 256), {FEATURES} features, {CLASSES} classes, soft + hard "
        f"loss), {args.rows:,} rows, {EPOCHS} epochs, "
        "`accelerator=Accelerator(cpu=True)` under `torchrun --standalone`, one torch "
        "thread per rank; median epoch after the first.",
        "",
        "| global batch | ranks | epoch (s) | training rows / s | vs 1 rank |",
        "|---|---|---|---|---|",
        *[f"| {r['batch']} | {r['ranks']} | {r['epoch_s']:.2f} | {r['rows_per_s']:,.0f} | "
          f"{r['rows_per_s'] / runs[i - i % 2]['rows_per_s']:.2f}x |"
          for i, r in enumerate(runs)],
        "",
        f"`fit` (one epoch, batch 4096) on a float32 array of {mem[0]['x_mib']:.0f} MiB "
        "(100 features): peak anonymous memory (RssAnon) during the fit, over the process "
        "before it.",
        "",
        "| X | before fit (MiB) | peak in fit (MiB) | fit adds (MiB) | fit (s) |",
        "|---|---|---|---|---|",
        *[f"| {LABELS[m['mode']]} | "
          f"{m['before_mib']:.0f} | {m['peak_mib']:.0f} | {m['peak_mib'] - m['before_mib']:.0f}"
          f" | {m['fit_s']:.1f} |" for m in mem],
        "",
    ]
    (RESULTS / "scale_out.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return None


if __name__ == "__main__":
    main()
