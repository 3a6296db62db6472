"""The covariance of the noise that a VAE adds to its samples of a table.

A Gaussian likelihood with one variance per feature scores each feature's
residual on its own, but the residuals of a table are correlated: where the
decoder's mean does not carry a correlation, noise drawn feature by feature
would shrink it towards zero.  :func:`fit_noise_covariance` estimates the
covariance that the decoded codes leave unexplained,

    ``Cov(x) - Cov(decoder(z))``,  ``z`` drawn from each row's posterior,

over the training rows (both in the network's standardised units), so that
decoded codes plus noise of that covariance have the covariance of the
data.  It equals the covariance of the residuals ``x - decoder(z)`` plus
their covariance with the decoded means (the decoder's mean at a posterior
draw is shrunk towards the data's mean, and its residual makes up for it).
The estimate is kept as a factor of rank at most :data:`MAX_RANK` plus a
diagonal (:func:`draw_noise` draws from it).
"""

import numpy as np

MAX_RANK = 64  # columns of the noise factor: the full covariance up to this many features
# Above this many features the covariance (three matrices of this size
# squared) is not estimated, and the noise is drawn feature by feature.
MAX_FEATURES = 2048


def pairwise_covariance(values, observed=None):
    """Covariance of the columns of ``values`` over the rows where both are observed.

    ``values`` is a float64 array holding 0 where ``observed`` (a 0/1 array
    of the same shape; None: every entry) is 0.  Each entry ``(i, j)`` is
    the (biased) covariance of columns ``i`` and ``j`` over the rows that
    observe both, each column centred by its mean over those rows
    (pairwise-complete estimation); 0 where fewer than two rows observe
    both.  Without missing entries it is the covariance of the columns.
    """
    if observed is None:  # one product instead of three
        centred = values - values.mean(0)
        return centred.T @ centred / len(values)
    counts = observed.T @ observed
    products = values.T @ values
    sums = values.T @ observed  # [i, j]: sum of column i over the rows observing i and j
    safe = np.maximum(counts, 1.0)
    cov = products / safe - (sums / safe) * (sums.T / safe)
    return np.where(counts >= 2, cov, 0.0)


def _centre_groups(values, observed, groups):
    """``values`` minus the mean of its group's observed entries, column by column.

    ``observed`` is None when every entry is; ``groups`` None is one group.
    Missing entries stay 0.
    """
    if groups is None:
        counts = len(values) if observed is None else np.maximum(observed.sum(0), 1.0)
        centred = values - values.sum(0) / counts
        return centred if observed is None else centred * observed
    values = values.copy()
    for g in np.unique(groups):
        rows = groups == g
        counts = rows.sum() if observed is None else np.maximum(observed[rows].sum(0), 1.0)
        values[rows] -= values[rows].sum(0) / counts
    return values if observed is None else values * observed


def fit_noise_covariance(x, decoded, groups=None):
    """Factor of ``Cov(x) - Cov(decoded)``, in the units of its inputs.

    Parameters
    ----------
    x : ndarray of shape (n_rows, n_features)
        Training rows (standardised), NaN where missing; a row may appear
        several times, once per posterior draw.
    decoded : ndarray of shape (n_rows, n_features)
        The decoder's mean at a posterior draw of each row of ``x``.
    groups : ndarray of shape (n_rows,) or None, default=None
        Class indices of a conditional model: both covariances are then
        pooled within the classes (each class centred by its own means), as
        the decoder supplies the class's mean from its label.

    Returns
    -------
    noise : dict or None
        ``{"factor": (n_features, rank) array, "diagonal": (n_features,)
        array}`` with ``factor @ factor.T + diag(diagonal)`` the estimate:
        its ``rank = min(n_features, MAX_RANK)`` largest eigenvalues (the
        negative ones, where the decoded means spread more than the data,
        set to 0) and, in ``diagonal``, what they leave of each feature's
        variance.  Missing values are left out pair by pair (see
        :func:`pairwise_covariance`).  None above :data:`MAX_FEATURES`
        features.
    """
    n_features = x.shape[1]
    if n_features > MAX_FEATURES:
        return None
    observed = ~np.isnan(x)
    weights = None
    if not observed.all():
        weights = observed.astype(np.float64)
        x = np.where(observed, x, 0.0)
        decoded = np.where(observed, decoded, 0.0)  # each pair over the same rows as the data's
    # centred first, so that data far from 0 keep their precision
    x = _centre_groups(x, weights, groups)
    decoded = _centre_groups(decoded, weights, groups)
    cov = pairwise_covariance(x, weights) - pairwise_covariance(decoded, weights)
    eigenvalues, vectors = np.linalg.eigh((cov + cov.T) / 2)
    rank = min(n_features, MAX_RANK)
    top = np.clip(eigenvalues[::-1][:rank], 0.0, None)
    factor = vectors[:, ::-1][:, :rank] * np.sqrt(top)
    diagonal = np.clip(np.diag(cov) - np.square(factor).sum(1), 0.0, None)
    return {"factor": factor, "diagonal": diagonal}


def noise_width(noise):
    """Standard normal draws per sample that :func:`draw_noise` reads."""
    return sum(noise["factor"].shape)


def draw_noise(noise, raw):
    """Noise of the covariance ``noise`` (a :func:`fit_noise_covariance` dict).

    ``raw`` holds :func:`noise_width` standard normal draws per row: the
    first ``rank`` weigh the factor's columns, the others the diagonal.
    """
    factor, diagonal = noise["factor"], noise["diagonal"]
    rank = factor.shape[1]
    return raw[:, :rank] @ factor.T + raw[:, rank:] * np.sqrt(diagonal)
