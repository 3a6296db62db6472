"""UMAP's fuzzy neighbour graph of a set of rows, and the curve of its embedding.

Everything here works on plain arrays and knows nothing of estimators:

* :func:`nearest_neighbors`: the k nearest neighbours of each row (exact
  brute force for small sets; pynndescent's approximate index, an optional
  dependency, for large ones),
* :func:`smooth_knn_dist` and :func:`fuzzy_graph`: UMAP's fuzzy membership
  weights and their fuzzy union (McInnes, Healy & Melville, 2018;
  ``umap/umap_.py::fuzzy_simplicial_set`` in umap-learn),
* :func:`find_ab_params`: the ``a``, ``b`` of the curve
  ``1 / (1 + a d^(2b))`` that ``min_dist`` asks for,
* :class:`EdgeSampler`: edges drawn in proportion to their weight, from a
  local generator.
"""

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import curve_fit
from sklearn.neighbors import NearestNeighbors

# Above this many rows the neighbours come from pynndescent when it is
# installed (an exact search costs n^2 distances).
EXACT_MAX_ROWS = 10_000
# smooth_knn_dist's constants, as in umap-learn.
SMOOTH_K_TOLERANCE = 1e-5
MIN_K_DIST_SCALE = 1e-3
_BISECTION_STEPS = 64


def nearest_neighbors(X, n_neighbors, random_state=None):
    """Indices and distances of the ``n_neighbors`` nearest rows of each row.

    As in umap-learn, each row counts as its own first neighbour (distance
    0), so ``n_neighbors - 1`` others follow it.  Distances are Euclidean.
    Up to :data:`EXACT_MAX_ROWS` rows, or when pynndescent is not
    installed, the search is exact (ties go to the lower index); above it,
    pynndescent's approximate index is used, seeded by ``random_state``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The rows, dense.
    n_neighbors : int
        Neighbours per row, the row itself included; at most ``n_samples``.
    random_state : int or None
        Seed of pynndescent's index (unused by the exact search).

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
    distances : ndarray of shape (n_samples, n_neighbors), float32
    """
    n = X.shape[0]
    if n > EXACT_MAX_ROWS:
        try:
            from pynndescent import NNDescent
        except ImportError:
            warnings.warn(
                f"Finding the {n_neighbors} nearest neighbours of {n} rows exactly; "
                "install pynndescent (pip install pynndescent) for a fast approximate "
                "search of large data sets.",
                UserWarning,
                stacklevel=3,
            )
        else:
            index = NNDescent(X, n_neighbors=n_neighbors, random_state=random_state,
                              n_jobs=1, low_memory=True)
            indices, distances = index.neighbor_graph
            return indices.astype(np.int64), distances.astype(np.float32)
    search = NearestNeighbors(n_neighbors=n_neighbors - 1, algorithm="brute").fit(X)
    distances, indices = search.kneighbors()  # without the row itself
    own = np.arange(n, dtype=np.int64)[:, None]
    indices = np.hstack([own, indices.astype(np.int64)])
    distances = np.hstack([np.zeros((n, 1)), distances]).astype(np.float32)
    return indices, distances


def smooth_knn_dist(distances, k):
    """Each row's bandwidth ``sigma`` and distance to its nearest neighbour ``rho``.

    ``rho_i`` is the smallest positive distance of row ``i`` (one nearest
    neighbour fully connected: umap-learn's ``local_connectivity=1``), and
    ``sigma_i`` solves ``sum_j exp(-max(0, d_ij - rho_i) / sigma_i) =
    log2(k)`` over the neighbours after the row itself, by bisection (64
    steps at most, stopping within 1e-5), kept above 1e-3 times the mean
    neighbour distance: umap-learn's ``smooth_knn_dist``, for all rows at
    once.

    Parameters
    ----------
    distances : ndarray of shape (n_samples, n_neighbors)
        Sorted distances, the row itself (0) first.
    k : float
        Number of neighbours the fuzzy set should hold (``n_neighbors``).

    Returns
    -------
    sigmas, rhos : ndarray of shape (n_samples,), float32
    """
    distances = np.asarray(distances, dtype=np.float32)
    n = distances.shape[0]
    target = np.log2(k)
    positive = np.where(distances > 0.0, distances, np.inf).min(1)
    rhos = np.where(np.isfinite(positive), positive, 0.0).astype(np.float32)
    # float32 differences, float64 sums, as umap-learn computes them
    shifted = np.maximum(distances[:, 1:] - rhos[:, None], 0.0).astype(np.float64)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    mid = np.ones(n)
    active = np.ones(n, dtype=bool)  # a row stops moving once within tolerance
    for _ in range(_BISECTION_STEPS):
        psum = np.exp(-shifted / mid[:, None]).sum(1)
        active &= np.abs(psum - target) >= SMOOTH_K_TOLERANCE
        if not active.any():
            break
        above = active & (psum > target)
        below = active & ~(psum > target)
        hi[above] = mid[above]
        lo[below] = mid[below]
        halved = np.where(np.isfinite(hi), (lo + hi) / 2.0, mid * 2.0)
        mid = np.where(active, halved, mid)
    sigmas = mid.astype(np.float32)
    floor = MIN_K_DIST_SCALE * np.where(rhos > 0.0, distances.mean(1), distances.mean())
    return np.maximum(sigmas, floor.astype(np.float32)), rhos


def membership_strengths(indices, distances, sigmas, rhos):
    """The directed fuzzy graph: ``exp(-max(0, d_ij - rho_i) / sigma_i)``, 0 on the diagonal.

    Parameters
    ----------
    indices, distances : ndarray of shape (n_samples, n_neighbors)
        From :func:`nearest_neighbors`.
    sigmas, rhos : ndarray of shape (n_samples,)
        From :func:`smooth_knn_dist`.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples), float32
    """
    n, k = indices.shape
    excess = distances - rhos[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.exp(-np.maximum(excess, 0.0) / sigmas[:, None])
    values[(excess <= 0.0) | (sigmas[:, None] == 0.0)] = 1.0
    rows = np.repeat(np.arange(n), k)
    values[indices == np.arange(n)[:, None]] = 0.0  # a row is not its own neighbour
    graph = sp.csr_matrix((values.ravel().astype(np.float32), (rows, indices.ravel())),
                          shape=(n, n))
    graph.eliminate_zeros()
    return graph


def fuzzy_graph(X, n_neighbors, random_state=None):
    """UMAP's symmetric fuzzy neighbour graph of the rows of ``X``.

    The directed memberships of :func:`membership_strengths` combined by the
    fuzzy union ``A + A.T - A * A.T`` (umap-learn's ``fuzzy_simplicial_set``
    with ``set_op_mix_ratio=1`` and ``local_connectivity=1``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The rows, dense.
    n_neighbors : int
        Neighbours per row, the row itself included; capped at ``n_samples``.
    random_state : int or None
        Seed of the approximate search of large sets.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples), float32
        Symmetric, zero diagonal, entries in (0, 1].  Empty for fewer than
        two rows.
    """
    n = X.shape[0]
    k = min(int(n_neighbors), n)
    if k < 2:
        return sp.csr_matrix((n, n), dtype=np.float32)
    indices, distances = nearest_neighbors(X, k, random_state)
    sigmas, rhos = smooth_knn_dist(distances, float(k))
    directed = membership_strengths(indices, distances, sigmas, rhos)
    transpose = directed.T.tocsr()
    graph = (directed + transpose - directed.multiply(transpose)).tocsr()
    graph.eliminate_zeros()
    return graph.astype(np.float32)


def find_ab_params(min_dist, spread=1.0):
    """The ``a``, ``b`` of ``1 / (1 + a d^(2b))`` closest to UMAP's offset exponential.

    Least squares over 300 points of ``[0, 3 spread]`` against 1 below
    ``min_dist`` and ``exp(-(d - min_dist) / spread)`` above it, as
    umap-learn's ``find_ab_params``.

    Parameters
    ----------
    min_dist : float
        Distance below which embedded neighbours count as fully similar.
    spread : float, default=1.0
        Scale of the decay beyond ``min_dist``.

    Returns
    -------
    a, b : float
    """
    def curve(x, a, b):
        return 1.0 / (1.0 + a * x ** (2 * b))

    xv = np.linspace(0, spread * 3, 300)
    yv = np.where(xv < min_dist, 1.0, np.exp(-(xv - min_dist) / spread))
    (a, b), _ = curve_fit(curve, xv, yv)
    return float(a), float(b)


class EdgeSampler:
    """Draw edges of a graph in proportion to their weights.

    As in umap-learn, edges lighter than ``1 / n_epochs`` of the heaviest
    are dropped first (its SGD would sample them less than once).

    Parameters
    ----------
    graph : scipy.sparse matrix of shape (n, n)
        Symmetric weights; both directions of an edge are kept.
    rows : 1-D int64 tensor of length n
        What each vertex is: the row of the data it stands for.
    min_weight_ratio : float, default=1/500
        Edges with weight below this fraction of the largest are dropped.
    """

    def __init__(self, graph, rows, min_weight_ratio=1 / 500):
        coo = graph.tocoo()
        keep = coo.data >= coo.data.max(initial=0.0) * min_weight_ratio
        self.heads = torch.as_tensor(rows)[torch.from_numpy(coo.row[keep].astype(np.int64))]
        self.tails = torch.as_tensor(rows)[torch.from_numpy(coo.col[keep].astype(np.int64))]
        self.weights = torch.from_numpy(coo.data[keep].astype(np.float64))
        self.n_vertices = graph.shape[0]

    def __len__(self):
        return int(self.weights.numel())

    def sample(self, n_edges, generator):
        """``heads, tails``: data rows of ``n_edges`` edges drawn with replacement."""
        picked = torch.multinomial(self.weights, n_edges, replacement=True, generator=generator)
        return self.heads[picked], self.tails[picked]
