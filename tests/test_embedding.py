"""embedding="umap": UMAP's neighbour graph, its cross-entropy and the estimator using them."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import assert_rng_untouched, assert_same_weights, quiet_fit
from scipy.optimize import brentq
from sklearn.neighbors import NearestNeighbors

from skae import AutoencoderTransformer
from skae._graph import EdgeSampler, find_ab_params, fuzzy_graph, smooth_knn_dist
from skae._losses import umap_cross_entropy
from skae.persistence import load_model, save_model

UMAP_FAST = dict(embedding="umap", n_neighbors=8, hidden_layer_sizes=(32,), max_iter=6,
                 batch_size=32, random_state=0)


def _direct_fuzzy_graph(X, k):
    """UMAP's fuzzy union graph by its definition, one row and one pair at a time."""
    n = X.shape[0]
    dist = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    directed = np.zeros((n, n))
    for i in range(n):
        order = np.argsort(dist[i], kind="stable")
        order = np.concatenate([[i], order[order != i]])[:k]
        d = dist[i, order[1:]]
        # sigma: the bandwidth at which the memberships add up to log2(k)
        excess = np.maximum(d - d[d > 0].min(), 0)
        sigma = brentq(lambda s, e=excess: np.exp(-e / s).sum() - np.log2(k), 1e-6, 1e3,
                       xtol=1e-12)
        directed[i, order[1:]] = np.exp(-excess / sigma)
    return directed + directed.T - directed * directed.T


def test_fuzzy_graph_matches_a_direct_computation():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    graph = fuzzy_graph(X, 6)
    expected = _direct_fuzzy_graph(X.astype(np.float64), 6)
    assert sp.issparse(graph)
    np.testing.assert_allclose(graph.toarray(), expected, atol=2e-5)
    assert (graph != graph.T).nnz == 0 and graph.diagonal().max() == 0


def test_smooth_knn_dist_reaches_log2_k_per_row():
    rng = np.random.RandomState(1)
    d = np.sort(rng.uniform(0.5, 3.0, size=(50, 10)), axis=1).astype(np.float32)
    d[:, 0] = 0.0  # each row is its own nearest neighbour
    sigmas, rhos = smooth_knn_dist(d, 10.0)
    np.testing.assert_array_equal(rhos, d[:, 1])
    memberships = np.exp(-np.maximum(d[:, 1:] - rhos[:, None], 0) / sigmas[:, None]).sum(1)
    np.testing.assert_allclose(memberships, np.log2(10), rtol=1e-4)


def test_graph_of_duplicates_and_of_too_few_rows():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    graph = fuzzy_graph(X, 15)  # n_neighbors is capped at the number of rows
    assert graph.shape == (4, 4) and graph[0, 1] == 1.0  # a duplicate is fully connected
    assert fuzzy_graph(X[:1], 15).nnz == 0


def test_find_ab_params_fits_the_offset_exponential():
    a, b = find_ab_params(0.1)
    assert a == pytest.approx(1.577, abs=1e-3) and b == pytest.approx(0.895, abs=1e-3)
    d = np.linspace(0.5, 3.0, 20)
    curve = 1 / (1 + a * d ** (2 * b))
    np.testing.assert_allclose(curve, np.exp(-(d - 0.1)), atol=0.05)
    a0, b0 = find_ab_params(0.0)
    assert 1 / (1 + a0 * 0.05 ** (2 * b0)) < 1 / (1 + a * 0.05 ** (2 * b))  # tighter at 0


def test_umap_cross_entropy_is_minus_log_q_and_minus_log_one_minus_q():
    a, b = 1.5, 0.9
    edge = torch.tensor([0.3, 4.0], dtype=torch.float64)
    negatives = torch.tensor([[0.2, 9.0], [1.0, 0.05]], dtype=torch.float64)

    def q(sq):
        return 1 / (1 + a * (sq + 1e-3) ** b)

    expected = -torch.log(q(edge)) - torch.log(1 - q(negatives)).sum(1)
    torch.testing.assert_close(umap_cross_entropy(edge, negatives, a, b), expected)


def test_edges_are_drawn_in_proportion_to_their_weights():
    graph = sp.csr_matrix(np.array([[0, 0.8, 0.2, 1e-4], [0.8, 0, 0, 0], [0.2, 0, 0, 0],
                                    [1e-4, 0, 0, 0]]))
    sampler = EdgeSampler(graph, torch.tensor([10, 11, 12, 13]))
    assert len(sampler) == 4  # the edge far below 1/500 of the heaviest is dropped
    gen = torch.Generator().manual_seed(0)
    heads, tails = sampler.sample(20000, gen)
    pairs = heads * 100 + tails
    share = (pairs == 1011).float().mean().item()
    assert share == pytest.approx(0.8 / 2.0, abs=0.02)
    assert set(heads.tolist()) == {10, 11, 12}


def test_embedding_none_ignores_the_graph_parameters(small_digits, fast_params, one_torch_thread):
    X, _ = small_digits
    plain = quiet_fit(AutoencoderTransformer(2, **fast_params), X)
    other = quiet_fit(AutoencoderTransformer(2, n_neighbors=4, min_dist=0.9,
                                             embedding_weight=3.0, **fast_params), X)
    assert_same_weights(plain, other)
    assert "graph_cross_entropy" not in plain.history_[0]


def test_umap_fit_is_reproducible_and_leaves_global_rng_alone(small_digits, one_torch_thread):
    X, _ = small_digits
    first = assert_rng_untouched(lambda: quiet_fit(AutoencoderTransformer(2, **UMAP_FAST), X))
    second = quiet_fit(AutoencoderTransformer(2, **UMAP_FAST), X)
    assert_same_weights(first, second)
    assert first.history_[0]["graph_cross_entropy"] > 0
    other = quiet_fit(AutoencoderTransformer(2, **{**UMAP_FAST, "random_state": 1}), X)
    assert not np.array_equal(first.transform(X), other.transform(X))


def _neighbour_recall(X, codes, k=10):
    """Mean share of each row's k nearest neighbours in X that are among those of its code."""
    def neighbours(A):
        return NearestNeighbors(n_neighbors=k + 1).fit(A).kneighbors(A, return_distance=False)

    data, code = neighbours(X)[:, 1:], neighbours(codes)[:, 1:]
    return np.mean([len(set(a) & set(b)) / k for a, b in zip(data, code, strict=True)])


def test_umap_codes_keep_neighbourhoods_better_than_plain_codes(digits, one_torch_thread):
    X = digits[0][:600]
    gains = []
    for seed in (0, 1, 2):
        params = dict(hidden_layer_sizes=(64,), max_iter=30, batch_size=32,
                      learning_rate=3e-3, early_stopping=False, random_state=seed)
        plain = quiet_fit(AutoencoderTransformer(2, **params), X).transform(X)
        umap = quiet_fit(AutoencoderTransformer(2, embedding="umap", **params), X).transform(X)
        gains.append(_neighbour_recall(X, umap) - _neighbour_recall(X, plain))
    # measured: recall 0.35-0.36 for the plain codes, gains of 0.014, 0.048 and 0.021
    assert min(gains) > 0 and np.mean(gains) > 0.015, gains


def test_umap_model_transforms_batch_invariantly_and_round_trips(small_digits, tmp_path,
                                                                 one_torch_thread):
    X, _ = small_digits
    est = quiet_fit(AutoencoderTransformer(2, **UMAP_FAST), X)
    codes = est.transform(X)
    np.testing.assert_array_equal(est.transform(X[:7]), codes[:7])
    assert est.inverse_transform(codes).shape == X.shape
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), codes)
    np.testing.assert_array_equal(load_model(save_model(est, tmp_path / "m")).transform(X),
                                  codes)


def test_umap_partial_fit_and_convolutional_nets(small_digits, one_torch_thread):
    X, _ = small_digits
    est = AutoencoderTransformer(2, **UMAP_FAST)
    est.partial_fit(X[:100]).partial_fit(X[100:200])
    assert est.n_iter_ == 2 and "graph_cross_entropy" in est.history_[-1]
    est.partial_fit(X[200:201])  # one row: no edge to draw, the reconstruction still trains
    assert est.history_[-1]["graph_cross_entropy"] == 0
    conv = quiet_fit(AutoencoderTransformer(2, input_shape=(1, 8, 8), conv_channels=(4, 8),
                                            **{**UMAP_FAST, "max_iter": 2}), X)
    assert conv.transform(X).shape == (X.shape[0], 2)


@pytest.mark.parametrize("params, match", [
    ({"embedding": "tsne"}, "embedding"),
    ({"n_neighbors": 1}, "n_neighbors"),
    ({"min_dist": 1.5}, "min_dist"),
    ({"embedding_weight": -1.0}, "embedding_weight"),
])
def test_invalid_graph_parameters_are_refused(small_digits, params, match):
    X, _ = small_digits
    with pytest.raises(ValueError, match=match):
        AutoencoderTransformer(2, **{**UMAP_FAST, **params}).fit(X)
