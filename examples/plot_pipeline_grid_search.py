"""
=====================================================================
Tuning an autoencoder inside a classification pipeline (vs PCA)
=====================================================================

:class:`skae.AutoencoderTransformer` is a scikit-learn transformer, so it
goes where :class:`~sklearn.decomposition.PCA` would go: between a scaler
and a classifier in a :class:`~sklearn.pipeline.Pipeline`.  Its parameters
are tuned like any other step's, with the ``ae__`` prefix in
:class:`~sklearn.model_selection.GridSearchCV`.

This example reduces the 64 pixels of the 8x8 digits of
:func:`sklearn.datasets.load_digits` to a few components before a logistic
regression and searches a small grid over the autoencoder's code width
(``n_components``), network (``hidden_layer_sizes``) and denoising strength
(``noise_level``).  The same pipeline with PCA, tuned over the same code
widths, is the baseline.  It prints the best parameters, the cross-validated
and the test accuracy of both pipelines, and saves a bar chart of the mean CV
accuracy of every candidate as ``grid_search_scores.png``.

Runs in about a minute on two CPU cores.  ``SKAE_EXAMPLES_FAST=1`` uses a
subset of the data, a tiny grid and a few epochs (seconds, for the tests);
``SKAE_EXAMPLES_OUTPUT`` changes the output folder (default
``examples/output/`` next to this file).
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
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skae import AutoencoderTransformer  # noqa: E402

FAST = os.environ.get("SKAE_EXAMPLES_FAST", "").strip().lower() in ("1", "true", "yes")
OUTPUT = Path(os.environ.get("SKAE_EXAMPLES_OUTPUT") or Path(__file__).resolve().parent / "output")
OUTPUT.mkdir(parents=True, exist_ok=True)

# The epoch budget is capped so the whole search fits in about a minute; a
# fit that reaches it before early stopping would warn at every grid point.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# Data: 1,797 digits, 64 pixel features; a stratified test set is kept aside.
X, y = load_digits(return_X_y=True)
if FAST:
    X, y = X[:400], y[:400]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print(f"{len(X_train)} training and {len(X_test)} test digits, {X.shape[1]} features")

# %%
# The pipeline: scale, encode, classify.  ``ae__max_iter`` bounds training.
pipe = Pipeline([
    ("scale", StandardScaler()),
    ("ae", AutoencoderTransformer(random_state=0)),
    ("clf", LogisticRegression(max_iter=1000)),
])

if FAST:
    ae_grid = {
        "ae__n_components": [8],
        "ae__hidden_layer_sizes": [(32,)],
        "ae__noise_level": [0.1, 0.5],
        "ae__max_iter": [3],
    }
    cv = 2
else:
    ae_grid = {
        "ae__n_components": [8, 16],
        "ae__hidden_layer_sizes": [(128,), (256, 128)],
        "ae__noise_level": [0.1, 0.5],
        "ae__max_iter": [60],
    }
    cv = 3

# %%
# Search the autoencoder's grid (accuracy is the pipeline's default score).
start = time.perf_counter()
ae_search = GridSearchCV(pipe, ae_grid, cv=cv).fit(X_train, y_train)
ae_time = time.perf_counter() - start

# %%
# The same pipeline with PCA in place of the autoencoder, same code widths.
pca_pipe = Pipeline([
    ("scale", StandardScaler()),
    ("pca", PCA(random_state=0)),
    ("clf", LogisticRegression(max_iter=1000)),
])
pca_grid = {"pca__n_components": ae_grid["ae__n_components"]}
start = time.perf_counter()
pca_search = GridSearchCV(pca_pipe, pca_grid, cv=cv).fit(X_train, y_train)
pca_time = time.perf_counter() - start


def short(params):
    """``{"ae__n_components": 8, ...}`` as ``"n_components=8, ..."`` (no max_iter)."""
    return ", ".join(f"{k.split('__', 1)[1]}={v}" for k, v in params.items()
                     if not k.endswith("max_iter"))


print(f"\n{'pipeline':<12} {'CV accuracy':>12} {'test accuracy':>14} {'search time':>12}"
      "  best parameters")
for name, search, seconds in [("autoencoder", ae_search, ae_time), ("PCA", pca_search, pca_time)]:
    test_acc = search.score(X_test, y_test)
    print(f"{name:<12} {search.best_score_:>12.4f} {test_acc:>14.4f} {seconds:>11.1f}s"
          f"  {short(search.best_params_)}")

for name, search in [("Autoencoder", ae_search), ("PCA", pca_search)]:
    print(f"\n{name} candidates, best first (mean CV accuracy +- std):")
    results = search.cv_results_
    for i in np.argsort(results["rank_test_score"], kind="stable"):
        print(f"  {results['mean_test_score'][i]:.4f} +- {results['std_test_score'][i]:.4f}  "
              f"{short(results['params'][i])}")

# %%
# Mean CV accuracy of each candidate: autoencoders in blue, PCA in orange,
# the best of each hatched.
labels, means, stds, colors = [], [], [], []
for name, search, color in [("AE", ae_search, "tab:blue"), ("PCA", pca_search, "tab:orange")]:
    res = search.cv_results_
    for i, params in enumerate(res["params"]):
        label = short(params).replace("n_components=", "k=").replace(
            "hidden_layer_sizes=", "hidden=").replace("noise_level=", "noise=")
        labels.append(f"{name}: {label}")
        means.append(res["mean_test_score"][i])
        stds.append(res["std_test_score"][i])
        colors.append(color)

fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.5), layout="constrained")
positions = np.arange(len(labels))[::-1]
bars = ax.barh(positions, means, xerr=stds, color=colors, capsize=3)
best = {ae_search.best_index_, len(ae_search.cv_results_["params"]) + pca_search.best_index_}
for i in best:
    bars[i].set_hatch("//")
    bars[i].set_edgecolor("black")
ax.set_yticks(positions, labels, fontsize="small")
low = min(m - s for m, s in zip(means, stds, strict=True))
high = max(m + s for m, s in zip(means, stds, strict=True))
ax.set_xlim(max(0.0, low - 0.03), min(1.0, high + 0.01))
ax.set_xlabel(f"mean {cv}-fold CV accuracy (logistic regression on the code)")
ax.set_title("Digits: autoencoder vs PCA before a classifier (best hatched)")
for pos, mean in zip(positions, means, strict=True):
    ax.text(ax.get_xlim()[0] + 0.002, pos, f"{mean:.3f}", va="center", color="white",
            fontsize="small", fontweight="bold")
path = OUTPUT / "grid_search_scores.png"
fig.savefig(path, dpi=100)
plt.close(fig)
print(f"\nFigure written to {path}")
