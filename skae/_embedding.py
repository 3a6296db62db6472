"""The neighbour-graph term of an autoencoder's loss, worked out once per fit.

:class:`GraphTerm` holds UMAP's fuzzy graph of the training rows (see
:mod:`skae._graph`) and, at each training step, draws edges in proportion to
their weights, encodes both ends and a few negative samples, and returns
UMAP's cross-entropy between the graph and the codes' similarities
(:func:`skae._losses.umap_cross_entropy`).  It knows networks and batch
readers, not estimators.
"""

import torch

from ._graph import EdgeSampler, find_ab_params, fuzzy_graph
from ._losses import umap_cross_entropy

# Negative samples per edge, as umap-learn's negative_sample_rate.
NEGATIVE_SAMPLE_RATE = 5
# Rows standardised at once while the graph's input is assembled.
_CHUNK_ROWS = 4096


def scaled_rows(net, reader, rows):
    """The rows ``rows`` of the reader as the encoder sees them (standardised), as numpy."""
    parts = []
    with torch.inference_mode():
        for x in reader.batches(rows, _CHUNK_ROWS):
            parts.append(net.standardise(x).to("cpu", torch.float32))
    return torch.cat(parts).numpy()


class GraphTerm:
    """UMAP's cross-entropy between the neighbour graph of the training rows and their codes.

    Parameters
    ----------
    sampler : skae._graph.EdgeSampler
        The graph's edges, as rows of the data.
    reader : skae._data.BatchReader
        Reads the rows the edges name.
    a, b : float
        The curve of the codes' similarities (``min_dist``).
    """

    def __init__(self, sampler, reader, a, b):
        self.sampler = sampler
        self.reader = reader
        self.a, self.b = a, b

    @classmethod
    def build(cls, net, reader, rows, n_neighbors, min_dist, seed):
        """The term of the graph of ``rows``, standardised by ``net``.

        Parameters
        ----------
        net : skae.nn.AutoencoderNet
            The network, its scaling set.
        reader : skae._data.BatchReader
            Reads the fit's rows in the network's input units.
        rows : 1-D int64 tensor
            The training rows (the graph's vertices).
        n_neighbors : int
            Neighbours of each row, itself included, as in umap-learn.
        min_dist : float
            How tightly neighbours may gather in the code space.
        seed : int
            Seed of an approximate neighbour search.

        Returns
        -------
        term : GraphTerm
        """
        rows = torch.sort(rows).values
        graph = fuzzy_graph(scaled_rows(net, reader, rows), n_neighbors, seed % 2**32)
        a, b = find_ab_params(min_dist)
        return cls(EdgeSampler(graph, rows), reader, a, b)

    def __call__(self, net, n_edges, generator):
        """Mean cross-entropy of ``n_edges`` edges drawn with ``generator`` (a 0-d tensor).

        Both ends of each edge are encoded without noise; the negative
        samples of an edge are codes of the drawn rows, picked uniformly.
        """
        if len(self.sampler) == 0:
            return torch.zeros((), device=self.reader.device)
        heads, tails = self.sampler.sample(n_edges, generator)
        rows, where = torch.unique(torch.cat([heads, tails]), return_inverse=True)
        codes = net.encode(self.reader.take(rows))  # take returns rows in ascending order
        head, tail = codes[where[:n_edges]], codes[where[n_edges:]]
        # negatives: either end of another drawn edge, never the edge's own ends
        shape = (n_edges, NEGATIVE_SAMPLE_RATE)
        other = (torch.arange(n_edges)[:, None]
                 + torch.randint(1, max(n_edges, 2), shape, generator=generator)) % n_edges
        end = torch.randint(2, shape, generator=generator) * n_edges
        negatives = torch.cat([head, tail])[(other + end).to(codes.device)]
        edge_sq = (head - tail).square().sum(1)
        negative_sq = (head[:, None, :] - negatives).square().sum(2)
        return umap_cross_entropy(edge_sq, negative_sq, self.a, self.b).mean()
