"""plot_explained_variance: PCA and ordered autoencoders on one set of axes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from skae import AutoencoderTransformer  # noqa: E402
from skae.plotting import plot_explained_variance  # noqa: E402


def test_curves_are_the_cumulative_ratios(small_digits):
    X = small_digits[0]
    pca = PCA(6).fit(X)
    ae = AutoencoderTransformer(4, ordered=True, hidden_layer_sizes=(16,), max_iter=3,
                                random_state=0).fit(X)
    ax = plot_explained_variance(pca, ae, labels=["PCA", "ordered AE"], threshold=0.5)
    lines = [line for line in ax.get_lines() if line.get_label() in ("PCA", "ordered AE")]
    np.testing.assert_allclose(lines[0].get_ydata(), np.cumsum(pca.explained_variance_ratio_))
    np.testing.assert_allclose(lines[1].get_ydata(), np.cumsum(ae.explained_variance_ratio_))
    np.testing.assert_array_equal(lines[1].get_xdata(), np.arange(1, 5))


def test_estimators_without_ratios_are_refused(small_digits):
    plain = AutoencoderTransformer(2, hidden_layer_sizes=(8,), max_iter=2).fit(small_digits[0])
    with pytest.raises(ValueError, match="ordered=True"):
        plot_explained_variance(plain)
    with pytest.raises(ValueError, match="labels has 2 entries"):
        plot_explained_variance(PCA(2).fit(small_digits[0]), labels=["a", "b"])
