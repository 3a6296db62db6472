"""Tests of the latent exploration plots, rendered with the Agg backend."""

import warnings

import matplotlib
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skae import VAEGenerator
from skae.plotting import (
    plot_class_samples,
    plot_interpolation,
    plot_latent_manifold,
    plot_latent_traversal,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _fit(X, y=None, **params):
    est = VAEGenerator(hidden_layer_sizes=(16,), max_iter=3, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "Posterior collapse")
        return est.fit(X, y)


@pytest.fixture(scope="module")
def data(digits):
    return digits[0][:200], digits[1][:200]


@pytest.fixture(scope="module")
def vae2(data):
    return _fit(data[0], n_components=2)


@pytest.fixture(scope="module")
def cvae(data):
    return _fit(*data, n_components=3, conditional=True)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _images(fig):
    return [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]


def test_interpolation_decodes_the_path(data, vae2):
    X = data[0]
    fig = plot_interpolation(vae2, X[0], X[1], n_steps=5)
    images = _images(fig)
    assert len(fig.axes) == 5 and len(images) == 5
    assert images[0].shape == (8, 8)
    ends = vae2.inverse_transform(vae2.transform(X[:2]))
    np.testing.assert_allclose(images[0].ravel(), ends[0], rtol=1e-6)
    np.testing.assert_allclose(images[-1].ravel(), ends[1], rtol=1e-6)
    with pytest.raises(ValueError, match="n_steps must be at least 2"):
        plot_interpolation(vae2, X[0], X[1], n_steps=1)
    with pytest.raises(ValueError, match="x_start must be one sample"):
        plot_interpolation(vae2, X[:2], X[1])


def test_interpolation_works_for_pca_and_needs_labels_for_conditional(data, cvae):
    X, y = data
    fig = plot_interpolation(PCA(4).fit(X), X[0], X[1], n_steps=3)
    assert len(_images(fig)) == 3
    with pytest.raises(ValueError, match="needs the class labels y"):
        plot_interpolation(cvae, X[0], X[1])
    assert len(_images(plot_interpolation(cvae, X[0], X[1], y=4, n_steps=4))) == 4


def test_latent_traversal_rows_and_labels(data, cvae):
    X = data[0]
    fig = plot_latent_traversal(cvae, X[0], dims=[0, 2], n_steps=6, y=1)
    assert len(fig.axes) == 12 and len(_images(fig)) == 12
    labels = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert labels == ["z0", "z2"]
    # the middle column of a row with an even n_steps is off-centre; the ends differ
    images = _images(fig)
    assert not np.allclose(images[0], images[5])
    fig = plot_latent_traversal(cvae, y=1)  # around the zero code, every dimension
    assert len(fig.axes) == 3 * 7
    with pytest.raises(ValueError, match=r"dims must name code dimensions in \[0, 2\]"):
        plot_latent_traversal(cvae, dims=[3], y=1)
    with pytest.raises(ValueError, match="span must be positive"):
        plot_latent_traversal(cvae, span=0, y=1)


def test_manifold_grid_needs_two_components(vae2, cvae):
    fig = plot_latent_manifold(vae2, n_per_side=4)
    images = _images(fig)
    assert len(fig.axes) == 16 and len(images) == 16
    # top-left decodes (low z1, high z2), bottom-right (high z1, low z2)
    q = np.array([-1.15034938, 1.15034938])
    expected = vae2.inverse_transform(np.array([[q[0], q[1]], [q[1], q[0]]]))
    np.testing.assert_allclose(images[0].ravel(), expected[0], rtol=1e-5)
    np.testing.assert_allclose(images[-1].ravel(), expected[1], rtol=1e-5)
    with pytest.raises(ValueError, match="n_components_=3"):
        plot_latent_manifold(cvae, y=0)


def test_class_samples_one_row_per_class(cvae, vae2):
    fig = plot_class_samples(cvae, n_per_class=3, random_state=0)
    assert len(fig.axes) == 10 * 3
    assert [t.get_text() for ax in fig.axes for t in ax.texts] == [str(c) for c in range(10)]
    row_of_sevens = cvae.sample(30, random_state=0, y=np.repeat(cvae.classes_, 3))[21:24]
    np.testing.assert_allclose(
        np.stack([a.ravel() for a in _images(fig)[21:24]]), row_of_sevens, rtol=1e-6)
    with pytest.raises(ValueError, match="needs a fitted conditional generator"):
        plot_class_samples(vae2)
    with pytest.raises(NotFittedError):
        plot_class_samples(VAEGenerator(conditional=True))
