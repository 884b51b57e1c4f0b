"""Per-batch teaching with augmentation: skkd's epoch vs teacher forward + student step.

The issue's budget: with a batch augmentation (the teacher queried on every
augmented batch), a skkd training epoch must stay within 1.1 x the time of a
minimal hand-written loop doing the same work: the same ``"shift"`` batches,
the teacher's forward pass on them (eval, no gradient) and the student's
step. Teacher: the Keras example's CNN teacher; student: its CNN student;
batch 32, Adam 1e-3, alpha 0.1, T 10. The teacher's weights are random:
speed does not depend on them. Rounds are interleaved (see ``timing.py``).

    python benchmarks/augment_timing.py [--rounds 3] [--images 8000]

Writes ``benchmarks/results/augment_timing.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from common import RESULTS, machine

from skkd import DistilledClassifier
from skkd.augmentations import Shift
from skkd.datasets import load_fashion_mnist
from skkd.models import cnn_student, cnn_teacher

ALPHA, T, BATCH = 0.1, 10.0, 32


def skkd_epoch(teacher, X, y, seed):
    clf = DistilledClassifier(teacher, module="cnn-student", augment="shift",
                              augment__max_shift=2, alpha=ALPHA, temperature=T,
                              batch_size=BATCH, max_epochs=1, random_state=seed)
    clf.fit(X, y)
    return clf.history_[-1, "dur"]


def handwritten_epoch(teacher, X, y, seed):
    torch.manual_seed(seed)
    student = cnn_student(X.shape[1], 10)
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)
    shift = Shift(max_shift=2)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    teacher.eval()
    start = time.perf_counter()
    student.train()
    order = torch.randperm(len(X_t))
    for i in range(0, len(X_t), BATCH):
        idx = order[i:i + BATCH]
        xb, yb = shift.augment_batch(X_t[idx], y_t[idx])
        with torch.no_grad():
            teacher_logits = teacher(xb)
        logits = student(xb)
        soft = F.kl_div(F.log_softmax(logits / T, dim=1), F.log_softmax(teacher_logits / T, dim=1),
                        reduction="batchmean", log_target=True) * T ** 2
        loss = ALPHA * F.cross_entropy(logits, yb) + (1 - ALPHA) * soft
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    X, y, _, _ = load_fashion_mnist()
    X, y = X[: args.images], y[: args.images].astype(np.int64)
    torch.manual_seed(0)
    teacher = cnn_teacher(X.shape[1], 10)
    rows = []
    for r in range(args.rounds):
        row = {"skkd": skkd_epoch(teacher, X, y, r),
               "handwritten": handwritten_epoch(teacher, X, y, r)}
        row["ratio"] = row["skkd"] / row["handwritten"]
        rows.append(row)
        print(f"round {r}: skkd {row['skkd']:.2f} s, hand-written {row['handwritten']:.2f} s, "
              f"ratio {row['ratio']:.3f}", flush=True)
    ratios = [row["ratio"] for row in rows]
    best = min(r["skkd"] for r in rows) / min(r["handwritten"] for r in rows)
    summary = {"images": len(X), "rounds": rows, "ratio_min": min(ratios),
               "ratio_median": statistics.median(ratios), "ratio_of_fastest": best,
               "machine": machine(),
               "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "augment_timing.json").write_text(json.dumps(summary, indent=2))
    m = summary["machine"]
    md = [
        "# Per-batch teaching with augmentation: skkd epoch vs hand-written loop",
        "",
        f"{len(X)} Fashion-MNIST images, `augment=\"shift\"` (max 2 px), CNN teacher queried on "
        "every augmented batch, CNN student, batch 32; "
        f"{args.rounds} interleaved rounds. Machine: {m['cpu']}, {m['cores']} cores, "
        f"{m['torch_threads']} torch threads, torch {m['torch']}; {summary['date']}.",
        "",
        "| round | skkd epoch (s) | hand-written epoch (s) | ratio |",
        "|---|---|---|---|",
        *[f"| {i} | {r['skkd']:.2f} | {r['handwritten']:.2f} | {r['ratio']:.3f} |"
          for i, r in enumerate(rows)],
        "",
        f"Fastest skkd epoch / fastest hand-written epoch: {best:.3f}; per-round ratio "
        f"minimum {summary['ratio_min']:.3f}, median {summary['ratio_median']:.3f} "
        "(target: at most 1.1).",
    ]
    (RESULTS / "augment_timing.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
