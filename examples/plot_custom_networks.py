"""
=====================================================================
Bringing your own encoder and decoder networks
=====================================================================

:class:`skae.AutoencoderTransformer` builds an MLP (or, with ``input_shape``,
a convolutional net) by default, but its ``encoder`` and ``decoder``
parameters accept your own :class:`torch.nn.Module`: an instance, a class, or
any factory function.  The contract (see :mod:`skae.nn`):

* a class or factory is called with the keyword arguments it accepts among
  ``n_features``, ``n_components`` and ``input_shape``;
* the **encoder** maps a batch of (standardised) inputs, ``(batch,
  n_features)`` or ``(batch, C, H, W)`` when ``input_shape`` is set, to
  features ``(batch, d)`` of any width ``d``; skae appends the linear code
  head ``Linear(d, n_components)`` itself;
* the **decoder** maps codes ``(batch, n_components)`` to unconstrained
  outputs, ``(batch, n_features)`` or ``(batch, C, H, W)``; skae applies the
  sigmoid for ``loss="bce"``;
* an instance is deep-copied at every fit: the module you pass is never
  trained in place, and ``clone`` gives an untrained estimator.

Part (a) plugs an MLP encoder *factory function* and a decoder *class* into
an autoencoder of the standardised breast-cancer table (30 features) and
compares its test reconstruction error with PCA's.  Part (b) writes a small
convolutional encoder/decoder pair for the 8x8 digits, passes *instances*,
checks that their weights are unchanged after the fit, and plots test digits
above their reconstructions (``custom_conv_reconstructions.png``).  The
training curves of both models are saved as ``custom_loss_curves.png``.

Runs in well under a minute on two CPU cores.  ``SKAE_EXAMPLES_FAST=1``
trains for a few epochs (seconds, for the tests); ``SKAE_EXAMPLES_OUTPUT``
changes the output folder (default ``examples/output/`` next to this file).
"""

import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from torch import nn  # noqa: E402

from skae import AutoencoderTransformer  # noqa: E402
from skae.datasets import load_dataset  # noqa: E402
from skae.plotting import plot_loss_curve, plot_reconstructions  # noqa: E402

FAST = os.environ.get("SKAE_EXAMPLES_FAST", "").strip().lower() in ("1", "true", "yes")
OUTPUT = Path(os.environ.get("SKAE_EXAMPLES_OUTPUT") or Path(__file__).resolve().parent / "output")
OUTPUT.mkdir(parents=True, exist_ok=True)
if FAST:  # a few epochs only: the fits stop before converging, as expected
    warnings.filterwarnings("ignore", category=ConvergenceWarning)


def reconstruction_mse(estimator, X):
    """Mean squared error per value between ``X`` and its reconstruction."""
    return float(np.mean((estimator.inverse_transform(estimator.transform(X)) - X) ** 2))


# %%
# (a) Tabular data: an encoder factory and a decoder class
# ---------------------------------------------------------
# A factory function only needs to declare the arguments it uses: skae calls
# ``mlp_encoder(n_features=30)``.  Its output width (64) is free: skae
# measures it with a dry run and adds the code head ``Linear(64, 4)``.
def mlp_encoder(n_features):
    return nn.Sequential(
        nn.Linear(n_features, 128), nn.GELU(),
        nn.Linear(128, 64), nn.GELU(),
    )


class MLPDecoder(nn.Module):
    """Code -> 30 unconstrained values (skae undoes the standardisation)."""

    def __init__(self, n_components, n_features):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_components, 64), nn.GELU(),
            nn.Linear(64, 128), nn.GELU(),
            nn.Linear(128, n_features),
        )

    def forward(self, z):
        return self.net(z)


cancer = load_dataset("breast_cancer")  # standardised on its training part
tabular_ae = AutoencoderTransformer(
    n_components=4,
    encoder=mlp_encoder,
    decoder=MLPDecoder,
    noise_level=0.1,
    max_iter=5 if FAST else 300,
    n_iter_no_change=20,
    random_state=0,
).fit(cancer.X_train)
pca = PCA(n_components=4).fit(cancer.X_train)
print(f"(a) {cancer.description}")
print(f"    encoder: {type(tabular_ae.net_.encoder).__name__} from mlp_encoder(), "
      f"decoder: {type(tabular_ae.net_.decoder).__name__}, code head: "
      f"{tabular_ae.net_.head}")
print(f"    {tabular_ae.n_iter_} epochs; test reconstruction MSE with a 4-value code: "
      f"autoencoder {reconstruction_mse(tabular_ae, cancer.X_test):.4f}, "
      f"PCA {reconstruction_mse(pca, cancer.X_test):.4f}")


# %%
# (b) Images: a hand-written convolutional pair, passed as instances
# ------------------------------------------------------------------
# Both classes take ``input_shape`` (and the decoder ``n_components``) as
# keyword arguments, so they could also be passed as classes.  The encoder
# receives ``(batch, 1, 8, 8)`` images and returns flat features.
class SmallConvEncoder(nn.Module):
    def __init__(self, input_shape):
        super().__init__()
        channels, height, width = input_shape
        self.net = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),  # H/2 x W/2
            nn.Flatten(),
        )

    def forward(self, x):
        return self.net(x)


class SmallConvDecoder(nn.Module):
    def __init__(self, n_components, input_shape):
        super().__init__()
        channels, height, width = input_shape
        self.small = (32, (height + 1) // 2, (width + 1) // 2)
        self.project = nn.Sequential(nn.Linear(n_components, int(np.prod(self.small))),
                                     nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),  # back to H x W
            nn.Conv2d(16, channels, 3, padding=1),
        )
        self.size = (height, width)

    def forward(self, z):
        x = self.project(z).reshape(len(z), *self.small)
        return self.net(x)[:, :, : self.size[0], : self.size[1]]  # logits for loss="bce"


X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X / 16.0, test_size=0.25, random_state=0)
image_shape = (1, 8, 8)
# Modules that skae builds from a class or factory are initialised from
# ``random_state``; an instance you create yourself draws its initial weights
# from torch's global generator, so seed that for reproducible results.
torch.manual_seed(0)
encoder = SmallConvEncoder(input_shape=image_shape)
decoder = SmallConvDecoder(n_components=10, input_shape=image_shape)
before = {name: p.detach().clone() for name, p in encoder.state_dict().items()}

conv_ae = AutoencoderTransformer(
    n_components=10,
    input_shape=image_shape,
    encoder=encoder,
    decoder=decoder,
    loss="bce",
    noise="mask",
    noise_level=0.2,
    max_iter=3 if FAST else 150,
    random_state=0,
).fit(X_train)

unchanged = all(torch.equal(before[name], p) for name, p in encoder.state_dict().items())
trained = conv_ae.net_.encoder
moved = max(float((trained.state_dict()[name] - before[name]).abs().max()) for name in before)
print(f"\n(b) digits as {image_shape} images, {len(X_train)} training digits, "
      f"{conv_ae.n_iter_} epochs")
print(f"    the encoder instance passed in is unchanged after fit: {unchanged}; "
      f"fitted copy net_.encoder is a different object: {trained is not encoder}, "
      f"largest weight change {moved:.3f}")
print(f"    clone() is unfitted: {not hasattr(clone(conv_ae), 'net_')}")
print(f"    test reconstruction MSE with a 10-value code: autoencoder "
      f"{reconstruction_mse(conv_ae, X_test):.4f}, PCA "
      f"{reconstruction_mse(PCA(n_components=10).fit(X_train), X_test):.4f}")
assert unchanged, "skae must never train the module instance it was given"

# %%
# Test digits (top) and their reconstructions by the custom convolutional net.
fig = plot_reconstructions(conv_ae, X_test, n_images=12)
fig.suptitle("Custom convolutional encoder/decoder: test digits and reconstructions")
path = OUTPUT / "custom_conv_reconstructions.png"
fig.savefig(path, dpi=100)
plt.close(fig)
print(f"\nFigure written to {path}")

# %%
# Training and validation losses of both models.
fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
plot_loss_curve(tabular_ae, ax=ax_a)
ax_a.set_title("(a) MLP factory + decoder class, breast cancer\n(squared error per sample)")
plot_loss_curve(conv_ae, ax=ax_b)
ax_b.set_title("(b) custom conv pair, 8x8 digits\n(binary cross-entropy per image)")
path = OUTPUT / "custom_loss_curves.png"
fig.savefig(path, dpi=100)
plt.close(fig)
print(f"Figure written to {path}")
