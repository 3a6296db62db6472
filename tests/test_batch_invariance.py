"""Bitwise batch invariance of inference, and the padding rule that gives it.

The padding of a short chunk is measured per network structure, computation,
thread count and device (:func:`skae._data.batch_invariant_lengths`); these tests check
the rule itself under the padding each fitted network gets, at one and two
threads, so that they hold on any CPU the suite runs on.
"""

import numpy as np
import pytest
import torch

import skae._data
from skae import AutoencoderTransformer, VAEGenerator
from skae._data import (
    _LADDER,
    _MIN_CHUNK,
    _length_cache,
    agreeing_classes,
    batch_invariant_lengths,
    map_rows,
    padded_length,
)


@pytest.fixture
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def test_padded_length_is_the_shortest_that_holds_the_rows():
    lengths = (4, 128, 256)
    assert [padded_length(n, lengths) for n in (1, 4, 5, 128, 129, 256)] == [
        4, 4, 128, 128, 256, 256]


def _probe():
    return torch.randn(512, 3, generator=torch.Generator().manual_seed(0))


def test_agreeing_classes_group_the_lengths_that_give_the_same_rows():
    # chunks of 8 to 64 rows come out otherwise than shorter and longer ones
    def fn(x):
        return x + (1e-3 if 8 <= x.shape[0] <= 64 else 0.0)

    assert agreeing_classes(fn, _probe()) == [[4, 128, 256, 512], [8, 16, 32, 64]]
    assert agreeing_classes(lambda x: 2 * x, _probe()) == [list(_LADDER)]
    # a row's result that depends on its position in the chunk rules out every length
    def positional(x):
        return x + torch.arange(x.shape[0], dtype=x.dtype)[:, None]

    assert agreeing_classes(positional, _probe()) == []
    # then no chunk length is batch-invariant: full chunks are the best that remains
    owner = torch.nn.Linear(1, 1)
    assert batch_invariant_lengths(positional, torch.ones(2, 3), owner, "p") == (512,)


def test_the_lengths_pad_little_and_reach_a_long_chunk():
    def fn(x):
        return x + (1e-3 if 8 <= x.shape[0] <= 64 else 0.0)

    assert batch_invariant_lengths(fn, torch.ones(2, 3), torch.nn.Linear(1, 1), "t") == (
        4, 128, 256, 512)


def test_a_batch_dependent_computation_gets_chunks_of_one_length():
    # its result depends on the chunk's length: only equal lengths agree, so every
    # chunk is computed at one length
    def fn(x):
        return x * x.shape[0]

    owner = torch.nn.Linear(1, 1)
    x = torch.ones(3, 2)
    assert batch_invariant_lengths(fn, x, owner, "test") == (_MIN_CHUNK,)
    X = np.random.RandomState(0).rand(600, 2).astype(np.float32)
    full = map_rows(X, fn, 2, np.float32, "cpu", owner=owner, kind="test")
    for rows in (slice(0, 1), slice(3, 40), slice(512, 600)):
        part = map_rows(X[rows], fn, 2, np.float32, "cpu", owner=owner, kind="test")
        np.testing.assert_array_equal(part, full[rows])


def test_the_lengths_are_cached_per_owner_and_kind():
    calls = []

    def fn(x):
        calls.append(x.shape[0])
        return x

    owner = torch.nn.Linear(1, 1)
    x = torch.ones(2, 3)
    found = batch_invariant_lengths(fn, x, owner, "a")
    assert found == _LADDER  # the identity agrees everywhere
    n_calls = len(calls)
    assert batch_invariant_lengths(fn, x, owner, "a") == found and len(calls) == n_calls
    batch_invariant_lengths(fn, x, owner, "b")
    assert len(calls) > n_calls


def test_networks_built_alike_share_one_measurement(small_digits, fast_params, monkeypatch):
    monkeypatch.setattr(skae._data, "_structure_cache", {})
    measured = []
    real = skae._data.agreeing_classes
    monkeypatch.setattr(skae._data, "agreeing_classes",
                        lambda fn, probe: measured.append(probe.shape) or real(fn, probe))
    X = small_digits[0]
    first = AutoencoderTransformer(**{**fast_params, "max_iter": 1}).fit(X)
    first.transform(X)
    n_first = len(measured)
    assert n_first > 0
    # another seed, the same structure: the lengths found for the first serve it
    other = AutoencoderTransformer(**{**fast_params, "max_iter": 1, "random_state": 1}).fit(X)
    codes = other.transform(X)
    assert len(measured) == n_first
    for rows in (slice(0, 1), slice(7, 10), slice(5, 140)):
        np.testing.assert_array_equal(other.transform(X[rows]), codes[rows])
    # another width is another structure, measured again
    AutoencoderTransformer(**{**fast_params, "max_iter": 1, "hidden_layer_sizes": (24,)}).fit(
        X).transform(X)
    assert len(measured) > n_first


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
    for lengths in _length_cache[ae.net_].values():
        assert lengths[-1] >= _MIN_CHUNK and list(lengths) == sorted(lengths)


@pytest.mark.parametrize("threads", [1, 2], indirect=True)
def test_vae_scores_and_codes_are_batch_invariant(digits, threads):
    X = digits[0][:300]
    vae = VAEGenerator(n_components=3, hidden_layer_sizes=(32,), max_iter=1,
                       n_importance_samples=3, random_state=0).fit(X)
    scores, codes = vae.score_samples(X), vae.transform(X)
    for rows in (slice(0, 1), slice(4, 7), slice(10, 43), slice(0, 300)):
        np.testing.assert_array_equal(vae.score_samples(X[rows]), scores[rows])
        np.testing.assert_array_equal(vae.transform(X[rows]), codes[rows])
