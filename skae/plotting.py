"""Matplotlib helpers to inspect fitted autoencoders (and any sklearn transformer).

Every function draws on new or given matplotlib objects and returns them; none
calls ``plt.show`` or changes the backend.  Install the extra with
``pip install skae[plot]``.
"""

import math
from numbers import Integral

import numpy as np
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from ._plotting_latent import (
    plot_class_samples,
    plot_interpolation,
    plot_latent_manifold,
    plot_latent_traversal,
)
from ._plotting_variance import plot_explained_variance

__all__ = ["plot_class_samples", "plot_explained_variance", "plot_image_grid",
           "plot_interpolation", "plot_latent_2d", "plot_latent_manifold",
           "plot_latent_traversal", "plot_loss_curve", "plot_reconstructions", "plot_samples"]

_MAX_LEGEND_CLASSES = 20


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skae.plotting needs matplotlib; install it with `pip install skae[plot]`."
        ) from exc
    return plt


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {name}={value!r}.")
    return int(value)


def _dense(X):
    """``X`` as a 2-D float ndarray (sparse matrices and DataFrames accepted)."""
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=float)
    return X.reshape(X.shape[0], -1).astype(float, copy=False)


def _image_shape(image_shape, n_features, estimator=None):
    """Resolve ``image_shape`` to ``(C, H, W)`` with ``C*H*W == n_features``."""
    if image_shape is None and estimator is not None:
        image_shape = getattr(estimator, "input_shape_", None)  # resolved at fit
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"Cannot guess the image shape of {n_features} features (not a perfect "
                "square); pass image_shape=(C, H, W) or (H, W)."
            )
        return (1, side, side)
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (H, W) or (C, H, W); got {image_shape!r}.")
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={shape} holds {math.prod(shape)} values per image, but the "
            f"data has {n_features} features."
        )
    if shape[0] not in (1, 3):
        raise ValueError(f"Only 1 (grey) or 3 (RGB) channels can be shown; got {shape[0]}.")
    return shape


def _new_axes(fig, n_rows, n_cols):
    if fig is None:
        return _pyplot().subplots(n_rows, n_cols, squeeze=False, layout="constrained",
                                  figsize=(1.2 * n_cols, 1.2 * n_rows))
    return fig, fig.subplots(n_rows, n_cols, squeeze=False)


def _show(ax, row, shape, cmap, vmin, vmax):
    c, h, w = shape
    if c == 3:
        ax.imshow(np.clip(row.reshape(shape).transpose(1, 2, 0), 0, 1))
    else:
        ax.imshow(row.reshape(h, w), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_axis_off()


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


def plot_latent_2d(estimator, X, y=None, *, ax=None, components=(0, 1), s=8, cmap="tab10",
                   title=None):
    """Scatter two columns of the code ``estimator.transform(X)``.

    Any fitted transformer works, so the codes of PCA and of an autoencoder
    can be drawn side by side on axes of their own.

    Parameters
    ----------
    estimator : fitted transformer with at least 2 output columns (PCA too)
        The model whose codes are drawn.
    X : array-like of shape (n_samples, n_features)
        Data to encode.
    y : array-like of shape (n_samples,), default=None
        Colours the points: class labels get a legend (up to 20 classes),
        continuous values a colorbar (a default ``"tab10"`` is then replaced
        by ``"viridis"``).  Missing labels (None or NaN) are drawn in grey
        and named "missing" in the legend.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure by default.
    components : tuple of 2 int, default=(0, 1)
        Code columns on the x and y axes.
    s : float, default=8
        Marker size.
    cmap : str or Colormap, default="tab10"
        Colours of the classes (or of the colorbar, see ``y``).
    title : str, default=None
        Axes title; the estimator's class name by default.

    Returns
    -------
    ax : matplotlib Axes
        The axes, with one scatter collection.
    """
    check_is_fitted(estimator)
    codes = np.asarray(estimator.transform(X))
    width = codes.shape[1] if codes.ndim == 2 else 1
    if width < 2:
        raise ValueError(
            f"The code of {type(estimator).__name__} has {width} column (n_components="
            f"{width}); plot_latent_2d needs n_components >= 2."
        )
    comps = tuple(components)
    if (len(comps) != 2 or comps[0] == comps[1]
            or any(isinstance(c, bool) or not isinstance(c, Integral) for c in comps)
            or not all(0 <= c < width for c in comps)):
        raise ValueError(
            f"components must be two distinct column indices in [0, {width}) for a code "
            f"with n_components={width}; got components={components!r}."
        )
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
    xy = codes[:, comps]
    cmap_obj = plt.get_cmap(cmap)
    if y is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=s, alpha=0.8)
    else:
        y = np.asarray(y).ravel()
        if y.shape[0] != xy.shape[0]:
            raise ValueError(f"y has {y.shape[0]} entries but X has {xy.shape[0]} samples.")
        missing = _missing(y)
        if missing.any():
            ax.scatter(xy[missing, 0], xy[missing, 1], c="lightgrey", s=s, alpha=0.8)
            xy, y = xy[~missing], y[~missing]
            if y.dtype == object and y.size:
                y = np.asarray(y.tolist())  # the labels' own dtype, now that None is gone
        classes, idx = np.unique(y, return_inverse=True)
        kind = type_of_target(y) if y.size else "unknown"
        if kind in ("binary", "multiclass") and (
            len(classes) <= _MAX_LEGEND_CLASSES or y.dtype.kind not in "biuf"
        ):
            k = len(classes)
            listed = getattr(cmap_obj, "N", 256) < 256
            pos = [i % cmap_obj.N if listed else i / max(k - 1, 1) for i in range(k)]
            colors = cmap_obj(pos)
            ax.scatter(xy[:, 0], xy[:, 1], c=colors[idx], s=s, alpha=0.8)
            from matplotlib.lines import Line2D

            handles = [Line2D([], [], ls="", marker="o", color=colors[i], label=str(c))
                       for i, c in enumerate(classes)]
            if missing.any():
                handles.append(Line2D([], [], ls="", marker="o", color="lightgrey",
                                      label="missing"))
            ax.legend(handles=handles, fontsize="small", markerscale=1.2, loc="best",
                      ncols=1 if k <= 10 else 2)
        elif y.size:
            if cmap == "tab10":
                cmap_obj = plt.get_cmap("viridis")
            points = ax.scatter(xy[:, 0], xy[:, 1], c=y.astype(float), cmap=cmap_obj, s=s,
                                alpha=0.8)
            ax.figure.colorbar(points, ax=ax)
    ax.set_xlabel(f"component {comps[0]}")
    ax.set_ylabel(f"component {comps[1]}")
    ax.set_title(type(estimator).__name__ if title is None else title)
    return ax


def _missing(y):
    """Mask of the missing labels (None or NaN) of a 1-D label array."""
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype == object:
        return np.array([v is None or (isinstance(v, float) and v != v) for v in y], dtype=bool)
    return np.zeros(y.shape[0], dtype=bool)


def plot_loss_curve(estimator, *, ax=None, log_scale=None):
    """Plot the training (and validation) loss of a fitted autoencoder per epoch.

    The "reconstruction" and "kl" parts of the loss are added when
    ``history_`` records them (a VAE; "reconstruction" is only drawn when it
    differs from the loss, i.e. when the loss has another part).

    Parameters
    ----------
    estimator : fitted skae estimator
        With ``loss_curve_`` (optionally ``validation_loss_curve_``, ``history_``).
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure by default.
    log_scale : bool, default=None
        Logarithmic y axis; by default when every value is positive and they
        span more than two decades.

    Returns
    -------
    ax : matplotlib Axes
        The axes, with one line per curve and a legend.
    """
    check_is_fitted(estimator)
    if not hasattr(estimator, "loss_curve_"):
        raise TypeError(f"{type(estimator).__name__} has no loss_curve_ to plot.")
    history = list(getattr(estimator, "history_", None) or [])
    loss = np.asarray(estimator.loss_curve_, dtype=float)
    if len(history) != len(loss):
        history = [{"epoch": i + 1} for i in range(len(loss))]
    records = [(r.get("epoch", i + 1), r) for i, r in enumerate(history)]
    epochs = np.array([e for e, _ in records])
    curves = [("training loss", epochs, loss)]
    val = np.asarray(getattr(estimator, "validation_loss_curve_", None) or [], dtype=float)
    if len(val):
        val_epochs = [e for e, r in records if "validation_loss" in r]
        curves.append(("validation loss",
                       val_epochs if len(val_epochs) == len(val) else epochs[-len(val):], val))
    part_names = {k for r in history for k in r} - {"epoch", "loss", "validation_loss",
                                                    "lr", "time"}
    for part in ("reconstruction", "kl"):
        if part in part_names and (part != "reconstruction" or len(part_names) > 1):
            rows = [(e, float(r[part])) for e, r in records if part in r]
            curves.append((part, [e for e, _ in rows], [v for _, v in rows]))
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(6, 4), layout="constrained")
    for label, xs, ys in curves:
        ax.plot(xs, ys, label=label, marker="." if len(ys) < 30 else None)
    if log_scale is None:
        values = np.concatenate([np.asarray(c[2], dtype=float) for c in curves])
        values = values[np.isfinite(values)]
        log_scale = bool(values.size and values.min() > 0 and values.max() / values.min() > 100)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(f"{type(estimator).__name__} training")
    ax.legend()
    return ax
