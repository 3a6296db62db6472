"""Latent exploration: decoded paths, traversals, manifolds and per-class rows.

The helpers decode codes with the estimator's ``inverse_transform`` (a
conditional :class:`~skae.VAEGenerator` decodes them with the labels
``y``) and draw the images with :func:`skae.plotting.plot_image_grid`'s
layout.  Re-exported by :mod:`skae.plotting`, with :func:`plot_latent_2d` (2-D
maps of codes).
"""

from numbers import Integral

import numpy as np
from scipy.stats import norm
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from ._grids import plot_image_grid
from ._helpers import (
    _MAX_LEGEND_CLASSES,
    _check_count,
    _dense,
    _image_shape,
    _missing,
    _new_axes,
    _pyplot,
    _show,
)


def _decode(estimator, Z, y):
    if not hasattr(estimator, "inverse_transform"):
        raise TypeError(f"{type(estimator).__name__} has no inverse_transform method.")
    if y is None:
        return estimator.inverse_transform(Z)
    return estimator.inverse_transform(Z, y=y)


def _one_row(x, name):
    row = _dense(np.atleast_2d(x.toarray() if hasattr(x, "toarray") else x))
    if row.shape[0] != 1:
        raise ValueError(f"{name} must be one sample (one row); got {row.shape[0]} rows.")
    return row


def _labelled_rows(fig, images, shape, row_labels, n_cols, cmap):
    """Draw ``images`` in rows of ``n_cols``, each row named on its left."""
    fig, axes = _new_axes(fig, len(row_labels), n_cols)
    vmin, vmax = images.min(), images.max()
    for i, ax in enumerate(axes.ravel()):
        _show(ax, images[i], shape, cmap, vmin, vmax)
    for r, label in enumerate(row_labels):
        axes[r, 0].text(-0.08, 0.5, str(label), transform=axes[r, 0].transAxes,
                        rotation=90, ha="right", va="center", fontsize="small")
    return fig


def plot_interpolation(estimator, x_start, x_end, *, n_steps=8, y=None, image_shape=None,
                       cmap="gray", fig=None):
    """Decode the straight path between the codes of two samples.

    The codes ``transform(x_start)`` and ``transform(x_end)`` are joined by
    ``n_steps`` evenly spaced points (both ends included), each decoded with
    ``inverse_transform``.

    Parameters
    ----------
    estimator : fitted transformer with ``inverse_transform``
        E.g. :class:`skae.VAEGenerator` or :class:`skae.AutoencoderTransformer`.
    x_start, x_end : array-like of shape (n_features,) or (1, n_features)
        The two samples.
    n_steps : int, default=8
        Number of decoded points, at least 2.
    y : label or None, default=None
        Label to decode with (required by a conditional VAEGenerator).
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)``; by default the estimator's fitted
        ``input_shape_``, else a square grey image.
    cmap : str or Colormap, default="gray"
        Colormap of grey images.
    fig : matplotlib Figure or SubFigure, default=None
        Empty figure to draw into; a new one by default.

    Returns
    -------
    fig : matplotlib Figure
        One row of ``n_steps`` axes, from ``x_start`` to ``x_end``.
    """
    n_steps = _check_count(n_steps, "n_steps")
    if n_steps < 2:
        raise ValueError(f"n_steps must be at least 2; got n_steps={n_steps}.")
    check_is_fitted(estimator)
    ends = np.vstack([_one_row(x_start, "x_start"), _one_row(x_end, "x_end")])
    codes = np.asarray(estimator.transform(ends), dtype=float)
    t = np.linspace(0.0, 1.0, n_steps)[:, None]
    path = (1.0 - t) * codes[0] + t * codes[1]
    images = _dense(_decode(estimator, path, y))
    shape = _image_shape(image_shape, images.shape[1], estimator)
    return plot_image_grid(images, image_shape=shape, n_cols=n_steps, cmap=cmap, fig=fig)


def plot_latent_traversal(estimator, x=None, *, dims=None, n_steps=7, span=2.5, y=None,
                          image_shape=None, cmap="gray", fig=None):
    """Vary one code dimension at a time around a point and decode.

    Row ``i`` decodes the point with its dimension ``dims[i]`` replaced by
    ``n_steps`` values evenly spaced in ``[c - span, c + span]``, ``c`` being
    that dimension's value at the point.  For a VAE, whose prior is
    ``N(0, I)``, ``span`` is in prior standard deviations.

    Parameters
    ----------
    estimator : fitted transformer with ``inverse_transform`` and ``n_components_``
        E.g. :class:`skae.VAEGenerator`.
    x : array-like of shape (n_features,) or (1, n_features), default=None
        The sample whose code is the centre; the zero code by default.
    dims : list of int, default=None
        Code dimensions to vary, one row each; the first ten by default.
    n_steps : int, default=7
        Values per dimension (columns).
    span : float, default=2.5
        Half-width of the range of values.
    y : label or None, default=None
        Label to decode with (required by a conditional VAEGenerator).
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)``; by default the estimator's fitted
        ``input_shape_``, else a square grey image.
    cmap : str or Colormap, default="gray"
        Colormap of grey images.
    fig : matplotlib Figure or SubFigure, default=None
        Empty figure to draw into; a new one by default.

    Returns
    -------
    fig : matplotlib Figure
        ``len(dims)`` rows of ``n_steps`` axes, each row named ``z<dim>``.
    """
    n_steps = _check_count(n_steps, "n_steps")
    check_is_fitted(estimator)
    d = int(estimator.n_components_)
    dims = list(range(min(d, 10))) if dims is None else [int(i) for i in dims]
    if not dims or min(dims) < 0 or max(dims) >= d:
        raise ValueError(f"dims must name code dimensions in [0, {d - 1}]; got dims={dims}.")
    if not span > 0:
        raise ValueError(f"span must be positive; got span={span!r}.")
    centre = (np.zeros(d) if x is None
              else np.asarray(estimator.transform(_one_row(x, "x")), dtype=float)[0])
    offsets = np.linspace(-span, span, n_steps)
    codes = np.repeat(centre[None], len(dims) * n_steps, axis=0)
    for r, dim in enumerate(dims):
        codes[r * n_steps:(r + 1) * n_steps, dim] += offsets
    images = _dense(_decode(estimator, codes, y))
    shape = _image_shape(image_shape, images.shape[1], estimator)
    return _labelled_rows(fig, images, shape, [f"z{i}" for i in dims], n_steps, cmap)


def plot_latent_manifold(estimator, *, n_per_side=15, y=None, image_shape=None,
                         cmap="gray", fig=None):
    """Decode a grid of a 2-D code space (Kingma & Welling's manifold figure).

    The grid's coordinates are the standard normal quantiles of evenly
    spaced probabilities in (0, 1), so it covers the prior ``N(0, I)`` of a
    VAE with equal mass between neighbours; the first code dimension grows
    from left to right, the second from bottom to top.

    Parameters
    ----------
    estimator : fitted transformer with ``inverse_transform`` and ``n_components_ == 2``
        E.g. ``VAEGenerator(n_components=2)``.
    n_per_side : int, default=15
        Images per row and per column.
    y : label or None, default=None
        Label to decode with (required by a conditional VAEGenerator).
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)``; by default the estimator's fitted
        ``input_shape_``, else a square grey image.
    cmap : str or Colormap, default="gray"
        Colormap of grey images.
    fig : matplotlib Figure or SubFigure, default=None
        Empty figure to draw into; a new one by default.

    Returns
    -------
    fig : matplotlib Figure
        ``n_per_side`` rows of ``n_per_side`` axes.
    """
    n = _check_count(n_per_side, "n_per_side")
    check_is_fitted(estimator)
    if int(estimator.n_components_) != 2:
        raise ValueError(
            f"plot_latent_manifold decodes a 2-D code space; this "
            f"{type(estimator).__name__} has n_components_={estimator.n_components_}. "
            "Fit it with n_components=2, or use plot_latent_traversal."
        )
    q = norm.ppf((np.arange(n) + 0.5) / n)
    z1, z2 = np.meshgrid(q, q[::-1])  # rows from the top: the second code decreasing
    codes = np.column_stack([z1.ravel(), z2.ravel()])
    images = _dense(_decode(estimator, codes, y))
    shape = _image_shape(image_shape, images.shape[1], estimator)
    return plot_image_grid(images, image_shape=shape, n_cols=n, cmap=cmap, fig=fig)


def plot_class_samples(estimator, *, n_per_class=8, random_state=None, image_shape=None,
                       cmap="gray", fig=None):
    """Show samples of a conditional generator, one row per class.

    Each row holds ``n_per_class`` draws of ``estimator.sample`` for one
    label of ``classes_``, named on its left.

    Parameters
    ----------
    estimator : fitted conditional estimator
        With ``classes_`` and ``sample(n_samples, random_state=None, *, y=None)``,
        e.g. ``VAEGenerator(conditional=True)``.
    n_per_class : int, default=8
        Samples per class (columns).
    random_state : int, RandomState instance or None, default=None
        Passed to ``sample``.
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)``; by default the estimator's fitted
        ``input_shape_``, else a square grey image.
    cmap : str or Colormap, default="gray"
        Colormap of grey images.
    fig : matplotlib Figure or SubFigure, default=None
        Empty figure to draw into; a new one by default.

    Returns
    -------
    fig : matplotlib Figure
        One row of ``n_per_class`` axes per class, each named by its label.
    """
    n_per_class = _check_count(n_per_class, "n_per_class")
    check_is_fitted(estimator)
    classes = getattr(estimator, "classes_", None)
    if classes is None or not callable(getattr(estimator, "sample", None)):
        raise ValueError(
            f"plot_class_samples needs a fitted conditional generator with classes_ and "
            f"sample(..., y=...); this {type(estimator).__name__} has none (fit "
            "VAEGenerator(conditional=True) with labels)."
        )
    labels = np.repeat(np.asarray(classes), n_per_class)
    images = _dense(estimator.sample(len(labels), random_state=random_state, y=labels))
    shape = _image_shape(image_shape, images.shape[1], estimator)
    return _labelled_rows(fig, images, shape, list(classes), n_per_class, cmap)


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
