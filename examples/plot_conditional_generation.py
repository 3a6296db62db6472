"""
==========================================================
Generating digits of a chosen class with a conditional VAE
==========================================================

``VAEGenerator(conditional=True)`` learns ``p(x | z, y)``: the decoder reads
the code ``z`` and the one-hot class label ``y``, so ``sample(y=7)`` draws
sevens.  ``transform`` still needs no label, so the same model works as the
first step of a pipeline.

The script fits a conditional VAE to the 8x8 digits of
:func:`sklearn.datasets.load_digits` (binarised), checks with a logistic
regression trained on real digits that the samples are of the class asked
for, and writes to ``examples/output/`` (or ``$SKAE_EXAMPLES_OUTPUT``):

* ``conditional_samples.png``: one row of generated digits per class;
* ``conditional_traversal.png``: one code dimension varied at a time, every
  row decoded as a 3;
* ``conditional_interpolation.png``: the decoded path between the codes of
  two test digits, decoded as each of two labels.

``SKAE_EXAMPLES_FAST=1`` cuts the training to a few epochs (for tests).
"""

import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skae import VAEGenerator  # noqa: E402
from skae.plotting import (  # noqa: E402
    plot_class_samples,
    plot_interpolation,
    plot_latent_traversal,
)

FAST = os.environ.get("SKAE_EXAMPLES_FAST", "").strip() in ("1", "true", "yes")
OUTPUT = Path(os.environ.get("SKAE_EXAMPLES_OUTPUT") or Path(__file__).resolve().parent / "output")
OUTPUT.mkdir(parents=True, exist_ok=True)

# %%
# Binarised digits and a Bernoulli likelihood, as in plot_vae_generation.py.
# ``sampler="mixture"`` draws each class's codes from a Gaussian mixture
# fitted to that class's training codes, rather than from the prior N(0, I).
X, y = load_digits(return_X_y=True)
X = (X / 16.0 > 0.5).astype(float)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                    random_state=0)
cvae = VAEGenerator(
    n_components=8,
    hidden_layer_sizes=(256, 128),
    likelihood="bernoulli",
    conditional=True,
    sampler="mixture",
    max_iter=5 if FAST else 300,
    random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # expected in the fast mode
    warnings.filterwarnings("ignore", "Posterior collapse")  # likely in the fast mode
    cvae.fit(X_train, y_train)
print(f"{cvae.n_iter_} epochs; test log p(x | y) {cvae.score(X_test, y_test):.2f} nats, "
      f"marginal log p(x) {cvae.score(X_test):.2f} nats per digit")

# %%
# How often are the samples of the class asked for?  A classifier of real
# digits judges 50 samples per class.
judge = LogisticRegression(max_iter=2000).fit(X_train, y_train)
labels = np.repeat(cvae.classes_, 50)
predicted = judge.predict(cvae.sample(len(labels), random_state=0, y=labels))
per_class = [np.mean(predicted[labels == c] == c) for c in cvae.classes_]
print("samples classified as their label: "
      + " ".join(f"{c}:{a:.2f}" for c, a in zip(cvae.classes_, per_class, strict=True))
      + f"  (all {np.mean(predicted == labels):.2f})")

# %%
# One row of generated digits per class.
fig = plot_class_samples(cvae, n_per_class=10, random_state=0, image_shape=(8, 8))
fig.suptitle("VAEGenerator(conditional=True).sample(y=class)")
fig.savefig(OUTPUT / "conditional_samples.png", dpi=80)
plt.close(fig)

# %%
# The code holds the style: vary each dimension around the code of a test
# digit and decode every image as a 3.
fig = plot_latent_traversal(cvae, X_test[0], n_steps=9, y=3, image_shape=(8, 8))
fig.suptitle("One code dimension at a time, decoded as 3")
fig.savefig(OUTPUT / "conditional_traversal.png", dpi=80)
plt.close(fig)

# %%
# The path between the codes of two test digits, decoded as a 2 and as a 5.
fig = plt.figure(layout="constrained", figsize=(10, 2.8))
top, bottom = fig.subfigures(2, 1)
for sub, label in ((top, 2), (bottom, 5)):
    plot_interpolation(cvae, X_test[0], X_test[1], n_steps=10, y=label,
                       image_shape=(8, 8), fig=sub)
    sub.suptitle(f"interpolation decoded as {label}", fontsize="small")
fig.savefig(OUTPUT / "conditional_interpolation.png", dpi=80)
plt.close(fig)
print(f"Figures written to {OUTPUT}")
