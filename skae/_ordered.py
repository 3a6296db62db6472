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
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA

from ._data import BatchReader, data_scaling

# weight of the full code's loss beside the random prefix's
FULL_CODE_WEIGHT = 0.5
# rows used to bound the code width of a fractional n_components, and the
# number of cross-validation folds they are split into
_WIDTH_ROWS = 2000
_WIDTH_FOLDS = 5
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

    The smallest number of principal components whose reconstructions
    reach ``fraction`` of the variance of *held-out* rows: PCA is fitted on
    four fifths of (up to ``_WIDTH_ROWS`` rows of) ``X`` and scored on the
    other fifth, in turn (5-fold cross-validation), in the units the
    network sees (``scaling`` resolved by :func:`skae._data.data_scaling`).
    The fit keeps the smallest prefix of the code that reaches the
    fraction on its own held-out rows, which is what PCA needs there; the
    training rows alone would ask for fewer.  At most ``n_features``.
    """
    rows = X[: min(X.shape[0], _WIDTH_ROWS)]
    rows = rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows, dtype=np.float64)
    if rows.shape[0] < 2 or not np.ptp(rows, axis=0).any():
        return 1
    mean, scale, _ = data_scaling(rows, scaling)
    rows = (rows - mean) / scale
    n, n_features = rows.shape
    if n < 2 * _WIDTH_FOLDS:  # too few rows to hold any out
        pca = PCA(n_components=fraction, svd_solver="full").fit(rows)
        return int(min(n_features, max(1, pca.n_components_)))
    residual = np.zeros(n_features + 1)  # held-out squared error of each prefix 0..n_features
    folds = np.arange(n) % _WIDTH_FOLDS
    for fold in range(_WIDTH_FOLDS):
        train, test = rows[folds != fold], rows[folds == fold]
        centre = train.mean(0)
        _, _, components = np.linalg.svd(train - centre, full_matrices=False)
        held_out = test - centre
        explained = np.cumsum(np.square(held_out @ components.T).sum(0))
        # beyond the rank of the training rows, wider codes explain no more
        explained = np.pad(explained, (0, n_features - len(explained)), mode="edge")
        residual[0] += np.square(held_out).sum()
        residual[1:] -= explained
    residual[1:] += residual[0]
    r2 = 1.0 - residual / residual[0]
    reached = np.flatnonzero(r2[1:] >= fraction)
    return int(reached[0]) + 1 if reached.size else n_features


def code_width_by_mle(X, scaling):
    """The code width of ``n_components="mle"``: Minka's MLE, as PCA guesses it.

    PCA's ``n_components="mle"`` on (up to ``_WIDTH_ROWS`` rows of) ``X``
    in the units the network sees (``scaling`` resolved by
    :func:`skae._data.data_scaling`); at least 1.
    """
    rows = X[: min(X.shape[0], _WIDTH_ROWS)]
    rows = rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows, dtype=np.float64)
    if rows.shape[0] < rows.shape[1]:
        raise ValueError(
            f"n_components='mle' needs at least as many rows as features, as in PCA; got "
            f"{rows.shape[0]} rows of {rows.shape[1]} features. Pass an int or a float "
            "n_components."
        )
    mean, scale, _ = data_scaling(rows, scaling)
    pca = PCA(n_components="mle", svd_solver="full").fit((rows - mean) / scale)
    return max(1, int(pca.n_components_))


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
    """``(k, explained_variance_ratio, shortfall)`` of a fitted ordered code.

    The prefixes are scored by :func:`prefix_r2` on (up to ``_SCORED_ROWS``
    of) the held-out rows ``eval_rows`` of ``X``.  ``k`` is the code's width,
    or with a ``fraction`` the smallest prefix whose R² reaches it (all of
    the code when none does); the ratios are the R² each of the first ``k``
    components adds.  ``shortfall`` is None, or when no prefix reaches the
    fraction a :class:`Shortfall` that tells what stopped it.
    """
    width = net.n_components
    rows = np.sort(eval_rows[:_SCORED_ROWS])
    reader = BatchReader(X, device, shift=net.input_shift.cpu().numpy())
    r2 = prefix_r2(net, reader.take(torch.from_numpy(rows)), width)
    k, shortfall = width, None
    if fraction is not None:
        reached = np.flatnonzero(r2 >= fraction)
        if reached.size:
            k = int(reached[0]) + 1
        else:
            shortfall = _shortfall(net, reader, rows, width, float(r2.max()))
    return k, np.diff(r2[:k], prepend=0.0), shortfall


@dataclass(frozen=True)
class Shortfall:
    """Why an ordered code misses its fraction: the held-out R² of the code
    (``reached``), of PCA with as many components fitted on the training
    rows (``pca``), and of the code on (up to ``_SCORED_ROWS``) training
    rows (``train``), all in the network's scaled units."""

    width: int
    reached: float
    pca: float
    train: float


def _shortfall(net, reader, eval_rows, width, reached):
    train_rows = np.setdiff1d(np.arange(reader.n_samples), eval_rows)
    if train_rows.size == 0:  # no split: the training rows were scored
        train_rows = eval_rows
    train_rows = train_rows[:_SCORED_ROWS]
    with torch.inference_mode():
        train = reader.take(torch.from_numpy(train_rows))
        held_out = net.standardise(reader.take(torch.from_numpy(eval_rows))).double().numpy()
        fitted = net.standardise(train).double().numpy()
    pca = PCA(n_components=min(width, *fitted.shape), svd_solver="full").fit(fitted)
    rec = pca.inverse_transform(pca.transform(held_out))
    # the sum of squares around the training mean, as prefix_r2 takes it
    pca_r2 = 1.0 - np.square(held_out - rec).sum() / np.square(held_out).sum()
    train_r2 = float(prefix_r2(net, train, width)[-1])
    return Shortfall(width, reached, float(pca_r2), train_r2)


def principal_code(net, X, eval_rows, fraction):
    """The principal components that reach ``fraction`` of the held-out variance.

    PCA is fitted to (up to ``_SCORED_ROWS`` of) the rows of ``X`` that are
    not in ``eval_rows`` (all of them when every row is), in the network's
    standardised units, and its prefixes are scored on ``eval_rows`` as
    :func:`prefix_r2` scores a code.  Returns ``(components, centre, k)``:
    the components as rows (all that the training rows have), their mean,
    and the smallest number of them that reaches ``fraction`` (None when
    even all of them do not).
    """
    rows = np.sort(eval_rows[:_SCORED_ROWS])
    reader = BatchReader(X, net.mean.device, shift=net.input_shift.cpu().numpy())
    train_rows = np.setdiff1d(np.arange(reader.n_samples), rows)
    if train_rows.size == 0:  # no split: the training rows are scored
        train_rows = rows
    train_rows = train_rows[:_SCORED_ROWS]
    with torch.inference_mode():
        fitted, held_out = (net.standardise(reader.take(torch.from_numpy(r))).double().cpu().numpy()
                            for r in (train_rows, rows))
    pca = PCA(svd_solver="full").fit(fitted)
    centred = held_out - pca.mean_
    explained = np.cumsum(np.square(centred @ pca.components_.T).sum(0))
    # R² around the training mean, as prefix_r2 takes it
    sst = np.square(held_out).sum()
    r2 = 1.0 - (np.square(centred).sum() - explained) / sst
    reached = np.flatnonzero(r2 >= fraction)
    k = int(reached[0]) + 1 if reached.size else None
    return pca.components_, pca.mean_, k


def set_principal_code(net, components, centre):
    """Make a linear network (no hidden layers) the PCA code of ``components``.

    The code head projects the standardised rows, centred on ``centre``,
    onto the first ``net.n_components`` components, and the decoder maps a
    code back onto them: every prefix of the code is the PCA code of its
    size, and its reconstruction PCA's.
    """
    width = net.n_components
    basis = torch.as_tensor(components[:width], dtype=torch.float32)
    centre = torch.as_tensor(centre, dtype=torch.float32)
    (decoder,) = [m for m in net.decoder.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        net.head.weight.copy_(basis)
        net.head.bias.copy_(-basis @ centre)
        decoder.weight.copy_(basis.T)
        decoder.bias.copy_(centre)
