"""What the benchmark measures: reconstruction, downstream accuracy, time, memory.

Peak memory
-----------
Python's ``tracemalloc`` does not see PyTorch's allocations and
``getrusage(...).ru_maxrss`` only ever grows over the life of the process,
so neither can attribute memory to one fit.  :class:`PeakRSS` instead reads
the resident set size from ``/proc/self/statm`` in a background thread every
10 ms while the fit runs and reports the peak minus the RSS just before the
fit, in MiB.  Freed memory is handed back to the operating system first
(``gc.collect`` and glibc's ``malloc_trim``), so earlier jobs lower the
figure as little as possible; it remains a lower bound of the fit's working
memory (memory that the allocators reuse without asking the OS is not
counted, and peaks shorter than 10 ms can be missed).  On systems without
``/proc`` the figure is None.
"""

import ctypes
import ctypes.util
import gc
import os
import threading
import time

import numpy as np

_STATM = "/proc/self/statm"
_INTERVAL = 0.01  # seconds between two RSS reads


def _page_size():
    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 4096


def read_rss():
    """Resident set size of this process in bytes, or None without ``/proc``.

    Returns
    -------
    rss : int or None
    """
    try:
        with open(_STATM, "rb") as f:
            return int(f.read().split()[1]) * _page_size()
    except (OSError, IndexError, ValueError):
        return None


def release_memory():
    """Collect garbage and return freed heap pages to the OS (glibc only)."""
    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


class PeakRSS:
    """Context manager sampling this process's RSS to find a block's peak.

    Attributes
    ----------
    peak_mb : float or None
        Peak RSS during the block minus the RSS on entry, in MiB (>= 0);
        None where ``/proc/self/statm`` cannot be read.
    """

    def __init__(self, interval=_INTERVAL):
        self.interval = interval
        self.peak_mb = None

    def _poll(self):
        while not self._stop.wait(self.interval):
            rss = read_rss()
            if rss is not None and rss > self._peak:
                self._peak = rss

    def __enter__(self):
        release_memory()
        self._baseline = read_rss()
        self._peak = self._baseline or 0
        self._stop = threading.Event()
        self._thread = None
        if self._baseline is not None:
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            final = read_rss() or 0
            peak = max(self._peak, final)
            self.peak_mb = max(peak - self._baseline, 0) / 2**20
        return False


def reconstruction_metrics(X_test, X_rec, train_mean):
    """Reconstruction error of the test set and its R².

    Parameters
    ----------
    X_test : ndarray of shape (n_test, n_features)
        Test data.
    X_rec : ndarray of shape (n_test, n_features)
        Its reconstructions.
    train_mean : ndarray of shape (n_features,)
        Mean of the training data (the baseline "reconstruction").

    Returns
    -------
    metrics : dict
        ``recon_error``: mean over samples of the summed squared error;
        ``mse_per_feature``: the same divided by ``n_features``;
        ``r2``: ``1 - SSE / SST`` with SST the squared distance of the test
        samples to the training mean (the share of variance kept).
    """
    X_test = np.asarray(X_test, dtype=np.float64)
    diff = np.asarray(X_rec, dtype=np.float64) - X_test
    sse = float(np.square(diff).sum())
    sst = float(np.square(X_test - train_mean).sum())
    n, d = X_test.shape
    return {
        "recon_error": sse / n,
        "mse_per_feature": sse / (n * d),
        "r2": 1.0 - sse / sst if sst > 0 else None,
    }


def classification_metrics(codes_train, y_train, codes_test, y_test):
    """Test accuracy of classifiers trained on the codes.

    Both are ``Pipeline(StandardScaler(), classifier)``: LogisticRegression
    (``max_iter=2000``) and KNeighborsClassifier (5 neighbours).

    Parameters
    ----------
    codes_train, codes_test : ndarray of shape (n, n_components)
        Codes of the training and test samples.
    y_train, y_test : ndarray of shape (n,)
        Class labels.

    Returns
    -------
    metrics : dict
        ``logreg_acc`` and ``knn_acc`` (fractions in [0, 1]).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    classifiers = {
        "logreg_acc": LogisticRegression(max_iter=2000),
        "knn_acc": KNeighborsClassifier(n_neighbors=min(5, len(y_train))),
    }
    for key, clf in classifiers.items():
        model = make_pipeline(StandardScaler(), clf).fit(codes_train, y_train)
        out[key] = float(model.score(codes_test, y_test))
    return out


def transform_throughput(estimator, X, repeats=3):
    """Test samples encoded per second: the best of ``repeats`` timed calls.

    One untimed call comes first.  On a loaded machine the figure is noisy
    (small test sets take milliseconds); the best of several is the least so.

    Parameters
    ----------
    estimator : fitted transformer
    X : ndarray of shape (n_samples, n_features)
    repeats : int, default=3

    Returns
    -------
    rate : float
        ``n_samples / min(seconds)``.
    """
    estimator.transform(X)  # untimed: first-call allocations and caches
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        estimator.transform(X)
        best = min(best, time.perf_counter() - start)
    return X.shape[0] / max(best, 1e-9)


def labels_usable(y_train, y_test):
    """Why class accuracies cannot be computed, or None if they can.

    Parameters
    ----------
    y_train, y_test : ndarray or None
        Labels of the split.

    Returns
    -------
    reason : str or None
    """
    from sklearn.utils.multiclass import type_of_target

    if y_train is None or y_test is None:
        return "the data set has no labels"
    kind = type_of_target(y_train)
    if kind not in ("binary", "multiclass"):
        return f"the labels are not class labels (type_of_target={kind!r})"
    if len(np.unique(y_train)) < 2:
        return "the training labels hold a single class"
    return None
