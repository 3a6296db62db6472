"""Out-of-core training: memory-mapped arrays and partial_fit over chunks."""

import tracemalloc
import warnings

import numpy as np
import pytest
from conftest import assert_same_weights
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def _assert_same_fit(a, b):
    """Bitwise-identical networks, scaling and training curves."""
    assert_same_weights(a, b)
    assert a.loss_curve_ == b.loss_curve_


def _traced_peak(fn):
    """Peak bytes of Python/numpy memory allocated while ``fn`` runs."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_memmap_fit_streams_batches_and_equals_in_memory_fit(tmp_path, digits, dtype):
    X, _ = digits
    rng = np.random.RandomState(0)
    n = 65536  # 16 MiB as float32: a whole copy stands out from chunk-sized buffers
    data = (X[rng.randint(len(X), size=n)] + 0.01 * rng.randn(n, X.shape[1])).astype(dtype)
    path = tmp_path / "X.npy"
    np.save(path, data)
    mm = np.load(path, mmap_mode="r")  # read-only, like most data files
    full_float32 = n * X.shape[1] * 4
    params = dict(
        n_components=4, hidden_layer_sizes=(16,), batch_size=256, max_iter=1,
        early_stopping=False, random_state=0,
    )

    in_ram = np.array(mm, dtype=np.float64)  # float32 -> float64 is exact

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Warm up first: the first fit in a process imports parts of torch.
        AutoencoderTransformer(**params).fit(mm[:1000])
        streamed = AutoencoderTransformer(**params)
        peak = _traced_peak(lambda: streamed.fit(mm))
        # Positive control: from an in-memory float64 array, fit makes one
        # whole float32 copy (numpy memory, which tracemalloc sees).
        in_memory = AutoencoderTransformer(**params)
        control = _traced_peak(lambda: in_memory.fit(in_ram))

    # Reading in chunks of at most 4096 rows: ~2 MiB here, whatever n is.
    assert peak < full_float32 / 4, f"fit on a memmap allocated {peak} bytes at peak"
    assert control >= full_float32
    _assert_same_fit(streamed, in_memory)
    np.testing.assert_array_equal(streamed.transform(mm), in_memory.transform(data))


def test_partial_fit_over_chunks_matches_fit_quality(digits):
    X, _ = digits
    perm = np.random.RandomState(0).permutation(len(X))
    X_train, X_test = X[perm[:1500]], X[perm[1500:]]
    params = dict(
        n_components=8, hidden_layer_sizes=(64,), batch_size=64, max_iter=20,
        early_stopping=False, random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = AutoencoderTransformer(**params).fit(X_train)
    chunked = clone(full)
    chunks = np.array_split(X_train, 4)
    for _ in range(20):
        for chunk in chunks:
            chunked.partial_fit(chunk)
    assert chunked.n_iter_ == 80
    err_full, err_chunked = -full.score(X_test), -chunked.score(X_test)
    # the README: as good as fit (-3.4, -0.6 and -2.0 % for random_state 0, 1 and 2)
    assert err_chunked <= 1.01 * err_full
