"""A uniform sample of the rows seen by successive ``partial_fit`` calls.

What an estimator works out after training from data (the VAE's sampling
mixture, the ordered code's explained variance) must describe every chunk
seen so far, not only the last one.  :func:`update_reservoir` keeps a
uniform random sample of at most ``capacity`` of all rows seen (Vitter's
algorithm R), with their class indices, as tensors that persist with the
model.
"""

import numpy as np
import scipy.sparse as sp
import torch

# Rows kept across partial_fit calls (the sampler's mixture encodes at most
# this many rows of a fit too).
RESERVOIR_ROWS = 2000


def update_reservoir(state, X, labels, seed, capacity=RESERVOIR_ROWS):
    """Add the rows of ``X`` (and their class indices ``labels``) to ``state``.

    ``state`` is ``None`` or the dict this function returned before:
    ``{"rows": float64 tensor, "labels": int64 tensor or None, "seen": int}``.
    Every row seen so far is in the returned sample with the same
    probability; ``seed`` fixes this call's draws.
    """
    n, n_features = X.shape
    if state is None:
        rows = torch.empty((0, n_features), dtype=torch.float64)
        kept = None if labels is None else torch.empty(0, dtype=torch.int64)
        state = {"rows": rows, "labels": kept, "seen": 0}
    seen = int(state["seen"])
    slots = list(range(len(state["rows"])))  # source of each slot: -1 - old index, or row
    source = [-1 - i for i in slots]
    rng = np.random.RandomState(seed % 2**32)
    totals = seen + np.arange(n)  # rows seen before each new row
    picks = rng.randint(0, totals + 1)
    for i in range(n):
        if len(source) < capacity:
            source.append(i)
        elif picks[i] < capacity:
            source[picks[i]] = i
    old = [-1 - s for s in source if s < 0]
    new = [s for s in source if s >= 0]
    chunk = X[new]
    chunk = chunk.toarray() if sp.issparse(chunk) else np.asarray(chunk)
    rows = torch.cat([state["rows"][old], torch.from_numpy(chunk.astype(np.float64))])
    kept = None
    if labels is not None:
        kept = torch.cat([state["labels"][old],
                          torch.as_tensor(np.asarray(labels)[new], dtype=torch.int64)])
    return {"rows": rows, "labels": kept, "seen": seen + n}
