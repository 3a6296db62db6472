"""The VAE's probability model: posterior heads, likelihoods, ELBO terms.

:class:`VariationalNet` is the network a :class:`~skae.VAEGenerator` trains:
an :class:`~skae.nn.AutoencoderNet` with two code heads (the posterior mean
and log-variance) and a likelihood module for ``p(x|z)``.  The likelihood
modules compute log-densities in the network's standardised units; the
Jacobian of the scaling (:meth:`VariationalNet.log_jacobian`) turns them into
nats of the density of ``x`` in the data's own units.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._losses import observed_mask
from .nn._network import AutoencoderNet

# Log-variances (posterior and observation noise) are clamped to this range
# so that exp() can neither overflow nor underflow in float32.
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0
LOG_2PI = math.log(2.0 * math.pi)


def gaussian_kl(mean, logvar, summed=True):
    """Per-sample ``KL(N(mean, exp(logvar)) || N(0, I))``, summed over dimensions unless not ``summed``."""
    kl = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar)
    return kl.sum(-1) if summed else kl


# A learned observation variance is kept above this fraction of the
# variance of a standardised feature, so that a feature the decoder predicts
# exactly (a constant or a binary one) cannot shrink it without bound.
OBSERVATION_VARIANCE_FLOOR = 1e-3


def calibrated_log_variance(out, target, shared, observed=None):
    """Log of the mean squared residual of each feature (of all, if ``shared``).

    The variance that maximises the Gaussian likelihood of ``target`` around
    ``out`` (a "calibrated decoder", Rybkin et al., 2021), averaged over
    every axis but the last, kept above ``log(OBSERVATION_VARIANCE_FLOOR)``
    and detached from the graph.  With ``observed`` (boolean, broadcast
    against ``out``) the mean is over the observed entries only.
    """
    squared = (target - out).detach().square()
    if observed is not None:
        observed = torch.broadcast_to(observed, out.shape).reshape(-1, out.shape[-1])
        squared = torch.where(observed, squared.reshape(-1, out.shape[-1]), 0.0)
        counts = observed.sum(0).to(squared.dtype)
        if shared:
            mean = squared.sum() / counts.sum().clamp_min(1.0)
        else:
            mean = squared.sum(0) / counts.clamp_min(1.0)
        mean = torch.broadcast_to(mean, out.shape[-1:])
        return mean.clamp_min(OBSERVATION_VARIANCE_FLOOR).log().clamp_max(LOGVAR_MAX)
    squared = squared.reshape(-1, out.shape[-1])
    mean = squared.mean() if shared else squared.mean(0)
    mean = torch.broadcast_to(mean, out.shape[-1:])
    return mean.clamp_min(OBSERVATION_VARIANCE_FLOOR).log().clamp_max(LOGVAR_MAX)


class GaussianLikelihood(nn.Module):
    """Independent normals around the decoder's output.

    Parameters
    ----------
    variance : {"learned", "feature", "shared"} or float
        ``"feature"``: one log-variance per feature, in standardised units
        (``logvar``, initialised at 0, i.e. each feature's own variance),
        calibrated: training computes the likelihood of each batch with the
        variance that maximises it (:func:`calibrated_log_variance`), and
        :meth:`calibrate` sets ``logvar`` to its maximum-likelihood value
        at the end of a fit.  ``"shared"``: one log-variance for all
        features (the mean of ``logvar``, whose entries then move
        together), trained by gradient steps.  Either is kept above
        ``log(OBSERVATION_VARIANCE_FLOOR)``.  ``"learned"``: per feature
        until :meth:`share` says otherwise.  A float is a fixed variance in
        the squared units of the data.
    n_features : int, default=1
        Number of features (the length of ``logvar``).
    """

    output = "identity"

    def __init__(self, variance="learned", n_features=1):
        super().__init__()
        self.learned = isinstance(variance, str)
        if self.learned:
            self.logvar = nn.Parameter(torch.zeros(n_features))
            self.register_buffer("shared", torch.tensor(variance == "shared"))
        else:
            self.register_buffer("data_logvar", torch.tensor(math.log(float(variance))))

    def set_variance(self, variance):
        """Set a fixed variance (in data units) of a likelihood that does not learn it."""
        self.data_logvar.fill_(math.log(float(variance)))

    def share(self, shared):
        """Learn one variance for all features (True) or one per feature (False)."""
        if self.learned:
            self.shared.fill_(bool(shared))

    @property
    def calibrated(self):
        """Whether the variance is set from the residuals (learned per feature)."""
        return self.learned and not bool(self.shared)

    def calibrate(self, mean_squared_residuals):
        """Set a per-feature variance to the mean squared residuals (standardised units)."""
        mean = torch.as_tensor(mean_squared_residuals, dtype=self.logvar.dtype,
                               device=self.logvar.device)
        with torch.no_grad():
            self.logvar.copy_(mean.clamp_min(OBSERVATION_VARIANCE_FLOOR).log()
                              .clamp_max(LOGVAR_MAX))

    def log_variance(self, scale):
        """Per-feature log-variance in standardised units, given the feature scales."""
        if self.learned:  # tensor operations only, so that the net exports to ONNX
            logvar = torch.where(self.shared, self.logvar.mean(), self.logvar)
            return logvar.clamp(math.log(OBSERVATION_VARIANCE_FLOOR), LOGVAR_MAX)
        # a variance v in data units is v / scale**2 in standardised units
        return (self.data_logvar - 2.0 * torch.log(scale)).clamp(LOGVAR_MIN, LOGVAR_MAX)

    def log_prob(self, out, target, scale, calibrate=False, observed=None):
        """``log p(target | out)`` summed over the last axis, in standardised units.

        With ``calibrate`` (training) a calibrated variance is that of these
        residuals, :func:`calibrated_log_variance`, not the stored one.
        ``observed`` (boolean, broadcast against ``out``) limits the sum to
        the observed entries: the marginal density of those; None sums all.
        """
        if calibrate and self.calibrated:
            logvar = calibrated_log_variance(out, target, shared=False, observed=observed)
        else:
            logvar = self.log_variance(scale).to(out.dtype)
        if observed is not None:
            terms = (target - out).square() * torch.exp(-logvar) + (logvar + LOG_2PI)
            return -0.5 * torch.where(observed, terms, 0.0).sum(-1)
        quad = ((target - out).square() * torch.exp(-logvar)).sum(-1)
        return -0.5 * (quad + (logvar + LOG_2PI).sum(-1))

    def noise_std(self, scale):
        """Standard deviation of the observation noise in data units, per feature."""
        return torch.exp(0.5 * self.log_variance(scale)) * scale


class BernoulliLikelihood(nn.Module):
    """Independent Bernoulli variables whose logits are the decoder's output."""

    output = "sigmoid"

    def log_prob(self, out, target, scale, calibrate=False, observed=None):
        """``log p(target | logits)`` summed over the last axis (``scale`` is unused).

        ``observed`` limits the sum to the observed entries (None: all).
        """
        terms = F.binary_cross_entropy_with_logits(out, target, reduction="none")
        if observed is not None:
            terms = torch.where(observed, terms, 0.0)
        return -terms.sum(-1)


def make_likelihood(likelihood, observation_variance, n_features):
    """The likelihood module named by the VAE's parameters."""
    if likelihood == "bernoulli":
        return BernoulliLikelihood()
    return GaussianLikelihood(observation_variance, n_features)


class VariationalNet(AutoencoderNet):
    """An :class:`~skae.nn.AutoencoderNet` with a Gaussian posterior and a likelihood.

    The code head holds ``2 * n_components`` outputs: the posterior mean
    (what :meth:`encode` returns) and its log-variance.  ``likelihood`` is a
    :class:`GaussianLikelihood` or :class:`BernoulliLikelihood`; its
    parameters are trained, pickled and moved with the network.

    With ``n_classes > 0`` the model is conditional, ``p(x|z, y)`` with the
    posterior ``q(z|x, y)``: training rows carry the one-hot label after
    their ``n_features`` values (:meth:`split`); the code head reads the
    encoder's features followed by the one-hot label, and the decoder the
    code followed by it (:meth:`condition`).  Without a label,
    :meth:`posterior` is the label-marginal ``sum_y p(y|x) q(z|x, y)``
    (moment-matched to one Gaussian), with ``p(y|x)`` proportional to the
    class frequency (buffer ``log_prior``) times the ELBO of ``(x, y)`` at
    the posterior mean (:meth:`class_log_posterior`); so codes need no label.
    """

    def __init__(self, encoder, decoder, feature_width, n_components, n_features, *,
                 likelihood, input_shape=None, n_classes=0, missing_mask=False):
        super().__init__(encoder, decoder, feature_width, n_components, n_features,
                         n_heads=2, input_shape=input_shape, output=likelihood.output,
                         missing_mask=missing_mask)
        self.likelihood = likelihood
        self.n_classes = n_classes
        if n_classes:
            # q(z|x, y): the code head's output plus a learned offset per class
            # (a linear layer on [features, one-hot], with the label's part
            # looked up rather than multiplied, so that rows stay independent)
            self.label_head = nn.Embedding(n_classes, 2 * n_components)
            nn.init.zeros_(self.label_head.weight)
            self.register_buffer("log_prior", torch.zeros(n_classes))

    def set_class_prior(self, counts):
        """Set ``log p(y)`` from the number of training rows of each class."""
        counts = torch.as_tensor(counts, dtype=self.log_prior.dtype)
        self.log_prior.copy_(torch.log(counts / counts.sum()))

    def features(self, x):
        """The encoder's features of data ``x``."""
        return self.encoder(self.encoder_input(x)).flatten(1)

    def code_stats(self, x):
        """Posterior mean and log-variance of ``x`` (label-marginal if conditional)."""
        if not self.n_classes:
            return super().code_stats(x)
        return torch.cat(self.posterior(x), 1)

    def _split_stats(self, stats):
        d = self.n_components
        return stats[:, :d], stats[:, d:].clamp(LOGVAR_MIN, LOGVAR_MAX)

    def _class_stats(self, stats, c):
        labels = stats.new_zeros(stats.shape[0], self.n_classes)
        labels[:, c] = 1.0
        mean, logvar = self._split_stats(stats + self.label_head.weight[c])
        return labels, mean, logvar

    def class_log_posterior(self, x, stats=None):
        """Unnormalised ``log p(y|x)`` per class, from the ELBO at the posterior mean."""
        stats = self.head(self.features(x)) if stats is None else stats
        scores = []
        for c in range(self.n_classes):
            labels, mean, logvar = self._class_stats(stats, c)
            # in float64: the weights must not depend on how a row is reduced
            out = self.decode_raw(self.condition(mean, labels)).double()
            rec = self.log_likelihood(out, x, data_units=False)
            kl = gaussian_kl(mean.double(), logvar.double())
            scores.append(rec - kl + self.log_prior[c].double())
        return torch.stack(scores, 1)

    def split(self, rows):
        """Rows of features (and one-hot labels, if conditional) -> ``(x, labels)``."""
        if not self.n_classes:
            return rows, None
        return rows[:, :self.n_features], rows[:, self.n_features:]

    @staticmethod
    def condition(z, labels):
        """The decoder's input: the code, followed by the one-hot labels if any."""
        return z if labels is None else torch.cat([z, labels.to(z.dtype)], -1)

    def posterior(self, x, labels=None):
        """Mean and clamped log-variance of ``q(z|x)`` (``q(z|x, y)`` given ``labels``)."""
        if not self.n_classes:
            return self._split_stats(super().code_stats(x))
        stats = self.head(self.features(x))
        if labels is not None:
            return self._split_stats(stats + self.label_head(labels.argmax(1)))
        weights = torch.softmax(self.class_log_posterior(x, stats), 1)
        mean = second = 0.0
        for c in range(self.n_classes):
            _, m, logvar = self._class_stats(stats, c)
            w, m = weights[:, c:c + 1], m.double()
            mean = mean + w * m
            second = second + w * (logvar.double().exp() + m.square())
        var = (second - mean.square()).clamp_min(math.exp(LOGVAR_MIN))
        dtype = stats.dtype
        return mean.to(dtype), var.log().clamp(LOGVAR_MIN, LOGVAR_MAX).to(dtype)

    def log_jacobian(self):
        """``-sum(log scale)``: turns standardised log-densities into data units."""
        if self.output == "sigmoid":
            return torch.zeros((), dtype=self.scale.dtype, device=self.scale.device)
        return -torch.log(self.scale).sum()

    def log_likelihood(self, out, x, *, data_units=True, calibrate=False):
        """``log p(x|z)`` for raw decoder outputs ``out`` (``x`` broadcasts against it).

        Computed in the dtype of ``out``.  With ``data_units`` the density is
        that of ``x`` in the data's own units; without, of the standardised
        ``x`` (the two differ by :meth:`log_jacobian`).  ``calibrate``
        (training only) uses the variance of these residuals in place of a
        calibrated likelihood's stored one.  Missing values (NaN in ``x``)
        are left out: the density is that of the observed values, and a row
        with none observed has ``log p = 0``.
        """
        x = torch.broadcast_to(x.to(out.dtype), out.shape)
        scale = self.scale.to(out.dtype)
        target = self.observed(x)
        observed = observed_mask(x)
        if observed is None:
            log_p = self.likelihood.log_prob(out, target, scale, calibrate)
            return log_p + self.log_jacobian().to(out.dtype) if data_units else log_p
        target = target.masked_fill(~observed, 0.0)
        log_p = self.likelihood.log_prob(out, target, scale, calibrate, observed)
        if not data_units or self.output == "sigmoid":
            return log_p
        return log_p - torch.where(observed, torch.log(scale), 0.0).sum(-1)

    def observed(self, x):
        """``x`` in the units the likelihood sees: standardised (Gaussian) or as is."""
        if self.output == "sigmoid":
            return x
        return (x - self.mean.to(x.dtype)) / self.scale.to(x.dtype)

    def squared_residuals(self, rows, generator):
        """Squared standardised residuals of ``rows`` at one posterior draw each.

        ``rows`` are training rows (the features, then the one-hot labels of
        a conditional model); returns a ``(n_rows, n_features)`` tensor of
        ``(x - decoder(z))**2`` in the likelihood's units, ``z`` drawn from
        ``q(z|x)`` with ``generator``.
        """
        x, labels = self.split(rows)
        mean, logvar = self.posterior(x, labels)
        eps = torch.randn(mean.shape, generator=generator, device=generator.device)
        z = mean + torch.exp(0.5 * logvar) * eps.to(mean.device, mean.dtype)
        out = self.decode_raw(self.condition(z, labels))
        return (self.observed(x.to(out.dtype)) - out).square()

    def elbo_terms(self, rows, generator, *, data_units=True, per_dimension=False,
                   calibrate=False):
        """Per-sample ``-log p(x|z)`` at one reparameterised ``z``, and the analytic KL.

        ``rows`` are training rows: the features, then the one-hot labels of
        a conditional model.  With ``per_dimension`` the KL is not summed
        over the latent dimensions.
        """
        x, labels = self.split(rows)
        mean, logvar = self.posterior(x, labels)
        eps = torch.randn(mean.shape, generator=generator, device=generator.device)
        z = mean + torch.exp(0.5 * logvar) * eps.to(mean.device, mean.dtype)
        out = self.decode_raw(self.condition(z, labels))
        rec = -self.log_likelihood(out, x, data_units=data_units, calibrate=calibrate)
        return rec, gaussian_kl(mean, logvar, summed=not per_dimension)

    def training_terms(self, rows, generator, k, kl_weight, free_bits=0.0):
        """Per-sample training loss, ``-log p(x|z)`` and KL, in standardised units.

        The loss is the negative ELBO with the analytic KL weighted by
        ``kl_weight`` for ``k == 1``, else the negative importance-weighted
        bound of :meth:`iwae_terms`.  With ``free_bits > 0`` (``k == 1``
        only), a latent dimension whose KL, averaged over the batch, is
        below ``free_bits`` nats costs that constant instead (Kingma et al.,
        2016), so that the KL term does not push a little-used dimension
        further towards the prior; the returned KL is the true one.  A
        calibrated likelihood (a learned per-feature variance) takes the
        variance of the batch's residuals (:func:`calibrated_log_variance`).
        """
        if k > 1:
            return self.iwae_terms(rows, generator, k, kl_weight, data_units=False,
                                   calibrate=True)
        rec, kl_dims = self.elbo_terms(rows, generator, data_units=False, per_dimension=True,
                                       calibrate=True)
        kl = kl_dims.sum(-1)
        if free_bits > 0:
            free = kl_dims.mean(0, keepdim=True).detach() < free_bits
            kl_dims = torch.where(free, torch.full_like(kl_dims, free_bits), kl_dims)
        return rec + kl_weight * kl_dims.sum(-1), rec, kl

    def iwae_terms(self, rows, generator, k, kl_weight=1.0, *, data_units=True,
                   calibrate=False):
        """Per-sample negative importance-weighted bound with ``k`` reparameterised draws.

        Returns ``(-bound, -log p(x|z) averaged over the draws, analytic KL)``.
        ``kl_weight`` multiplies ``log p(z) - log q(z|x)`` inside the bound
        (``beta`` and the KL warm-up); with ``k == 1`` the bound is the
        one-draw estimate of the ELBO.
        """
        x, labels = self.split(rows)
        mean, logvar = self.posterior(x, labels)
        n, d = mean.shape
        eps = torch.randn((n, k, d), generator=generator, device=generator.device)
        eps = eps.to(mean.device, mean.dtype)
        z = mean[:, None] + torch.exp(0.5 * logvar)[:, None] * eps
        if labels is not None:  # each row's label, repeated for its k draws
            labels = labels[:, None].expand(n, k, labels.shape[1]).reshape(n * k, -1)
        out = self.decode_raw(self.condition(z.reshape(n * k, d), labels)).reshape(n, k, -1)
        log_px = self.log_likelihood(out, x[:, None], data_units=data_units,
                                     calibrate=calibrate)
        # log p(z) - log q(z|x); the Gaussians' normalising constants cancel
        log_ratio = -0.5 * (z.square().sum(-1) - eps.square().sum(-1)
                            - logvar.sum(-1, keepdim=True))
        bound = torch.logsumexp(log_px + kl_weight * log_ratio, 1) - math.log(k)
        return -bound, -log_px.mean(1), gaussian_kl(mean, logvar)

    def noise_std(self):
        """Observation noise standard deviation per feature, in data units (Gaussian only)."""
        return self.likelihood.noise_std(self.scale)
