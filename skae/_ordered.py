"""Ordered codes: every prefix of the code is a code of its own size.

Training minimises the reconstruction loss of a random prefix of each
row's code, the trailing components set to zero (nested dropout, Rippel et
al., 2014), plus ``FULL_CODE_WEIGHT`` times the loss of the full code (as
in Matryoshka representations, Kusupati et al., 2022, which train several
prefixes at once).  Prefix lengths are drawn log-uniformly, so short
prefixes, whose loss is the largest, are seen as often as long ones per
octave.  The weight and the distribution were chosen by measuring prefix
and full-code errors on held-out digits against separately trained codes
(see ``benchmarks/bench_ordered.py``).
"""

import math
import warnings

import numpy as np
import torch
from sklearn.decomposition import PCA

from ._data import BatchReader, data_scaling
from ._training import user_stacklevel

# weight of the full code's loss beside the random prefix's
FULL_CODE_WEIGHT = 0.5
# rows used to bound the code width of a fractional n_components
_WIDTH_ROWS = 2000
# held-out rows on which the prefixes of an ordered code are scored
_SCORED_ROWS = 10_000


def prefix_mask(n_rows, width, generator, device):
    """A (n_rows, width) float mask keeping a random prefix of each row's code.

    Prefix lengths are ``floor(exp(u))`` for ``u`` uniform on ``[0, log(width + 1))``:
    log-uniform on ``1..width``.
    """
    u = torch.rand(n_rows, generator=generator, device=generator.device)
    k = torch.exp(u * math.log(width + 1)).floor().clamp(1, width)
    keep = torch.arange(width, device=generator.device)[None, :] < k[:, None]
    return keep.to(device=device, dtype=torch.float32)


def code_width_for_fraction(X, fraction, scaling):
    """The width of an ordered code fitted for ``n_components=fraction``.

    The number of principal components that explain ``fraction`` of the
    variance of (up to ``_WIDTH_ROWS`` rows of) ``X``, scaled as the network
    scales it (``scaling`` resolved by :func:`skae._data.data_scaling`): a
    non-linear code needs at most as many.
    """
    rows = X[: min(X.shape[0], _WIDTH_ROWS)]
    rows = rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows, dtype=np.float64)
    if rows.shape[0] < 2 or not np.ptp(rows, axis=0).any():
        return 1
    mean, scale, _ = data_scaling(rows, scaling)
    rows = (rows - mean) / scale
    pca = PCA(n_components=fraction, svd_solver="full").fit(rows)
    return int(min(rows.shape[1], max(1, pca.n_components_)))


def prefix_r2(net, x, width):
    """R² of the reconstructions from each prefix ``1..width`` of the code of ``x``.

    ``1 - SSE / SST``, the sum of squares taken around the training mean,
    both in the network's standardised units (the data's own units up to a
    constant factor with one shared scale).  Returns a float64 array of
    length ``width``.
    """
    with torch.inference_mode():
        target = net.standardise(x)  # centred on the training mean
        code = net.encode(x)
        sst = target.double().square().sum()
        scores = np.empty(width)
        for k in range(1, width + 1):
            masked = torch.cat([code[:, :k], code.new_zeros(code.shape[0], width - k)], 1)
            rec = net.standardise(net.decode(masked))
            scores[k - 1] = 1.0 - float((target - rec).double().square().sum() / sst)
    return scores


def ordered_components(net, X, eval_rows, device, fraction):
    """``(k, explained_variance_ratio)`` of a fitted ordered code.

    The prefixes are scored by :func:`prefix_r2` on (up to ``_SCORED_ROWS``
    of) the held-out rows ``eval_rows`` of ``X``.  ``k`` is the code's width,
    or with a ``fraction`` the smallest prefix whose R² reaches it (all of
    the code, with a warning, when none does); the ratios are the R² each
    of the first ``k`` components adds.
    """
    width = net.n_components
    rows = np.sort(eval_rows[:_SCORED_ROWS])
    reader = BatchReader(X, device, shift=net.input_shift.cpu().numpy())
    r2 = prefix_r2(net, reader.take(torch.from_numpy(rows)), width)
    k = width
    if fraction is not None:
        reached = np.flatnonzero(r2 >= fraction)
        if reached.size:
            k = int(reached[0]) + 1
        else:
            warnings.warn(
                f"The ordered code of {width} components reconstructs only {r2.max():.3f} "
                f"of the held-out variance, less than n_components={fraction}; keeping all "
                f"{width}. Train longer or use a larger network.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
    return k, np.diff(r2[:k], prepend=0.0)
