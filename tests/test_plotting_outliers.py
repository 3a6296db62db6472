"""plot_outliers: the lowest-scoring rows, as images or as bar charts of their features."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import quiet_fit  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from skae import AutoencoderOutlierDetector, AutoencoderTransformer  # noqa: E402
from skae.plotting import plot_outliers  # noqa: E402

FAST = dict(hidden_layer_sizes=(16,), max_iter=3, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def detector(small_digits):
    return quiet_fit(AutoencoderOutlierDetector(AutoencoderTransformer(4, **FAST)),
                     small_digits[0])


def test_images_show_the_lowest_scores_first(detector, small_digits):
    X = small_digits[0]
    fig = plot_outliers(detector, X, n_outliers=3, image_shape=(8, 8))
    axes = np.array(fig.axes).reshape(3, 3)
    worst = np.argsort(detector.score_samples(X))[:3]
    for j, index in enumerate(worst):
        np.testing.assert_allclose(axes[0, j].images[0].get_array(), X[index].reshape(8, 8))
        assert axes[0, j].get_title().startswith(f"#{index}\n")
    heat = -detector.score_samples_per_feature(X[worst[:1]]).reshape(8, 8)
    np.testing.assert_allclose(axes[2, 0].images[0].get_array(), heat)
    plt.close(fig)


def test_tables_show_the_top_features(detector, small_digits):
    X = small_digits[0]
    names = [f"pixel{j}" for j in range(64)]
    fig = plot_outliers(detector, X, n_outliers=2, n_features=4, feature_names=names)
    ax = fig.axes[0]
    worst = int(np.argmin(detector.score_samples(X)))
    parts = detector.score_samples_per_feature(X[worst:worst + 1])[0]
    top = np.argsort(parts)[:4]
    labels = [t.get_text().split(" = ")[0] for t in ax.get_yticklabels()]
    assert labels == [names[j] for j in top[::-1]]
    assert [p.get_width() for p in ax.patches] == pytest.approx(-parts[top[::-1]])
    plt.close(fig)


def test_refuses_what_is_not_a_detector(small_digits):
    pca = PCA(2).fit(small_digits[0])
    with pytest.raises(TypeError, match="score_samples_per_feature"):
        plot_outliers(pca, small_digits[0])
