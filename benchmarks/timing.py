"""Speed targets of the flagship issue, measured with interleaved repeats.

The machine's speed drifts by 10-20 % over minutes (a shared 2-core VM), so a
sequential benchmark compares phases run at different speeds. Here every
round runs each phase once, in the same order, and the report gives the
minimum (the speed the code reaches when undisturbed) and the median over
rounds. Student: the Keras example's CNN, 3 epochs, batch 32, Adam 1e-3;
teacher: the cached example teacher (see ``teacher_cache.py``).

    python benchmarks/timing.py [--rounds 3]

Writes ``benchmarks/results/timing.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from common import RESULTS, machine
from keras_example import EXAMPLE, handwritten_phase, naive_pass, reference_copy, skkd_phase
from teacher_cache import get_teacher

from skkd.datasets import load_fashion_mnist
from skkd.teachers import as_teacher

EPOCHS = 3


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def seconds_and_epochs(result):
    return result["seconds"], result["epoch_seconds"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=None, help="a smoke run on fewer images")
    args = parser.parse_args(argv)
    X, y, Xt, yt = load_fashion_mnist()
    teacher, _ = get_teacher(0, X, y, Xt, yt)
    X, y, Xt, yt = X[:args.images], y[:args.images], Xt[:1000], yt[:1000]
    Xtt, ytt, Xtet, ytet = (torch.as_tensor(a) for a in (X, y, Xt, yt))
    reference = reference_copy(teacher)
    phases = {
        "teacher_pass_reference_batch32_no_grad": lambda: (timed(
            lambda: naive_pass(reference, Xtt))[0], []),
        "teacher_pass_skkd": lambda: (timed(
            lambda: as_teacher(teacher).logits(X, batch_size=32))[0], []),
        "scratch_skkd": lambda: seconds_and_epochs(skkd_phase(
            "scratch (skkd)", X, y, Xt, yt, seed=0, max_epochs=EPOCHS)),
        "scratch_handwritten": lambda: seconds_and_epochs(handwritten_phase(
            "scratch (hand-written)", 0, Xtt, ytt, Xtet, ytet, EPOCHS)),
        "distilled_skkd": lambda: seconds_and_epochs(skkd_phase(
            "distilled (skkd)", X, y, Xt, yt, seed=0, max_epochs=EPOCHS, teacher=teacher,
            **EXAMPLE)),
        "distilled_handwritten": lambda: seconds_and_epochs(handwritten_phase(
            "distilled (hand-written)", 0, Xtt, ytt, Xtet, ytet, EPOCHS, teacher=teacher,
            alpha=EXAMPLE["alpha"], T=EXAMPLE["temperature"])),
    }
    rounds = {name: [] for name in phases}
    epochs = {name: [] for name in phases}
    for r in range(args.rounds):
        for name, fn in phases.items():
            seconds, durs = fn()
            rounds[name].append(seconds)
            epochs[name].extend(durs)
            print(f"round {r}: {name} {seconds:.1f} s", flush=True)

    def stat(name, f=min):
        return f(rounds[name])

    report = {"machine": machine(), "rounds": rounds, "epoch_seconds": epochs,
              "n_images": len(X), "epochs": EPOCHS}
    targets = {}
    for label, f in (("min", min), ("median", statistics.median)):
        ref = stat("teacher_pass_reference_batch32_no_grad", f)
        pas = stat("teacher_pass_skkd", f)
        targets[label] = {
            "distillation / (teacher pass + scratch) [<= 1.1]":
                stat("distilled_skkd", f) / (pas + stat("scratch_skkd", f)),
            "hand-written: distillation / (teacher pass + scratch)":
                stat("distilled_handwritten", f) / (pas + stat("scratch_handwritten", f)),
            "teacher pass / reference batch-32 pass [<= 0.8]": pas / ref,
            "skkd epoch / hand-written epoch [<= 1.10]":
                f(epochs["scratch_skkd"]) / f(epochs["scratch_handwritten"]),
            "teacher pass images/s (skkd)": len(X) / pas,
            "teacher pass images/s (reference)": len(X) / ref,
        }
    report["targets"] = targets
    if args.images:
        print(json.dumps(targets, indent=2))
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "timing.json").write_text(json.dumps(report, indent=2))
    m = report["machine"]
    lines = [
        "# Speed of skkd against a hand-written loop (interleaved rounds)", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} "
        f"threads). {args.rounds} rounds; each round runs every phase once, in this order.",
        "", "| phase | min (s) | median (s) |", "|---|---|---|",
    ]
    for name, values in rounds.items():
        lines.append(f"| {name.replace('_', ' ')} | {min(values):.1f} | "
                     f"{statistics.median(values):.1f} |")
    lines += ["", "| ratio | from minima | from medians |", "|---|---|---|"]
    for key in targets["min"]:
        a, b = targets["min"][key], targets["median"][key]
        fmt = "{:,.0f}" if "images" in key else "{:.3f}"
        lines.append(f"| {key} | {fmt.format(a)} | {fmt.format(b)} |")
    (RESULTS / "timing.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
