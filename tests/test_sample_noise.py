"""The noise that VAEGenerator adds to samples of a table keeps the table's correlations."""

import json
import warnings

import numpy as np
import pytest

from skae import VAEGenerator
from skae._sample_noise import draw_noise, fit_noise_covariance, pairwise_covariance
from skae.persistence import load_model, save_model

RHO = 0.9  # the correlation within each pair of features


def correlated_pairs(n_rows=300, n_pairs=3, seed=0):
    """Independent pairs of features, each pair correlated ``RHO``, in mixed units."""
    rng = np.random.RandomState(seed)
    u = rng.standard_normal((n_rows, n_pairs))
    v = RHO * u + np.sqrt(1 - RHO**2) * rng.standard_normal((n_rows, n_pairs))
    units = 10.0 ** np.arange(2 * n_pairs)  # raw units from 1 to 100,000
    return np.stack([u, v], 2).reshape(n_rows, 2 * n_pairs) * units


def pair_correlations(X):
    """The correlation of each pair (columns 0-1, 2-3, ...), over the observed rows."""
    out = []
    for i in range(0, X.shape[1], 2):
        rows = ~np.isnan(X[:, i:i + 2]).any(1)
        out.append(np.corrcoef(X[rows, i], X[rows, i + 1])[0, 1])
    return np.array(out)


def fit_quietly(est, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args)


def small_vae(**params):
    # a one-dimensional code cannot carry three independent pairs: the noise must
    return VAEGenerator(**{"n_components": 1, "hidden_layer_sizes": (32,), "max_iter": 30,
                           "random_state": 0, **params})


def test_samples_keep_the_correlations_the_code_does_not_carry():
    X = correlated_pairs()
    vae = fit_quietly(small_vae(), X)
    samples = vae.sample(3000, random_state=0)
    np.testing.assert_allclose(pair_correlations(samples), pair_correlations(X), atol=0.12)
    ratios = samples.std(0) / X.std(0)
    assert (ratios > 0.85).all() and (ratios < 1.15).all(), ratios
    # the noise itself is correlated within the pairs
    noise = samples - vae.sample(3000, random_state=0, add_noise=False)
    assert (pair_correlations(noise) > 0.5).all(), pair_correlations(noise)


def test_samples_with_missing_values_keep_the_correlations():
    X = correlated_pairs(n_rows=400)
    rng = np.random.RandomState(1)
    X_missing = np.where(rng.uniform(size=X.shape) < 0.2, np.nan, X)
    vae = fit_quietly(small_vae(), X_missing)
    samples = vae.sample(3000, random_state=0)
    assert np.isfinite(samples).all()
    np.testing.assert_allclose(pair_correlations(samples), pair_correlations(X_missing),
                               atol=0.15)


def test_conditional_samples_keep_the_correlations_within_their_class():
    X = correlated_pairs(n_rows=400)
    y = np.repeat([0, 1], 200)
    X[y == 1] += 3 * X.std(0)  # the classes differ in their means, and share the pairs
    vae = fit_quietly(small_vae(conditional=True), X, y)
    for label in (0, 1):
        samples = vae.sample(2000, random_state=label, y=label)
        np.testing.assert_allclose(pair_correlations(samples),
                                   pair_correlations(X[y == label]), atol=0.15)


def test_pairwise_covariance_is_the_covariance_over_the_rows_observing_both():
    import pandas as pd

    rng = np.random.RandomState(0)
    X = rng.standard_normal((50, 4)) @ rng.standard_normal((4, 4))
    ones = np.ones_like(X)
    np.testing.assert_allclose(pairwise_covariance(X), np.cov(X.T, bias=True),
                               atol=1e-12)
    np.testing.assert_allclose(pairwise_covariance(X, ones), np.cov(X.T, bias=True),
                               atol=1e-12)
    X[rng.uniform(size=X.shape) < 0.3] = np.nan
    observed = ~np.isnan(X)
    counts = observed.T.astype(float) @ observed
    expected = pd.DataFrame(X).cov().to_numpy() * (counts - 1) / counts  # biased
    got = pairwise_covariance(np.where(observed, X, 0.0), observed.astype(float))
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_noise_covariance_is_what_the_decoded_means_leave_of_the_data():
    rng = np.random.RandomState(0)
    x = rng.standard_normal((5000, 3)) @ np.array([[1.0, 0.8, 0.0], [0, 0.6, 0.5], [0, 0, 1]])
    decoded = 0.5 * x[:, :1] * np.ones(3)  # means that carry part of the first feature
    noise = fit_noise_covariance(x, decoded)
    cov = noise["factor"] @ noise["factor"].T + np.diag(noise["diagonal"])
    np.testing.assert_allclose(cov, np.cov(x.T, bias=True) - np.cov(decoded.T, bias=True),
                               atol=1e-10)
    raw = rng.standard_normal((200_000, sum(noise["factor"].shape)))
    np.testing.assert_allclose(np.cov(draw_noise(noise, raw).T), cov, atol=0.02)


def test_wide_noise_is_low_rank_plus_diagonal():
    rng = np.random.RandomState(0)
    x = rng.standard_normal((300, 100))
    noise = fit_noise_covariance(x, np.zeros_like(x))
    assert noise["factor"].shape == (100, 64)
    total = np.square(noise["factor"]).sum(1) + noise["diagonal"]
    np.testing.assert_allclose(total, x.var(0), rtol=1e-10)  # each feature's variance kept


def test_noise_covariance_survives_save_and_load(tmp_path):
    X = correlated_pairs(n_rows=200)
    vae = fit_quietly(small_vae(max_iter=5), X)
    save_model(vae, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    for key, value in vae._sample_noise.items():
        np.testing.assert_array_equal(loaded._sample_noise[key], value)
    assert loaded.sample(50, random_state=3).tobytes() == vae.sample(50, random_state=3).tobytes()


def test_models_saved_without_the_noise_covariance_still_load_and_sample(tmp_path):
    X = correlated_pairs(n_rows=200)
    vae = fit_quietly(small_vae(max_iter=5), X)
    path = save_model(vae, tmp_path / "old")
    config = json.loads((path / "config.json").read_text())
    del config["fitted"]["_sample_noise"]  # as saved before the covariance was kept
    (path / "config.json").write_text(json.dumps(config))
    old = load_model(path)
    samples = old.sample(4000, random_state=0)
    means = old.sample(4000, random_state=0, add_noise=False)
    std = old.net_.noise_std().detach().numpy()
    # independent noise of the likelihood's variances, as such a model drew before
    np.testing.assert_allclose((samples - means).std(0), std, rtol=0.1)
    assert np.abs(np.corrcoef((samples - means).T)[0, 1]) < 0.1


@pytest.mark.parametrize("params", [{}, {"observation_variance": "shared"}])
def test_only_a_per_feature_variance_gets_a_noise_covariance(params):
    vae = fit_quietly(small_vae(max_iter=3, **params), correlated_pairs(n_rows=100))
    calibrated = vae.net_.likelihood.calibrated
    assert (vae._sample_noise is not None) == calibrated
