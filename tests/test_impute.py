"""AutoencoderImputer: scikit-learn's imputer interface around a skae autoencoder."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skae import AutoencoderImputer, AutoencoderTransformer, VAEGenerator

FAST = dict(hidden_layer_sizes=(32,), max_iter=30, batch_size=32, random_state=0)


def fast_ae(**params):
    return AutoencoderTransformer(**{"n_components": 3, "noise": "missing",
                                     "noise_level": 0.2, **FAST, **params})


def fast_vae(**params):
    return VAEGenerator(**{"n_components": 3, **FAST, **params})


@pytest.fixture(scope="module")
def data():
    """Rows near a 3-D subspace in mixed units, labels, and a copy with a fifth missing."""
    rng = np.random.RandomState(0)
    Z = rng.randn(300, 3)
    X = (Z @ rng.randn(3, 8) + 0.05 * rng.randn(300, 8)) * [1, 10, 100, 1, 1, 5, 0.1, 2]
    y = (Z[:, 0] > 0).astype(int)
    X_missing = X.copy()
    mask = rng.rand(*X.shape) < 0.2
    X_missing[mask] = np.nan
    return X, y, X_missing, mask


@pytest.fixture(scope="module")
def fitted(data):
    import warnings

    _, _, X_missing, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AutoencoderImputer(fast_ae()).fit(X_missing)


def test_fills_missing_entries_and_keeps_observed_ones(data, fitted, one_torch_thread):
    X, _, X_missing, mask = data
    for dtype in (np.float64, np.float32):
        Xt = fitted.transform(X_missing.astype(dtype))
        assert Xt.dtype == dtype and not np.isnan(Xt).any()
        np.testing.assert_array_equal(Xt[~mask], X_missing.astype(dtype)[~mask])  # bitwise
    # the missing values are restored far better than by the features' means
    span = X.max(0) - X.min(0)
    error = ((fitted.transform(X_missing) - X) / span)[mask]
    mean_error = ((SimpleImputer().fit_transform(X_missing) - X) / span)[mask]
    assert np.sqrt(np.mean(error**2)) < 0.5 * np.sqrt(np.mean(mean_error**2))


def test_estimator_is_cloned_and_exposed(data, fitted):
    estimator = fitted.estimator
    assert not hasattr(estimator, "net_")
    assert isinstance(fitted.estimator_, AutoencoderTransformer)
    assert fitted.estimator_.net_.missing_mask


def test_default_estimator(data, one_torch_thread):
    _, _, X_missing, mask = data
    imputer = AutoencoderImputer(random_state=0).fit(X_missing[:80])
    est = imputer.estimator_
    assert est.noise == "missing" and est.n_components == 8  # as wide as the features
    assert np.isfinite(imputer.transform(X_missing[:10])).all()


@pytest.mark.parametrize("placeholder", [-1, 0])
def test_other_missing_values(data, fitted, placeholder, one_torch_thread):
    _, _, X_missing, mask = data
    coded = np.where(mask, placeholder, X_missing)
    coded[~mask & (coded == placeholder)] += 0.5  # no observed value equals the placeholder
    imputer = AutoencoderImputer(fast_ae(), missing_values=placeholder).fit(coded)
    reference = AutoencoderImputer(fast_ae()).fit(np.where(mask, np.nan, coded))
    np.testing.assert_array_equal(imputer.transform(coded),
                                  reference.transform(np.where(mask, np.nan, coded)))
    with pytest.raises(ValueError, match="NaN"):
        imputer.transform(X_missing)  # NaN is not the placeholder: it is refused


@pytest.mark.parametrize("placeholder", [None, pd.NA])
def test_none_and_pandas_na_mean_nan(data, fitted, placeholder, one_torch_thread):
    _, _, X_missing, mask = data
    if placeholder is None:
        coded = X_missing.astype(object)
        coded[mask] = None  # read as numbers, these entries become NaN
    else:  # a nullable pandas column holds pandas.NA where X_missing holds NaN
        coded = pd.DataFrame(X_missing).astype("Float64")
    imputer = AutoencoderImputer(fast_ae(), missing_values=placeholder, add_indicator=True)
    Xt = imputer.fit(coded).transform(coded)
    np.testing.assert_array_equal(Xt[:, :8], fitted.transform(X_missing))
    np.testing.assert_array_equal(Xt[:, 8:], mask[:, mask.any(0)])


def test_refinement_passes(data, fitted, one_torch_thread):
    _, _, X_missing, mask = data
    twice = clone(fitted).set_params(n_iter=2)
    twice.estimator_ = fitted.estimator_  # the same network, one more pass
    for name in ("_empty_features", "indicator_", "random_state_", "n_features_in_"):
        setattr(twice, name, getattr(fitted, name))
    once, refined = fitted.transform(X_missing), twice.transform(X_missing)
    assert not np.array_equal(once[mask], refined[mask])
    np.testing.assert_array_equal(refined[~mask], X_missing[~mask])
    # the second pass re-encodes the rows as the first pass filled them
    est = fitted.estimator_
    expected = est.inverse_transform(est.transform(once))
    np.testing.assert_allclose(refined[mask], expected[mask])


def test_empty_features_and_indicator(data, one_torch_thread):
    _, _, X_missing, mask = data
    X = X_missing.copy()
    X[:, 2] = np.nan
    dropped = AutoencoderImputer(fast_ae(max_iter=2)).fit(X)
    assert dropped.transform(X).shape == (300, 7)
    np.testing.assert_array_equal(dropped.get_feature_names_out(),
                                  [f"x{i}" for i in range(8) if i != 2])
    kept = AutoencoderImputer(fast_ae(max_iter=2), keep_empty_features=True,
                              add_indicator=True).fit(X)
    Xt = kept.transform(X)
    assert Xt.shape == (300, 16)  # 8 features and an indicator for each (all have NaN)
    np.testing.assert_array_equal(Xt[:, 2], 0)
    np.testing.assert_array_equal(Xt[:, 8:], np.isnan(X))
    names = kept.get_feature_names_out()
    assert names[2] == "x2" and names[8] == "missingindicator_x0"


def test_rows_with_every_value_missing(data, fitted, one_torch_thread):
    _, _, X_missing, _ = data
    X = np.vstack([X_missing[:5], np.full((2, 8), np.nan)])
    Xt = fitted.transform(X)
    assert np.isfinite(Xt).all()
    np.testing.assert_array_equal(Xt[-1], Xt[-2])


def test_pandas_in_and_out(data, one_torch_thread):
    _, _, X_missing, mask = data
    frame = pd.DataFrame(X_missing, columns=[f"f{i}" for i in range(8)])
    imputer = AutoencoderImputer(fast_ae(max_iter=2), add_indicator=True).set_output(
        transform="pandas")
    out = imputer.fit_transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns[:8]) == list(frame.columns)
    assert out.columns[8] == "missingindicator_f0"
    np.testing.assert_array_equal(out.to_numpy()[:, :8][~mask], X_missing[~mask])


def test_pipeline_and_grid_search(data, one_torch_thread):
    _, y, X_missing, _ = data
    pipe = make_pipeline(AutoencoderImputer(fast_ae(max_iter=5)), LogisticRegression())
    search = GridSearchCV(pipe, {"autoencoderimputer__n_iter": [1, 2]}, cv=2)
    search.fit(X_missing, y)
    assert search.best_score_ > 0.7
    assert search.predict(X_missing).shape == (300,)


def test_sample_posterior_draws(data, one_torch_thread):
    _, _, X_missing, mask = data
    vae = fast_vae(max_iter=5)

    def draws(seed):
        return AutoencoderImputer(vae, sample_posterior=True, random_state=seed).fit(
            X_missing).transform(X_missing)

    a, b, c = draws(0), draws(0), draws(1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[mask], c[mask])
    np.testing.assert_array_equal(a[~mask], X_missing[~mask])
    imputer = AutoencoderImputer(vae, sample_posterior=True, random_state=0).fit(X_missing)
    assert not np.allclose(imputer.transform(X_missing)[mask],
                           imputer.transform(X_missing)[mask])  # each call draws anew
    mean = AutoencoderImputer(vae, random_state=0).fit(X_missing).transform(X_missing)
    assert not np.allclose(mean[mask], a[mask])
    np.testing.assert_array_equal(mean, AutoencoderImputer(vae, random_state=5).fit(
        X_missing).transform(X_missing))  # the mean does not depend on the draws' seed


@pytest.mark.parametrize(
    "params, X_case, error, match",
    [
        ({"sample_posterior": True}, "missing", ValueError, "sample_posterior=True .*VAEGenerator"),
        ({"estimator": VAEGenerator(conditional=True)}, "missing", ValueError, "conditional"),
        ({"estimator": SimpleImputer()}, "missing", TypeError, "estimator must be"),
        ({"n_iter": 0}, "missing", ValueError, "n_iter"),
        ({}, "inf", ValueError, "infinity"),
        ({"missing_values": -1}, "missing", ValueError, "NaN"),
    ],
)
def test_errors(data, params, X_case, error, match):
    _, _, X_missing, _ = data
    X = X_missing.copy()
    if X_case == "inf":
        X[0, 0] = np.inf
    imputer = AutoencoderImputer(**{"estimator": fast_ae(), **params})
    with pytest.raises(error, match=match):
        imputer.fit(X)
    assert not hasattr(imputer, "estimator_")
