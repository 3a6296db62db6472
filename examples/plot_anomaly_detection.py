"""
=====================================================================
Anomaly detection with the reconstruction error of an autoencoder
=====================================================================

An autoencoder trained on normal data reconstructs normal samples well and
unfamiliar ones badly, so its reconstruction error is an anomaly score.
:meth:`skae.AutoencoderTransformer.score_samples` returns it, negated (higher
is more normal, as for scikit-learn's outlier detectors), so
``-score_samples(X)`` ranks samples from most to least anomalous.

The 8x8 digits of :func:`sklearn.datasets.load_digits` are the data.  Every
digit but one is "normal": the autoencoder is trained on three quarters of
the normal digits only.  The test set holds the remaining normal digits and
*every* image of the held-out digit, the anomalies it has never seen.  Two
baselines get the same training data: :class:`~sklearn.ensemble.IsolationForest`
(``-score_samples``) and the reconstruction error of
:class:`~sklearn.decomposition.PCA` with as many components as the
autoencoder's code.  The ROC AUC of each score (1 = perfect ranking, 0.5 =
chance) is printed with the held-out digit 7, then with each of the ten digits
held out in turn.  ``anomaly_detection.png`` shows the ROC curves for the
digit 7 and the AUC for every held-out digit.

Runs in about a minute on two CPU cores.  ``SKAE_EXAMPLES_FAST=1`` trains a
small network for a few epochs and holds out only the digit 7 (seconds, for the
tests); ``SKAE_EXAMPLES_OUTPUT`` changes the output folder (default
``examples/output/`` next to this file).
"""

import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skae import AutoencoderTransformer  # noqa: E402

FAST = os.environ.get("SKAE_EXAMPLES_FAST", "").strip().lower() in ("1", "true", "yes")
OUTPUT = Path(os.environ.get("SKAE_EXAMPLES_OUTPUT") or Path(__file__).resolve().parent / "output")
OUTPUT.mkdir(parents=True, exist_ok=True)

# A fixed, short epoch budget keeps the ten fits to about a minute.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

N_COMPONENTS = 8
X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1]


def split(held_out):
    """Train on 75 % of the normal digits; test on the rest plus every anomaly."""
    normal = y != held_out
    X_train, X_test_normal = train_test_split(X[normal], test_size=0.25, random_state=0)
    X_test = np.vstack([X_test_normal, X[~normal]])
    is_anomaly = np.r_[np.zeros(len(X_test_normal)), np.ones(np.sum(~normal))]
    return X_train, X_test, is_anomaly


def anomaly_scores(X_train, X_test):
    """Anomaly score of each test sample (higher = more anomalous) for each method."""
    ae = AutoencoderTransformer(
        n_components=N_COMPONENTS,
        hidden_layer_sizes=(32,) if FAST else (256, 128),
        max_iter=3 if FAST else 80,
        random_state=0,
    ).fit(X_train)
    pca = PCA(n_components=N_COMPONENTS, random_state=0).fit(X_train)
    forest = IsolationForest(random_state=0).fit(X_train)
    pca_error = np.sum((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2, axis=1)
    return {
        "autoencoder (-score_samples)": -ae.score_samples(X_test),
        f"PCA ({N_COMPONENTS} comp.) reconstruction error": pca_error,
        "IsolationForest (-score_samples)": -forest.score_samples(X_test),
    }


# %%
# The digit 7 held out: ROC curves and AUCs.
SHOWN = 7
X_train, X_test, is_anomaly = split(SHOWN)
print(f"Held-out digit {SHOWN}: trained on {len(X_train)} normal digits; the test set has "
      f"{int(np.sum(is_anomaly == 0))} normal digits and {int(is_anomaly.sum())} anomalies")
scores = anomaly_scores(X_train, X_test)
print(f"\n{'method':<42} {'ROC AUC':>8}")
for name, score in scores.items():
    print(f"{name:<42} {roc_auc_score(is_anomaly, score):>8.3f}")

fig, (ax_roc, ax_bar) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained",
                                     width_ratios=(1, 1.4))
colors = ["tab:blue", "tab:orange", "tab:green"]
for (name, score), color in zip(scores.items(), colors, strict=True):
    fpr, tpr, _ = roc_curve(is_anomaly, score)
    ax_roc.plot(fpr, tpr, color=color,
                label=f"{name.split(' (')[0]} (AUC {roc_auc_score(is_anomaly, score):.3f})")
ax_roc.plot([0, 1], [0, 1], color="grey", ls=":", label="chance (AUC 0.5)")
ax_roc.set_xlabel("false positive rate (normal digits flagged)")
ax_roc.set_ylabel("true positive rate (anomalies found)")
ax_roc.set_title(f"ROC curves, digit {SHOWN} as the anomaly")
ax_roc.legend(loc="lower right")

# %%
# Each digit held out in turn: is the ranking robust?
held_out_digits = [SHOWN] if FAST else list(range(10))
aucs = {name: [] for name in scores}
for digit in held_out_digits:
    if digit == SHOWN:  # already fitted above
        labels, digit_scores = is_anomaly, scores
    else:
        X_train, X_test, labels = split(digit)
        digit_scores = anomaly_scores(X_train, X_test)
    for name, score in digit_scores.items():
        aucs[name].append(roc_auc_score(labels, score))

short_names = [name.split(" (")[0] for name in aucs]
print(f"\nROC AUC with each digit held out\n{'digit':>5} " +
      " ".join(f"{n:>15}" for n in short_names))
for i, digit in enumerate(held_out_digits):
    print(f"{digit:>5} " + " ".join(f"{aucs[name][i]:>15.3f}" for name in aucs))
print(f"{'mean':>5} " + " ".join(f"{np.mean(aucs[name]):>15.3f}" for name in aucs))

width = 0.27
positions = np.arange(len(held_out_digits))
for k, ((name, values), color) in enumerate(zip(aucs.items(), colors, strict=True)):
    ax_bar.bar(positions + (k - 1) * width, values, width, color=color,
               label=f"{name.split(' (')[0]} (mean {np.mean(values):.3f})")
ax_bar.axhline(0.5, color="grey", ls=":")
ax_bar.set_xticks(positions, [str(d) for d in held_out_digits])
ax_bar.set_xlabel("held-out digit (the anomaly class)")
ax_bar.set_ylabel("ROC AUC")
ax_bar.set_ylim(0.3, 1.0)
ax_bar.set_title("ROC AUC with each digit held out")
ax_bar.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=3, fontsize="small")
fig.suptitle("Digits: detecting an unseen digit class with reconstruction errors")
path = OUTPUT / "anomaly_detection.png"
fig.savefig(path, dpi=100)
plt.close(fig)
print(f"\nFigure written to {path}")
