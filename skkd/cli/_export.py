"""``skkd export``: a fitted student (a student file, or a trusted pickle) to ONNX."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from skkd.cli._common import UsageError, first_line

DESCRIPTION = """\
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

A student fitted on a raw DataFrame (it encodes the columns itself) gets one
input per column, named by the column, of shape (N, 1), as skl2onnx converts a
model of a DataFrame: strings and categories of strings as string tensors (a
missing value fed as ""), numbers as float64 (NaN for missing), bools as bool
(float64 if they had missing values in fit). Its --check rows are a .csv or
.parquet file of those columns, not a .npy array.
"""


EPILOG = """\
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


def _check_output(out: Path, inputs: Sequence[Path]) -> None:
    """OUT names a file this process can write, and none of the inputs."""
    try:
        is_dir, existed = out.is_dir(), out.exists()
        folder = out.resolve().parent
        if is_dir:
            raise UsageError(f"argument --onnx: {out} is a directory; name the ONNX file to "
                              f"write, e.g. --onnx {out / 'model.onnx'}")
        if not folder.is_dir():
            raise UsageError(f"argument --onnx: folder {folder} does not exist")
        if existed and any(path.exists() and out.samefile(path) for path in inputs):
            raise UsageError(f"argument --onnx: {out} is also an input file; writing it "
                              "would overwrite it: name another file")
        # The one sure test (permissions, read-only mounts, name length): open it.
        with open(out, "ab"):
            pass
        if not existed:
            out.unlink()
    except OSError as exc:
        raise UsageError(f"argument --onnx: cannot write {out}: "
                          f"{exc.strerror or first_line(exc)}") from None


# What a file starts with: a student file is a zip archive (torch.save); a pickle
# (protocol 2 and later) starts with PROTO, and joblib may compress it.
_PICKLE_STARTS = (b"\x80",)


_COMPRESSED_STARTS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x04\x22\x4d\x18", b"ZF", b"x")


_STUDENT_SUFFIX = ".skkd"


def _claims_to_be_a_student_file(path: Path) -> bool:
    """Whether the file's bytes hold the student-file format tag (read as bytes, not unpickled)."""
    from skkd.persistence._format import FORMAT

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
        raise UsageError(
            f"argument MODEL: {model_path} is named or tagged as a student file, but it is not "
            "a zip archive, as skkd.save_student writes them: it is damaged or forged, and it "
            "was not loaded (a file that claims to be a student file is never unpickled, "
            "even with --trust-pickle)")
    kind = ("looks like a pickle or joblib file" if head.startswith(_PICKLE_STARTS)
            else "looks like a compressed joblib file" if head.startswith(_COMPRESSED_STARTS)
            else "is empty" if not head else "is not a student file (not a zip archive)")
    if not trust_pickle:
        raise UsageError(
            f"argument MODEL: {model_path} {kind}, and loading a pickle runs any code it "
            "holds, so it was not loaded. Pass --trust-pickle to unpickle it if you trust "
            "where it came from; else ask for a student file (skkd.save_student)")
    if not head:
        raise UsageError(f"argument MODEL: {model_path} is empty")


def _load_model(model_path: Path, trust_pickle: bool = False):
    """The estimator in MODEL: a student file read safely; a pickle only with --trust-pickle."""
    import zipfile

    if zipfile.is_zipfile(model_path):  # torch.save's format; a pickle never is one
        from skkd.persistence import load_student

        try:
            return load_student(model_path, device="cpu")
        except ValueError as exc:
            raise UsageError(f"argument MODEL: {' '.join(str(exc).split())}") from None
    _refuse_to_unpickle(model_path, trust_pickle)  # decided before anything is unpickled
    import joblib

    try:
        return joblib.load(model_path)  # a plain pickle or a joblib file
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is the user's file
        raise UsageError(f"argument MODEL: cannot load {model_path}: "
                          f"{first_line(exc)}") from None


def _load_check_rows(path: str, model):
    """The --check rows, as float32: a 2-D numeric array the model can predict on."""
    import numpy as np

    try:
        X = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - whatever np.load refuses is the user's file
        raise UsageError(f"argument --check: cannot read {path} as a .npy array: "
                          f"{first_line(exc)}") from None
    if not isinstance(X, np.ndarray):
        X.close()
        raise UsageError(f"argument --check: {path} is an .npz archive; save one array "
                          "of rows with numpy.save")
    n_features = model.n_features_in_
    if X.dtype.kind not in "biuf":
        raise UsageError(f"argument --check: {path} holds {X.dtype} values; the rows must "
                          "be numbers (float32, float64, integers or bool)")
    if X.ndim != 2 or X.shape[1] != n_features or len(X) == 0:
        raise UsageError(f"argument --check: {path} holds an array of shape {X.shape}; "
                          f"the model takes rows of {n_features} features: shape "
                          f"(n_rows, {n_features}) with n_rows >= 1")
    X = X.astype(np.float32)
    return _predictable(model, X, path)


def _predictable(model, X, path: str):
    """``X``, once ``model`` has predicted it: else a usage error naming ``path``."""
    try:
        model.predict(X)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"argument --check: the model cannot predict the rows of {path}: "
                          f"{first_line(exc)}") from None
    return X


def _load_check_frame(path: str, model, student):
    """The --check rows of a student of a raw DataFrame: a .csv or .parquet file of its columns."""
    import pandas as pd

    names = [c["name"] for c in student.columns_["columns"]]
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"argument --check: {path} is not a .csv or .parquet file; the "
                         f"model reads the columns of a DataFrame ({', '.join(names[:10])}"
                         f"{' ...' if len(names) > 10 else ''}): save rows with those columns "
                         "with DataFrame.to_csv(index=False) or to_parquet")
    try:
        X = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - whatever pandas refuses is the user's file
        raise UsageError(f"argument --check: cannot read {path}: {first_line(exc)}") from None
    X.columns = [str(c) for c in X.columns]
    missing = [name for name in names if name not in X.columns]
    if missing or len(X) == 0:
        raise UsageError(f"argument --check: {path} has {len(X)} rows and lacks the columns "
                         f"{missing[:10]}; the model reads the columns {names[:10]}"
                         f"{' ...' if len(names) > 10 else ''} (at least one row)")
    X = X[names]
    return _predictable(model, X, path)


def _inputs_line(model, onx) -> str:
    """What the "wrote" line says of the graph's inputs."""
    if len(onx.graph.input) == 1 and getattr(model, "columns_", None) is None:
        return f"input X: float32 rows of {model.n_features_in_} columns"
    from onnx import TensorProto

    shown = [f"{i.name} {TensorProto.DataType.Name(i.type.tensor_type.elem_type).lower()}"
             for i in onx.graph.input]
    return (f"one input per DataFrame column, {len(shown)}: {', '.join(shown[:10])}"
            f"{' ...' if len(shown) > 10 else ''}")


def export_command(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("skl2onnx") is None or \
            importlib.util.find_spec("onnxruntime") is None:
        raise UsageError("argument --onnx: needs skl2onnx and onnxruntime: "
                          "pip install '.[onnx]' in skkd's checkout")
    model_path, out = Path(args.model), Path(args.onnx)
    if not model_path.is_file():
        raise UsageError(f"argument MODEL: {model_path} is not a file")
    if args.check is not None and not Path(args.check).is_file():
        raise UsageError(f"argument --check: {args.check} is not a file")
    _check_output(out, [model_path] + ([Path(args.check)] if args.check else []))

    from skkd.estimators._classifier import DistilledClassifier
    from skkd.estimators._regressor import DistilledRegressor
    from skkd.export import compare_onnx, to_onnx

    model = _load_model(model_path, args.trust_pickle)
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    if not isinstance(last, DistilledClassifier | DistilledRegressor):
        raise UsageError(f"argument MODEL: {model_path} holds a {type(model).__name__}; "
                          "expected a DistilledClassifier, a DistilledRegressor or a "
                          "Pipeline ending in one")
    regressor = isinstance(last, DistilledRegressor)
    if regressor and args.no_zipmap:
        raise UsageError(f"argument --no-zipmap: {model_path} holds a regressor, whose one "
                          "output is a tensor of predictions ('variable'); --no-zipmap is "
                          "for classifiers: leave it out")
    frame = getattr(last, "columns_", None) is not None
    X = (None if args.check is None else _load_check_frame(args.check, model, last) if frame
         else _load_check_rows(args.check, model))
    try:
        onx = to_onnx(model) if regressor else to_onnx(model, zipmap=not args.no_zipmap)
    except Exception as exc:  # noqa: BLE001 - skl2onnx raises many kinds for one cause
        raise UsageError(f"argument MODEL: cannot export {model_path} to ONNX: "
                          f"{first_line(exc)}") from None
    try:
        out.write_bytes(onx.SerializeToString())
    except OSError as exc:
        raise UsageError(f"argument --onnx: cannot write {out}: "
                          f"{exc.strerror or first_line(exc)}") from None
    print(f"wrote {out} ({out.stat().st_size:,} bytes; {_inputs_line(model, onx)})")
    if X is None:
        return 0
    try:
        result = (compare_onnx(model, onx, X, rtol=1e-5) if regressor
                  else compare_onnx(model, onx, X, atol=1e-4))
    except Exception as exc:  # noqa: BLE001 - onnxruntime failing to run OUT fails the check
        print(f"check on {len(X)} rows of {args.check}: onnxruntime cannot run {out}: "
              f"{first_line(exc)} (FAILED)")
        return 1
    return _report(result, regressor, args.check)


def _report(result: dict, regressor: bool, check: str) -> int:
    """Print what --check found; the exit status."""
    if regressor:
        print(f"check on {result['rows']} rows of {check}: predictions, max |difference| "
              f"{result['max_abs_diff']:.2e}, in units of y's spread "
              f"{result['max_rel_diff']:.2e} ({'ok' if result['ok'] else 'FAILED'}, "
              "tolerance 1e-5)")
        return 0 if result["ok"] else 1
    labels = ("equal" if result["labels_equal"] else
              f"DIFFER on {result['label_mismatches']} rows")
    print(f"check on {result['rows']} rows of {check}: labels {labels}, max "
          f"|probability difference| {result['max_abs_proba_diff']:.2e} "
          f"({'ok' if result['ok'] else 'FAILED'}, tolerance 1e-4)")
    return 0 if result["ok"] else 1
