"""The ``skkd`` command: ``skkd demo``, ``skkd export`` and ``skkd plugins``.

Only the standard library is imported here at module level, so ``skkd --help``
and ``skkd --version`` answer at once; numpy, torch and scikit-learn load
inside the commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from skkd import __version__
from skkd.cli import _demo as demo_
from skkd.cli import _export as export_
from skkd.cli._common import UsageError, at_least_one, positive, unit_interval
from skkd.cli._plugins import plugins_command
from skkd.demo._parts import FLIGHTS_ROWS, RECIPES, UNLABELED_PER_ROW

# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skkd", description="Knowledge distillation as a scikit-learn estimator."
    )
    parser.add_argument("--version", action="version", version=f"skkd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser(
        "demo", help="teacher vs scratch vs distilled student: CNNs, then a tree model",
        description=demo_.DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits",
                   help="digits: 1,797 8x8 images, ~1 min on 2 CPU cores; fashion-mnist: "
                        "70,000 28x28 images, ~16 min a seed on 2 CPU cores "
                        "(default: %(default)s)")
    d.add_argument("--data-path", metavar="DIR", default=None,
                   help="directory with the four Fashion-MNIST IDX files, .gz or not "
                        "(default: /usr/share/datasets/fashion-mnist, Debian's "
                        "dataset-fashion-mnist)")
    d.add_argument("--seeds", type=at_least_one, default=1, metavar="N",
                   help="number of seeds, reported as mean ± std; each seed is a full run "
                        "(default: %(default)s)")
    d.add_argument("--plot", metavar="FILE",
                   help="write a PNG of test accuracy per epoch (needs matplotlib; "
                        "default: no plot)")
    d.add_argument("--recipe", choices=list(RECIPES), default="default",
                   help="alpha and T of the distilled students: skkd's defaults (chosen by "
                        "measurement) or the Keras example's (alpha 0.1, T 10) "
                        "(default: %(default)s)")
    d.add_argument("--alpha", type=unit_interval, default=None,
                   help="weight of the hard-label term, in [0, 1]: loss = alpha * hard + "
                        "(1 - alpha) * soft (default: the recipe's; part 3's student: 'auto')")
    d.add_argument("--temperature", type=positive, default=None, metavar="T",
                   help="softmax temperature of the soft term, > 0 (default: the recipe's; "
                        "part 3's student: 'auto')")
    d.add_argument("--loss", default="kl",
                   help="registered KD loss, see `skkd plugins` (default: %(default)s)")
    d.add_argument("--lr", type=positive, default=1e-3,
                   help="Adam learning rate of the CNNs, > 0 (default: %(default)s)")
    d.add_argument("--teacher-epochs", type=at_least_one, default=None, metavar="N",
                   help="teacher training epochs, >= 1 (default: 20 for digits, "
                        "5 for fashion-mnist)")
    d.add_argument("--student-epochs", type=at_least_one, default=None, metavar="N",
                   help="epochs of each CNN student, >= 1 (default: 10 for digits, "
                        "3 for fashion-mnist)")
    d.add_argument("--flights-rows", type=at_least_one, default=FLIGHTS_ROWS, metavar="N",
                   help="flights sampled for part 3, a quarter of them for testing; "
                        f"{UNLABELED_PER_ROW} further unlabeled flights per training flight "
                        "(default: %(default)s)")
    d.add_argument("--threads", type=at_least_one, default=None, metavar="N",
                   help="threads for training and prediction (torch, OpenMP, BLAS); "
                        "threads that fight other busy programs for cores make every step "
                        "wait (default: one per core that other programs leave idle, "
                        "measured when the demo starts, at least one)")
    d.add_argument("--no-progress", action="store_true",
                   help="hide the progress bars (default: shown)")
    d.set_defaults(func=demo_.demo, parser=d)
    e = sub.add_parser(
        "export", help="write a DistilledClassifier, DistilledRegressor or Pipeline as ONNX",
        description=export_.DESCRIPTION, epilog=export_.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("model", metavar="MODEL",
                   help="a student file of skkd.save_student (safe), or, with "
                        "--trust-pickle, a pickle or joblib file")
    e.add_argument("--trust-pickle", action="store_true",
                   help="allow MODEL to be a pickle or joblib file, and unpickle it: that runs "
                        "any code the file holds, so only for files you trust; never for a "
                        "file named *.skkd or tagged as a student file (default: refuse "
                        "pickles)")
    e.add_argument("--onnx", metavar="OUT", required=True, help="the ONNX file to write")
    e.add_argument("--check", metavar="X.npy", default=None,
                   help="rows to compare onnxruntime with scikit-learn on (a .npy array; a "
                        "student of a raw DataFrame takes a .csv or .parquet file of its "
                        "columns): equal labels, "
                        "probabilities within 1e-4; a regressor's predictions within 1e-5 "
                        "times y's spread (default: no check)")
    e.add_argument("--no-zipmap", action="store_true",
                   help="probabilities as an (N, n_classes) tensor, not one map per row; "
                        "needed by bool, floating-point and uint64 >= 2**63 labels, which "
                        "keep their dtype; classifiers only (default: maps, skl2onnx's "
                        "default)")
    e.set_defaults(func=export_.export_command, parser=e)
    p = sub.add_parser("plugins", help="list installed plugins and what they register")
    p.add_argument("--json", action="store_true",
                   help="machine-readable output; a skipped plugin has an 'error'")
    p.set_defaults(func=plugins_command, parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        args.parser.error(str(exc))  # usage and one error line to stderr, exit status 2
        return 2


if __name__ == "__main__":
    sys.exit(main())
