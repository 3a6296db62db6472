"""The importance-weighted training objective of VAEGenerator (``iwae_samples``)."""

import numpy as np
import pytest
import torch
from conftest import quiet_fit
from sklearn.datasets import load_digits

from skae import VAEGenerator

PARAMS = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=15, batch_size=64,
              learning_rate=1e-3, random_state=0)


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:600] / 16.0 > 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def fitted(X):
    return quiet_fit(VAEGenerator(likelihood="bernoulli", **PARAMS), X)


def _bound(vae, X, k, seed=0):
    """Mean importance-weighted bound (nats, data units) of the training objective."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        neg, _, _ = vae.net_.iwae_terms(torch.from_numpy(X), g, k, data_units=True)
    return float(-neg.double().mean())


def test_training_bound_agrees_with_score_samples(fitted, X):
    # two estimators of the same bound, with independent draws
    for k in (1, 50):
        assert _bound(fitted, X, k) == pytest.approx(
            fitted.score_samples(X, n_importance_samples=k).mean(), abs=0.3)


def test_more_draws_tighten_the_training_bound(fitted, X):
    assert _bound(fitted, X, 1) < _bound(fitted, X, 5) < _bound(fitted, X, 50)


def test_one_draw_is_the_elbo_in_expectation(fitted, X):
    g = torch.Generator().manual_seed(0)
    x = torch.from_numpy(np.repeat(X[:20], 200, axis=0))
    with torch.no_grad():
        neg_iwae, rec, kl = fitted.net_.iwae_terms(x, g, 1, data_units=True)
        rec_elbo, kl_elbo = fitted.net_.elbo_terms(x, g, data_units=True)
    # a sampled KL against the analytic one, the same reconstruction term
    assert float(neg_iwae.mean()) == pytest.approx(float((rec_elbo + kl_elbo).mean()), rel=0.02)
    assert torch.equal(kl, kl_elbo)


@pytest.mark.parametrize("conditional", [False, True])
def test_fit_with_the_importance_weighted_objective(conditional, X):
    y = load_digits().target[:600] if conditional else None
    elbo = quiet_fit(VAEGenerator(likelihood="bernoulli", conditional=conditional, **PARAMS),
                     X, y)
    iwae = quiet_fit(VAEGenerator(likelihood="bernoulli", conditional=conditional,
                                  iwae_samples=5, **PARAMS), X, y)
    assert iwae.n_iter_ > 0 and np.isfinite(iwae.validation_loss_curve_).all()
    assert len(iwae.kl_loss_curve_) == iwae.n_iter_
    assert not np.allclose(iwae.transform(X), elbo.transform(X))
    assert iwae.sample(3, random_state=0).shape == (3, X.shape[1])
