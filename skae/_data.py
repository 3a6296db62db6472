"""From validated arrays to float32 torch batches, without whole copies.

Dense in-memory arrays become one float32 tensor (no copy when they are
float32 already).  Memory-mapped arrays are read one batch at a time and
sparse matrices are densified one batch at a time, so neither is ever held
whole in memory as a dense float32 array.
"""

import mmap

import numpy as np
import scipy.sparse as sp
import torch


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
    """

    def __init__(self, X, device, stream=False):
        self.device = torch.device(device)
        self.n_samples = X.shape[0]
        self._streamed = stream or sp.issparse(X) or is_memory_mapped(X)
        if sp.issparse(X):
            self._X = X.tocsr()
        elif self._streamed:
            self._X = X
        else:
            data = np.ascontiguousarray(X, dtype=np.float32)
            self._X = torch.from_numpy(data).to(self.device)

    def take(self, indices):
        """Rows ``indices`` (1-D int64 CPU tensor), in ascending order, as float32."""
        indices = torch.sort(indices).values
        if not self._streamed:
            return self._X.index_select(0, indices.to(self.device))
        return self._to_tensor(self._X[indices.numpy()])

    def _to_tensor(self, batch):
        batch = batch.toarray() if sp.issparse(batch) else batch
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


def feature_moments(reader, chunk_size=4096):
    """Per-feature mean and the root mean variance over all features.

    Computed chunk by chunk in float64 so that streamed data are never held
    whole.  The single scale (not one per feature) keeps the relative weight
    of the features, so a squared error in scaled units is proportional to
    the squared error in the data's own units.
    """
    total = None
    total_sq = None
    for batch in reader.slices(chunk_size):
        b = batch.detach().to("cpu", torch.float64)
        s, sq = b.sum(0), (b * b).sum(0)
        total = s if total is None else total + s
        total_sq = sq if total_sq is None else total_sq + sq
    n = reader.n_samples
    mean = total / n
    var = (total_sq / n - mean * mean).clamp_min(0)
    scale = float(var.mean().sqrt())
    if not np.isfinite(scale) or scale < 1e-12:
        scale = 1.0
    return mean.to(torch.float32), scale
