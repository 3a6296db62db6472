"""Loss terms by name: reconstruction, code penalties, corruption, UMAP's cross-entropy."""

import math

import torch
import torch.nn.functional as F


def observed_mask(x):
    """Boolean mask of the observed (non-NaN) entries of ``x``, or None when none is missing.

    None lets the losses take their path for complete data, which gives
    bitwise the results it gave before missing values were accepted.  While
    ``torch.export`` traces a graph (ONNX export), which cannot branch on
    the data, the mask is always returned.
    """
    if torch.compiler.is_exporting():
        return ~torch.isnan(x)
    # a sum is NaN when an entry is (and, rarely, when infinities of both signs
    # meet): one cheap reduction answers for the common, complete batch
    if not bool(torch.isnan(x.sum())):
        return None
    missing = torch.isnan(x)
    if not bool(missing.any()):
        return None
    return ~missing


def reconstruction_loss(output, target, kind, observed=None):
    """Per-sample reconstruction loss, summed over the observed features.

    Parameters
    ----------
    output : Tensor of shape (n, n_features)
        The decoder's raw output: values in scaled units for ``"mse"``,
        logits for ``"bce"``.
    target : Tensor of shape (n, n_features)
        The target in the same units (the data in [0, 1] for ``"bce"``),
        finite where ``observed``.
    kind : {"mse", "bce"}
    observed : bool Tensor of shape (n, n_features) or None, default=None
        Entries that count (see :func:`observed_mask`); None counts all.  A
        row with no observed entry has a loss of 0.
    """
    if kind == "mse":
        error = (output - target).square()
    elif kind == "bce":
        error = F.binary_cross_entropy_with_logits(output, target, reduction="none")
    else:
        raise ValueError(f"Unknown reconstruction loss {kind!r}.")
    if observed is not None:
        error = torch.where(observed, error, 0.0)
    return error.sum(1)


def trimmed_mean(losses, fraction):
    """Mean of per-sample ``losses`` without the largest ``fraction`` of them.

    ``int(fraction * n)`` of the ``n`` losses are left out (none when that
    rounds to zero), so their rows give no gradient.
    """
    n_drop = int(fraction * losses.shape[0])
    if n_drop == 0:
        return losses.mean()
    return torch.topk(losses, losses.shape[0] - n_drop, largest=False, sorted=False).values.mean()


def code_penalty(code, kind):
    """Per-sample penalty on the code: squared L2 norm or L1 norm."""
    if kind == "l2":
        return code.square().sum(1)
    if kind == "l1":
        return code.abs().sum(1)
    raise ValueError(f"Unknown code penalty {kind!r}.")


def corrupt(x, kind, level, scale, generator):
    """Corrupt a batch for denoising training.

    ``"gaussian"`` adds noise of standard deviation ``level * scale`` (``scale``
    holds the per-feature scales of the data, so ``level`` is in units of
    each feature's spread); ``"mask"`` sets each value to zero with probability
    ``level``; ``"missing"`` makes each value missing (NaN) with probability
    ``level``, so that the network reads it as it reads a missing value.
    ``None`` returns ``x`` unchanged.  Missing values stay missing.
    """
    if kind is None or level == 0:
        return x
    # Draws come from ``generator`` on its own device (the CPU), then move to x's.
    if kind == "gaussian":
        noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
        # in place: one batch-sized tensor instead of three (same values as x + level*scale*noise)
        return noise.to(x.device).mul_(level * scale).add_(x)
    if kind == "mask":
        keep = torch.rand(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
        return x * (keep >= level).to(x.device)
    if kind == "missing":
        keep = torch.rand(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
        return x.masked_fill((keep < level).to(x.device), math.nan)
    raise ValueError(f"Unknown noise {kind!r}.")


def umap_cross_entropy(sq_dist_edges, sq_dist_negatives, a, b, eps=1e-3):
    """UMAP's fuzzy cross-entropy of embedded edges and negative samples.

    The similarity of two codes at distance ``d`` is ``q = 1 / (1 + a
    d^(2b))``; an edge of the graph costs ``-log q`` and a negative sample
    ``-log(1 - q)``, both computed from ``t = log(a (d^2 + eps)^b)`` as
    ``softplus(t)`` and ``softplus(-t)``.  ``eps`` keeps the repulsion of
    coinciding codes finite, as the 0.001 of umap-learn's optimizer does.

    Parameters
    ----------
    sq_dist_edges : Tensor of shape (n_edges,)
        Squared distances between the codes of each edge's ends.
    sq_dist_negatives : Tensor of shape (n_edges, n_negatives)
        Squared distances between each edge's head and its negative samples.
    a, b : float
        The curve's parameters (see :func:`skae._graph.find_ab_params`).
    eps : float, default=1e-3

    Returns
    -------
    loss : Tensor of shape (n_edges,)
        Attraction of each edge plus the repulsion of its negative samples.
    """
    log_a = math.log(a)
    attraction = F.softplus(log_a + b * torch.log(sq_dist_edges + eps))
    repulsion = F.softplus(-(log_a + b * torch.log(sq_dist_negatives + eps)))
    return attraction + repulsion.sum(1)
