"""The ``skkd`` command: ``skkd demo`` and ``skkd plugins``."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence

import numpy as np
import torch


def _load(dataset: str, path: str | None):
    if dataset == "digits":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            (X / 16).astype(np.float32), y, test_size=0.25, random_state=0, stratify=y
        )
        return X_train, y_train, X_test, y_test, (1, 8, 8)
    from skkd.datasets import load_fashion_mnist

    return (*load_fashion_mnist(path), (1, 28, 28))


# Epoch budgets: the Keras example's for Fashion-MNIST; for the 1,347 digits
# images, enough epochs for a teacher worth distilling in about a minute.
_EPOCHS = {"digits": (20, 10), "fashion-mnist": (5, 3)}


def demo(args: argparse.Namespace) -> int:
    from skkd.experiment import run_keras_experiment, summarize

    X_train, y_train, X_test, y_test, shape = _load(args.dataset, args.data_path)
    teacher_epochs, student_epochs = _EPOCHS[args.dataset]
    if args.teacher_epochs:
        teacher_epochs = args.teacher_epochs
    if args.student_epochs:
        student_epochs = args.student_epochs
    print(
        f"skkd demo: {args.dataset} ({len(X_train)} train / {len(X_test)} test images), "
        f"teacher CNN {teacher_epochs} epochs, students {student_epochs} epochs, "
        f"alpha={args.alpha}, T={args.temperature}, loss={args.loss!r}; "
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
        flush=True,
    )
    runs = []
    for seed in range(args.seeds):
        runs.append(run_keras_experiment(
            X_train, y_train, X_test, y_test, input_shape=shape, seed=seed,
            teacher_epochs=teacher_epochs, student_epochs=student_epochs, alpha=args.alpha,
            temperature=args.temperature, loss=args.loss, lr=args.lr,
            progress=not args.no_progress, curve=bool(args.plot),
        ))
        print(f"seed {seed}: " + ", ".join(
            f"{r.name} {100 * r.test_accuracy:.2f} %" for r in runs[-1].values()), flush=True)
    print()
    print(summarize(runs))
    if args.plot:
        _plot(runs, args.plot, args.dataset)
        print(f"\nwrote {args.plot}")
    return 0


def _plot(runs, path: str, dataset: str) -> None:
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'skkd[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, style in (("teacher", "-"), ("scratch", "--"), ("distilled", "-")):
        curves = [run[key].curve for run in runs if run[key].curve]
        if not curves:
            continue
        mean = 100 * np.mean(curves, axis=0)
        ax.plot(range(1, len(mean) + 1), mean, style, marker="o", label=runs[0][key].name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"skkd demo on {dataset} (mean of {len(runs)} seed(s))")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plugins_command(args: argparse.Namespace) -> int:
    from skkd import plugins

    infos = plugins.list_plugins()
    if args.json:
        print(json.dumps([
            {"name": i.name, "distribution": i.distribution, "version": i.version,
             "registers": i.registered} for i in infos
        ], indent=2))
        return 0
    for info in infos:
        print(f"{info.name} ({info.distribution} {info.version})")
        for kind, names in info.registered.items():
            if names:
                print(f"  {kind}: {', '.join(names)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skkd", description="Knowledge distillation as a scikit-learn estimator."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="teacher CNN vs scratch vs distilled student")
    d.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    d.add_argument("--data-path", default=None, help="directory with the four IDX files")
    d.add_argument("--seeds", type=int, default=1, help="number of seeds (mean ± std)")
    d.add_argument("--plot", metavar="FILE", help="write a PNG of test accuracy per epoch")
    d.add_argument("--alpha", type=float, default=0.1)
    d.add_argument("--temperature", type=float, default=10.0)
    d.add_argument("--loss", default="kl")
    d.add_argument("--lr", type=float, default=1e-3)
    d.add_argument("--teacher-epochs", type=int, default=None)
    d.add_argument("--student-epochs", type=int, default=None)
    d.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    d.set_defaults(func=demo)
    p = sub.add_parser("plugins", help="list installed plugins and what they register")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=plugins_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
