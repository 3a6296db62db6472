"""Fit and apply skae estimators on Dask arrays, one block of rows at a time.

Needs ``dask[array]`` (``pip install skae[dask]``); it is imported only when
these functions are called.

:func:`fit_dask_array` trains with :meth:`~skae.AutoencoderTransformer.partial_fit`
on one block at a time in the calling process, so a Dask array larger than
memory can be fitted while at most one block is held in memory.
:func:`transform_dask_array` encodes a Dask array lazily, block by block, and
returns a Dask array with exact chunk metadata.

For grid searches on a cluster no helper is needed: run
``GridSearchCV(..., n_jobs=-1).fit(X)`` inside
``joblib.parallel_backend("dask")`` with a ``dask.distributed.Client``
(see the README, "Scaling up").
"""

import copy

import numpy as np
from sklearn.utils import check_random_state

from ._validation import HasMethods, check_is_fitted, positive_int, validate_params

__all__ = ["fit_dask_array", "transform_dask_array"]


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except ValueError:  # NotFittedError
        return False
    return True


def _as_row_blocks(X, func_name):
    """Check that ``X`` is a 2-D Dask array and rechunk it to whole rows."""
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask is an optional dependency
        raise ImportError(f"{func_name} needs dask[array]: pip install 'skae[dask]'") from exc
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{func_name} expects a dask.array.Array, got {type(X).__name__}; "
            "call the estimator's own method on in-memory data."
        )
    if X.ndim != 2:
        raise ValueError(f"{func_name} expects a 2-D Dask array; got {X.ndim} dimensions.")
    if X.numblocks[1] != 1:  # a block must hold whole samples
        X = X.rechunk({1: -1})
    return X


@validate_params(
    {
        "estimator": [HasMethods(["partial_fit"])],
        "X": "no_validation",  # a Dask array, checked by _as_row_blocks
        "y": "no_validation",  # None, or labels aligned with X's rows
        "n_passes": [positive_int()],
        "shuffle_blocks": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def fit_dask_array(estimator, X, y=None, *, n_passes=1, shuffle_blocks=True,
                   random_state=None):
    """Train ``estimator`` on a Dask array with ``partial_fit``, block by block.

    Each pass visits every block of rows once: the block is computed (only
    that block) and handed to ``estimator.partial_fit``, which trains one
    epoch on it.  Training runs in the calling process; when a
    ``dask.distributed.Client`` is active the blocks are computed on the
    cluster and sent here one at a time.

    Parameters
    ----------
    estimator : estimator with ``partial_fit``
        E.g. :class:`~skae.AutoencoderTransformer`.  Trained in place.  An
        already fitted estimator continues from its current weights (clone
        it for a fresh start).  The first block it sees fixes its data
        scaling, so an unfitted estimator is always handed the largest block
        first (a block of a few rows gives a poor estimate); blocks should be
        alike in distribution (shuffle rows that are sorted, e.g. by class or
        time, before chunking).
    X : dask.array.Array of shape (n_samples, n_features)
        Training data.  Arrays chunked along columns are rechunked so that
        every block holds whole rows.
    y : dask.array.Array or array-like of shape (n_samples,), default=None
        Labels of the rows, handed to ``partial_fit`` block by block with
        the rows they belong to (a conditional
        :class:`~skae.VAEGenerator` needs them); rechunked to the row blocks
        of ``X``.  None: ``partial_fit(block)`` without labels.
    n_passes : int, default=1
        Number of passes over all the blocks; ``estimator.n_iter_`` grows by
        ``n_passes * X.numblocks[0]`` (one epoch per ``partial_fit`` call).
    shuffle_blocks : bool, default=True
        Visit the blocks in a new random order in each pass (the rows inside
        a block are shuffled by ``partial_fit`` itself), the largest block
        first in the first pass of an unfitted estimator.
    random_state : int, RandomState instance or None, default=None
        Seeds the block order.  The estimator's own ``random_state`` seeds
        its weights, batches and noise.

    Returns
    -------
    estimator : object
        The trained estimator.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> from skae.dask import fit_dask_array, transform_dask_array
    >>> X = da.from_array(load_digits().data / 16, chunks=(500, 64))
    >>> ae = AutoencoderTransformer(n_components=8, hidden_layer_sizes=(64,), random_state=0)
    >>> ae = fit_dask_array(ae, X, n_passes=2, random_state=0)
    >>> ae.n_iter_
    8
    >>> transform_dask_array(ae, X).chunks
    ((500, 500, 500, 297), (8,))
    """
    X = _as_row_blocks(X, "fit_dask_array")
    if y is not None:
        import dask.array as da

        y = da.asarray(y)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"y must hold one label per row of X: X has {X.shape[0]} rows, y has "
                f"shape {y.shape}."
            )
        y = y.rechunk((X.chunks[0],))
    rng = check_random_state(random_state)
    n_blocks = X.numblocks[0]
    # the block that fixes the scaling of an unfitted estimator
    first = None if _is_fitted(estimator) else int(np.argmax(X.chunks[0]))
    for _ in range(n_passes):
        order = rng.permutation(n_blocks) if shuffle_blocks else np.arange(n_blocks)
        if first is not None:
            order = np.concatenate([[first], order[order != first]])
            first = None
        for i in order:
            block = np.asarray(X.blocks[int(i)].compute())
            if not block.shape[0]:
                continue
            if y is None:
                estimator.partial_fit(block)
            else:
                estimator.partial_fit(block, np.asarray(y.blocks[int(i)].compute()))
    return estimator


def transform_dask_array(estimator, X):
    """Lazily encode a Dask array with a fitted estimator, block by block.

    Nothing is computed here: the result is a Dask array whose blocks call
    ``estimator.transform`` on the matching row blocks of ``X``.

    Parameters
    ----------
    estimator : fitted skae estimator
        E.g. a fitted :class:`~skae.AutoencoderTransformer`.  A copy taken
        now is embedded in the task graph (each worker receives it), so a
        later refit of ``estimator`` does not change what the graph computes.
    X : dask.array.Array of shape (n_samples, n_features)
        Data to encode.  Arrays chunked along columns are rechunked so that
        every block holds whole rows.

    Returns
    -------
    X_new : dask.array.Array of shape (n_samples, n_components_)
        The codes, with the row chunks of ``X`` and one column chunk, in the
        dtype of ``X`` (float32 or float64; other dtypes give float64).  An
        empty block (e.g. after a boolean selection of rows) gives an empty
        block of codes.
        Codes do not depend on how the rows are chunked: computed in this
        process they equal ``estimator.transform(X.compute())`` bitwise.

    Notes
    -----
    Under Dask's default threaded scheduler several blocks are encoded at
    once, each with torch's full intra-op thread count; on a busy machine
    prefer a ``dask.distributed`` cluster (whose workers run torch with one
    thread per task) or ``compute(scheduler="synchronous")``.
    """
    check_is_fitted(estimator)
    X = _as_row_blocks(X, "transform_dask_array")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    frozen = copy.deepcopy(estimator)
    width = frozen.n_components_  # the fitted width (a fraction is resolved at fit)

    def encode(block):
        if block.shape[0] == 0:
            return np.empty((0, width), dtype=dtype)
        return frozen.transform(block)

    return X.map_blocks(
        encode,
        chunks=(X.chunks[0], (width,)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )
