"""Importance-sampled log-likelihood of a fitted VAE, with per-row noise."""

import hashlib
import math

import torch

from ._vae_model import LOG_2PI, gaussian_kl

_DECODE_VALUES = 2**22  # decoder outputs per call while importance sampling


def log_marginal(net, x, k, key, labels=None):
    """Per-row ELBO (``k == 1``) or importance-weighted bound with ``k`` samples.

    ``net`` is a :class:`~skae._vae_model.VariationalNet`; the result is in
    nats of the density of ``x`` in data units (of ``x`` given ``labels``,
    one-hot rows, for a conditional net).  ``key`` (bytes) keys the per-row
    noise; see :class:`RowNoise`.  The noise depends on ``x`` only, so the
    scores of one row under different labels share their draws.
    """
    d = net.n_components
    mean, logvar = net.posterior(x) if labels is None else net.posterior(x, labels)
    std = torch.exp(0.5 * logvar)
    rows = RowNoise(x, key, d)
    if k == 1:
        z = mean + std * rows.draw(1)[:, 0]
        rec = net.log_likelihood(net.decode_raw(net.condition(z, labels)).double(), x)
        return rec - gaussian_kl(mean.double(), logvar.double())
    n, n_features = x.shape[0], net.n_features
    chunk = max(1, _DECODE_VALUES // (n * n_features))
    total = None  # running logsumexp of the importance weights
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        eps = rows.draw(m)  # (n, m, d)
        z = mean[:, None] + std[:, None] * eps
        code = z.reshape(n * m, d)
        if labels is not None:  # each row's label, repeated for its m draws
            labels_m = labels[:, None].expand(n, m, labels.shape[1])
            code = net.condition(code, labels_m.reshape(n * m, -1))
        out = net.decode_raw(code).reshape(n, m, n_features)
        eps = eps.double()
        log_joint = net.log_likelihood(out.double(), x[:, None]) - 0.5 * (
            z.double().square().sum(-1) + d * LOG_2PI
        )
        log_q = -0.5 * (eps.square().sum(-1) + logvar.double().sum(-1, keepdim=True)
                        + d * LOG_2PI)
        part = torch.logsumexp(log_joint - log_q, 1)
        total = part if total is None else torch.logaddexp(total, part)
    return total - math.log(k)


class RowNoise:
    """Standard normal noise per row, seeded by the row's content.

    Each row gets its own CPU generator, seeded with a keyed hash of the
    row's float32 bytes, so the noise a row receives does not depend on the
    other rows of its batch, on its position, or on the device.
    """

    def __init__(self, x, key, width):
        rows = x.detach().to("cpu", torch.float32).numpy()
        self.device, self.width = x.device, width
        self.generators = []
        for row in rows:
            digest = hashlib.blake2b(row.tobytes(), digest_size=8, key=key).digest()
            g = torch.Generator()
            g.manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))
            self.generators.append(g)

    def draw(self, k):
        """The next ``k`` draws of every row: a (n_rows, k, width) tensor."""
        eps = [torch.randn(k, self.width, generator=g) for g in self.generators]
        return torch.stack(eps).to(self.device)
