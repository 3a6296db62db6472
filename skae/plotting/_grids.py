"""Image grids: any images, an estimator's reconstructions, a generator's samples."""

import math

from sklearn.utils.validation import check_is_fitted

from ._helpers import _check_count, _dense, _image_shape, _new_axes, _show


def plot_image_grid(images, *, image_shape, n_cols=None, titles=None, cmap="gray", fig=None):
    """Show rows of ``images`` as a grid of pictures.

    Grey images share one colour scale (the range of all of them), so e.g.
    noisy and clean versions stacked with ``n_cols=len(clean)`` compare fairly.

    Parameters
    ----------
    images : array-like of shape (n_images, n_features)
        Flattened images, one per row.
    image_shape : tuple of int or None
        ``(C, H, W)`` or ``(H, W)``; ``C`` is 1 (grey) or 3 (RGB in [0, 1],
        clipped).  ``None`` guesses a square grey image.
    n_cols : int, default=None
        Images per row; ``ceil(sqrt(n_images))`` by default.
    titles : list of str, default=None
        One title per image.
    cmap : str or Colormap, default="gray"
        Colormap of grey images.
    fig : matplotlib Figure or SubFigure, default=None
        Empty figure to draw into; a new one by default.

    Returns
    -------
    fig : matplotlib Figure
        One axes per grid cell (unused cells are blank).
    """
    images = _dense(images)
    n = images.shape[0]
    if n < 1:
        raise ValueError("images is empty; pass at least one image.")
    shape = _image_shape(image_shape, images.shape[1])
    n_cols = math.ceil(math.sqrt(n)) if n_cols is None else _check_count(n_cols, "n_cols")
    n_cols = min(n_cols, n)
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles has {len(titles)} entries for {n} images.")
    fig, axes = _new_axes(fig, math.ceil(n / n_cols), n_cols)
    vmin, vmax = images.min(), images.max()
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    for i, ax in enumerate(axes.ravel()[:n]):
        _show(ax, images[i], shape, cmap, vmin, vmax)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize="small")
    return fig


def plot_reconstructions(estimator, X, *, n_images=8, image_shape=None, cmap="gray", fig=None):
    """Show the first images of ``X`` above their reconstructions.

    Reconstructions are ``estimator.inverse_transform(estimator.transform(X))``,
    so any fitted transformer with ``inverse_transform`` (PCA too) works.

    Parameters
    ----------
    estimator : fitted transformer with ``inverse_transform``
        The model whose reconstructions are shown.
    X : array-like of shape (n_samples, n_features)
        Images as rows; the first ``n_images`` (at most n_samples) are shown.
    n_images : int, default=8
        Number of images (columns of the figure).
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)``; by default the estimator's fitted ``input_shape_``,
        else a square grey image.
    cmap : str or Colormap, default="gray"
        Colormap of grey images, as in :func:`plot_image_grid`.
    fig : matplotlib Figure or SubFigure, default=None
        Empty figure to draw into; a new one by default.

    Returns
    -------
    fig : matplotlib Figure
        Two rows of axes, labelled "original" and "reconstruction".
    """
    n_images = _check_count(n_images, "n_images")
    check_is_fitted(estimator)
    if not hasattr(estimator, "inverse_transform"):
        raise TypeError(f"{type(estimator).__name__} has no inverse_transform method.")
    X_head = X.iloc[:n_images] if hasattr(X, "iloc") else X[:n_images]
    originals = _dense(X_head)
    shape = _image_shape(image_shape, originals.shape[1], estimator)
    recon = _dense(estimator.inverse_transform(estimator.transform(X_head)))
    n = originals.shape[0]
    fig, axes = _new_axes(fig, 2, n)
    vmin, vmax = originals.min(), originals.max()
    for row, (label, data) in enumerate([("original", originals), ("reconstruction", recon)]):
        for j in range(n):
            _show(axes[row, j], data[j], shape, cmap, vmin, vmax)
        axes[row, 0].text(-0.08, 0.5, label, transform=axes[row, 0].transAxes,
                          rotation=90, ha="right", va="center", fontsize="small")
    return fig


def plot_samples(estimator, *, n_samples=16, image_shape=None, random_state=None,
                 n_cols=None, cmap="gray", fig=None):
    """Show a grid of images drawn with ``estimator.sample``.

    The samples are drawn with ``estimator.sample(n_samples,
    random_state=random_state)`` and shown by :func:`plot_image_grid`.

    Parameters
    ----------
    estimator : fitted estimator with ``sample(n_samples, random_state=None)``
        E.g. :class:`skae.VAEGenerator`.
    n_samples : int, default=16
        Number of images to draw.
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)``; by default the estimator's fitted ``input_shape_``,
        else a square grey image.
    random_state : int, RandomState instance or None, default=None
        Passed to ``sample``.
    n_cols : int, default=None
        Images per row; ``ceil(sqrt(n_samples))`` by default.
    cmap : str or Colormap, default="gray"
        Colormap of grey images.
    fig : matplotlib Figure or SubFigure, default=None
        Empty figure to draw into; a new one by default.

    Returns
    -------
    fig : matplotlib Figure
        One axes per sample.
    """
    if not callable(getattr(estimator, "sample", None)):
        raise TypeError(
            f"{type(estimator).__name__} has no sample method; plot_samples needs a "
            "generative estimator such as VAEGenerator."
        )
    n_samples = _check_count(n_samples, "n_samples")
    check_is_fitted(estimator)
    samples = _dense(estimator.sample(n_samples, random_state=random_state))
    shape = _image_shape(image_shape, samples.shape[1], estimator)
    return plot_image_grid(samples, image_shape=shape, n_cols=n_cols, cmap=cmap, fig=fig)
