"""Speed where users feel it: predict overhead and the small-model training loop.

Issue 19's figures, as ratios measured in interleaved rounds on one thread
(the machine's speed drifts, so every round runs every phase once):

- ``predict_proba`` on 10,000 rows and on one row, against a bare
  ``module(X)`` under ``torch.inference_mode`` on the same rows, for the MLP
  (64, 64) on 40 features, the Keras example's CNN student (28x28 images) and
  ``tabular-mlp`` (targets: <= 1.3x on 10,000 rows, <= 3x on one row);
- a training epoch of the MLP (36,000 rows, 40 features, batch 256, soft +
  hard loss with precomputed teacher logits) against the hand-written loop of
  ``handwritten.py``, epochs alternating one by one (target: <= 1.10x, median
  over rounds of each round's median paired ratio).

    python benchmarks/speed.py [--rounds 3]

Writes ``benchmarks/results/speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import machine
from handwritten import train_epoch
from sklearn.datasets import make_classification

from skkd import DistilledClassifier
from skkd.models import MLP

RESULTS = Path(__file__).parent / "results"
STUDENTS = {
    "mlp (64, 64), 40 features": ({"module": "mlp", "module__hidden_sizes": (64, 64)}, 40),
    "cnn-student, 28x28": ({"module": "cnn-student"}, 784),
    "tabular-mlp, 40 features": ({"module": "tabular-mlp"}, 40),
}


def median_ms(fn, repeats: int) -> float:
    """The median wall time of ``fn()`` over ``repeats`` calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def fitted_student(params: dict, n_features: int) -> tuple[DistilledClassifier, np.ndarray]:
    X, y = make_classification(12000, n_features, n_informative=min(20, n_features),
                               n_classes=4, random_state=0)
    X = X.astype(np.float32)
    clf = DistilledClassifier(max_epochs=1, batch_size=256, random_state=0, **params)
    return clf.fit(X[:2000], y[:2000]), X[2000:]


def bare_forward(module: torch.nn.Module, rows: torch.Tensor) -> torch.Tensor:
    """The yardstick: the student's forward pass alone, in eval mode, no autograd."""
    with torch.inference_mode():
        return module(rows)


def predict_one(clf: DistilledClassifier, X: np.ndarray) -> dict:
    module = clf.net_.module_.eval()
    rows, row = torch.from_numpy(X), torch.from_numpy(X[:1])
    return {
        "bare_10000_ms": median_ms(lambda: bare_forward(module, rows), 41),
        "predict_proba_10000_ms": median_ms(lambda: clf.predict_proba(X), 41),
        "bare_1_ms": median_ms(lambda: bare_forward(module, row), 300),
        "predict_proba_1_ms": median_ms(lambda: clf.predict_proba(X[:1]), 300),
    }


def predict_round(students: dict) -> dict:
    return {name: predict_one(clf, X) for name, (clf, X) in students.items()}


def loop_round(epochs: int, device: str = "cpu", mixed_precision: str | None = None) -> dict:
    """``epochs`` skkd epochs and hand-written epochs, alternating one by one.

    The VM's speed drifts within seconds, so each skkd epoch (a warm-started
    ``fit`` of one epoch; ``history_``'s ``dur`` times the epoch alone) is
    paired with the hand-written epoch that follows it; the round's ratio is
    the median of the pairs' ratios.
    """
    X, y = make_classification(36000, 40, n_informative=20, n_classes=4, random_state=0)
    X = X.astype(np.float32)
    logits = np.random.default_rng(0).standard_normal((len(X), 4)).astype(np.float32)
    clf = DistilledClassifier(module__hidden_sizes=(64, 64), batch_size=256, max_epochs=1,
                              alpha=0.5, temperature=2.0, random_state=0, device=device,
                              mixed_precision=mixed_precision, warm_start=True)
    torch.manual_seed(0)
    model = MLP(40, 4, (64, 64)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt, yt, Lt = (torch.from_numpy(a).to(device) for a in (X, y, logits))
    skkd_epochs, hand_epochs = [], []
    for _ in range(epochs):  # the yardstick stays float32 and on the device throughout
        clf.fit(X, y, teacher_logits=logits)
        skkd_epochs.append(float(clf.history_[-1, "dur"]))
        start = time.perf_counter()
        train_epoch(model, optimizer, Xt, yt, batch_size=256, teacher_logits=Lt, alpha=0.5,
                    temperature=2.0)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        hand_epochs.append(time.perf_counter() - start)
    return {"skkd_epoch_s": statistics.median(skkd_epochs),
            "hand_epoch_s": statistics.median(hand_epochs),
            "ratio": statistics.median(s / h for s, h in zip(skkd_epochs, hand_epochs,
                                                             strict=True))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--device", default="cpu",
                        help="where the training-epoch comparison runs (predict: the CPU)")
    parser.add_argument("--mixed-precision", choices=["bf16", "fp16"], default=None,
                        help="skkd's epoch under autocast (the hand-written loop stays float32)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    students = {name: fitted_student(params, n) for name, (params, n) in STUDENTS.items()}
    rounds = []
    for i in range(args.rounds):
        loop = loop_round(args.epochs, args.device, args.mixed_precision)
        rounds.append({"predict": predict_round(students), "loop": loop})
        print(f"round {i + 1}: {json.dumps(rounds[-1])}", flush=True)

    def med(get):
        return statistics.median(get(r) for r in rounds)

    summary = {"predict": {}, "loop": {}}
    for name in STUDENTS:
        s = {k: med(lambda r, k=k, name=name: r["predict"][name][k])
             for k in rounds[0]["predict"][name]}
        s["ratio_10000"] = s["predict_proba_10000_ms"] / s["bare_10000_ms"]
        s["ratio_1"] = s["predict_proba_1_ms"] / s["bare_1_ms"]
        summary["predict"][name] = s
    loop = {k: med(lambda r, k=k: r["loop"][k]) for k in rounds[0]["loop"]}
    loop["ratio"] = med(lambda r: r["loop"]["ratio"])  # of the rounds' paired ratios
    summary["loop"] = loop
    info = machine()
    command = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(
        {"machine": info, "command": command, "rounds": rounds, "summary": summary}, indent=2))
    lines = [
        "# Speed: predict overhead and the training loop",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, one torch thread, torch "
        f"{info['torch']}. Command: `{command.strip()}`. Medians over {args.rounds} "
        "interleaved rounds.",
        "",
        "| student | bare forward, 10,000 rows | predict_proba, 10,000 rows | ratio "
        "(target <= 1.3) | bare forward, 1 row | predict_proba, 1 row | ratio (target <= 3) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in summary["predict"].items():
        lines.append(
            f"| {name} | {s['bare_10000_ms']:.2f} ms | {s['predict_proba_10000_ms']:.2f} ms | "
            f"{s['ratio_10000']:.2f}x | {s['bare_1_ms'] * 1e3:.0f} us | "
            f"{s['predict_proba_1_ms'] * 1e3:.0f} us | {s['ratio_1']:.2f}x |")
    lines += [
        "",
        f"| training epoch on {args.device} (36,000 rows, 40 features, batch 256, soft + hard "
        f"loss{', skkd in ' + args.mixed_precision if args.mixed_precision else ''}) | seconds |",
        "|---|---|",
        f"| hand-written loop (`handwritten.train_epoch`) | {loop['hand_epoch_s']:.3f} |",
        f"| skkd (`history_[:, 'dur']`) | {loop['skkd_epoch_s']:.3f} |",
        f"| ratio, median of each round's paired ratios (target <= 1.10) | "
        f"{loop['ratio']:.2f}x |",
        "",
    ]
    (RESULTS / "speed.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
