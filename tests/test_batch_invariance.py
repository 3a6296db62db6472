"""Bitwise batch invariance of inference, and the padding rule that gives it.

The padding of a short chunk is measured per network, computation, thread
count and device (:func:`skae._data.batch_invariant_pad`); these tests check
the rule itself under the padding each fitted network gets, at one and two
threads, so that they hold on any CPU the suite runs on.
"""

import numpy as np
import pytest
import torch

from skae import AutoencoderTransformer, VAEGenerator
from skae._data import (
    _INFERENCE_ROWS,
    _PAD_LADDER,
    batch_invariant_pad,
    chunk_lengths,
    map_rows,
    padded_length,
)


@pytest.fixture
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def test_chunk_lengths_double_up_to_a_full_chunk():
    for pad in _PAD_LADDER:
        lengths = chunk_lengths(pad)
        assert lengths[0] == pad and lengths[-1] == _INFERENCE_ROWS
        assert all(b == 2 * a for a, b in zip(lengths[:-2], lengths[1:-1], strict=True))
        for n in range(1, _INFERENCE_ROWS + 1, 7):
            size = padded_length(n, pad)
            assert size >= n and size in lengths
            assert all(s < n for s in lengths if s < size)


def test_a_batch_dependent_computation_gets_full_chunks():
    # its result depends on the chunk's length: only full chunks agree
    def fn(x):
        return x * x.shape[0]

    owner = torch.nn.Linear(1, 1)
    x = torch.ones(3, 2)
    assert batch_invariant_pad(fn, x, owner, "test") == _INFERENCE_ROWS
    X = np.random.RandomState(0).rand(600, 2).astype(np.float32)
    full = map_rows(X, fn, 2, np.float32, "cpu", owner=owner, kind="test")
    for rows in (slice(0, 1), slice(3, 40), slice(512, 600)):
        part = map_rows(X[rows], fn, 2, np.float32, "cpu", owner=owner, kind="test")
        np.testing.assert_array_equal(part, full[rows])


def test_the_padding_is_cached_per_owner_and_kind():
    calls = []

    def fn(x):
        calls.append(x.shape[0])
        return x

    owner = torch.nn.Linear(1, 1)
    x = torch.ones(2, 3)
    pad = batch_invariant_pad(fn, x, owner, "a")
    n_calls = len(calls)
    assert batch_invariant_pad(fn, x, owner, "a") == pad and len(calls) == n_calls
    batch_invariant_pad(fn, x, owner, "b")
    assert len(calls) > n_calls


@pytest.mark.parametrize("threads", [1, 2], indirect=True)
@pytest.mark.parametrize("extra", [
    {}, {"input_shape": (1, 8, 8), "conv_channels": (4, 8)}, {"hidden_layer_sizes": (512,)},
], ids=["mlp", "conv", "wide"])
def test_every_chunk_length_reproduces_a_full_chunk(digits, fast_params, extra, threads):
    X = digits[0][:600]
    if "hidden_layer_sizes" in extra:  # a 784-512 layer: kernels differ most for wide layers
        X = np.tile(X, (1, 13))[:, :784]
    ae = AutoencoderTransformer(**{**fast_params, "max_iter": 1, **extra}).fit(X[:200])
    full = ae.transform(X)
    decoded = ae.inverse_transform(full)
    for n in (1, 2, 3, 5, 9, 17, 33, 65, 129, 257, 300):
        for lo in (0, 11):
            rows = slice(lo, lo + n)
            np.testing.assert_array_equal(ae.transform(X[rows]), full[rows])
            np.testing.assert_array_equal(ae.inverse_transform(full[rows]), decoded[rows])


@pytest.mark.parametrize("threads", [1, 2], indirect=True)
def test_vae_scores_and_codes_are_batch_invariant(digits, threads):
    X = digits[0][:300]
    vae = VAEGenerator(n_components=3, hidden_layer_sizes=(32,), max_iter=1,
                       n_importance_samples=3, random_state=0).fit(X)
    scores, codes = vae.score_samples(X), vae.transform(X)
    for rows in (slice(0, 1), slice(4, 7), slice(10, 43), slice(0, 300)):
        np.testing.assert_array_equal(vae.score_samples(X[rows]), scores[rows])
        np.testing.assert_array_equal(vae.transform(X[rows]), codes[rows])
