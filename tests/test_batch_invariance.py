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
    _LADDER,
    _MIN_CHUNK,
    _pad_cache,
    agreeing_runs,
    batch_invariant_chunks,
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


def test_chunk_lengths_double_up_to_the_chunk():
    for pad in _LADDER:
        for chunk in (c for c in _LADDER if c >= pad):
            lengths = chunk_lengths(pad, chunk)
            assert lengths[0] == pad and lengths[-1] == chunk
            assert all(b == 2 * a for a, b in zip(lengths[:-1], lengths[1:], strict=True))
            for n in range(1, chunk + 1, 3):
                size = padded_length(n, pad, chunk)
                assert size >= n and size in lengths
                assert all(s < n for s in lengths if s < size)


def test_agreeing_runs_split_where_the_rows_change():
    # rows computed in chunks of 16 rows or more come out otherwise than in shorter ones
    def fn(x):
        return x + (1e-3 if x.shape[0] >= 16 else 0.0)

    probe = torch.randn(_INFERENCE_ROWS, 3, generator=torch.Generator().manual_seed(0))
    assert agreeing_runs(fn, probe) == [[4, 8], [16, 32, 64, 128, 256, 512]]
    assert agreeing_runs(lambda x: 2 * x, probe) == [list(_LADDER)]


def test_a_batch_dependent_computation_gets_chunks_of_one_length():
    # its result depends on the chunk's length: only equal lengths agree, so every
    # chunk is computed at one length
    def fn(x):
        return x * x.shape[0]

    owner = torch.nn.Linear(1, 1)
    x = torch.ones(3, 2)
    assert batch_invariant_chunks(fn, x, owner, "test") == (_MIN_CHUNK, _MIN_CHUNK)
    X = np.random.RandomState(0).rand(600, 2).astype(np.float32)
    full = map_rows(X, fn, 2, np.float32, "cpu", owner=owner, kind="test")
    for rows in (slice(0, 1), slice(3, 40), slice(512, 600)):
        part = map_rows(X[rows], fn, 2, np.float32, "cpu", owner=owner, kind="test")
        np.testing.assert_array_equal(part, full[rows])


def test_the_chunks_are_cached_per_owner_and_kind():
    calls = []

    def fn(x):
        calls.append(x.shape[0])
        return x

    owner = torch.nn.Linear(1, 1)
    x = torch.ones(2, 3)
    found = batch_invariant_chunks(fn, x, owner, "a")
    assert found == (_LADDER[0], _INFERENCE_ROWS)  # the identity agrees everywhere
    n_calls = len(calls)
    assert batch_invariant_chunks(fn, x, owner, "a") == found and len(calls) == n_calls
    batch_invariant_chunks(fn, x, owner, "b")
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
    for pad, chunk in _pad_cache[ae.net_].values():
        assert chunk >= _MIN_CHUNK and pad <= chunk


@pytest.mark.parametrize("threads", [1, 2], indirect=True)
def test_vae_scores_and_codes_are_batch_invariant(digits, threads):
    X = digits[0][:300]
    vae = VAEGenerator(n_components=3, hidden_layer_sizes=(32,), max_iter=1,
                       n_importance_samples=3, random_state=0).fit(X)
    scores, codes = vae.score_samples(X), vae.transform(X)
    for rows in (slice(0, 1), slice(4, 7), slice(10, 43), slice(0, 300)):
        np.testing.assert_array_equal(vae.score_samples(X[rows]), scores[rows])
        np.testing.assert_array_equal(vae.transform(X[rows]), codes[rows])
