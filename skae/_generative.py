"""Scoring and sampling of a fitted VAE: the generative half of VAEGenerator."""

import threading
import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._importance import log_marginal
from ._random import draw_seed
from ._training import user_stacklevel
from ._vae_model import LOGVAR_MAX, LOGVAR_MIN
from ._validation import check_is_fitted, check_unit_interval, positive_int, validate_params

_COLLAPSE_NATS = 0.01  # mean KL per latent dimension below which it is unused
# sample(random_state=None) reads and advances the estimator's stream under
# this lock, so concurrent calls never draw the same rows.
_SAMPLE_STREAM_LOCK = threading.Lock()


class GenerativeMixin:
    """``score_samples`` and ``sample`` for an estimator whose ``net_`` is a
    :class:`~skae._vae_model.VariationalNet`."""

    # ----------------------------------------------------------- scoring
    @validate_params(
        {"X": ["array-like", "sparse matrix"],
         "n_importance_samples": [None, positive_int()]},
        prefer_skip_nested_validation=True,
    )
    def score_samples(self, X, n_importance_samples=None):
        """Estimated log-likelihood ``log p(x)`` of each sample, in nats.

        With ``K = 1`` importance sample this is the ELBO,
        ``E_q[log p(x|z)] - KL(q(z|x) || p(z))`` (one posterior sample for the
        first term, the KL in closed form).  With ``K > 1`` it is the
        importance-weighted bound ``log (1/K) sum_k p(x, z_k) / q(z_k|x)``
        (Burda et al., 2016), which is never below the ELBO on average and
        tends to ``log p(x)`` as ``K`` grows.  Posterior samples are decoded
        in chunks, so memory does not grow with ``K``.

        The result is deterministic: each row's noise is drawn from a
        generator seeded by the estimator's seed and the row's content, so
        a row gets the same score in every call, whatever rows, order or
        batch it comes with.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score (in [0, 1] for ``likelihood="bernoulli"``).
        n_importance_samples : int, default=None
            ``K``; None uses the ``n_importance_samples`` parameter.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Log-likelihood estimates in nats (float64); higher is better.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        if self._spec.likelihood == "bernoulli":
            check_unit_interval(X, "likelihood='bernoulli'")
        k = self.n_importance_samples if n_importance_samples is None else n_importance_samples
        key = self._seed.to_bytes(8, "little")

        def log_px(x):
            return log_marginal(self.net_, x, k, key)

        return self._map_rows(X, log_px, 1, np.float64).ravel()

    # ---------------------------------------------------------- sampling
    @validate_params(
        {"n_samples": [positive_int()],
         "random_state": ["random_state"],
         "add_noise": ["boolean"]},
        prefer_skip_nested_validation=True,
    )
    def sample(self, n_samples=1, random_state=None, *, add_noise=False):
        """Generate new samples by decoding draws from the prior ``N(0, I)``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws; the same int gives the same samples.  None
            continues the estimator's own stream (seeded at fit from its
            ``random_state``; it advances with every call and is pickled).
            Calls from several threads at once each take their own part of
            that stream.  Global random states are never touched.
        add_noise : bool, default=False
            Also draw the observation noise of the likelihood: Bernoulli
            draws (0 or 1) or Gaussian noise of the observation variance.
            By default the decoder's mean is returned.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            Generated samples, in the dtype of the training data.
        """
        check_is_fitted(self)
        d, n_features = self.n_components_, self.n_features_in_
        kind = self._spec.likelihood if add_noise else None
        generator = torch.Generator()
        if random_state is not None:
            generator.manual_seed(draw_seed(check_random_state(random_state)))
            z, noise = _draw(generator, n_samples, d, n_features, kind)
        else:
            with _SAMPLE_STREAM_LOCK:  # reserve this call's part of the stream
                generator.set_state(self._sample_rng_state)
                z, noise = _draw(generator, n_samples, d, n_features, kind)
                self._sample_rng_state = generator.get_state()
        X = self._map_rows(z.numpy(), self.net_.decode, n_features, np.float64)
        if noise is not None:
            if kind == "bernoulli":
                X = (noise.numpy() < X).astype(np.float64)
            else:
                std = self.net_.noise_std().detach().to("cpu", torch.float64).numpy()
                X = X + std * noise.numpy()
        return X.astype(self._fit_dtype, copy=False)

    # ---------------------------------------------------------- diagnostics
    def _warn_if_collapsed(self, X):
        d = self.n_components_
        stats = self._map_rows(X, self.net_.code_stats, 2 * d, np.float64)
        logvar = np.clip(stats[:, d:], LOGVAR_MIN, LOGVAR_MAX)
        kl = 0.5 * (stats[:, :d] ** 2 + np.exp(logvar) - 1.0 - logvar).mean(0)
        if kl.max() < _COLLAPSE_NATS:
            warnings.warn(
                f"Posterior collapse: every latent dimension carries less than "
                f"{_COLLAPSE_NATS} nats of KL divergence (at most {kl.max():.3g} nats, "
                f"{kl.sum():.3g} in total) on the training data, so the decoder ignores "
                f"the code. Lower beta (it is {self.beta}), use kl_warmup, or train longer.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )


def _draw(generator, n_samples, n_components, n_features, noise):
    """Prior draws and the raw draws of the observation noise (uniform for
    Bernoulli, standard normal for Gaussian noise; None without noise)."""
    z = torch.randn(n_samples, n_components, generator=generator)
    if noise is None:
        return z, None
    draw = torch.rand if noise == "bernoulli" else torch.randn
    return z, draw(n_samples, n_features, generator=generator, dtype=torch.float64)
