"""Tests of VAEGenerator: sklearn contract, likelihood in nats, sampling, scoring."""

import math
import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from conftest import quiet_fit
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

import skae._importance
import skae._vae
from skae import AutoencoderTransformer, TrainingDivergedError, VAEGenerator
from skae._base import BaseAutoencoder


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def small_vae(**params):
    params = {"n_components": 4, "hidden_layer_sizes": (32,), "max_iter": 15,
              "batch_size": 64, "learning_rate": 1e-3, "free_bits": 0.0, "random_state": 0,
              **params}  # free_bits=0: the ELBO, which the tests compute by hand
    return VAEGenerator(**params)


@pytest.fixture(scope="module")
def gaussian_vae(digits):
    return quiet_fit(small_vae(), digits[0][:600])


@pytest.fixture(scope="module")
def bernoulli_vae(digits):
    return quiet_fit(small_vae(likelihood="bernoulli"), digits[0][:600])


# --------------------------------------------------------------- parameters
def _param_docs(cls):
    """Map parameter name -> (type line, description) from a numpydoc docstring."""
    text = cls.__doc__.split("Parameters\n    ----------\n", 1)[1].split("\n    Attributes", 1)[0]
    text = text.replace("\\\n", "")
    docs, name = {}, None
    for line in text.splitlines():
        match = re.match(r"^    (\S[^:]*?) : (.*)$", line)
        if match:
            name = match.group(1)
            docs[name] = [match.group(2), ""]
        elif name is not None and line.strip():
            docs[name][1] += " " + line.strip()
    out = {}
    for key, value in docs.items():
        for part in key.split(", "):
            out[part] = (value[0], value[1].strip())
    return out


def test_shared_parameter_docs_match_autoencoder():
    vae, ae = _param_docs(VAEGenerator), _param_docs(AutoencoderTransformer)
    vae_params = set(VAEGenerator().get_params())
    assert set(vae) == vae_params  # every parameter is documented
    shared = vae_params & set(AutoencoderTransformer().get_params())
    # the parameters both estimators share are exactly those of their base class
    assert shared == set(BaseAutoencoder._parameter_constraints)
    shared -= {"n_components"}  # the autoencoder's may also be a fraction of variance
    vae_defaults, ae_defaults = VAEGenerator().get_params(), AutoencoderTransformer().get_params()
    for name in sorted(shared):
        assert vae[name][1] == ae[name][1], f"description of {name!r} differs"
        if vae_defaults[name] == ae_defaults[name]:
            assert vae[name][0] == ae[name][0], f"type line of {name!r} differs"
        else:  # a VAE-specific default: only the default may differ
            strip = re.compile(r", default=.*$")
            assert strip.sub("", vae[name][0]) == strip.sub("", ae[name][0])


def test_bernoulli_rejects_data_outside_unit_interval(digits):
    X = digits[0][:50] * 16
    with pytest.raises(ValueError, match=r"likelihood='bernoulli' requires X to lie in \[0, 1\]"):
        small_vae(likelihood="bernoulli").fit(X)


def test_bernoulli_score_rejects_data_outside_unit_interval(bernoulli_vae, digits):
    with pytest.raises(ValueError, match=r"requires X to lie in \[0, 1\]"):
        bernoulli_vae.score_samples(digits[0][:5] * 16)


@pytest.mark.parametrize(
    "params, match",
    [({"beta": -1.0}, "beta"), ({"kl_warmup": -1}, "kl_warmup"),
     ({"observation_variance": 0.0}, "observation_variance"),
     ({"observation_variance": "fixed"}, "observation_variance"),
     ({"likelihood": "poisson"}, "likelihood"),
     ({"n_importance_samples": 0}, "n_importance_samples"),
     ({"iwae_samples": 0}, "iwae_samples"), ({"iwae_samples": 2.5}, "iwae_samples")],
)
def test_invalid_parameters(params, match, digits):
    with pytest.raises(ValueError, match=match):
        small_vae(**params).fit(digits[0][:50])


# ---------------------------------------------------------------- sampling
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_shape_dtype_reproducible(dtype, digits):
    X = digits[0][:300].astype(dtype)
    vae = quiet_fit(small_vae(max_iter=2), X)
    a = vae.sample(7, random_state=0)
    assert a.shape == (7, 64) and a.dtype == dtype
    np.testing.assert_array_equal(a, vae.sample(7, random_state=0))
    np.testing.assert_array_equal(
        vae.sample(7, random_state=np.random.RandomState(3)),
        vae.sample(7, random_state=np.random.RandomState(3)),
    )
    assert not np.array_equal(a, vae.sample(7, random_state=1))
    # The estimator's own stream advances; a refit with the same seed restarts it.
    b, c = vae.sample(5), vae.sample(5)
    assert not np.array_equal(b, c)
    quiet_fit(vae, X)
    np.testing.assert_array_equal(vae.sample(5), b)


@pytest.mark.parametrize("n_samples", [0, -2, 1.5, "3", True])
def test_sample_rejects_bad_n_samples(n_samples, gaussian_vae):
    with pytest.raises(ValueError, match="n_samples"):
        gaussian_vae.sample(n_samples)


def test_sample_add_noise(gaussian_vae, bernoulli_vae):
    binary = bernoulli_vae.sample(50, random_state=0, add_noise=True)
    assert set(np.unique(binary)) <= {0.0, 1.0}
    means = bernoulli_vae.sample(50, random_state=0)
    assert ((means > 0) & (means < 1)).all()
    noisy = gaussian_vae.sample(2000, random_state=0, add_noise=True)
    clean = gaussian_vae.sample(2000, random_state=0)
    net = gaussian_vae.net_
    expected_var = (torch.exp(net.likelihood.log_variance(net.scale)).detach().numpy()
                    * net.scale.numpy() ** 2)
    np.testing.assert_allclose((noisy - clean).var(0), expected_var, rtol=0.2)


def test_global_random_state_untouched(digits):
    X = digits[0][:200]
    # random_state=None draws the fit's seed from numpy's global RandomState,
    # as scikit-learn does; everything after that uses local generators.
    unseeded = quiet_fit(small_vae(max_iter=2, random_state=None), X)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    vae = quiet_fit(small_vae(max_iter=2), X)
    for estimator in (vae, unseeded):
        estimator.sample(3)
        estimator.sample(3, random_state=0, add_noise=True)
        estimator.score_samples(X[:20])
        estimator.score_samples(X[:20], n_importance_samples=4)
        estimator.transform(X[:5])
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]


# ----------------------------------------------------------------- scoring
def test_importance_weighted_bound_is_tighter(gaussian_vae, bernoulli_vae, digits):
    X = digits[0][600:900]
    for vae in (gaussian_vae, bernoulli_vae):
        elbo = vae.score_samples(X).mean()
        iwae_10 = vae.score_samples(X, n_importance_samples=10).mean()
        iwae_50 = vae.score_samples(X, n_importance_samples=50).mean()
        assert elbo <= iwae_10 <= iwae_50
        assert vae.score(X) == pytest.approx(elbo)


def test_score_samples_deterministic_and_batch_invariant(gaussian_vae, digits):
    X = digits[0][:700]  # more rows than one inference chunk (512)
    full = gaussian_vae.score_samples(X, n_importance_samples=3)
    np.testing.assert_array_equal(full, gaussian_vae.score_samples(X, n_importance_samples=3))
    perm = np.random.RandomState(0).permutation(len(X))
    np.testing.assert_array_equal(
        gaussian_vae.score_samples(X[perm], n_importance_samples=3), full[perm]
    )
    parts = np.concatenate([gaussian_vae.score_samples(X[i:i + 97], n_importance_samples=3)
                            for i in range(0, len(X), 97)])
    np.testing.assert_array_equal(parts, full)
    np.testing.assert_array_equal(
        gaussian_vae.score_samples(X.astype(np.float32), n_importance_samples=3), full
    )


@pytest.mark.parametrize("k", [0, 2.5, True])
def test_score_samples_rejects_bad_n_importance_samples(k, gaussian_vae, digits):
    with pytest.raises(ValueError, match="n_importance_samples"):
        gaussian_vae.score_samples(digits[0][:5], n_importance_samples=k)


def test_partial_fit_then_sample_and_score(digits):
    X = digits[0][:300].astype(np.float32)
    vae = small_vae()
    for _ in range(3):
        vae.partial_fit(X)
    assert vae.n_iter_ == 3 and len(vae.kl_loss_curve_) == 3
    assert vae.sample(4, random_state=0).dtype == np.float32
    assert np.isfinite(vae.score_samples(X[:10], n_importance_samples=5)).all()


class _ZeroNoise:
    """Stands in for the per-row noise: every posterior draw is the mean."""

    def __init__(self, x, key, width):
        self.n, self.width, self.device = x.shape[0], width, x.device

    def draw(self, k):
        return torch.zeros(self.n, k, self.width, device=self.device)


def _hand_log_px_given_mean(vae, X):
    """``log p(x | z = posterior mean)`` in data units with scipy, and the posterior."""
    with torch.no_grad():
        # the network reads the data minus its float64 input shift
        x = torch.as_tensor(X - vae.net_.input_shift.numpy(), dtype=torch.float32)
        stats_ = vae.net_.code_stats(x).double()
    d = vae.n_components
    mean, logvar = stats_[:, :d], stats_[:, d:].clamp(-30, 20)
    x_hat = vae.inverse_transform(mean.numpy().astype(np.float32)).astype(np.float64)
    if vae.likelihood == "bernoulli":
        log_lik = stats.bernoulli.logpmf(X, x_hat).sum(1)
    else:
        net = vae.net_
        if vae.observation_variance == "learned":  # stored in standardised units
            var = (torch.exp(net.likelihood.log_variance(net.scale)).detach().numpy()
                   * net.scale.numpy() ** 2)
        else:
            var = vae.observation_variance
        log_lik = stats.norm.logpdf(X, loc=x_hat, scale=np.sqrt(var)).sum(1)
    return log_lik, mean, logvar


@pytest.mark.parametrize(
    "params",
    [{"likelihood": "bernoulli"}, {}, {"observation_variance": 0.02}],
    ids=["bernoulli", "gaussian-learned", "gaussian-fixed"],
)
def test_elbo_and_iwae_in_nats_match_hand_computation(params, digits, monkeypatch):
    X = (digits[0][:300] > 0.5).astype(np.float64)  # binary: a proper Bernoulli likelihood
    vae = quiet_fit(small_vae(n_components=3, hidden_layer_sizes=(6,), max_iter=3, **params), X)
    X_eval = X[:40]
    log_lik, mean, logvar = _hand_log_px_given_mean(vae, X_eval)
    kl = 0.5 * (mean**2 + logvar.exp() - 1 - logvar).sum(1).numpy()
    monkeypatch.setattr(skae._importance, "RowNoise", _ZeroNoise)
    np.testing.assert_allclose(vae.score_samples(X_eval), log_lik - kl, rtol=1e-5, atol=1e-3)
    # With every z_k at the posterior mean, each importance weight is
    # p(x|mean) p(mean) / q(mean|x).
    log_prior = stats.norm.logpdf(mean.numpy()).sum(1)
    log_q = (-0.5 * (logvar + math.log(2 * math.pi))).sum(1).numpy()
    np.testing.assert_allclose(vae.score_samples(X_eval, n_importance_samples=4),
                               log_lik + log_prior - log_q, rtol=1e-5, atol=1e-3)


def test_gaussian_likelihood_is_in_data_units(digits, monkeypatch):
    """Scaling X by c and the variance by c**2 shifts log p(x) by -n_features * log(c)."""
    X = digits[0][:300]
    c = 10.0
    # Plain SGD: the two fits see the same standardised data and follow the
    # same path up to rounding (Adam would amplify rounding noise).
    sgd = dict(optimizer="sgd", learning_rate=1e-3, max_iter=3)
    a = quiet_fit(small_vae(observation_variance=0.01, **sgd), X)
    b = quiet_fit(small_vae(observation_variance=0.01 * c**2, **sgd), X * c)
    shift = -X.shape[1] * math.log(c)
    np.testing.assert_allclose(b.loss_curve_, np.add(a.loss_curve_, -shift), rtol=1e-4)
    np.testing.assert_allclose(b.validation_loss_curve_,
                               np.add(a.validation_loss_curve_, -shift), rtol=1e-4)
    monkeypatch.setattr(skae._importance, "RowNoise", _ZeroNoise)  # same z for X and c * X
    np.testing.assert_allclose(b.score_samples(X * c), a.score_samples(X) + shift, rtol=1e-4)


# ------------------------------------------------------------------ fitting
def test_transform_is_the_deterministic_posterior_mean(gaussian_vae, digits):
    X = digits[0][:100]
    codes = gaussian_vae.transform(X)
    np.testing.assert_array_equal(codes, gaussian_vae.transform(X))
    with torch.no_grad():
        x = torch.as_tensor(X - gaussian_vae.net_.input_shift.numpy(), dtype=torch.float32)
        mean = gaussian_vae.net_.code_stats(x)[:, :4]
    np.testing.assert_allclose(codes, mean.numpy(), rtol=1e-5, atol=1e-6)
    assert gaussian_vae.inverse_transform(codes).shape == X.shape


def test_fitted_curves_and_learned_variance(gaussian_vae):
    vae = gaussian_vae
    assert len(vae.loss_curve_) == len(vae.reconstruction_loss_curve_) == vae.n_iter_
    assert len(vae.kl_loss_curve_) == vae.n_iter_ and min(vae.kl_loss_curve_) > 0
    np.testing.assert_allclose(
        vae.loss_curve_, np.add(vae.reconstruction_loss_curve_, vae.kl_loss_curve_), rtol=1e-5
    )
    assert np.isfinite(vae.best_loss_)
    names = dict(vae.net_.named_parameters())
    assert "likelihood.logvar" in names  # the learned variance is a trained parameter
    assert (names["likelihood.logvar"].detach() != 0.0).all()
    # pixels share one scale, so they share one learned variance
    assert vae.scaling_ == "global" and bool(vae.net_.likelihood.shared)


def test_learned_variance_is_per_feature_on_tables():
    from sklearn.datasets import load_diabetes

    X = load_diabetes(scaled=False).data
    vae = quiet_fit(small_vae(max_iter=30), X)
    net = vae.net_
    assert vae.scaling_ == "feature" and not bool(net.likelihood.shared)
    std = net.noise_std().detach().numpy()
    # "sex" (two values, range 1) gets noise on its own scale, not the others'
    assert (std < 1.1 * X.std(0)).all(), std / X.std(0)
    samples = vae.sample(2000, random_state=0, add_noise=True)
    ratios = samples.std(0) / X.std(0)
    assert (ratios > 0.7).all() and (ratios < 1.3).all(), ratios
    # each feature's variance is its own parameter, floored
    shared = quiet_fit(small_vae(max_iter=30, observation_variance="shared"), X)
    assert bool(shared.net_.likelihood.shared)
    assert np.ptp(shared.net_.likelihood.log_variance(shared.net_.scale).detach().numpy()) == 0
    assert np.ptp(net.likelihood.log_variance(net.scale).detach().numpy()) > 0
    with pytest.raises(ValueError, match="observation_variance"):
        shared.set_params(warm_start=True, observation_variance="feature").fit(X)


def test_table_variance_is_calibrated_and_default_samples_spread_as_the_table():
    from sklearn.datasets import load_wine

    X = load_wine().data  # raw, in mixed units
    vae = quiet_fit(VAEGenerator(n_components=4, hidden_layer_sizes=(64,), max_iter=40,
                                 random_state=0), X)
    net = vae.net_
    assert net.likelihood.calibrated
    # each feature's variance is its mean squared residual at posterior draws
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        rows = torch.as_tensor(X, dtype=torch.float32)
        residual = torch.stack([net.squared_residuals(rows, generator).mean(0)
                                for _ in range(20)]).mean(0)
        variance = net.likelihood.log_variance(net.scale).exp()
    np.testing.assert_allclose(variance.numpy(), residual.numpy(), rtol=0.25)
    # by default the samples of a table carry the observation noise, and spread as it does
    samples = vae.sample(2000, random_state=0)
    ratios = samples.std(0) / X.std(0)
    assert ratios.min() > 0.85 and ratios.max() < 1.15, ratios
    # the noise's covariance is what the decoded codes leave of the table's
    means = vae.sample(2000, random_state=0, add_noise=False)
    noise = vae._sample_noise
    scale = net.scale.double().numpy()
    covariance = (noise["factor"] @ noise["factor"].T + np.diag(noise["diagonal"]))
    units = np.outer(X.std(0), X.std(0))  # compared in units of the table's spreads
    np.testing.assert_allclose(np.cov((samples - means).T) / units,
                               covariance * np.outer(scale, scale) / units,
                               rtol=0.2, atol=0.05)


def test_readme_names_the_autoencoder_parameters_the_vae_lacks():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    start = readme.index("`VAEGenerator` shares")
    sentence = readme[start:readme.index("\n\n", start)]
    lacking = set(AutoencoderTransformer().get_params()) - set(VAEGenerator().get_params())
    assert lacking and "every parameter" not in sentence
    for name in sorted(lacking):
        assert f"`{name}`" in sentence, name
        with pytest.raises(TypeError, match=name):
            VAEGenerator(**{name: None})


def test_autoencoder_losses_are_in_scaled_units_scores_in_data_units(digits):
    X = digits[0][:400] * 100.0  # one shared scale, far from 1
    ae = quiet_fit(AutoencoderTransformer(n_components=4, hidden_layer_sizes=(32,), noise=None,
                                          validation_fraction=0, max_iter=20, random_state=0), X)
    scale = float(ae.net_.scale[0])
    assert ae.scaling_ == "global" and scale > 10
    error = -ae.score(X)  # squared error per sample, in the units of X
    assert 0.5 < error / scale**2 / ae.best_loss_ < 2
    assert error / ae.best_loss_ > 100
    doc = " ".join(AutoencoderTransformer.__doc__.split())
    assert "losses and scores stay in the units of ``X``" not in doc
    assert "Training loss per epoch, in the scaled units the network works in" in doc


def test_kl_warmup_ramps_the_kl_weight(digits):
    vae = quiet_fit(small_vae(kl_warmup=4, beta=2.0, max_iter=6, early_stopping=False),
                    digits[0][:300])
    weights = 2.0 * np.minimum(1.0, np.arange(1, 7) / 4)
    expected = np.add(vae.reconstruction_loss_curve_, weights * np.array(vae.kl_loss_curve_))
    np.testing.assert_allclose(vae.loss_curve_, expected, rtol=1e-5)
    # partial_fit continues the ramp (already complete here): full weight.
    vae.partial_fit(digits[0][:300])
    assert vae.loss_curve_[-1] == pytest.approx(
        vae.reconstruction_loss_curve_[-1] + 2.0 * vae.kl_loss_curve_[-1], rel=1e-5)


def test_pickle_round_trip(gaussian_vae, digits):
    X = digits[0][:50]
    clone_ = pickle.loads(pickle.dumps(gaussian_vae))
    np.testing.assert_array_equal(clone_.transform(X), gaussian_vae.transform(X))
    np.testing.assert_array_equal(clone_.score_samples(X), gaussian_vae.score_samples(X))
    np.testing.assert_array_equal(clone_.sample(4, random_state=0),
                                  gaussian_vae.sample(4, random_state=0))
    # The estimator's own sampling stream is pickled with it.
    np.testing.assert_array_equal(clone_.sample(4), gaussian_vae.sample(4))


def test_pipeline_with_logistic_regression(digits):
    X, y = digits
    pipe = make_pipeline(small_vae(n_components=10, max_iter=20),
                         LogisticRegression(max_iter=500))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X[:1200], y[:1200])
    assert pipe.score(X[1200:], y[1200:]) > 0.8


def test_grid_search_selects_by_held_out_likelihood(digits):
    X = digits[0][:400]
    cv = KFold(2, shuffle=True, random_state=0)
    base = small_vae(max_iter=4)
    search = GridSearchCV(base, {"n_components": [1, 6]}, cv=cv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X)
        train, test = next(cv.split(X))
        manual = clone(base).set_params(n_components=6).fit(X[train]).score(X[test])
    assert search.best_params_["n_components"] == 6  # a wider code explains the digits better
    assert search.cv_results_["split0_test_score"][1] == pytest.approx(manual)


def test_posterior_collapse_warning(digits):
    X = digits[0][:300]
    with pytest.warns(UserWarning, match=r"Posterior collapse.*nats"):
        small_vae(beta=1e4, max_iter=10).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # takes precedence
        small_vae(max_iter=10).fit(X)


def test_divergence_raises(digits):
    with pytest.raises(TrainingDivergedError, match="diverged"):
        quiet_fit(small_vae(learning_rate=1e6, max_iter=20), digits[0][:300] * 100)


def test_defaults_do_not_collapse_on_a_small_table(one_torch_thread):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    vae = VAEGenerator(n_components=2, conditional=True, max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "Posterior collapse"
        warnings.simplefilter("ignore", ConvergenceWarning)
        vae.fit(X, y)
    assert vae._free_bits() == 1.0  # "auto" on 150 rows
    samples = vae.sample(100, random_state=0, y=0)
    spread = samples.std(0) / X[y == 0].std(0)
    assert spread.mean() > 0.3, spread  # not one row drawn again and again


def test_free_bits_charge_a_little_used_dimension_a_constant():
    vae = small_vae()
    net = vae._describe(5, 3).build(torch.Generator().manual_seed(0), vae._assemble_network)
    rows = torch.randn(32, 5)
    plain = net.training_terms(rows, torch.Generator().manual_seed(0), 1, 1.0)
    free = net.training_terms(rows, torch.Generator().manual_seed(0), 1, 1.0, free_bits=50.0)
    # a fresh posterior is near the prior: every dimension is under 50 nats
    np.testing.assert_allclose(free[0].detach(), plain[1].detach() + 3 * 50.0, rtol=1e-6)
    np.testing.assert_allclose(free[2].detach(), plain[2].detach())  # the true KL
    assert VAEGenerator(max_iter=1).set_params(free_bits="auto").get_params()["free_bits"] == "auto"
    big = quiet_fit(small_vae(max_iter=1, free_bits="auto"), np.random.RandomState(0).rand(1000, 4))
    assert big._free_bits() == 0.0  # "auto" on 1,000 rows and more: the ELBO
