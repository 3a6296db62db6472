"""Dask: grid search on a local cluster, thread limits, and Dask-array helpers."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from skae import AutoencoderTransformer

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from conftest import assert_same_weights  # noqa: E402

from skae.dask import fit_dask_array, transform_dask_array  # noqa: E402

FAST = dict(n_components=4, hidden_layer_sizes=(16,), batch_size=64, random_state=0)


# ------------------------------------------------------------------ threads
class _ThreadProbe(torch.nn.Module):
    """An encoder that records torch's intra-op thread count on each call."""

    calls: list = []

    def __init__(self, n_features):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 8)

    def forward(self, x):
        _ThreadProbe.calls.append(torch.get_num_threads())
        return self.linear(x)


def test_threadpool_limits_bounds_torch_threads_inside_fit(small_digits):
    X = small_digits[0]
    before = torch.get_num_threads()
    _ThreadProbe.calls = []
    ae = AutoencoderTransformer(encoder=_ThreadProbe, max_iter=2, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with threadpool_limits(1):
            ae.fit(X)
    assert _ThreadProbe.calls and set(_ThreadProbe.calls) == {1}
    assert torch.get_num_threads() == before  # the global setting is restored
    _ThreadProbe.calls = []
    ae.transform(X)
    assert set(_ThreadProbe.calls) == {before}


def test_loky_workers_get_a_share_of_the_cores():
    # joblib's loky backend caps the threads of each of its n_jobs worker
    # processes at cpu_count // n_jobs (via OMP_NUM_THREADS & co.).
    n_jobs = 2
    threads = joblib.Parallel(n_jobs=n_jobs, backend="loky")(
        joblib.delayed(torch.get_num_threads)() for _ in range(n_jobs)
    )
    assert set(threads) == {max(joblib.cpu_count() // n_jobs, 1)}


# -------------------------------------------------------------- grid search
def test_grid_search_on_local_cluster_matches_serial(digits):
    X = digits[0][:400]
    base = AutoencoderTransformer(max_iter=5, early_stopping=False, **FAST)
    grid = {"n_components": [1, 6], "hidden_layer_sizes": [(8,), (32,)]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = GridSearchCV(base, grid, cv=2, n_jobs=1).fit(X)
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=40,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            # The nanny starts each worker process with OMP_NUM_THREADS=1
            # (config "distributed.nanny.pre-spawn-environ"), so torch uses
            # one intra-op thread per worker thread: no oversubscription.
            assert set(client.run(torch.get_num_threads).values()) == {1}
            tasks = [  # in a task thread, where the fits run
                client.submit(torch.get_num_threads, pure=False, workers=[w])
                for w in client.scheduler_info()["workers"]
            ]
            assert client.gather(tasks) == [1, 1]
            with distributed.get_task_stream(client) as stream:
                with joblib.parallel_backend("dask"):
                    search = GridSearchCV(base, grid, cv=2, n_jobs=-1).fit(X)
            workers = set(client.scheduler_info()["workers"])
            # With a client active, transform_dask_array runs on the workers.
            dX = da.from_array(X, chunks=(100, 64))
            codes = transform_dask_array(search.best_estimator_, dX).compute()
    np.testing.assert_allclose(codes, search.transform(X), rtol=1e-5, atol=1e-6)
    assert stream.data and {t["worker"] for t in stream.data} <= workers
    assert search.best_params_ == serial.best_params_
    assert search.best_params_["n_components"] == 6
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_allclose(search.cv_results_[key], serial.cv_results_[key], rtol=1e-5)
    np.testing.assert_allclose(search.transform(X), serial.transform(X), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------- dask arrays
@pytest.fixture(scope="module")
def digits32():
    from sklearn.datasets import load_digits

    return (load_digits().data / 16.0).astype(np.float32)


def test_fit_dask_array_equals_partial_fit_over_blocks(digits32, one_torch_thread):
    dX = da.from_array(digits32, chunks=(450, 64))
    ae = fit_dask_array(
        AutoencoderTransformer(**FAST), dX, n_passes=2, shuffle_blocks=False
    )
    ref = AutoencoderTransformer(**FAST)
    for _ in range(2):
        for lo in range(0, len(digits32), 450):
            ref.partial_fit(digits32[lo:lo + 450])
    assert ae.n_iter_ == ref.n_iter_ == 8
    assert_same_weights(ae, ref)
    # Column chunks are merged first: the blocks, hence the fit, are the same.
    by_cols = da.from_array(digits32, chunks=(450, 16))
    same = fit_dask_array(
        AutoencoderTransformer(**FAST), by_cols, n_passes=2, shuffle_blocks=False
    )
    assert_same_weights(ae, same)


def test_fit_dask_array_computes_one_block_at_a_time(digits32, one_torch_thread):
    from dask import delayed

    events = []

    def load(i):
        events.append(("load", i))
        return digits32[i * 300:(i + 1) * 300]

    blocks = [
        da.from_delayed(delayed(load, pure=False)(i), shape=(300, 64), dtype=np.float32)
        for i in range(5)
    ]
    dX = da.concatenate(blocks)
    ae = AutoencoderTransformer(**FAST)
    fit_one_epoch = ae.partial_fit

    def spy(X, y=None):
        events.append(("fit", len(X)))
        return fit_one_epoch(X)

    ae.partial_fit = spy
    fit_dask_array(ae, dX, n_passes=3, random_state=0)
    assert [e[0] for e in events] == ["load", "fit"] * 15
    loads = [e[1] for e in events if e[0] == "load"]
    for p in range(3):  # every pass visits every block once, in a shuffled order
        assert sorted(loads[5 * p:5 * p + 5]) == list(range(5))
    assert loads != sorted(loads)
    events.clear()
    fit_dask_array(clone(ae), dX, n_passes=3, random_state=0)
    assert [e[1] for e in events if e[0] == "load"] == loads  # seeded order


def test_fit_dask_array_fixes_the_scaling_from_the_largest_block(one_torch_thread):
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer().data  # mixed units: a one-row scaling estimate is useless
    dX = da.from_array(np.vstack([X[:1], X]), chunks=((1, 285, 284), -1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about a tiny first chunk
        ae = fit_dask_array(AutoencoderTransformer(**FAST), dX, shuffle_blocks=False)
    ref = AutoencoderTransformer(**FAST).partial_fit(X[:285])
    np.testing.assert_array_equal(ae.net_.scale.numpy(), ref.net_.scale.numpy())
    # a fitted estimator keeps its scaling and visits the blocks in the order asked
    events = []
    ae.partial_fit = lambda block: events.append(len(block))
    fit_dask_array(ae, dX, shuffle_blocks=False)
    assert events == [1, 285, 284]


def test_transform_dask_array_of_a_fractional_code(digits32, one_torch_thread):
    ae = AutoencoderTransformer(0.5, hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(digits32)
    codes = transform_dask_array(ae, da.from_array(digits32, chunks=(450, 64)))
    assert codes.shape == (len(digits32), ae.n_components_)
    np.testing.assert_array_equal(codes.compute(), ae.transform(digits32))


def test_fit_dask_array_rejects_bad_input(digits32):
    dX = da.from_array(digits32, chunks=(450, 64))
    with pytest.raises(TypeError, match="dask.array.Array"):
        fit_dask_array(AutoencoderTransformer(**FAST), digits32)
    with pytest.raises(TypeError, match="partial_fit"):
        fit_dask_array(PCA(2), dX)
    with pytest.raises(ValueError, match="n_passes"):
        fit_dask_array(AutoencoderTransformer(**FAST), dX, n_passes=True)
    with pytest.raises(ValueError, match="n_passes"):
        fit_dask_array(AutoencoderTransformer(**FAST), dX, n_passes=0)
    with pytest.raises(ValueError, match="2-D"):
        fit_dask_array(AutoencoderTransformer(**FAST), dX[:, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_dask_array_is_lazy_and_exact(digits32, dtype, one_torch_thread):
    X = digits32.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae = AutoencoderTransformer(max_iter=3, **FAST).fit(X)
    with pytest.raises(NotFittedError):
        transform_dask_array(AutoencoderTransformer(**FAST), da.from_array(X))
    for chunks in [(500, 64), (700, 20)]:  # whole rows, then rows and columns
        Z = transform_dask_array(ae, da.from_array(X, chunks=chunks))
        assert isinstance(Z, da.Array)
        assert Z.chunks == (da.from_array(X, chunks=chunks).chunks[0], (4,))
        assert Z.dtype == dtype
        computed = Z.compute(scheduler="synchronous")
        assert computed.shape == Z.shape and computed.dtype == dtype
        # Codes do not depend on the row chunks (fixed-size inference batches).
        np.testing.assert_array_equal(computed, ae.transform(X))


def test_transform_dask_array_of_a_selection_with_empty_blocks(digits32, one_torch_thread):
    ae = quiet(AutoencoderTransformer(**FAST, max_iter=3).fit, digits32)
    dX = da.from_array(digits32, chunks=(450, 64))
    # rows whose first pixel is lit: some blocks may hold none of them
    keep = digits32[:, 5] > 0.9
    keep[450:900] = False  # one block is surely empty
    selected = dX[da.from_array(keep, chunks=450)]
    codes = transform_dask_array(ae, selected).compute(scheduler="synchronous")
    np.testing.assert_array_equal(codes, ae.transform(digits32[keep]))
    assert keep.any()


def test_transform_dask_array_is_unmoved_by_a_later_refit(digits32, one_torch_thread):
    ae = quiet(AutoencoderTransformer(**FAST, max_iter=3).fit, digits32)
    before = ae.transform(digits32)
    graph = transform_dask_array(ae, da.from_array(digits32, chunks=(450, 64)))
    quiet(ae.set_params(n_components=6).fit, digits32)
    codes = graph.compute(scheduler="synchronous")
    assert codes.shape == graph.shape == before.shape
    np.testing.assert_array_equal(codes, before)


def test_fit_dask_array_fits_a_conditional_vae(digits32, one_torch_thread):
    from sklearn.datasets import load_digits

    from skae import VAEGenerator

    y = load_digits().target[:len(digits32)]
    dX = da.from_array(digits32, chunks=(450, 64))
    vae = VAEGenerator(n_components=2, hidden_layer_sizes=(16,), conditional=True,
                       max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_dask_array(vae, dX, da.from_array(y, chunks=300), shuffle_blocks=False)
        ref = VAEGenerator(n_components=2, hidden_layer_sizes=(16,), conditional=True,
                           max_iter=2, random_state=0)
        for lo in range(0, len(digits32), 450):
            ref.partial_fit(digits32[lo:lo + 450], y[lo:lo + 450])
    assert list(vae.classes_) == list(range(10))
    assert_same_weights(vae, ref)
    with pytest.raises(ValueError, match="one label per row"):
        fit_dask_array(vae, dX, y[:10])


def quiet(fit, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args)
