"""Convolutional networks inside both estimators: shapes, sklearn checks, denoising."""

import numpy as np
import pytest
import torch
from conftest import assert_same_weights

from skae import AutoencoderTransformer, VAEGenerator
from skae.nn._conv import ConvEncoder

CONV = dict(max_iter=1, batch_size=16, conv_channels=(4, 8), random_state=0)


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAEGenerator], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "shape", [(1, 8, 8), (1, 28, 28), (1, 27, 31), (3, 32, 32), (3, 64, 64), (1, 1, 5)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_output_shapes_for_image_sizes(cls, shape):
    X = np.random.RandomState(0).rand(24, int(np.prod(shape)))
    est = cls(n_components=3, input_shape=shape, **CONV).fit(X)
    assert isinstance(est.net_.encoder, ConvEncoder)
    Z = est.transform(X)
    assert Z.shape == (24, 3)
    R = est.inverse_transform(Z)
    assert R.shape == X.shape and np.isfinite(R).all()
    if hasattr(est, "sample"):
        assert est.sample(4, random_state=0).shape == (4, X.shape[1])


def test_minus_one_in_input_shape_is_inferred():
    X = np.random.RandomState(0).rand(20, 12)
    est = AutoencoderTransformer(input_shape=(3, 2, -1), **CONV).fit(X)
    assert est.net_.input_shape == (3, 2, 2)
    with pytest.raises(ValueError, match=r"input_shape=\(5, 1, -1\) cannot be completed for X with 12"):
        AutoencoderTransformer(input_shape=(5, 1, -1), **CONV).fit(X)


def test_architecture_choice():
    X = np.random.RandomState(0).rand(20, 16)
    mlp = AutoencoderTransformer(input_shape=(1, 4, 4), architecture="mlp", max_iter=1).fit(X)
    assert not isinstance(mlp.net_.encoder, ConvEncoder) and mlp.net_.input_shape == (1, 4, 4)
    with pytest.raises(ValueError, match="architecture='conv' needs input_shape"):
        AutoencoderTransformer(architecture="conv", max_iter=1).fit(X)


class _UserConvEncoder(torch.nn.Module):
    def __init__(self, input_shape):
        super().__init__()
        self.conv = torch.nn.Conv2d(input_shape[0], 4, 3, padding=1)

    def forward(self, x):
        assert x.ndim == 4, "a conv encoder receives images"
        return torch.relu(self.conv(x)).flatten(1)


def test_user_conv_modules_receive_images(small_digits):
    X = small_digits[0]
    est = AutoencoderTransformer(n_components=4, input_shape=(1, 8, 8), encoder=_UserConvEncoder,
                                 max_iter=2, random_state=0).fit(X)
    assert est.transform(X).shape == (len(X), 4)


def test_masking_denoiser_cleans_noisy_digits(digits):
    X = digits[0]
    Xtr, Xte = X[:1400], X[1400:]
    ae = AutoencoderTransformer(
        n_components=16, input_shape=(1, 8, 8), conv_channels=(16, 32), loss="bce",
        noise="mask", noise_level=0.3, max_iter=20, random_state=0,
    ).fit(Xtr)
    rng = np.random.default_rng(0)
    noisy = Xte * (rng.random(Xte.shape) >= 0.3)
    denoised = ae.inverse_transform(ae.transform(noisy))
    err_noisy = ((noisy - Xte) ** 2).sum(1).mean()
    err_denoised = ((denoised - Xte) ** 2).sum(1).mean()
    assert err_denoised < 0.5 * err_noisy


@pytest.mark.parametrize(
    "cls, params, expected",
    [
        (AutoencoderTransformer, {"input_shape": (1, 8, 8)}, 32),
        (AutoencoderTransformer, {"input_shape": (1, 8, 8), "architecture": "mlp"}, 128),
        (AutoencoderTransformer, {}, 128),
        (VAEGenerator, {"input_shape": (1, 8, 8)}, 64),
        (VAEGenerator, {}, 64),
    ],
    ids=["ae-conv", "ae-mlp-with-shape", "ae-mlp", "vae-conv", "vae-mlp"],
)
def test_auto_batch_size_trains_like_its_documented_size(
    cls, params, expected, digits, one_torch_thread
):
    # enough rows that the documented size still takes 8 steps an epoch
    X = digits[0]
    common = dict(n_components=3, max_iter=1, conv_channels=(4, 8), hidden_layer_sizes=(16,),
                  random_state=0, **params)
    auto = cls(batch_size="auto", **common).fit(X)
    explicit = cls(batch_size=expected, **common).fit(X)
    other = cls(batch_size=expected // 2, **common).fit(X)
    assert_same_weights(auto, explicit)
    with pytest.raises(AssertionError):
        assert_same_weights(auto, other)


def test_conv_hidden_layer_defaults_differ_between_estimators(small_digits, one_torch_thread):
    X = small_digits[0] / 16.0
    common = dict(n_components=3, input_shape=(1, 8, 8), max_iter=1, random_state=0)
    vae = VAEGenerator(**common).fit(X)
    ae = AutoencoderTransformer(**common).fit(X)
    assert [m.out_features for m in vae.net_.encoder.modules() if isinstance(m, torch.nn.Linear)] \
        == [256]
    assert not [m for m in ae.net_.encoder.modules() if isinstance(m, torch.nn.Linear)]
    flat = VAEGenerator(conv_hidden_layer_sizes=(), **common).fit(X)
    assert flat.net_.encoder.out_features == 128  # 128 channels of 1 x 1 after three halvings
