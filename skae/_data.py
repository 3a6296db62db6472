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


# Inference runs on chunks of _INFERENCE_ROWS rows; a shorter chunk is padded
# with zero rows to one of a few lengths (pad, 2 pad, 4 pad, ... rows, up to
# _INFERENCE_ROWS).  Whether a row's float32 result is bitwise the same in a
# short chunk as in a full one depends on the kernels the CPU's BLAS picks for
# each shape, which differ between vector units (AVX2, AVX-512) and thread
# counts: a short chunk of one to three rows takes a matrix-vector path
# everywhere, AVX-512 kernels differ below 16 rows, and with several threads
# a wide layer may differ below 64.  So the smallest ``pad`` is found by
# measurement, once per network, kind of computation, thread count and
# device: the candidates of _PAD_LADDER are tried in turn and the first whose
# every chunk length reproduces the full chunk's rows is kept (a full chunk
# always does).  A one-row call then computes ``pad`` rows, not 512.
_INFERENCE_ROWS = 512
_PAD_LADDER = (4, 8, 16, 32, 64, 128, 256)
_pad_cache = weakref.WeakKeyDictionary()  # owner -> {(kind, threads, device): pad}
_pad_lock = threading.Lock()


def chunk_lengths(pad):
    """The lengths a short chunk is padded to when the smallest is ``pad``."""
    lengths, size = [], pad
    while size < _INFERENCE_ROWS:
        lengths.append(size)
        size *= 2
    return [*lengths, _INFERENCE_ROWS]


def padded_length(n, pad):
    """The length a chunk of ``n`` rows is computed at."""
    return next(size for size in chunk_lengths(pad) if size >= n)


def _probe_rows(x, generator):
    """``_INFERENCE_ROWS`` rows near those of ``x``: ``x`` repeated, slightly perturbed."""
    reps = -(-_INFERENCE_ROWS // x.shape[0])
    probe = x.repeat(reps, *([1] * (x.dim() - 1)))[:_INFERENCE_ROWS]
    noise = torch.randn(probe.shape, generator=generator).to(probe.device, probe.dtype)
    return probe + 0.01 * noise * (1.0 + probe.abs())


def batch_invariant_pad(fn, x, owner, kind):
    """The smallest padding under which ``fn`` is batch-invariant (see above).

    ``x`` is a chunk of real input, used to build the probe; ``owner`` (the
    fitted network) and ``kind`` (the computation, e.g. ``"encode"``) key the
    cached answer together with the thread count and the device.
    """
    key = (kind, torch.get_num_threads(), str(x.device))
    with _pad_lock:
        known = _pad_cache.get(owner, {}).get(key)
    if known is not None:
        return known
    probe = _probe_rows(x, torch.Generator().manual_seed(0))
    full = fn(probe)
    ok = {}
    for size in _PAD_LADDER:
        # the rows of two chunks of this length, at different offsets of the probe
        ok[size] = all(
            torch.equal(fn(probe[lo:lo + size]), full[lo:lo + size]) for lo in (0, size)
        )
    pad = next((p for p in _PAD_LADDER if all(ok[s] for s in chunk_lengths(p)[:-1])),
               _INFERENCE_ROWS)
    with _pad_lock:
        _pad_cache.setdefault(owner, {})[key] = pad
    return pad


def map_rows(X, fn, width, dtype, device, owner=None, kind=None, shift=None):
    """Apply ``fn`` to float32 batches of ``X`` on ``device`` under inference mode.

    Chunks hold ``_INFERENCE_ROWS`` rows; a shorter one is padded with zero
    rows to a length at which ``fn`` gives every row bitwise the result it
    gets in a full chunk (:func:`batch_invariant_pad`, keyed by ``owner``
    and ``kind``; without an owner, short chunks are padded to a full one),
    so that no row's result depends on what it is batched with.  ``shift``
    is subtracted from the rows in float64 first (see :class:`BatchReader`).
    Returns an array of shape ``(n_samples, width)`` and dtype ``dtype``.
    """
    out = np.empty((X.shape[0], width), dtype=dtype)
    reader = BatchReader(X, device, stream=True, shift=shift)
    pad = None if owner is not None else _INFERENCE_ROWS
    with torch.inference_mode():
        lo = 0
        for x in reader.slices(_INFERENCE_ROWS):
            n = x.shape[0]
            if n < _INFERENCE_ROWS:
                if pad is None:
                    pad = batch_invariant_pad(fn, x, owner, kind)
                extra = padded_length(n, pad) - n
                if extra:
                    x = torch.cat([x, x.new_zeros((extra, *x.shape[1:]))])
            out[lo:lo + n] = fn(x)[:n].reshape(n, width).to("cpu").numpy()
            lo += n
    return out


# scaling="auto" treats features whose ranges lie within this factor of the
# median range as sharing their units.
_SHARED_RANGE_RATIO = 10.0


def feature_moments(X):
    """Per-feature mean, variance, minimum and maximum of ``X``, as float64 arrays.

    Sparse matrices are reduced sparsely (implicit zeros count as values);
    dense arrays and memory maps are read in chunks of at most
    ``_MOMENT_CHUNK_BYTES`` of float64, whatever their width.  Variances are
    accumulated around a first-chunk estimate of the mean, so data far from
    zero keep their precision.
    """
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


def resolve_scaling(scaling, input_shape):
    """The scaling mode for :func:`data_scaling`: images share one scale under "auto"."""
    return "global" if scaling == "auto" and input_shape is not None else scaling


def data_scaling(X, mode):
    """The per-feature ``mean`` and ``scale`` (float64) that standardise ``X``.

    ``mode`` is ``"feature"`` (each feature by its own standard deviation,
    as :class:`~sklearn.preprocessing.StandardScaler` does), ``"global"``
    (one scale for all features: the root mean feature variance) or
    ``"auto"``: ``"global"`` when the features' ranges agree (no range
    exceeds ``_SHARED_RANGE_RATIO`` times the median range of the
    non-constant features, as for pixels), else ``"feature"``.  The choice
    does not change when ``X`` is multiplied by a constant.
    A scale of zero (constant data) becomes 1; any positive scale, however
    small, is kept.  Returns ``mean, scale, mode`` with ``mode`` resolved.
    """
    mean, var, lo, hi = feature_moments(X)
    if mode == "auto":
        ranges = hi - lo
        ranges = ranges[ranges > 0]
        shared = ranges.size == 0 or ranges.max() <= _SHARED_RANGE_RATIO * np.median(ranges)
        mode = "global" if shared else "feature"
    if mode == "global":
        scale = np.full_like(var, np.sqrt(var.mean()))
    else:
        scale = np.sqrt(var)
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    return mean, scale, mode
