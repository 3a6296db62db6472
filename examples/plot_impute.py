"""
=====================================================================
Filling in missing values with AutoencoderImputer
=====================================================================

:class:`skae.AutoencoderImputer` is a scikit-learn imputer (the interface of
:class:`~sklearn.impute.SimpleImputer`) around a skae autoencoder that is
trained on the incomplete rows themselves: its loss counts the observed
entries only, so no value has to be made up before training. ``transform``
fills the missing entries and leaves the observed ones as they are.

Two tasks:

1. **Digits with holes.**  The 8x8 digits of
   :func:`sklearn.datasets.load_digits` lose 30 % of their pixels at random
   (training and test images alike); the imputer is fitted on the incomplete
   training digits and fills the test digits, beside
   :class:`~sklearn.impute.KNNImputer`. ``impute_digits.png`` shows test
   digits as they were, with their holes (red), and as each imputer
   restored them.
2. **A table with holes.**  The wine table, in its raw mixed units (no
   scaler: the imputer scales internally, ignoring the missing entries), with
   20 % of its entries missing. ``impute_table.png`` compares the error of
   the filled entries with :class:`~sklearn.impute.SimpleImputer` and
   :class:`~sklearn.impute.KNNImputer`.

Errors are root mean squared errors over the missing entries, each feature
divided by its range in the complete training data (so every feature counts
alike). ``benchmarks/bench_impute.py`` measures more sets, patterns and
peers. Runs in about 20 s on one thread of a busy two-core machine.
``SKAE_EXAMPLES_FAST=1`` trains small networks for a few epochs (seconds,
for the tests; the numbers are then meaningless); ``SKAE_EXAMPLES_OUTPUT``
changes the output folder (default ``examples/output/`` next to this file).
"""

import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits, load_wine  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.impute import KNNImputer, SimpleImputer  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skae import AutoencoderImputer, AutoencoderTransformer  # noqa: E402

FAST = os.environ.get("SKAE_EXAMPLES_FAST", "").strip().lower() in ("1", "true", "yes")
OUTPUT = Path(os.environ.get("SKAE_EXAMPLES_OUTPUT") or Path(__file__).resolve().parent / "output")
OUTPUT.mkdir(parents=True, exist_ok=True)
if FAST:  # a few epochs stop before convergence, on purpose
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
rng = np.random.RandomState(0)


def imputer():
    """The autoencoder imputer with its defaults (a small network in fast mode)."""
    if FAST:
        small = AutoencoderTransformer(n_components=8, hidden_layer_sizes=(32,), max_iter=3,
                                       noise="missing", noise_level=0.2, random_state=0)
        return AutoencoderImputer(small)
    return AutoencoderImputer(random_state=0)


def with_holes(X, fraction):
    """A copy of ``X`` with each entry set to NaN with probability ``fraction``."""
    X = X.copy()
    X[rng.rand(*X.shape) < fraction] = np.nan
    return X


def rmse(X_true, X_filled, missing, span):
    """RMSE over the missing entries, each feature divided by its training range."""
    return float(np.sqrt(np.mean(((X_filled - X_true) / span)[missing] ** 2)))


# %%
# Digits with holes
# -----------------
# 30 % of the pixels of every image are missing, in the training images as
# well as in the test images: the imputer never sees a complete digit.
X, y = load_digits(return_X_y=True)
if FAST:
    X, y = X[:400], y[:400]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
span = np.maximum(X_train.max(0) - X_train.min(0), 1.0)
M_train, M_test = with_holes(X_train, 0.3), with_holes(X_test, 0.3)
missing = np.isnan(M_test)
restored = {}
for name, model in (("AutoencoderImputer", imputer()), ("KNNImputer", KNNImputer())):
    model.fit(M_train)
    restored[name] = model.transform(M_test)
print(f"Digits: {len(X_train)} training and {len(X_test)} test images, "
      f"{missing.mean():.0%} of the test pixels missing")
print(f"{'method':<20} {'RMSE':>7}")
for name, filled in restored.items():
    assert np.array_equal(filled[~missing], X_test[~missing])  # observed pixels kept
    print(f"{name:<20} {rmse(X_test, filled, missing, span):>7.4f}")

# %%
# One test digit of each class: as it was, with its holes (red), and as the
# two imputers filled them.
idx = [int(np.flatnonzero(y_test == digit)[0]) for digit in range(10)]
rows = {"original": X_test[idx], "with holes": M_test[idx]}
rows.update({name: filled[idx] for name, filled in restored.items()})
cmap = plt.get_cmap("gray_r").with_extremes(bad="tab:red")
fig, axes = plt.subplots(len(rows), len(idx), figsize=(1.0 * len(idx) + 1.2, 1.1 * len(rows)),
                         layout="constrained")
for r, (label, images) in enumerate(rows.items()):
    for c, image in enumerate(images):
        ax = axes[r, c]
        ax.imshow(np.ma.masked_invalid(image.reshape(8, 8)), cmap=cmap, vmin=0, vmax=16)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
fig.suptitle("Digits with 30 % of their pixels missing (red), and as the imputers fill them")
fig.savefig(OUTPUT / "impute_digits.png", dpi=100)
plt.close(fig)

# %%
# A table with holes
# ------------------
# The wine table in its raw units (alcohol near 13, proline near 750): the
# imputer scales each feature with statistics that skip the missing entries,
# so it needs no scaler in front. 20 % of the entries are missing.
X, y = load_wine(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0, stratify=y)
span = X_train.max(0) - X_train.min(0)
M_train, M_test = with_holes(X_train, 0.2), with_holes(X_test, 0.2)
missing = np.isnan(M_test)
errors = {}
for name, model in (("AutoencoderImputer", imputer()), ("KNNImputer", KNNImputer()),
                    ("SimpleImputer (mean)", SimpleImputer())):
    filled = model.fit(M_train).transform(M_test)
    errors[name] = rmse(X_test, filled, missing, span)
print(f"\nWine: {len(X_train)} training and {len(X_test)} test rows, "
      f"{missing.mean():.0%} of the test entries missing")
print(f"{'method':<22} {'RMSE':>7}")
for name, error in errors.items():
    print(f"{name:<22} {error:>7.4f}")

fig, ax = plt.subplots(figsize=(6.4, 2.6), layout="constrained")
ax.barh(list(errors)[::-1], list(errors.values())[::-1], color="tab:blue")
for i, error in enumerate(list(errors.values())[::-1]):
    ax.text(error, i, f" {error:.3f}", va="center")
ax.set_xlabel("RMSE of the filled entries (each feature divided by its range)")
ax.set_xlim(0, 1.2 * max(errors.values()))
ax.set_title("Wine, 20 % of the entries missing")
fig.savefig(OUTPUT / "impute_table.png", dpi=100)
plt.close(fig)
print(f"\nFigures written to {OUTPUT}")
