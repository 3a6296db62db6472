"""Outlier scores of fitted skae estimators, row by row and feature by feature.

A scorer is fitted to a fitted estimator and data; its ``row_scores`` are
higher for more normal rows and its ``feature_scores`` split each row's
score over the features (rows sum to the score, up to rounding).  Scores are
deterministic and the same for a row whatever rows it is batched with (see
:func:`skae._data.map_rows`).
"""

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from ._generative import GenerativeMixin

# The control limit of each statistic is Tukey's upper fence of its held-out
# values, Q3 + this many interquartile ranges: a high quantile (about the
# 95th to 99th percentile of the statistics' skewed distributions) that a
# minority of outliers among the held-out rows barely moves.
_FENCE_FACTOR = 1.5


def make_scorer(estimator, X_fit, X_held_out, statistic="combined"):
    """The scorer of a fitted estimator: its likelihood for a VAE, else its reconstruction.

    ``statistic="reconstruction"`` scores an autoencoder by ``SPE`` alone.
    """
    if isinstance(estimator, GenerativeMixin):
        return LikelihoodScorer(estimator)
    return ReconstructionScorer(estimator, X_fit, X_held_out,
                                use_code=statistic == "combined")


class ReconstructionScorer:
    """``-max(SPE / SPE_limit, T2 / T2_limit)``: off the model's manifold, or far out on it.

    ``SPE = sum_j ((x_j - x_hat_j) / s_j)^2`` is the squared reconstruction
    error in the network's standardised units (``s_j`` the network's
    feature scales), large for rows the autoencoder cannot reconstruct;
    ``T2 = (z - m)' P (z - m)`` is the Mahalanobis distance of the row's code
    ``z`` to the codes of the training rows (mean ``m``, ``P`` the
    pseudo-inverse of their covariance), large for rows that the network
    reconstructs but whose code is unusual.  Each statistic is divided by
    its control limit, Tukey's upper fence ``Q3 + 1.5 IQR`` of its values
    over the held-out rows, and the larger ratio counts: as in principal-component process monitoring, a
    row is anomalous when either statistic is beyond its limit, with the
    autoencoder in place of the PCA.  With ``use_code=False`` the score is
    ``-SPE / SPE_limit``.
    """

    def __init__(self, estimator, X_fit, X_held_out, *, use_code=True):
        self.estimator = estimator
        self.use_code = use_code
        codes = estimator.transform(X_fit).astype(np.float64)
        self.code_mean = codes.mean(0)
        cov = np.atleast_2d(np.cov(codes, rowvar=False)) if len(codes) > 1 else np.eye(
            codes.shape[1])
        self.code_precision = np.linalg.pinv(cov, hermitian=True)
        spe, t2 = self.statistics(X_held_out)
        self.spe_limit = _upper_fence(spe)
        self.t2_limit = _upper_fence(t2)

    def statistics(self, X):
        """``(SPE, T2)`` of each row, as float64 arrays of shape (n_samples,)."""
        spe = -self._error_terms(X).sum(1)
        return spe, self._t2(X)

    def _t2(self, X):
        centred = self.estimator.transform(X).astype(np.float64) - self.code_mean
        # row by row in a fixed order (no matrix product, whose blocking depends
        # on the number of rows), so that a row's score does not depend on its batch
        projected = np.zeros_like(centred)
        for j, row in enumerate(self.code_precision):
            projected += centred[:, j:j + 1] * row
        return (projected * centred).sum(1)

    def row_scores(self, X):
        spe, t2 = self.statistics(X)
        if not self.use_code:
            return -spe / self.spe_limit
        return -np.maximum(spe / self.spe_limit, t2 / self.t2_limit)

    def feature_scores(self, X):
        """Each feature's part of the score.

        Where ``SPE`` sets the score, feature ``j`` gets its squared error
        ``-((x_j - x_hat_j) / s_j)^2 / SPE_limit``; where ``T2`` does, it
        gets the share of ``-T2 / T2_limit`` that its reconstructed value's
        squared distance to the feature's mean, in standardised units, takes
        of the reconstruction's (a row far out on the manifold is explained
        by the features in which its reconstruction is extreme).
        """
        errors = self._error_terms(X) / self.spe_limit
        t2 = self._t2(X) / self.t2_limit
        reach = self._reach(X)
        total = reach.sum(1, keepdims=True)
        share = np.divide(reach, total, out=np.full_like(reach, 1.0 / reach.shape[1]),
                          where=total > 0)
        by_code = (-errors.sum(1) < t2) & self.use_code
        return np.where(by_code[:, None], -share * t2[:, None], errors)

    def _error_terms(self, X):
        """``-((x - x_hat) / s)^2`` per feature."""
        est = self.estimator
        net = est.net_
        k, width = est.n_components_, est._spec.n_components

        def terms(x):
            code = net.encode(x)
            if k < width:  # an ordered code's trailing components are zero, as in training
                code = torch.cat([code[:, :k], code.new_zeros(code.shape[0], width - k)], 1)
            errors = ((net.decode(code) - x) / net.scale).double().square().neg_()
            return _observed_terms(errors, x)

        return est._map_rows(X, terms, est.n_features_in_, np.float64, "outlier_errors")

    def _reach(self, X):
        """``((x_hat - mean) / s)^2`` per feature: how extreme the reconstruction is."""
        est = self.estimator
        codes = est.transform(X)
        recon = est.inverse_transform(codes).astype(np.float64)
        net = est.net_
        # the data's mean: the network's mean is that of the shifted inputs
        mean = (net.mean.double() + net.input_shift.double()).cpu().numpy()
        scale = net.scale.double().cpu().numpy()
        reach = np.square((recon - mean) / scale)
        reach[_missing(X)] = 0.0  # a missing value explains nothing
        return reach


class LikelihoodScorer:
    """A :class:`~skae.VAEGenerator`'s estimated log-likelihood ``log p(x)``.

    For a row with missing values (NaN) it is the log-likelihood of the
    observed entries times ``n_features / n_observed``, and so are its
    features' parts.

    Feature ``j`` gets the part of ``log p(x | z)`` at the posterior mean
    that depends on ``x_j`` (``-(x_j - mu_j)^2 / (2 sigma^2)`` in standardised
    units for a Gaussian likelihood, ``log p(x_j | logit_j)`` for a Bernoulli
    one); the rest of the row's score (constants of the density, the code's
    prior and the gap to the importance-weighted estimate) belongs to no one
    feature and is shared equally by the observed features.
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def row_scores(self, X):
        return self.estimator.score_samples(X) * _observed_factor(X)

    def feature_scores(self, X):
        est = self.estimator
        net = est.net_

        def terms(x):
            mean, _ = net.posterior(x)
            out = net.decode_raw(mean).double()
            if net.output == "sigmoid":
                terms = -F.binary_cross_entropy_with_logits(out, x.double(), reduction="none")
            else:
                logvar = net.likelihood.log_variance(net.scale).double()
                target = net.standardise(x).double()
                terms = -0.5 * (target - out).square() * torch.exp(-logvar)
            return terms.masked_fill(torch.isnan(x), 0.0)

        parts = est._map_rows(X, terms, est.n_features_in_, np.float64, "outlier_likelihood")
        parts *= _observed_factor(X)[:, None]
        rest = self.row_scores(X) - parts.sum(1)
        # shared equally by the observed entries (by all of a row with none observed)
        sharing = ~_missing(X)
        sharing[~sharing.any(1)] = True
        return parts + sharing * (rest / sharing.sum(1))[:, None]


def _observed_terms(errors, x):
    """Per-feature terms of ``SPE`` for rows ``x`` that may have missing values (NaN).

    A missing entry contributes 0 and the observed ones are scaled by
    ``n_features / n_observed``, so that a row's ``SPE`` estimates the one of
    the complete row and does not shrink as entries go missing (a row with
    none observed gets 0).  Complete batches are returned as they are.
    """
    missing = torch.isnan(x)
    if not bool(missing.any()):
        return errors
    observed = (~missing).sum(1, keepdim=True).double()
    factor = x.shape[1] / observed.clamp(min=1.0)
    return errors.masked_fill(missing, 0.0) * factor


def _observed_factor(X):
    """``n_features / n_observed`` of each row (1 for complete rows and rows with none observed).

    A log-likelihood of the observed entries grows as entries go missing (it
    has fewer terms); scaled by this factor it estimates the complete row's.
    """
    observed = X.shape[1] - _missing(X).sum(1)
    return np.where(observed > 0, X.shape[1] / np.maximum(observed, 1), 1.0)


def _missing(X):
    """Dense boolean mask of the NaN entries of ``X`` (an array or a CSR matrix)."""
    if sp.issparse(X):
        return sp.csr_matrix((np.isnan(X.data), X.indices, X.indptr), shape=X.shape).toarray()
    return np.isnan(X)


def _upper_fence(values):
    """A statistic's control limit: Tukey's upper fence, or 1 when that is zero."""
    q1, q3 = np.percentile(values, [25.0, 75.0])
    limit = q3 + _FENCE_FACTOR * (q3 - q1)
    return float(limit) if limit > 0 else 1.0
