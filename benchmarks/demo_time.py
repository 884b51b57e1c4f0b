"""How long ``skkd demo`` takes on a quiet machine and beside one CPU-bound process.

A new user runs ``skkd demo`` on a laptop whose cores other programs keep busy. This
script runs the demo as that user would (a fresh ``skkd demo --no-progress`` process,
the default digits run with all three parts), interleaving the settings round by
round so that drifts of the machine hit every setting alike:

- the demo's own choice (no ``--threads``: one thread per core that other programs
  leave idle), ``--threads N`` for each N asked (``--threads-list``), and torch's
  default (the demo before it chose its threads: ``--threads`` set to what torch picks
  by itself, ``torch.get_num_threads()`` in a fresh process);
- quiet, and beside one busy process that this script starts before the run and
  stops after it (a Python loop of float arithmetic: one core at 100 %).

    python benchmarks/demo_time.py --rounds 3

Writes ``results/demo_time.{json,md}`` with the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from common import busy_process, log, machine, write_results

TARGETS = {"quiet": 40.0, "busy": 45.0}  # seconds, issue "the demo on a busy machine"


def _default_threads() -> int:
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def _demo(threads: int | None, busy: bool, limit: float) -> float:
    """Wall seconds of one ``skkd demo`` process, beside a busy process if asked; a run
    still going after ``limit`` seconds is stopped and counts as infinite."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    threads_option = [] if threads is None else ["--threads", str(threads)]
    with busy_process(busy):
        start = time.perf_counter()
        try:
            subprocess.run([sys.executable, "-m", "skkd", "demo", "--no-progress",
                            *threads_option], env=env, check=True, stdout=subprocess.DEVNULL,
                           timeout=limit)
        except subprocess.TimeoutExpired:
            return float("inf")
        return time.perf_counter() - start


def _cell(values: list[float], limit: float) -> str:
    if statistics.median(values) == float("inf"):
        return f"> {limit:.0f} (stopped)"
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads-list", type=int, nargs="*", default=[1])
    parser.add_argument("--limit", type=float, default=600.0,
                        help="stop a run after this many seconds (it counts as infinite)")
    args = parser.parse_args()
    default = _default_threads()
    settings = [(None, "the demo's choice (idle cores)")]
    settings += [(t, f"--threads {t}") for t in args.threads_list]
    if default not in args.threads_list:
        settings.append((default, f"torch's default ({default})"))
    times: dict[str, dict[str, list[float]]] = {
        name: {"quiet": [], "busy": []} for _, name in settings}
    for r in range(args.rounds):
        for threads, name in settings:
            for load in ("quiet", "busy"):
                seconds = _demo(threads, load == "busy", args.limit)
                times[name][load].append(seconds)
                log(f"round {r}: {name}, {load}: {seconds:.1f} s")
    report = {"machine": machine(), "rounds": args.rounds, "targets_s": TARGETS,
              "seconds": times,
              "median_s": {name: {load: statistics.median(v) for load, v in loads.items()}
                           for name, loads in times.items()}}
    m = report["machine"]
    lines = [
        "# `skkd demo` wall time, quiet and beside one CPU-bound process",
        "",
        f"{m['cpu']}, {m['cores']} cores; `python benchmarks/demo_time.py "
        f"{' '.join(sys.argv[1:])}`: a fresh `skkd demo --no-progress` process per run (digits, "
        "all three parts), settings interleaved round by round; the busy process is one "
        "Python loop of float arithmetic this script starts and stops. Median (min-max) "
        "seconds.",
        "",
        "| threads | quiet | beside one busy process |",
        "|---|---|---|",
    ]
    for name, loads in times.items():
        cells = [_cell(v, args.limit) for v in (loads["quiet"], loads["busy"])]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    lines += ["", f"Targets: <= {TARGETS['quiet']:.0f} s quiet, <= {TARGETS['busy']:.0f} s "
              "beside one busy process, with the demo's default threads."]
    write_results("demo_time", report, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
