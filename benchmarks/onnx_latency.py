"""One-row latency: a zero-config student's ONNX graph against its teacher on the raw row.

``one_row_latency(est, teacher, X_row_frame)`` exports ``est`` (fitted on a raw
DataFrame: one graph input per column) with skkd's defaults (skl2onnx's, a ZipMap
for a classifier), and times one row, after a warm-up, ``repeats`` times each:

- ``onnx_ms``: ``session.run`` on the row's inputs, built once;
- ``onnx_feed_ms``: building those inputs from the 1-row DataFrame, then ``run``
  (what a server handed a DataFrame row pays);
- ``student_ms``: the student's own ``predict_proba`` (``predict``) on the row;
- ``teacher_ms``: the teacher's ``predict_proba`` (``predict`` for a regressor) on
  the same 1-row DataFrame.

Medians, in milliseconds. onnxruntime runs one thread (one row has nothing to share
out; more threads only add their wake-up). ``benchmarks/zero_config.py`` calls it;
``python benchmarks/onnx_latency.py`` times a small synthetic table.
"""

from __future__ import annotations

import statistics
import time
from typing import Any


def _median_ms(fn, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def one_row_latency(est: Any, teacher: Any, X_row_frame: Any, *, repeats: int = 200,
                    warmup: int = 20) -> dict[str, Any]:
    """Median one-row times (ms) of ``est``'s ONNX graph, of ``est`` and of ``teacher``.

    Parameters
    ----------
    est : DistilledClassifier or DistilledRegressor
        Fitted on a raw DataFrame (``columns_``), or on numbers.
    teacher : estimator
        Fitted on the same frame: ``predict_proba`` (classifier) or ``predict``.
    X_row_frame : pandas.DataFrame
        Rows with the training columns; its first row is timed, and its dtypes
        type the graph's inputs (``skkd.export.to_onnx(est, X=...)``).
    repeats, warmup : int
        Timed calls, and untimed calls first.

    Returns
    -------
    dict
        ``onnx_ms``, ``onnx_feed_ms``, ``student_ms``, ``teacher_ms``,
        ``teacher_over_onnx`` (how many times faster ONNX is), ``repeats``,
        ``onnx_threads`` and ``agrees`` (the graph's output for the row equals
        the student's: label, or prediction to 1e-5 relative).
    """
    from common import one_thread_session
    from sklearn.base import is_regressor

    from skkd.export import compare_onnx, to_onnx
    from skkd.export._frame import frame_inputs

    row = X_row_frame.iloc[:1]
    onx = to_onnx(est, X=X_row_frame)
    session = one_thread_session(onx)
    inputs = session.get_inputs()
    if len(inputs) > 1 or getattr(est, "columns_", None) is not None:
        def feed():
            return frame_inputs(inputs, row)
    else:
        def feed():
            return {inputs[0].name: row.to_numpy(dtype="float32")}
    prepared = feed()
    regressor = is_regressor(est)
    student_fn = est.predict if regressor else est.predict_proba
    teacher_fn = teacher.predict if regressor else teacher.predict_proba
    out = {
        "onnx_ms": _median_ms(lambda: session.run(None, prepared), repeats, warmup),
        "onnx_feed_ms": _median_ms(lambda: session.run(None, feed()), repeats, warmup),
        "student_ms": _median_ms(lambda: student_fn(row), repeats, warmup),
        "teacher_ms": _median_ms(lambda: teacher_fn(row), repeats, warmup),
        "repeats": repeats,
        "onnx_threads": 1,
        "agrees": bool(compare_onnx(est, onx, row, atol=1e-5)["ok"]),
    }
    out["teacher_over_onnx"] = out["teacher_ms"] / out["onnx_ms"]
    return out


def main() -> None:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    from skkd import DistilledClassifier

    rng = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame({"x": rng.normal(size=n), "k": rng.integers(0, 9, n),
                       "city": pd.Categorical(rng.choice(["lyon", "nice", "paris"], n)),
                       "f": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))})
    y = (df["x"] + (df["city"] == "nice") > 0.5).to_numpy().astype(int)
    teacher = HistGradientBoostingClassifier(categorical_features="from_dtype",
                                             random_state=0).fit(df, y)
    student = DistilledClassifier(teacher, max_epochs=5, random_state=0).fit(df, y)
    for name, value in one_row_latency(student, teacher, df.iloc[:50]).items():
        print(f"{name}: {value:.4g}" if isinstance(value, float) else f"{name}: {value}")


if __name__ == "__main__":
    main()
