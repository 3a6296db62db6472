"""The data scaling inside the network: mixed units, tiny scales, units-free stopping, memory."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import quiet_fit
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer, VAEGenerator
from skae._data import data_scaling


def per_feature_r2(X, X_hat, mean):
    return 1 - ((X - X_hat) ** 2).sum(0) / ((X - mean) ** 2).sum(0)


@pytest.mark.parametrize("loader, k", [(load_breast_cancer, 8), (load_wine, 4)],
                         ids=["breast_cancer", "wine"])
def test_raw_mixed_units_fit_like_after_a_scaler(loader, k, one_torch_thread):
    X, _ = loader(return_X_y=True)
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    net = dict(hidden_layer_sizes=(128, 64), random_state=0)  # the scaling, not the net, is tested
    raw = quiet_fit(AutoencoderTransformer(k, **net), X_train)
    assert raw.scaling_ == "feature"
    r2_raw = per_feature_r2(X_test, raw.inverse_transform(raw.transform(X_test)),
                            X_train.mean(0))
    scaler = StandardScaler().fit(X_train)
    scaled = quiet_fit(AutoencoderTransformer(k, **net), scaler.transform(X_train))
    Z = scaler.transform(X_test)
    r2_scaled = per_feature_r2(Z, scaled.inverse_transform(scaled.transform(Z)),
                               scaler.transform(X_train).mean(0))
    assert (r2_raw > 0).all(), r2_raw
    assert np.median(r2_raw) >= np.median(r2_scaled) - 0.05


def test_scaling_choice_for_pixels_and_mixed_units(digits):
    X = digits[0]
    assert data_scaling(X, "auto")[2] == "global"
    assert data_scaling(X * 1e4, "auto")[2] == "global"  # a change of units changes nothing
    assert data_scaling(load_breast_cancer().data, "auto")[2] == "feature"
    mean, scale, mode = data_scaling(load_wine().data, "global")
    assert mode == "global" and np.ptp(scale) == 0


@pytest.mark.parametrize("table", [load_iris, load_wine, load_breast_cancer, load_diabetes])
def test_auto_scaling_scales_raw_tables_feature_by_feature(table):
    # A feature of far *smaller* range than the others (diabetes' binary "sex",
    # range 1 beside a median of 63) calls for per-feature scaling as much as
    # one of far larger range does; a table of one unit at other offsets too.
    X = table(return_X_y=True, **({"scaled": False} if table is load_diabetes else {}))[0]
    assert data_scaling(X, "auto")[2] == "feature"
    assert data_scaling(X * 1e4, "auto")[2] == "feature"
    rng = np.random.RandomState(0)
    pixels = rng.rand(50, 20) * 0.1
    pixels[:, :15] = rng.rand(50, 15)  # most features span the whole scale, a few faint
    assert data_scaling(pixels * 255, "auto")[2] == "global"


def test_a_small_range_feature_of_a_raw_table_is_reconstructed(one_torch_thread):
    X, _ = load_diabetes(return_X_y=True, scaled=False)
    ae = quiet_fit(AutoencoderTransformer(n_components=4, hidden_layer_sizes=(64,),
                                          max_iter=60, random_state=0), X)
    assert ae.scaling_ == "feature"
    r2 = per_feature_r2(X, ae.inverse_transform(ae.transform(X)), X.mean(0))
    assert r2[1] > 0.3, r2  # "sex", range 1, beside features of range 63 to 300


def test_scaled_scores_weigh_features_as_the_network_does(one_torch_thread):
    X, y = load_wine(return_X_y=True)
    ae = quiet_fit(AutoencoderTransformer(n_components=2, hidden_layer_sizes=(32,),
                                          max_iter=40, random_state=0), X[y == 0])
    errors = (X - ae.inverse_transform(ae.transform(X))) ** 2
    np.testing.assert_allclose(ae.score_samples(X), -errors.sum(1), rtol=1e-4)
    scale = ae.net_.scale.double().numpy()
    scaled = ae.score_samples(X, units="scaled")
    np.testing.assert_allclose(scaled, -(errors / scale**2).sum(1), rtol=1e-4)
    # in data units one feature (proline, in the hundreds) makes nearly all of
    # every score; scaled, no feature makes most of a typical score
    assert np.median(errors.max(1) / errors.sum(1)) > 0.9
    scaled_errors = errors / scale**2
    assert np.median(scaled_errors.max(1) / scaled_errors.sum(1)) < 0.5
    with pytest.raises(ValueError, match="'units' parameter of AutoencoderTransformer"):
        ae.score_samples(X, units="raw")


@pytest.mark.parametrize("factor", [1e-13, 1e-25, 1e20])
def test_any_scale_fits_as_well_as_unit_scale(factor, one_torch_thread):
    rng = np.random.RandomState(0)
    X = rng.randn(400, 2) @ rng.randn(2, 10)  # rank 2
    params = dict(n_components=2, hidden_layer_sizes=(32,), max_iter=60, random_state=0)

    def r2(est, data):
        rec = est.inverse_transform(est.transform(data))
        return 1 - ((data - rec) ** 2).sum() / ((data - data.mean(0)) ** 2).sum()

    unit = r2(quiet_fit(AutoencoderTransformer(**params), X), X)
    tiny = r2(quiet_fit(AutoencoderTransformer(**params), X * factor), X * factor)
    assert unit > 0.95
    assert tiny == pytest.approx(unit, abs=1e-3)


@pytest.mark.parametrize("factor", [1e4, 1e-4])
def test_vae_stopping_does_not_depend_on_units(factor, digits, one_torch_thread):
    X = digits[0][:600]
    params = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=60, n_iter_no_change=3,
                  tol=1e-3, free_bits=0.0, random_state=0)
    a = quiet_fit(VAEGenerator(**params), X)
    b = quiet_fit(VAEGenerator(**params), X * factor)
    assert a.n_iter_ < params["max_iter"]  # it did stop early
    assert b.n_iter_ == a.n_iter_
    shift = X.shape[1] * np.log(factor)  # -log p(c x) = -log p(x) + d log c
    np.testing.assert_allclose(b.loss_curve_, np.add(a.loss_curve_, shift), rtol=1e-3)
    np.testing.assert_allclose(b.score(X * factor), a.score(X) - shift, rtol=1e-3)


def _traced_peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_scaling_pass_of_wide_sparse_data_stays_small():
    rng = np.random.RandomState(0)
    rows, cols = rng.randint(4096, size=100_000), rng.randint(50_000, size=100_000)
    X = sp.csr_matrix((rng.randn(100_000), (rows, cols)), shape=(4096, 50_000))
    peak = _traced_peak(lambda: data_scaling(X, "auto"))
    assert peak < 20 * 2**20, f"{peak / 2**20:.1f} MiB"
    mean, scale, _ = data_scaling(X, "feature")
    dense = X[:, :2000].toarray()  # implicit zeros count as values
    np.testing.assert_allclose(mean[:2000], dense.mean(0), atol=1e-12)
    expected = dense.std(0)
    expected[expected == 0] = 1
    np.testing.assert_allclose(scale[:2000], expected, rtol=1e-6)


def test_scaling_pass_of_a_wide_memmap_reads_bounded_chunks(tmp_path):
    rng = np.random.RandomState(0)
    path = tmp_path / "wide.npy"
    data = rng.rand(512, 20_000).astype(np.float32) * 100 + 1e3  # 40 MiB, far from 0
    np.save(path, data)
    mm = np.load(path, mmap_mode="r")
    peak = _traced_peak(lambda: data_scaling(mm, "feature"))
    assert peak < 8 * 2**20, f"{peak / 2**20:.1f} MiB"
    mean, scale, _ = data_scaling(mm, "feature")
    np.testing.assert_allclose(mean, data.astype(np.float64).mean(0), rtol=1e-9)
    np.testing.assert_allclose(scale, data.astype(np.float64).std(0), rtol=1e-6)


def test_tiny_first_partial_fit_chunk_warns(digits):
    X = digits[0]
    est = AutoencoderTransformer(n_components=2, hidden_layer_sizes=(8,), random_state=0)
    with pytest.warns(UserWarning, match="first chunk, which holds only 1 rows"):
        est.partial_fit(X[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.partial_fit(X[1:2])  # later chunks do not warn
        AutoencoderTransformer(n_components=2, hidden_layer_sizes=(8,)).partial_fit(X[:200])


def test_data_far_from_zero_keep_their_precision():
    # a rank-2 signal riding on a large offset: float32 alone cannot hold it
    rng = np.random.RandomState(0)
    S = rng.randn(400, 2) @ rng.randn(2, 10)
    X = 1e6 + 0.01 * S
    ae = AutoencoderTransformer(n_components=2, random_state=0).fit(X)
    recon = ae.inverse_transform(ae.transform(X))
    assert r2_score(X, recon) > 0.9
    # the reconstruction is shifted back in float64: it lies near the data, not on float32's grid
    assert np.abs(recon - X).max() < 0.01
    scores = ae.score_samples(X)
    np.testing.assert_allclose(-scores, ((recon - X) ** 2).sum(1), rtol=1e-3, atol=1e-9)


def test_a_spread_below_float32_resolution_is_named():
    S = np.random.RandomState(0).randn(50, 3)
    ae = AutoencoderTransformer(n_components=1, max_iter=1, random_state=0)
    with pytest.raises(ValueError, match="spread is too small for float32: feature"):
        ae.fit(1e-50 * S)
    assert not hasattr(ae, "net_")
