import sys
import warnings

import matplotlib
import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skae import AutoencoderTransformer, VAEGenerator
from skae.plotting import (
    plot_image_grid,
    plot_latent_2d,
    plot_loss_curve,
    plot_reconstructions,
    plot_samples,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16, y[:200]


@pytest.fixture(scope="module")
def ae(digits):
    X, _ = digits
    est = AutoencoderTransformer(n_components=2, hidden_layer_sizes=(16,), max_iter=5,
                                 random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # only 5 epochs
        return est.fit(X)


@pytest.fixture(scope="module")
def pca(digits):
    return PCA(n_components=3).fit(digits[0])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


class MeanSampler(BaseEstimator):
    """Tiny generative stand-in: Gaussian noise around the feature means."""

    def fit(self, X, y=None):
        self.mean_ = np.asarray(X).mean(0)
        self.n_features_in_ = self.mean_.shape[0]
        return self

    def sample(self, n_samples, random_state=None):
        rng = np.random.default_rng(random_state)
        return self.mean_ + 0.1 * rng.standard_normal((n_samples, self.n_features_in_))


class FakeVAE(BaseEstimator):
    """Fitted stand-in with a VAE-like history (reconstruction + kl parts)."""

    def fit(self, X=None, y=None):
        self.history_ = [
            {"epoch": e, "loss": 10.0 / e + 1.0, "reconstruction": 10.0 / e,
             "kl": 1.0, "validation_loss": 11.0 / e + 1.0, "lr": 1e-3, "time": 0.1}
            for e in range(1, 7)
        ]
        self.loss_curve_ = [r["loss"] for r in self.history_]
        self.validation_loss_curve_ = [r["validation_loss"] for r in self.history_]
        return self


def _legend_labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# ----------------------------------------------------------- reconstructions
def test_plot_reconstructions_autoencoder(ae, digits):
    X, _ = digits
    fig = plot_reconstructions(ae, X, n_images=5)
    assert len(fig.axes) == 10
    assert all(len(ax.images) == 1 and not ax.axison for ax in fig.axes)
    assert fig.axes[0].images[0].get_array().shape == (8, 8)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts == ["original", "reconstruction"]
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), X[0].reshape(8, 8))
    expected = ae.inverse_transform(ae.transform(X[:5]))
    np.testing.assert_allclose(fig.axes[5].images[0].get_array(), expected[0].reshape(8, 8),
                               rtol=1e-6)


def test_plot_reconstructions_pca_and_fig(pca, digits):
    X, _ = digits
    fig = plt.figure()
    out = plot_reconstructions(pca, X, n_images=3, fig=fig)
    assert out is fig
    assert len(fig.axes) == 6
    # More images than rows: capped at n_samples.
    assert len(plot_reconstructions(pca, X[:2], n_images=8).axes) == 4


def test_plot_reconstructions_uses_the_resolved_input_shape(digits):
    X, _ = digits
    est = AutoencoderTransformer(2, input_shape=(1, 4, -1), architecture="mlp",
                                 hidden_layer_sizes=(8,), max_iter=1).fit(X)
    fig = plot_reconstructions(est, X, n_images=2)
    assert fig.axes[0].images[0].get_array().shape == (4, 16)
    fig = plot_samples(VAEGenerator(2, input_shape=(1, -1, 16), architecture="mlp",
                                    hidden_layer_sizes=(8,), max_iter=1).fit(X), n_samples=2)
    assert fig.axes[0].images[0].get_array().shape == (4, 16)
    fig = plot_reconstructions(est, X, n_images=2, image_shape=(2, 32))  # explicit wins
    assert fig.axes[0].images[0].get_array().shape == (2, 32)


def test_plot_reconstructions_errors(pca, digits):
    X, _ = digits
    with pytest.raises(ValueError, match=r"holds 60 values.*64 features"):
        plot_reconstructions(pca, X, image_shape=(1, 6, 10))
    with pytest.raises(ValueError, match="n_images"):
        plot_reconstructions(pca, X, n_images=0)
    with pytest.raises(NotFittedError):
        plot_reconstructions(PCA(2), X)
    non_square = PCA(2).fit(X[:, :60])
    with pytest.raises(ValueError, match="perfect square"):
        plot_reconstructions(non_square, X[:, :60])


# ----------------------------------------------------------------- image grid
def test_plot_image_grid_layout_and_titles(digits):
    X, _ = digits
    fig = plot_image_grid(X[:10], image_shape=(8, 8), n_cols=4,
                          titles=[f"img {i}" for i in range(10)])
    assert len(fig.axes) == 12  # 3 rows x 4 columns, 2 blank cells
    assert sum(len(ax.images) for ax in fig.axes) == 10
    assert fig.axes[3].get_title() == "img 3"
    assert not fig.axes[11].axison and not fig.axes[11].images
    # Default: square-ish grid, square shape guessed.
    assert len(plot_image_grid(X[:9], image_shape=None).axes) == 9


def test_plot_image_grid_rgb_is_clipped():
    rng = np.random.default_rng(0)
    images = rng.uniform(-0.5, 1.5, size=(2, 3 * 4 * 5))
    fig = plot_image_grid(images, image_shape=(3, 4, 5))
    arr = np.asarray(fig.axes[0].images[0].get_array())
    assert arr.shape == (4, 5, 3)
    assert arr.min() >= 0 and arr.max() <= 1
    np.testing.assert_allclose(arr[..., 1], np.clip(images[0].reshape(3, 4, 5)[1], 0, 1))


def test_plot_image_grid_errors(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="titles has 2 entries for 3 images"):
        plot_image_grid(X[:3], image_shape=(8, 8), titles=["a", "b"])
    with pytest.raises(ValueError, match="1 \\(grey\\) or 3 \\(RGB\\)"):
        plot_image_grid(X[:3], image_shape=(4, 4, 4))
    with pytest.raises(ValueError, match="n_cols"):
        plot_image_grid(X[:3], image_shape=(8, 8), n_cols=0)


# -------------------------------------------------------------------- samples
def test_plot_samples(digits):
    X, _ = digits
    sampler = MeanSampler().fit(X)
    fig = plot_samples(sampler, n_samples=12, n_cols=6, random_state=0)
    assert len(fig.axes) == 12
    assert all(len(ax.images) == 1 for ax in fig.axes)
    again = plot_samples(sampler, n_samples=12, n_cols=6, random_state=0)
    np.testing.assert_array_equal(fig.axes[4].images[0].get_array(),
                                  again.axes[4].images[0].get_array())
    assert len(plot_samples(sampler).axes) == 16


def test_plot_samples_errors(pca, digits):
    with pytest.raises(TypeError, match="PCA has no sample method"):
        plot_samples(pca)
    with pytest.raises(NotFittedError):
        plot_samples(MeanSampler())
    sampler = MeanSampler().fit(digits[0])
    with pytest.raises(ValueError, match="n_samples"):
        plot_samples(sampler, n_samples=0)
    with pytest.raises(ValueError, match=r"holds 16 values.*64 features"):
        plot_samples(sampler, image_shape=(4, 4))


# --------------------------------------------------------------------- latent
def test_plot_latent_2d_classes(ae, digits):
    X, y = digits
    ax = plot_latent_2d(ae, X, y)
    assert len(ax.collections) == 1
    assert ax.collections[0].get_offsets().shape == (200, 2)
    assert _legend_labels(ax) == [str(i) for i in range(10)]
    assert ax.get_xlabel() == "component 0" and ax.get_ylabel() == "component 1"
    assert ax.get_title() == "AutoencoderTransformer"


def test_plot_latent_2d_pca_components_and_ax(pca, digits):
    X, y = digits
    _, ax = plt.subplots()
    out = plot_latent_2d(pca, X, components=(2, 1), ax=ax, title="digits")
    assert out is ax
    np.testing.assert_allclose(ax.collections[0].get_offsets(), pca.transform(X)[:, [2, 1]])
    assert ax.get_title() == "digits" and ax.get_legend() is None


def test_plot_latent_2d_continuous_y_gets_colorbar(pca, digits):
    X, _ = digits
    ax = plot_latent_2d(pca, X, X.sum(1))
    assert len(ax.figure.axes) == 2  # the axes and its colorbar
    assert ax.get_legend() is None


def test_plot_latent_2d_errors(pca, digits):
    X, y = digits
    with pytest.raises(ValueError, match="n_components=1"):
        plot_latent_2d(PCA(n_components=1).fit(X), X)
    with pytest.raises(ValueError, match="components"):
        plot_latent_2d(pca, X, components=(0, 3))
    with pytest.raises(ValueError, match="components"):
        plot_latent_2d(pca, X, components=(1, 1))
    with pytest.raises(ValueError, match="y has 10 entries"):
        plot_latent_2d(pca, X, y[:10])
    with pytest.raises(NotFittedError):
        plot_latent_2d(PCA(2), X)


# ----------------------------------------------------------------------- loss
def test_plot_loss_curve_autoencoder(ae):
    ax = plot_loss_curve(ae)
    assert _legend_labels(ax) == ["training loss", "validation loss"]
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(1, ae.n_iter_ + 1))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), ae.loss_curve_)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), ae.validation_loss_curve_)
    assert ax.get_xlabel() == "epoch"


def test_plot_loss_curve_vae_parts_and_ax():
    vae = FakeVAE().fit()
    _, ax = plt.subplots()
    out = plot_loss_curve(vae, ax=ax, log_scale=True)
    assert out is ax
    assert _legend_labels(ax) == ["training loss", "validation loss", "reconstruction", "kl"]
    np.testing.assert_allclose(ax.lines[3].get_ydata(), np.ones(6))
    assert ax.get_yscale() == "log"
    assert plot_loss_curve(vae).get_yscale() == "linear"  # auto: < two decades


def test_plot_loss_curve_errors(pca):
    with pytest.raises(NotFittedError):
        plot_loss_curve(AutoencoderTransformer())
    with pytest.raises(TypeError, match="PCA has no loss_curve_"):
        plot_loss_curve(pca)


def test_missing_matplotlib_message(monkeypatch, pca, digits):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skae\[plot\]"):
        plot_latent_2d(pca, digits[0])


def test_plot_loss_curve_plain_ae_without_validation(digits):
    est = AutoencoderTransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=3,
                                 early_stopping=False, code_penalty="l2", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(digits[0][:64])
    ax = plot_loss_curve(est)
    # The code penalty makes "reconstruction" differ from the loss, so it is drawn.
    assert _legend_labels(ax) == ["training loss", "reconstruction"]


@pytest.mark.parametrize("missing", [np.nan, None])
def test_plot_latent_2d_draws_missing_labels_in_grey(pca, digits, missing):
    X, y = digits
    labels = np.array([v if v < 5 else missing for v in y.tolist()], dtype=object)
    if missing is not None:
        labels = labels.astype(float)
    ax = plot_latent_2d(pca, X, labels)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    names = [str(float(c)) if missing is not None else str(c) for c in range(5)]
    assert legend == [*names, "missing"]
    # every sample is drawn: the labelled ones in class colours, the others in grey
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(X)
    values = np.linspace(0, 1, len(X))
    values[::3] = np.nan  # continuous values with gaps: a colorbar and grey points
    ax = plot_latent_2d(pca, X, values)
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(X)
    assert len(ax.figure.axes) == 2
