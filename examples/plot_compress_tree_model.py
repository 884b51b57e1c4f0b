"""
Compress a tree model into a tabular network
============================================

A :class:`~sklearn.ensemble.HistGradientBoostingClassifier` fitted on a DataFrame with
numbers, strings and missing values teaches ``module="tabular-mlp"``, an MLP that reads
category codes through learned tables and each numeric column through an embedding.
We compare, on test accuracy and on the time to answer one row,

- the teacher,
- a plain ``mlp`` trained from scratch on one-hot columns,
- a ``tabular-mlp`` trained from scratch, and
- the same ``tabular-mlp`` distilled from the teacher,

the students both in scikit-learn and exported, preprocessing included, to ONNX. The
user guide's :doc:`/user_guide/tree_models` page explains each step of the recipe.

The data are synthetic: the labels come from thresholds on the numbers, the
categories and an interaction, plus noise, the kind of table a tree model fits well.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as rt
import pandas as pd
import torch
from onnx import TensorProto
from skl2onnx import to_onnx, update_registered_converter
from skl2onnx.algebra.onnx_ops import OnnxCast, OnnxGather, OnnxIsNaN
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from skkd import DistilledClassifier, teacher_logits

rng = np.random.default_rng(0)
n = 6000
frame = pd.DataFrame({
    "age": rng.uniform(18, 80, n),
    "income": rng.lognormal(10, 0.6, n),
    "tenure": rng.integers(0, 30, n).astype(float),
    "visits": rng.poisson(3, n).astype(float),
    "region": rng.choice(["north", "east", "south", "west"], n),
    "plan": rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
})
score = (1.5 * (frame.age > 40) - 1.2 * (frame.income < 18000)
         + 1.0 * ((frame.tenure > 10) & (frame.plan != "basic"))
         + 0.8 * (frame.region == "north") - 0.8 * (frame.visits == 0)
         + 0.6 * ((frame.visits > 5) & (frame.region != "west")))
y = np.digitize(score + rng.normal(0, 0.4, n), [0.3, 1.5])   # three classes
frame.loc[rng.random(n) < 0.15, "income"] = np.nan
frame.loc[rng.random(n) < 0.05, "region"] = np.nan
numeric_cols = ["age", "income", "tenure", "visits"]
categorical_cols = ["region", "plan"]
X_train, X_test, y_train, y_test = train_test_split(frame, y, train_size=2000, stratify=y,
                                                    random_state=0)

# %%
# The teacher
# -----------
# A gradient-boosting pipeline on the raw DataFrame, with native categorical splits and
# missing values. It is fitted once; skkd only reads its outputs.

teacher = make_pipeline(
    ColumnTransformer([("cat", OrdinalEncoder(), categorical_cols)], remainder="passthrough"),
    HistGradientBoostingClassifier(categorical_features=[0, 1], random_state=0),
).fit(X_train, y_train)
print(f"teacher test accuracy: {teacher.score(X_test, y_test):.3f}")

# %%
# The students
# ------------
# Each student is a pipeline: a ``ColumnTransformer`` that turns the DataFrame into
# numbers, then a :class:`~skkd.DistilledClassifier`. The ``tabular-mlp`` students get
# category codes (first, so they are columns 0 and 1; -1 for a missing or unseen
# category), standardized numbers and 0/1 missing-value flags; the plain ``mlp`` gets
# one-hot columns instead of codes. Every student has the same hidden layers (256, 256,
# dropout 0.1), optimizer, learning rate and epochs.
#
# Inside the pipeline, the teacher would receive the preprocessed rows, which it was not
# fitted on; so its outputs are computed once on the raw rows with
# :func:`skkd.teacher_logits` and routed to the student as
# ``distilledclassifier__teacher_logits``. ``alpha`` weights the hard labels: 1 is
# training from scratch, 0.1 mostly imitation of the teacher.


def preprocess(categories):
    return ColumnTransformer([
        ("cat", categories, categorical_cols),
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric_cols),
        ("missing", MissingIndicator(features="all"), numeric_cols),
    ])


codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                       encoded_missing_value=-1)
one_hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
training = dict(lr=3e-3, batch_size=128, max_epochs=40, random_state=0)
tabular = dict(module="tabular-mlp", module__categorical=[0, 1], **training)

mlp_scratch = make_pipeline(preprocess(one_hot), DistilledClassifier(
    module="mlp", module__hidden_sizes=(256, 256), module__dropout=0.1, alpha=1.0,
    **training)).fit(X_train, y_train)
tabular_scratch = make_pipeline(preprocess(codes), DistilledClassifier(
    alpha=1.0, **tabular)).fit(X_train, y_train)
distilled = make_pipeline(preprocess(codes), DistilledClassifier(alpha=0.1, **tabular))
distilled.fit(X_train, y_train,
              distilledclassifier__teacher_logits=teacher_logits(teacher, X_train))

# %%
# Export to ONNX
# --------------
# skl2onnx converts each student pipeline, preprocessing included, into one ONNX graph
# (skkd registers the converter of ``DistilledClassifier``). It has no converter for
# ``MissingIndicator``; these lines register one: the flags are ``IsNaN`` of the
# selected columns, as floats.

def missing_indicator_shape(operator):
    width = len(operator.raw_operator.features_)
    operator.outputs[0].type = FloatTensorType([None, width])


def missing_indicator_converter(scope, operator, container):
    opset = container.target_opset
    columns = np.asarray(operator.raw_operator.features_, dtype=np.int64)
    picked = OnnxGather(operator.inputs[0], columns, axis=1, op_version=opset)
    flags = OnnxCast(OnnxIsNaN(picked, op_version=opset), to=TensorProto.FLOAT,
                     op_version=opset, output_names=operator.outputs[:1])
    flags.add_to(scope, container)


update_registered_converter(MissingIndicator, "SklearnMissingIndicator",
                            missing_indicator_shape, missing_indicator_converter)

inputs = ([(c, FloatTensorType([None, 1])) for c in numeric_cols]
          + [(c, StringTensorType([None, 1])) for c in categorical_cols])
options = rt.SessionOptions()
options.intra_op_num_threads = 1


def onnx_session(pipeline):
    onx = to_onnx(pipeline, initial_types=inputs, options={"zipmap": False})
    return rt.InferenceSession(onx.SerializeToString(), options,
                               providers=["CPUExecutionProvider"])


def onnx_feed(X):
    feed = {c: X[[c]].to_numpy(np.float32) for c in numeric_cols}
    return feed | {c: X[[c]].fillna("").to_numpy(str) for c in categorical_cols}  # "": missing


students = {"mlp, scratch\n(one-hot)": mlp_scratch, "tabular-mlp,\nscratch": tabular_scratch,
            "tabular-mlp,\ndistilled": distilled}
sessions = {name: onnx_session(pipeline) for name, pipeline in students.items()}
labels, _ = sessions["tabular-mlp,\ndistilled"].run(None, onnx_feed(X_test))
print(f"ONNX and scikit-learn agree on {np.mean(labels == distilled.predict(X_test)):.1%} "
      "of the test rows")

# %%
# Accuracy and one-row latency
# ----------------------------
# The latency is the median time to answer one test row: the teacher's and the
# students' ``predict_proba`` on a row already preprocessed (in scikit-learn, the
# ``ColumnTransformer`` alone takes milliseconds per DataFrame row, the same for every
# model), and each student's ONNX graph on the raw row, preprocessing included, in
# onnxruntime. Everything is timed on one thread (torch's and the tree model's are
# limited to one here, and set back after).


def one_row_ms(predict, repeat=200):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        predict()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


row = X_test.iloc[:1]
results = {}
threads = torch.get_num_threads()
torch.set_num_threads(1)
with threadpool_limits(1):
    for name, pipeline in {"teacher (GBM)": teacher, **students}.items():
        encoded = pipeline[0].transform(row)
        results[name] = {
            "accuracy": pipeline.score(X_test, y_test),
            "agreement": np.mean(pipeline.predict(X_test) == teacher.predict(X_test)),
            "predict_proba": one_row_ms(lambda p=pipeline, e=encoded: p[-1].predict_proba(e)),
        }
        if name in sessions:
            feed = onnx_feed(row)
            results[name]["onnx"] = one_row_ms(lambda s=sessions[name], f=feed: s.run(None, f))
torch.set_num_threads(threads)
for name, r in results.items():
    onnx = f"   ONNX {r['onnx']:.3f} ms" if "onnx" in r else ""
    print(f"{name.replace(chr(10), ' '):27s} accuracy {r['accuracy']:.3f}   agreement "
          f"{r['agreement']:.3f}   predict_proba {r['predict_proba']:.3f} ms{onnx}")

fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
for (name, r), color in zip(results.items(), ["black", "C0", "C1", "C2"], strict=True):
    ax.scatter(r["predict_proba"], r["accuracy"], color=color, s=60, label=name)
    if "onnx" in r:
        ax.scatter(r["onnx"], r["accuracy"], color=color, s=60, marker="D",
                   facecolors="none")
        ax.plot([r["onnx"], r["predict_proba"]], [r["accuracy"]] * 2, color=color, lw=0.8,
                ls=":")
ax.axhline(results["teacher (GBM)"]["accuracy"], color="black", lw=0.8, ls="--")
ax.scatter([], [], color="gray", s=60, label="predict_proba, preprocessed row")
ax.scatter([], [], color="gray", s=60, marker="D", facecolors="none",
           label="ONNX, preprocessing included")
ax.set_xscale("log")
ax.set_xlabel("one row: median time (ms, log scale)")
ax.set_ylabel("test accuracy")
ax.legend(loc="lower right", fontsize="small")
ax.set_title("A gradient-boosting teacher and its students")
plt.show()

# %%
# What it shows
# -------------
# The plain ``mlp`` on one-hot columns draws smooth functions and misses some of the
# teacher's thresholds; ``tabular-mlp`` embeds each number first and gets closer, and
# distilling it from the teacher closes more of the gap. In ONNX, the whole pipeline
# answers a row in a fraction of the time the teacher's trees take in scikit-learn.
# One run, one seed, on made-up data: ``benchmarks/tabular_students.py`` measures the
# same on two real tables with several seeds (see :doc:`/user_guide/tree_models`).
