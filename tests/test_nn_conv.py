"""Tests of the convolutional encoder body and decoder in skae.nn._conv."""

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from skae.nn._conv import ConvDecoder, ConvEncoder

SIZES = [(1, 1), (2, 3), (8, 8), (27, 31), (28, 28), (64, 64)]


def _build(input_shape, n_components=5, seed=0, **kwargs):
    """Encoder body + linear head + decoder, built reproducibly without global RNG effects."""
    with torch.random.fork_rng():
        torch.random.manual_seed(seed)
        enc = ConvEncoder(input_shape, **kwargs)
        head = nn.Linear(enc.out_features, n_components)
        dec_kwargs = dict(kwargs)
        for key in ("channels", "hidden"):
            if key in dec_kwargs:
                dec_kwargs[key] = tuple(reversed(dec_kwargs[key]))
        dec = ConvDecoder(n_components, input_shape, **dec_kwargs)
    return enc, head, dec


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("hw", SIZES)
def test_shapes_and_out_features(hw, c):
    shape = (c, *hw)
    channels = (4, 8) if hw == (64, 64) else (32, 64)
    enc, head, dec = _build(shape, channels=channels)
    x = _randn(3, *shape)
    with torch.no_grad():
        feats = enc(x)
        out = dec(head(feats))
    assert feats.shape == (3, enc.out_features)
    assert isinstance(enc.out_features, int)
    h, w = enc.output_spatial_shape
    assert h >= 1 and w >= 1
    assert enc.out_features == channels[-1] * h * w
    assert out.shape == (3, *shape)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("hw", [(28, 28), (27, 31), (8, 8), (1, 5)])
def test_decoder_stages_mirror_encoder_sizes(hw):
    """Each decoder stage outputs the spatial size the encoder had at that depth."""
    shape = (1, *hw)
    enc, head, dec = _build(shape, channels=(4, 8, 16))
    seen_enc, seen_dec = [tuple(hw)], []
    for m in enc.net:
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(lambda mod, i, o: seen_enc.append(tuple(o.shape[-2:])))
    x = _randn(2, *shape)
    with torch.no_grad():
        z = head(enc(x))
        h = dec.project(z).reshape(2, *dec.initial_shape)
        for stage, (sh, sw) in zip(dec.stages, dec.stage_shapes, strict=True):
            h = stage(h)[:, :, :sh, :sw]
            seen_dec.append(tuple(h.shape[-2:]))
        assert torch.equal(h, dec(z))
    assert seen_dec == seen_enc[-2::-1]
    assert tuple(dec.initial_shape[1:]) == seen_enc[-1]


@pytest.mark.parametrize("channels", [(8,), (4, 8, 16)])
@pytest.mark.parametrize("kernel_size", [3, 5])
def test_other_depths_and_kernels(channels, kernel_size):
    shape = (2, 27, 31)
    enc, head, dec = _build(shape, channels=channels, kernel_size=kernel_size, activation="elu")
    x = _randn(2, *shape)
    with torch.no_grad():
        feats = enc(x)
        out = dec(head(feats))
    assert feats.shape == (2, enc.out_features)
    assert out.shape == (2, *shape)
    assert not isinstance(enc.net[-1], nn.Linear)
    assert not any(isinstance(m, (nn.Sigmoid, nn.Tanh)) for m in dec.modules())
    assert isinstance(dec.stages[-1], nn.ConvTranspose2d)  # no activation after the last stage


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 5, 7), (2, 1, 1), (1, 28, 28)])
@pytest.mark.parametrize("kernel_size", [3, 5])
def test_small_maps_compute_the_convolution(shape, kernel_size):
    """Layers on small maps (one matrix product) give torch's convolutions and their gradients."""
    enc, head, dec = _build(shape, channels=(8, 16, 4), kernel_size=kernel_size)
    convs = [m for m in [*enc.modules(), *dec.modules()] if isinstance(m, nn.modules.conv._ConvNd)]
    dense = [m.taps is not None for m in convs]
    # every layer of a small image is dense; on 28x28 only those on the 7x7 and 4x4 maps
    assert dense == ([False, False, True, True, False, False] if shape[1] == 28 else [True] * 6)
    x, z = _randn(3, *shape, seed=2), _randn(3, 5, seed=3)
    outputs, grads = [], []
    for reference in (False, True):
        if reference:  # the same weights through torch's own convolutions
            for m in convs:
                m.taps = None
        enc.zero_grad(), dec.zero_grad()
        out = (enc(x), dec(z))
        (out[0].square().sum() + out[1].square().sum()).backward()
        outputs.append(out)
        grads.append([p.grad.clone() for p in [*enc.parameters(), *dec.parameters()]])
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-4, rtol=1e-4)
    assert outputs[0][1].shape == (3, *shape)


def test_no_batchnorm_or_dropout():
    enc, _, dec = _build((1, 28, 28))
    for m in [*enc.modules(), *dec.modules()]:
        assert not isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.Dropout))


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 27, 31)])
def test_batch_invariance_and_determinism(shape):
    enc, head, dec = _build(shape)
    model = nn.Sequential(enc, head, dec).eval()
    x = _randn(6, *shape, seed=1)
    with torch.no_grad():
        full = model(x)
        rows = torch.cat([model(x[i : i + 1]) for i in range(len(x))])
        again = model(x)
    torch.testing.assert_close(full, rows, atol=1e-6, rtol=0)
    assert torch.equal(full, again)


def test_construction_leaves_global_rng_untouched():
    state = torch.random.get_rng_state()
    enc, head, dec = _build((1, 28, 28))
    assert torch.equal(state, torch.random.get_rng_state())


def test_pickle_and_deepcopy():
    enc, head, dec = _build((3, 9, 7))
    model = nn.Sequential(enc, head, dec)
    x = _randn(2, 3, 9, 7)
    with torch.no_grad():
        expected = model(x)
        for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
            torch.testing.assert_close(clone(x), expected, atol=0, rtol=0)
            assert clone[0].out_features == enc.out_features


@pytest.mark.parametrize(
    "kwargs, param",
    [
        (dict(input_shape=(28, 28)), "input_shape"),
        (dict(input_shape=(1, 0, 28)), "input_shape"),
        (dict(input_shape=(1, 28.0, 28)), "input_shape"),
        (dict(input_shape=(1, -2, 28)), "input_shape"),
        (dict(input_shape=None), "input_shape"),
        (dict(input_shape=(1, 8, 8), channels=()), "channels"),
        (dict(input_shape=(1, 8, 8), channels=(32, 0)), "channels"),
        (dict(input_shape=(1, 8, 8), channels=(32, 1.5)), "channels"),
        (dict(input_shape=(1, 8, 8), channels=None), "channels"),
        (dict(input_shape=(1, 8, 8), kernel_size=4), "kernel_size"),
        (dict(input_shape=(1, 8, 8), kernel_size=0), "kernel_size"),
        (dict(input_shape=(1, 8, 8), activation="nope"), "activation"),
    ],
)
def test_bad_arguments(kwargs, param):
    with pytest.raises(ValueError, match=param):
        ConvEncoder(**kwargs)
    with pytest.raises(ValueError, match=param):
        ConvDecoder(2, **kwargs)


@pytest.mark.parametrize("n_components", [0, -1, 2.5, True])
def test_bad_n_components(n_components):
    with pytest.raises(ValueError, match="n_components"):
        ConvDecoder(n_components, (1, 8, 8))


def test_learns_digits():
    X = load_digits().data.astype(np.float32) / 16.0
    X = torch.from_numpy(X).reshape(-1, 1, 8, 8)
    baseline = ((X - X.mean(0)) ** 2).mean().item()
    # Narrower than the defaults to stay fast; reaches ~0.28 x baseline over seeds 0-5.
    enc, head, dec = _build((1, 8, 8), n_components=8, channels=(16, 32))
    model = nn.Sequential(enc, head, dec)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        xb = X[torch.randint(0, len(X), (64,), generator=gen)]
        loss = ((model(xb) - xb) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        mse = ((model(X) - X) ** 2).mean().item()
    assert mse < 0.5 * baseline, (mse, baseline)


@pytest.mark.parametrize("hidden", [(), (16,), (32, 8)])
def test_fully_connected_layers_between_convolutions_and_code(hidden):
    shape = (1, 12, 10)
    enc, head, dec = _build(shape, channels=(4, 8), hidden=hidden)
    linear_enc = [m for m in enc.modules() if isinstance(m, nn.Linear)]
    linear_dec = [m for m in dec.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linear_enc] == list(hidden)
    # decoder: the mirrored widths, then the projection to the 8 x 3 x 3 maps
    assert [m.out_features for m in linear_dec] == list(hidden[::-1]) + [8 * 3 * 3]
    assert enc.out_features == (hidden[-1] if hidden else 8 * 3 * 3)
    with torch.no_grad():
        out = dec(head(enc(_randn(3, *shape))))
    assert out.shape == (3, *shape)


def test_hidden_rejects_bad_widths():
    with pytest.raises(ValueError, match="hidden"):
        ConvEncoder((1, 8, 8), hidden=(0,))
    with pytest.raises(ValueError, match="hidden"):
        ConvDecoder(2, (1, 8, 8), hidden=(4, "x"))
