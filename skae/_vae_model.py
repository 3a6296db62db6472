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

from .nn._network import AutoencoderNet

# Log-variances (posterior and observation noise) are clamped to this range
# so that exp() can neither overflow nor underflow in float32.
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0
LOG_2PI = math.log(2.0 * math.pi)


def gaussian_kl(mean, logvar):
    """Per-sample ``KL(N(mean, exp(logvar)) || N(0, I))``, summed over dimensions."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum(-1)


class GaussianLikelihood(nn.Module):
    """Independent normals around the decoder's output, one variance for all features.

    Parameters
    ----------
    variance : "learned" or float
        ``"learned"``: the log-variance in standardised units is a trained
        parameter (``logvar``), initialised at 0, i.e. the data's own
        variance.  A float is a fixed variance in the squared units of the
        data.
    """

    output = "identity"

    def __init__(self, variance="learned"):
        super().__init__()
        self.learned = variance == "learned"
        if self.learned:
            self.logvar = nn.Parameter(torch.zeros(()))
        else:
            self.register_buffer("data_logvar", torch.tensor(math.log(float(variance))))

    def log_variance(self, scale):
        """Per-feature log-variance in standardised units, given the feature scales."""
        if self.learned:
            return self.logvar.clamp(LOGVAR_MIN, LOGVAR_MAX).expand(scale.shape)
        # a variance v in data units is v / scale**2 in standardised units
        return (self.data_logvar - 2.0 * torch.log(scale)).clamp(LOGVAR_MIN, LOGVAR_MAX)

    def log_prob(self, out, target, scale):
        """``log p(target | out)`` summed over the last axis, in standardised units."""
        logvar = self.log_variance(scale).to(out.dtype)
        quad = ((target - out).square() * torch.exp(-logvar)).sum(-1)
        return -0.5 * (quad + (logvar + LOG_2PI).sum(-1))

    def noise_std(self, scale):
        """Standard deviation of the observation noise in data units, per feature."""
        return torch.exp(0.5 * self.log_variance(scale)) * scale


class BernoulliLikelihood(nn.Module):
    """Independent Bernoulli variables whose logits are the decoder's output."""

    output = "sigmoid"

    def log_prob(self, out, target, scale):
        """``log p(target | logits)`` summed over the last axis (``scale`` is unused)."""
        return -F.binary_cross_entropy_with_logits(out, target, reduction="none").sum(-1)


def make_likelihood(likelihood, observation_variance):
    """The likelihood module named by the VAE's parameters."""
    if likelihood == "bernoulli":
        return BernoulliLikelihood()
    return GaussianLikelihood(observation_variance)


class VariationalNet(AutoencoderNet):
    """An :class:`~skae.nn.AutoencoderNet` with a Gaussian posterior and a likelihood.

    The code head holds ``2 * n_components`` outputs: the posterior mean
    (what :meth:`encode` returns) and its log-variance.  ``likelihood`` is a
    :class:`GaussianLikelihood` or :class:`BernoulliLikelihood`; its
    parameters are trained, pickled and moved with the network.

    With ``n_classes > 0`` the model is conditional, ``p(x|z, y)``: training
    rows carry the one-hot label after their ``n_features`` values
    (:meth:`split`), the encoder reads the features only (``q(z|x)``, so
    codes need no label) and the decoder reads the code followed by the
    one-hot label (:meth:`condition`).
    """

    def __init__(self, encoder, decoder, feature_width, n_components, n_features, *,
                 likelihood, input_shape=None, n_classes=0):
        super().__init__(encoder, decoder, feature_width, n_components, n_features,
                         n_heads=2, input_shape=input_shape, output=likelihood.output)
        self.likelihood = likelihood
        self.n_classes = n_classes

    def split(self, rows):
        """Rows of features (and one-hot labels, if conditional) -> ``(x, labels)``."""
        if not self.n_classes:
            return rows, None
        return rows[:, :self.n_features], rows[:, self.n_features:]

    @staticmethod
    def condition(z, labels):
        """The decoder's input: the code, followed by the one-hot labels if any."""
        return z if labels is None else torch.cat([z, labels.to(z.dtype)], -1)

    def posterior(self, x):
        """Mean and clamped log-variance of ``q(z|x)`` for data ``x``."""
        stats = self.code_stats(x)
        d = self.n_components
        return stats[:, :d], stats[:, d:].clamp(LOGVAR_MIN, LOGVAR_MAX)

    def log_jacobian(self):
        """``-sum(log scale)``: turns standardised log-densities into data units."""
        if self.output == "sigmoid":
            return torch.zeros((), dtype=self.scale.dtype, device=self.scale.device)
        return -torch.log(self.scale).sum()

    def log_likelihood(self, out, x, *, data_units=True):
        """``log p(x|z)`` for raw decoder outputs ``out`` (``x`` broadcasts against it).

        Computed in the dtype of ``out``.  With ``data_units`` the density is
        that of ``x`` in the data's own units; without, of the standardised
        ``x`` (the two differ by a constant, :meth:`log_jacobian`).
        """
        x = torch.broadcast_to(x.to(out.dtype), out.shape)
        scale = self.scale.to(out.dtype)
        target = x if self.output == "sigmoid" else (x - self.mean.to(out.dtype)) / scale
        log_p = self.likelihood.log_prob(out, target, scale)
        return log_p + self.log_jacobian().to(out.dtype) if data_units else log_p

    def elbo_terms(self, rows, generator, *, data_units=True):
        """Per-sample ``-log p(x|z)`` at one reparameterised ``z``, and the analytic KL.

        ``rows`` are training rows: the features, then the one-hot labels of
        a conditional model.
        """
        x, labels = self.split(rows)
        mean, logvar = self.posterior(x)
        eps = torch.randn(mean.shape, generator=generator, device=generator.device)
        z = mean + torch.exp(0.5 * logvar) * eps.to(mean.device, mean.dtype)
        out = self.decode_raw(self.condition(z, labels))
        rec = -self.log_likelihood(out, x, data_units=data_units)
        return rec, gaussian_kl(mean, logvar)

    def noise_std(self):
        """Observation noise standard deviation per feature, in data units (Gaussian only)."""
        return self.likelihood.noise_std(self.scale)
