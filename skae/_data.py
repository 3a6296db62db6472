"""From validated arrays to float32 torch batches, without whole copies.

Dense in-memory arrays become one float32 tensor (no copy when they are
float32 already).  Memory-mapped arrays are read one batch at a time and
sparse matrices are densified one batch at a time, so neither is ever held
whole in memory as a dense float32 array.
"""

import mmap
import threading
import weakref

import numpy as np
import scipy.sparse as sp
import torch

# float64 working memory of one chunk when data are read in chunks (moments, shifts)
_MOMENT_CHUNK_BYTES = 2 * 2**20


def is_memory_mapped(array):
    """True when ``array`` (or an array it views) is backed by a file map."""
    while array is not None:
        if isinstance(array, (np.memmap, mmap.mmap)):
            return True
        array = getattr(array, "base", None)
    return False


class BatchReader:
    """Read rows of ``X`` as float32 tensors on ``device``.

    Parameters
    ----------
    X : ndarray, memmap or scipy.sparse matrix of shape (n_samples, n_features)
        Validated data.
    device : torch.device
        Where the batches are sent.
    stream : bool, default=False
        Read dense in-memory arrays batch by batch too, instead of making one
        float32 tensor of the whole array (used for single passes).
    shift : ndarray of shape (n_features,) or None, default=None
        Subtracted from every row in float64 before the cast to float32, so
        that data far from zero keep their precision.
    """

    def __init__(self, X, device, stream=False, shift=None):
        self.device = torch.device(device)
        self.n_samples = X.shape[0]
        self._shift = None if shift is None or not np.any(shift) else np.asarray(
            shift, dtype=np.float64)
        self._streamed = stream or sp.issparse(X) or is_memory_mapped(X)
        if sp.issparse(X):
            self._X = X.tocsr()
        elif self._streamed:
            self._X = X
        elif self._shift is None:
            data = np.ascontiguousarray(X, dtype=np.float32)
            self._X = torch.from_numpy(data).to(self.device)
        else:
            data = np.empty(X.shape, dtype=np.float32)
            step = max(1, _MOMENT_CHUNK_BYTES // (8 * max(1, X.shape[1])))
            for lo in range(0, X.shape[0], step):
                data[lo:lo + step] = np.asarray(X[lo:lo + step], dtype=np.float64) - self._shift
            self._X = torch.from_numpy(data).to(self.device)

    def take(self, indices):
        """Rows ``indices`` (1-D int64 CPU tensor), in ascending order, as float32."""
        indices = torch.sort(indices).values
        if not self._streamed:
            return self._X.index_select(0, indices.to(self.device))
        return self._to_tensor(self._X[indices.numpy()])

    def _to_tensor(self, batch):
        batch = batch.toarray() if sp.issparse(batch) else batch
        if self._shift is not None:
            batch = np.asarray(batch, dtype=np.float64) - self._shift
        batch = np.asarray(batch, dtype=np.float32)
        if not batch.flags.writeable:  # a slice of a read-only memory map
            batch = batch.copy()
        return torch.from_numpy(batch).to(self.device)

    def slices(self, batch_size, start=0, stop=None):
        """Yield consecutive float32 batches of rows ``start:stop`` in order."""
        stop = self.n_samples if stop is None else stop
        for lo in range(start, stop, batch_size):
            hi = min(lo + batch_size, stop)
            if not self._streamed:
                yield self._X[lo:hi]
                continue
            yield self._to_tensor(self._X[lo:hi])

    def batches(self, indices, batch_size):
        """Yield float32 batches of the rows in ``indices``, in that order."""
        for lo in range(0, len(indices), batch_size):
            yield self.take(indices[lo:lo + batch_size])


# Inference reads _INFERENCE_ROWS rows at a time and computes them in chunks
# of one of a few lengths, a short chunk padded with zero rows to the next of
# them.  A row's float32 result is bitwise the same in chunks of two lengths
# only when the CPU's BLAS takes the same kernel (and the same split between
# threads) for both, which depends on the vector units (AVX2, AVX-512), the
# thread count and the layer widths: one to three rows take a matrix-vector
# path everywhere, AVX-512 kernels differ below 16 rows, and with several
# threads a wide layer splits its work differently below 64 or 128 rows.  So
# the lengths are measured, once per network, kind of computation, thread
# count and device: the lengths of _LADDER fall into classes whose members
# give every row the same result, and the class used is the one with the
# shortest length (the padding of a one-row call) among those that hold a
# length of at least _MIN_CHUNK rows (the chunk, for the throughput of large
# calls).
_INFERENCE_ROWS = 512
_LADDER = (4, 8, 16, 32, 64, 128, 256, 512)
_MIN_CHUNK = 64
_length_cache = weakref.WeakKeyDictionary()  # owner -> {(kind, threads, device): lengths}
# (structure of the owner and the input, kind, threads, device) -> lengths: networks
# built alike (every fit of a cross-validation, a refit) share one measurement
_structure_cache = {}
_STRUCTURE_CACHE_SIZE = 1024
_length_lock = threading.Lock()
_PLAIN = (bool, int, float, str, tuple, type(None))


def padded_length(n, lengths):
    """The length, among the increasing ``lengths``, that a chunk of ``n`` rows is computed at."""
    return next(size for size in lengths if size >= n)


def _probe_rows(x, generator):
    """``_INFERENCE_ROWS`` rows near those of ``x``: ``x`` repeated, slightly perturbed."""
    reps = -(-_INFERENCE_ROWS // x.shape[0])
    probe = x.repeat(reps, *([1] * (x.dim() - 1)))[:_INFERENCE_ROWS]
    noise = torch.randn(probe.shape, generator=generator).to(probe.device, probe.dtype)
    return probe + 0.01 * noise * (1.0 + probe.abs())


def agreeing_classes(fn, probe):
    """The lengths of ``_LADDER`` grouped into classes under which ``fn`` agrees row by row.

    Lengths ``L < M`` agree when a chunk of ``L`` rows gives the same rows
    as the same rows of a chunk of ``M`` rows, taken at its start, one and
    three rows further, and at its end (a row's result must not depend on
    its position in the chunk either).  Each class holds lengths that all
    agree with each other, in increasing order.
    """
    full = {size: fn(probe[:size]) for size in _LADDER}

    def steady(size):  # the same rows, one, two, three or five positions further in
        return all(torch.equal(fn(probe[shift:shift + size])[:size - shift],
                               full[size][shift:]) for shift in (1, 2, 3, 5) if shift < size)

    def agree(small, large):
        return all(
            torch.equal(full[small] if start == 0 else fn(probe[start:start + small]),
                        full[large][start:start + small])
            for start in (0, 1, 3, large - small) if start + small <= large
        )

    classes = []
    for size in _LADDER:
        if not steady(size):  # a row's result moves with its position: no class
            continue
        home = next((c for c in classes if all(agree(m, size) for m in c)), None)
        if home is None:
            classes.append([size])
        else:
            home.append(size)
    return classes


def structure(owner, x):
    """A key of what decides which kernels compute ``owner`` on rows like ``x``.

    The kernels a CPU's BLAS or oneDNN takes depend on the shapes of the
    operands and on the thread count, never on their values; so two networks
    with the same module tree (types and plain attributes, such as an input
    shape or an activation's slope) and parameters and buffers of the same
    shapes and dtypes, fed rows of the same width and dtype, agree at the
    same chunk lengths.
    """
    parts = [tuple(x.shape[1:]), str(x.dtype)]
    for name, module in owner.named_modules():
        plain = sorted((k, v) for k, v in vars(module).items()
                       if not k.startswith("_") and isinstance(v, _PLAIN))
        parts.append((name, type(module).__module__, type(module).__qualname__, plain))
    for name, tensor in [*owner.named_parameters(), *owner.named_buffers()]:
        parts.append((name, tuple(tensor.shape), str(tensor.dtype)))
    return repr(parts)


def batch_invariant_lengths(fn, x, owner, kind):
    """The increasing chunk lengths under which ``fn`` is batch-invariant.

    The first is the padding of a one-row call, the last the length of the
    chunks of a large call.  ``x`` is a chunk of real input, used to build
    the probe; ``owner`` (the fitted network) and ``kind`` (the computation,
    e.g. ``"encode"``, naming everything ``fn`` does beyond what the owner's
    structure says) key the cached answer together with the thread count
    and the device.  Owners of the same :func:`structure` share the answer
    for a kind: it is measured once per process for networks built alike.
    """
    key = (kind, torch.get_num_threads(), str(x.device))
    with _length_lock:
        known = _length_cache.get(owner, {}).get(key)
    if known is not None:
        return known
    shared = (structure(owner, x), *key) if isinstance(owner, torch.nn.Module) else None
    with _length_lock:
        known = _structure_cache.get(shared)
    if known is None:
        classes = agreeing_classes(fn, _probe_rows(x, torch.Generator().manual_seed(0)))
        usable = [c for c in classes if c[-1] >= _MIN_CHUNK]
        # no length keeps a row's result where it stands: full chunks, the best that remains
        known = (tuple(min(usable, key=lambda c: (c[0], -c[-1]))) if usable
                 else (_INFERENCE_ROWS,))
    with _length_lock:
        _length_cache.setdefault(owner, {})[key] = known
        if shared is not None:
            if len(_structure_cache) >= _STRUCTURE_CACHE_SIZE:
                _structure_cache.clear()
            _structure_cache[shared] = known
    return known


def map_rows(X, fn, width, dtype, device, owner=None, kind=None, shift=None):
    """Apply ``fn`` to float32 batches of ``X`` on ``device`` under inference mode.

    Rows are computed in chunks of a length, and a short last chunk padded
    with zero rows to a length, at which ``fn`` gives every row bitwise the
    same result (:func:`batch_invariant_lengths`, keyed by ``owner`` and
    ``kind``; without an owner, chunks of ``_INFERENCE_ROWS`` rows, the last
    one padded to a full one), so that no row's result depends on what it
    is batched with.  ``shift`` is subtracted from the rows in float64 first
    (see :class:`BatchReader`).  Returns an array of shape
    ``(n_samples, width)`` and dtype ``dtype``.
    """
    out = np.empty((X.shape[0], width), dtype=dtype)
    reader = BatchReader(X, device, stream=True, shift=shift)
    lengths = None if owner is not None else (_INFERENCE_ROWS,)
    with torch.inference_mode():
        lo = 0
        for rows in reader.slices(_INFERENCE_ROWS):
            if lengths is None:
                lengths = batch_invariant_lengths(fn, rows, owner, kind)
            chunk = lengths[-1]
            for start in range(0, rows.shape[0], chunk):
                x = rows[start:start + chunk]
                n = x.shape[0]
                size = padded_length(n, lengths)
                if size > n:
                    padded = x.new_zeros((size, *x.shape[1:]))
                    padded[:n] = x
                    x = padded
                out[lo:lo + n] = fn(x)[:n].reshape(n, width).to("cpu").numpy()
                lo += n
    return out


# scaling="auto" reads features as sharing one unit (as pixels do) when their
# median range covers at least this fraction of the range of all of X.
_SHARED_SPAN = 0.5


def feature_moments(X):
    """Per-feature mean, variance, minimum and maximum of ``X``, as float64 arrays.

    Missing values (NaN) are left out: each feature's statistics are those
    of its observed values (see :func:`_observed_moments`).  Sparse matrices are reduced sparsely (implicit zeros count as values);
    dense arrays and memory maps are read in chunks of at most
    ``_MOMENT_CHUNK_BYTES`` of float64, whatever their width.  Variances are
    accumulated around a first-chunk estimate of the mean, so data far from
    zero keep their precision.
    """
    if has_missing(X):
        return _observed_moments(X)
    n, n_features = X.shape
    if sp.issparse(X):
        X = X.tocsr()
        mean = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
        X = X.astype(np.float64)
        sq = X.copy()
        sq.data **= 2
        var = np.asarray(sq.mean(axis=0)).ravel() - mean**2
        lo = np.asarray(X.min(axis=0).toarray(), dtype=np.float64).ravel()
        hi = np.asarray(X.max(axis=0).toarray(), dtype=np.float64).ravel()
        return mean, np.maximum(var, 0.0), lo, hi
    step = max(1, _MOMENT_CHUNK_BYTES // (8 * max(1, n_features)))
    shift = np.asarray(X[:step], dtype=np.float64).mean(0)  # centres the sums
    total = np.zeros(n_features)
    total_sq = np.zeros(n_features)
    lo = np.full(n_features, np.inf)
    hi = np.full(n_features, -np.inf)
    for start in range(0, n, step):
        chunk = np.array(X[start:start + step], dtype=np.float64)  # the one working copy
        chunk -= shift
        total += chunk.sum(0)
        np.minimum(lo, chunk.min(0), out=lo)
        np.maximum(hi, chunk.max(0), out=hi)
        total_sq += np.square(chunk, out=chunk).sum(0)
        del chunk  # before the next chunk is read
    mean_dev = total / n
    var = np.maximum(total_sq / n - mean_dev**2, 0.0)
    return shift + mean_dev, var, lo + shift, hi + shift


def has_missing(X):
    """Whether ``X`` (dense, memory map or sparse) holds a NaN, read in chunks."""
    if sp.issparse(X):
        return bool(np.isnan(X.data).any())
    step = max(1, _MOMENT_CHUNK_BYTES // (8 * max(1, X.shape[1])))
    return any(np.isnan(np.asarray(X[lo:lo + step])).any() for lo in range(0, X.shape[0], step))


def _observed_moments(X):
    """:func:`feature_moments` of data holding NaN, over each feature's observed values.

    A feature with no observed value gets mean 0, variance 0 and an empty
    range (minimum +inf, maximum -inf).  Sparse matrices count their implicit
    zeros as observed values.
    """
    n, n_features = X.shape
    if sp.issparse(X):
        X = X.tocsr()
    step = max(1, _MOMENT_CHUNK_BYTES // (8 * max(1, n_features)))
    count = np.zeros(n_features)
    total = np.zeros(n_features)
    lo = np.full(n_features, np.inf)
    hi = np.full(n_features, -np.inf)
    for start in range(0, n, step):
        chunk = X[start:start + step]
        chunk = np.array(chunk.toarray() if sp.issparse(chunk) else chunk, dtype=np.float64)
        observed = ~np.isnan(chunk)
        count += observed.sum(0)
        np.fmin(lo, np.fmin.reduce(chunk, axis=0, initial=np.inf), out=lo)
        np.fmax(hi, np.fmax.reduce(chunk, axis=0, initial=-np.inf), out=hi)
        total += np.where(observed, chunk, 0.0).sum(0)
    mean = np.divide(total, count, out=np.zeros(n_features), where=count > 0)
    total_sq = np.zeros(n_features)
    for start in range(0, n, step):  # the variance around the mean, in a second pass
        chunk = X[start:start + step]
        chunk = np.array(chunk.toarray() if sp.issparse(chunk) else chunk, dtype=np.float64)
        chunk -= mean
        total_sq += np.square(np.where(np.isnan(chunk), 0.0, chunk)).sum(0)
    var = np.divide(total_sq, count, out=np.zeros(n_features), where=count > 0)
    return mean, var, lo, hi


def resolve_scaling(scaling, input_shape):
    """The scaling mode for :func:`data_scaling`: images share one scale under "auto"."""
    return "global" if scaling == "auto" and input_shape is not None else scaling


def shares_one_unit(lo, hi):
    """Whether features of minima ``lo`` and maxima ``hi`` read as one common unit.

    True when the median range (max - min) of the non-constant features is
    at least ``_SHARED_SPAN`` times the range of all the values, as for
    pixels, where most features span the whole scale (0-16, 0-255, 0-1)
    and the rare faint ones span less.  Features in other units, or one
    unit at other offsets, leave most ranges far below the whole span,
    whichever way a single range departs from the others.  Unchanged when
    the data are multiplied by a constant.
    """
    ranges = hi - lo
    varying = ranges > 0
    if not varying.any():
        return True
    span = hi[varying].max() - lo[varying].min()
    return bool(np.median(ranges[varying]) >= _SHARED_SPAN * span)


# Data whose mean lies more than this many standard deviations from zero are
# centred in float64 before the float32 cast (see input_shift).
_SHIFT_RATIO = 1e3


def input_shift(mean, scale, output):
    """The float64 shift subtracted from the data before they are cast to float32, or None.

    Casting ``x`` to float32 rounds it by up to ``|x| * 2**-24``: for data
    whose mean is within ``_SHIFT_RATIO`` standard deviations of zero that
    is below 1e-4 of a standard deviation, and the data are cast as they are
    (the cheaper path).  Data farther from zero are centred in float64
    first, by their mean.  Data in [0, 1] for a sigmoid output are never
    shifted.
    """
    if output != "identity" or not np.any(np.abs(mean) > _SHIFT_RATIO * scale):
        return None
    return mean


def data_scaling(X, mode):
    """The per-feature ``mean`` and ``scale`` (float64) that standardise ``X``.

    ``mode`` is ``"feature"`` (each feature by its own standard deviation,
    as :class:`~sklearn.preprocessing.StandardScaler` does), ``"global"``
    (one scale for all features: the root mean feature variance) or
    ``"auto"``: ``"global"`` when the features share one unit (see
    :func:`shares_one_unit`), else ``"feature"``.
    A scale of zero (constant data) becomes 1; any positive scale, however
    small, is kept.  Returns ``mean, scale, mode`` with ``mode`` resolved.
    """
    mean, var, lo, hi = feature_moments(X)
    if mode == "auto":
        mode = "global" if shares_one_unit(lo, hi) else "feature"
    if mode == "global":
        scale = np.full_like(var, np.sqrt(var.mean()))
    else:
        scale = np.sqrt(var)
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    return mean, scale, mode
