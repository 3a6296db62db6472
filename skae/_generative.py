"""Scoring and sampling of a fitted VAE: the generative half of VAEGenerator."""

import threading
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_array, check_random_state
from threadpoolctl import threadpool_limits

from ._conditional import as_label_array, encode, one_hot
from ._importance import log_marginal
from ._inference import _DTYPES
from ._random import draw_seed
from ._sample_noise import draw_noise, fit_noise_covariance, noise_width
from ._training import user_stacklevel
from ._vae_model import LOGVAR_MAX, LOGVAR_MIN
from ._validation import (
    StrOptions,
    check_float32_range,
    check_is_fitted,
    check_unit_interval,
    positive_int,
    validate_method_params,
    wrap_like_transform,
)

# sampler="mixture": at most this many components per mixture, and at least
# this many code rows per component
_MIXTURE_COMPONENTS = 20
_ROWS_PER_COMPONENT = 20
_MIXTURE_ROWS = 20_000  # training rows whose codes the mixtures are fitted to
# fewer rows than this give several posterior draws each (at most
# _MAX_DRAWS_PER_ROW), so that a small table's mixture sees this many codes
_MIN_MIXTURE_CODES = 1_000
_MAX_DRAWS_PER_ROW = 10
# Above this many bytes of covariances, sampler="mixture" falls back on the prior.
_MIXTURE_MAX_BYTES = 2**30
_COLLAPSE_NATS = 0.01  # mean KL per latent dimension below which it is unused
# sample(random_state=None) reads and advances the estimator's stream under
# this lock, so concurrent calls never draw the same rows.
_SAMPLE_STREAM_LOCK = threading.Lock()


class GenerativeMixin:
    """``score_samples``, ``sample`` and label-aware decoding for an estimator
    whose ``net_`` is a :class:`~skae._vae_model.VariationalNet`.

    A conditional model (``classes_`` set at fit) decodes codes together with
    one-hot class labels; an unconditional one refuses labels.
    """

    # ------------------------------------------------------------- labels
    def _is_conditional(self):
        return self._spec.conditional

    def _label_rows(self, y, n_rows, method):
        """One-hot rows (float32) of the labels ``y`` for ``n_rows`` rows, or None.

        ``y`` is one label (for every row) or ``n_rows`` labels; an
        unconditional model accepts only None.
        """
        if not self._is_conditional():
            if y is not None:
                raise ValueError(
                    f"y was passed to {method}, but this {type(self).__name__} was fitted "
                    "with conditional=False and ignores class labels; pass y=None, or fit "
                    "with conditional=True and y."
                )
            return None
        if y is None:
            return None
        if np.ndim(y) == 0:
            y = np.full(n_rows, y, dtype=np.asarray(y).dtype if not isinstance(y, str)
                        else object)
        y = as_label_array(y)
        if len(y) != n_rows:
            raise ValueError(
                f"y holds {len(y)} labels, but {method} got {n_rows} rows; pass one label "
                "or one label per row."
            )
        return one_hot(encode(self.classes_, y), len(self.classes_))

    def _require_labels(self, method):
        raise ValueError(
            f"This {type(self).__name__} is conditional (conditional=True): {method} needs "
            f"the class labels y, one of classes_={self.classes_.tolist()} or one per row."
        )

    def inverse_transform(self, X, y=None):
        """Decode codes back to data space (the decoder's mean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Codes, e.g. from :meth:`transform`.
        y : label, array-like of shape (n_samples,) or None, default=None
            Class labels to decode with: one label for every row or one per
            row.  Required by a conditional model, refused by an
            unconditional one.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Reconstructions, in the dtype of ``X``.
        """
        check_is_fitted(self)
        if not self._is_conditional():
            self._label_rows(y, 0, "inverse_transform")
            return super().inverse_transform(X)
        X = check_array(X, dtype=_DTYPES, input_name="X")
        check_float32_range(X)
        if X.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} expects "
                f"{self.n_components_} components as input to inverse_transform."
            )
        if y is None:
            self._require_labels("inverse_transform")
        labels = self._label_rows(y, X.shape[0], "inverse_transform")
        Z = np.hstack([X, labels.astype(X.dtype)])
        return self._decode_rows(Z, X.dtype)

    # ----------------------------------------------------------- scoring
    @validate_method_params(
        {"X": ["array-like", "sparse matrix"],
         "y": "no_validation",
         "n_importance_samples": [None, positive_int()]},
    )
    def score_samples(self, X, y=None, n_importance_samples=None):
        """Estimated log-likelihood ``log p(x)`` of each sample, in nats.

        With ``K = 1`` importance sample this is the ELBO,
        ``E_q[log p(x|z)] - KL(q(z|x) || p(z))`` (one posterior sample for the
        first term, the KL in closed form).  With ``K > 1`` it is the
        importance-weighted bound ``log (1/K) sum_k p(x, z_k) / q(z_k|x)``
        (Burda et al., 2016), which is never below the ELBO on average and
        tends to ``log p(x)`` as ``K`` grows.  Posterior samples are decoded
        in chunks, so memory does not grow with ``K``.

        With missing values (NaN) in a row, this estimates the density of
        its observed values, ``log p(x_obs)`` (0 for a row with none).

        The result is deterministic: each row's noise is drawn from a
        generator seeded by the estimator's seed and the row's content, so
        a row gets the same score in every call, whatever rows, order or
        batch it comes with.

        A conditional model scores ``log p(x | y)`` when given labels, and
        otherwise the marginal ``log sum_y p(y) p(x | y)`` over its classes,
        with ``p(y)`` the training frequencies: the log-sum-exp of the
        per-class estimates (each an estimate as above, from the same
        posterior draws), at ``len(classes_)`` times the cost.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score (in [0, 1] for ``likelihood="bernoulli"``).
        y : label, array-like of shape (n_samples,) or None, default=None
            Class labels of a conditional model (one label, or one per row);
            refused by an unconditional one.
        n_importance_samples : int, default=None
            ``K``; None uses the ``n_importance_samples`` the model was fitted
            with (inference reads only fitted state: a later ``set_params``
            takes effect at the next fit).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Log-likelihood estimates in nats (float64); higher is better.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        if self._spec.likelihood == "bernoulli":
            check_unit_interval(X, "likelihood='bernoulli'")
        k = n_importance_samples
        if k is None:  # models saved before it was recorded fall back on the parameter
            k = getattr(self, "_n_importance_samples", self.n_importance_samples)
        key = self._seed.to_bytes(8, "little")
        labels = self._label_rows(y, X.shape[0], "score_samples")
        if not self._is_conditional():
            def log_px(x):
                return log_marginal(self.net_, x, k, key)

            return self._map_rows(X, log_px, 1, np.float64, f"log_px:{k}").ravel()
        n_features = self.n_features_in_
        if labels is not None:  # each row's own label, read beside it
            def log_px_given_y(rows):
                x, onehot = rows[:, :n_features], rows[:, n_features:]
                return log_marginal(self.net_, x, k, key, onehot)

            onehot = labels.astype(X.dtype)
            rows = (sp.hstack([X, sp.csr_matrix(onehot)], format="csr") if sp.issparse(X)
                    else np.hstack([X, onehot]))
            return self._map_rows(rows, log_px_given_y, 1, np.float64,
                                  f"log_px_given_y:{k}").ravel()

        def given_class(c):  # X is read in chunks once per class; its labels are all c
            def log_px_given_c(x):
                onehot = x.new_zeros((x.shape[0], n_classes))
                onehot[:, c] = 1.0
                return log_marginal(self.net_, x, k, key, onehot)

            return self._map_rows(X, log_px_given_c, 1, np.float64, f"log_px_given_{c}:{k}")

        n_classes = len(self.classes_)
        log_prior = np.log(self._class_counts / self._class_counts.sum())
        per_class = np.hstack([given_class(c) for c in range(n_classes)])
        return logsumexp(per_class + log_prior, axis=1)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over ``X`` (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.
        y : array-like of shape (n_samples,) or None, default=None
            A conditional model scores ``log p(x | y)`` with these labels and
            the marginal likelihood without; an unconditional one ignores
            ``y`` (present for API consistency by convention).

        Returns
        -------
        score : float
            Mean log-likelihood estimate in nats.
        """
        check_is_fitted(self)
        y = y if self._is_conditional() else None
        return float(np.mean(self.score_samples(X, y)))

    # ---------------------------------------------------------- sampling
    @validate_method_params(
        {"n_samples": [positive_int()],
         "random_state": ["random_state"],
         "y": "no_validation",
         "add_noise": ["boolean", StrOptions({"auto"})]},
    )
    def sample(self, n_samples=1, random_state=None, *, y=None, add_noise="auto"):
        """Generate new samples by decoding codes drawn from the latent sampler.

        Codes are drawn from the prior ``N(0, I)`` with ``sampler="prior"``,
        or from the Gaussian mixture fitted to the training codes with
        ``sampler="mixture"``, and decoded (with their class labels, for a
        conditional model).

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
        y : label, array-like of shape (n_samples,) or None, default=None
            Class labels of a conditional model: one label for every sample
            or one per sample.  None draws the labels at random with the
            training frequencies of the classes.  An unconditional model
            refuses labels.
        add_noise : bool or "auto", default="auto"
            Also draw the observation noise of the likelihood: Bernoulli
            draws (0 or 1) or Gaussian noise of the observation variance.
            False returns the decoder's mean.  ``"auto"`` draws the noise of
            a Gaussian likelihood with one learned variance per feature
            (tables, see ``observation_variance``), whose samples then
            spread as the data do, and returns the mean otherwise (pixels,
            whose noise is drawn independently from pixel to pixel).

            With one learned variance per feature the Gaussian noise is
            correlated: its covariance is what the decoded posterior draws
            of the training rows leave of their covariance,
            ``Cov(x) - Cov(decoder(z))`` in the network's standardised units
            (negative eigenvalues set to 0; a conditional model's pooled
            within the classes; missing values left out pair by pair, each
            pair over the rows that observe both), kept as its 64 largest
            eigenvalues plus a diagonal, so that samples keep the
            correlations of the table and not only its spreads.  It is
            fitted at the end of each fit (of each ``partial_fit``, to its
            chunk), from the posterior draws of (up to 20,000) training
            rows that set the per-feature variance.  :meth:`score_samples` keeps the diagonal likelihood.  Other
            Gaussian likelihoods (one shared or a fixed variance), tables
            of more than 2,048 features and models saved before this
            covariance was kept draw the noise independently per feature,
            with the likelihood's variances.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features_in_)
            Generated samples, in the dtype of the training data; a
            DataFrame whose columns are the training data's feature names
            (``x0``, ``x1``, ... without names) after
            ``set_output(transform="pandas")`` (or ``"polars"``).
        """
        check_is_fitted(self)
        labels = self._label_rows(y, n_samples, "sample")
        codes = None if labels is None else labels.argmax(1)
        if add_noise == "auto":
            add_noise = getattr(self.net_.likelihood, "calibrated", False)
        kind = self._spec.likelihood if add_noise else None
        generator = torch.Generator()
        if random_state is not None:
            generator.manual_seed(draw_seed(check_random_state(random_state)))
            codes, z, noise = self._draw(generator, n_samples, kind, codes)
        else:
            with _SAMPLE_STREAM_LOCK:  # reserve this call's part of the stream
                generator.set_state(self._sample_rng_state)
                codes, z, noise = self._draw(generator, n_samples, kind, codes)
                self._sample_rng_state = generator.get_state()
        z = z.numpy()
        if codes is not None:
            z = np.hstack([z, one_hot(codes, len(self.classes_))])
        X = self._decode_rows(z, np.float64)
        if noise is not None:
            if kind == "bernoulli":
                X = (noise.numpy() < X).astype(np.float64)
            else:
                X = X + self._gaussian_noise(noise.numpy())
        X = X.astype(self._fit_dtype, copy=False)
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{i}" for i in range(self.n_features_in_)]
        return wrap_like_transform(self, X, list(names))

    def _draw(self, generator, n_samples, noise, codes):
        """Class indices, codes and the raw draws of the observation noise.

        A conditional model given no class indices (``codes``) draws them
        first, with the training frequencies.  The noise is uniform for
        Bernoulli and standard normal for Gaussian noise (None without it).
        """
        if codes is None and self._is_conditional():
            freq = torch.as_tensor(self._class_counts, dtype=torch.float64)
            codes = torch.multinomial(freq, n_samples, replacement=True,
                                      generator=generator).numpy()
        mixture = getattr(self, "_mixture", None)
        if mixture is None:
            z = torch.randn(n_samples, self.n_components_, generator=generator)
        else:
            z = draw_mixture(mixture, n_samples, generator, codes)
        raw = None
        if noise is not None:
            draw = torch.rand if noise == "bernoulli" else torch.randn
            covariance = getattr(self, "_sample_noise", None)
            width = (self.n_features_in_ if noise == "bernoulli" or covariance is None
                     else noise_width(covariance))
            raw = draw(n_samples, width, generator=generator, dtype=torch.float64)
        return codes, z, raw

    def _gaussian_noise(self, raw):
        """Observation noise in data units from the standard normal draws ``raw``.

        Of the covariance fitted to the training rows (``_sample_noise``, in
        standardised units) when there is one, else independent per feature
        with the likelihood's variances.
        """
        covariance = getattr(self, "_sample_noise", None)
        if covariance is None:  # pixels, a fixed variance, or a model saved without it
            return self.net_.noise_std().detach().to("cpu", torch.float64).numpy() * raw
        scale = self.net_.scale.detach().to("cpu", torch.float64).numpy()
        return draw_noise(covariance, raw) * scale

    def _fit_sampler(self, X, labels=None):
        """Fit the ``sampler="mixture"`` Gaussian mixtures to the codes of ``X``.

        One mixture for an unconditional model; for a conditional one, one
        per class, of the codes ``q(z|x, y)`` of that class's rows
        (``labels``: their class indices).  Each row gives one draw of its
        posterior, so that the mixture models the aggregated posterior, the
        spread of each row's posterior included; fewer than
        ``_MIN_MIXTURE_CODES`` rows give several draws each (up to
        ``_MAX_DRAWS_PER_ROW``), so that the mixture of a small table is
        fitted to enough codes.  At most ``_MIXTURE_ROWS``
        rows, drawn with the estimator's seed, are encoded.  A calibrated
        likelihood (one learned variance per feature) is set from the same
        draws first (:meth:`_calibrate_likelihood`).
        """
        mixture = self.sampler == "mixture"
        d = self.n_components_
        n_bytes = 8 * d * d * _MIXTURE_COMPONENTS
        if mixture and n_bytes > _MIXTURE_MAX_BYTES:
            warnings.warn(
                f"sampler='mixture' keeps a {d} x {d} covariance per mixture component "
                f"({n_bytes / 2**30:.3g} GiB with n_components={d}); sample draws codes from "
                "the prior N(0, I) instead. Use fewer components or sampler='prior'.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
            mixture = False
        self._mixture = self._sample_noise = None
        calibrate = getattr(self.net_.likelihood, "calibrated", False)
        if not (mixture or calibrate):
            return
        rng = np.random.RandomState(self._seed % 2**32)
        if X.shape[0] > _MIXTURE_ROWS:
            keep = np.sort(rng.choice(X.shape[0], _MIXTURE_ROWS, replace=False))
            X, labels = X[keep], None if labels is None else labels[keep]
        if labels is None:
            stats = self._map_rows(X, lambda x: torch.cat(self.net_.posterior(x), 1),
                                   2 * d, np.float64, "posterior")
        else:
            n_classes = len(self.classes_)
            rows = np.hstack([X.toarray() if hasattr(X, "toarray") else X,
                              one_hot(labels, n_classes).astype(X.dtype)])
            n_features = self.n_features_in_

            def stats_given(r):
                return torch.cat(self.net_.posterior(r[:, :n_features], r[:, n_features:]), 1)

            stats = self._map_rows(rows, stats_given, 2 * d, np.float64, "posterior_given")
        n_draws = min(_MAX_DRAWS_PER_ROW, -(-_MIN_MIXTURE_CODES // X.shape[0]))
        draws = [posterior_draws(stats, rng) for _ in range(n_draws)]
        if calibrate:
            self._calibrate_likelihood(X, draws, labels)
        if not mixture:
            return
        codes = np.concatenate(draws)
        if labels is not None:
            labels = np.tile(labels, n_draws)
        groups = ([(0, codes)] if labels is None
                  else [(c, codes[labels == c]) for c in range(len(self.classes_))])
        parts = {"weights": [], "means": [], "chol": [], "group": []}
        seed = self._seed % 2**32
        for group, group_codes in groups:
            if len(group_codes) < 2:  # too few codes for a mixture: the prior
                gmm_w, gmm_m, chol = np.ones(1), np.zeros((1, d)), np.eye(d)[None]
            else:
                k = max(1, min(_MIXTURE_COMPONENTS, len(group_codes) // _ROWS_PER_COMPONENT))
                gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-4,
                                      random_state=seed)
                # Small matrix products: one BLAS/OpenMP thread is faster than
                # several on idle cores, many times faster on busy ones, and
                # gives the same mixture whatever the caller's thread limits.
                with threadpool_limits(limits=1):
                    gmm.fit(group_codes)
                gmm_w, gmm_m = gmm.weights_, gmm.means_
                chol = np.linalg.cholesky(gmm.covariances_)
            parts["weights"].append(gmm_w)
            parts["means"].append(gmm_m)
            parts["chol"].append(chol)
            parts["group"].append(np.full(len(gmm_w), group))
        self._mixture = {key: np.concatenate(value) for key, value in parts.items()}

    def _calibrate_likelihood(self, X, draws, labels):
        """Set each feature's variance to its mean squared residual over ``X``.

        The residuals are those of the rows of ``X`` from each of the
        decoded posterior draws ``draws`` (a list of code arrays, one row per
        row of ``X``, decoded with the rows' ``labels`` if conditional), in
        the network's standardised units: the variance that maximises the
        likelihood of these rows given the network, the spread of each
        row's posterior included.  The same decoded draws give the
        covariance of the noise that :meth:`sample` adds
        (``_sample_noise``, see :mod:`skae._sample_noise`).
        """
        dense = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)
        scale = self.net_.scale.detach().cpu().double().numpy()
        squared, decoded = 0.0, []
        for codes in draws:
            Z = codes if labels is None else np.hstack([codes,
                                                        one_hot(labels, len(self.classes_))])
            decoded_mean = self._decode_rows(Z, np.float64)
            squared = squared + np.square((dense - decoded_mean) / scale)
            decoded.append(decoded_mean / scale)
        self._sample_noise = fit_noise_covariance(
            np.tile(dense / scale, (len(draws), 1)), np.concatenate(decoded),
            None if labels is None else np.tile(labels, len(draws)))
        if np.isnan(squared).any():  # over each feature's observed values (1 if none)
            counts = (~np.isnan(squared)).sum(0)
            total = np.where(np.isnan(squared), 0.0, squared).sum(0)
            mean = np.divide(total, counts, out=np.full(counts.shape, float(len(draws))),
                             where=counts > 0)
        else:
            mean = np.mean(squared, axis=0)
        self.net_.likelihood.calibrate(mean / len(draws))

    # ---------------------------------------------------------- diagnostics
    def _warn_if_collapsed(self, X):
        d = self.n_components_
        stats = self._map_rows(X, self.net_.code_stats, 2 * d, np.float64, "code_stats")
        logvar = np.clip(stats[:, d:], LOGVAR_MIN, LOGVAR_MAX)
        kl = 0.5 * (stats[:, :d] ** 2 + np.exp(logvar) - 1.0 - logvar).mean(0)
        if kl.max() < _COLLAPSE_NATS:
            warnings.warn(
                f"Posterior collapse: every latent dimension carries less than "
                f"{_COLLAPSE_NATS} nats of KL divergence (at most {kl.max():.3g} nats, "
                f"{kl.sum():.3g} in total) on the training data, so the decoder ignores "
                f"the code. Lower beta (it is {self.beta}), use free_bits or kl_warmup, or train longer.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )




def posterior_draws(stats, rng):
    """One draw of each row's posterior from its mean and log-variance ``stats`` (float64)."""
    d = stats.shape[1] // 2
    std = np.exp(0.5 * np.clip(stats[:, d:], LOGVAR_MIN, LOGVAR_MAX))
    return stats[:, :d] + std * rng.standard_normal((stats.shape[0], d))


def draw_mixture(mixture, n_samples, generator, codes=None):
    """``n_samples`` float32 draws of a Gaussian mixture (a dict of its arrays).

    With class indices ``codes``, each row draws from the components of its
    class (``mixture["group"]``), weighted within the class.
    """
    weights = torch.as_tensor(mixture["weights"], dtype=torch.float64)
    group = torch.as_tensor(mixture["group"])
    if codes is None:
        comp = torch.multinomial(weights, n_samples, replacement=True, generator=generator)
    else:
        codes = torch.as_tensor(codes)
        comp = torch.empty(n_samples, dtype=torch.int64)
        for c in torch.unique(codes).tolist():  # in increasing order: reproducible
            rows = codes == c
            w = torch.where(group == c, weights, torch.zeros_like(weights))
            comp[rows] = torch.multinomial(w, int(rows.sum()), replacement=True,
                                           generator=generator)
    eps = torch.randn(n_samples, mixture["means"].shape[1], generator=generator,
                      dtype=torch.float64)
    means = torch.as_tensor(mixture["means"])[comp]
    chol = torch.as_tensor(mixture["chol"])[comp]
    return (means + torch.einsum("nij,nj->ni", chol, eps)).float()
