"""What a user's own small fit gains from threads, batch size and predicting in chunks.

The figures behind the user guide's "Speed" page, each in a fresh process (torch reads
its thread count once), quiet and beside one CPU-bound process that this script
starts and stops, settings interleaved round by round:

- a fit of a small MLP student (10,000 rows, 20 features, 4 classes, 5 epochs,
  batch 256) with 1 torch thread and with torch's default;
- the same fit with batch 32 and with batch 256 (one thread);
- ``predict_proba`` on 10,000 rows: one call, against one call per row of 1,000 rows
  (scaled to 10,000).

    python benchmarks/threads.py --rounds 3

Writes ``results/threads.{json,md}`` with the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from common import busy_process, log, machine, write_results

# One measurement, run in a fresh interpreter: prints {"seconds": ...}.
_CHILD = """
import json, sys, time
import numpy as np, torch
from sklearn.datasets import make_classification
from skkd import DistilledClassifier
what, threads, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if threads:
    torch.set_num_threads(threads)
X, y = make_classification(10_000, 20, n_informative=10, n_classes=4, random_state=0)
X = X.astype(np.float32)
clf = DistilledClassifier(module="mlp", batch_size=batch, max_epochs=5, random_state=0)
start = time.perf_counter()
clf.fit(X, y)
seconds = time.perf_counter() - start
if what == "predict_chunk":
    start = time.perf_counter(); clf.predict_proba(X); seconds = time.perf_counter() - start
elif what == "predict_rows":
    start = time.perf_counter()
    for i in range(1000):
        clf.predict_proba(X[i:i + 1])
    seconds = 10 * (time.perf_counter() - start)
print(json.dumps({"seconds": seconds, "threads": torch.get_num_threads()}))
"""

SETTINGS = {  # name -> (what, threads (0: torch's default), batch size)
    "fit, 1 thread": ("fit", 1, 256),
    "fit, torch's default threads": ("fit", 0, 256),
    "fit, batch 32, 1 thread": ("fit", 1, 32),
    "predict_proba, 10,000 rows in one call": ("predict_chunk", 1, 256),
    "predict_proba, 10,000 rows one by one": ("predict_rows", 1, 256),
}


def _measure(what: str, threads: int, batch: int, busy: bool) -> dict:
    with busy_process(busy):
        out = subprocess.run([sys.executable, "-c", _CHILD, what, str(threads), str(batch)],
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times = {name: {"quiet": [], "busy": []} for name in SETTINGS}
    used = {}
    for r in range(args.rounds):
        for name, (what, threads, batch) in SETTINGS.items():
            for load in ("quiet", "busy"):
                out = _measure(what, threads, batch, load == "busy")
                times[name][load].append(out["seconds"])
                used[name] = out["threads"]
                log(f"round {r}: {name}, {load}: {out['seconds']:.3f} s")
    report = {"machine": machine(), "rounds": args.rounds, "seconds": times,
              "torch_threads": used}
    m = report["machine"]
    lines = [
        "# Threads, batch size and chunks, for a small student",
        "",
        f"{m['cpu']}, {m['cores']} cores; `python benchmarks/threads.py --rounds "
        f"{args.rounds}`: each figure a fresh process, settings interleaved; busy = one "
        "Python loop of float arithmetic beside it. Median (min-max) seconds.",
        "",
        "| setting | torch threads | quiet | beside one busy process |",
        "|---|---|---|---|",
    ]
    for name, loads in times.items():
        cells = [f"{statistics.median(v):.3f} ({min(v):.3f}-{max(v):.3f})"
                 for v in (loads["quiet"], loads["busy"])]
        lines.append(f"| {name} | {used[name]} | {cells[0]} | {cells[1]} |")
    write_results("threads", report, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
