"""Latent exploration: decoded paths, traversals, manifolds and per-class rows.

The helpers decode codes with the estimator's ``inverse_transform`` (a
conditional :class:`~skae.VAEGenerator` decodes them with the labels
``y``) and draw the images with :func:`skae.plotting.plot_image_grid`'s
layout.  Re-exported by :mod:`skae.plotting`.
"""

import numpy as np
from scipy.stats import norm
from sklearn.utils.validation import check_is_fitted


def _helpers():
    from . import plotting  # imported here: skae.plotting re-exports this module

    return plotting


def _decode(estimator, Z, y):
    if not hasattr(estimator, "inverse_transform"):
        raise TypeError(f"{type(estimator).__name__} has no inverse_transform method.")
    if y is None:
        return estimator.inverse_transform(Z)
    return estimator.inverse_transform(Z, y=y)


def _one_row(x, name):
    row = _helpers()._dense(np.atleast_2d(x.toarray() if hasattr(x, "toarray") else x))
    if row.shape[0] != 1:
        raise ValueError(f"{name} must be one sample (one row); got {row.shape[0]} rows.")
    return row


def _labelled_rows(fig, images, shape, row_labels, n_cols, cmap):
    """Draw ``images`` in rows of ``n_cols``, each row named on its left."""
    plt = _helpers()
    fig, axes = plt._new_axes(fig, len(row_labels), n_cols)
    vmin, vmax = images.min(), images.max()
    for i, ax in enumerate(axes.ravel()):
        plt._show(ax, images[i], shape, cmap, vmin, vmax)
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
    plt = _helpers()
    n_steps = plt._check_count(n_steps, "n_steps")
    if n_steps < 2:
        raise ValueError(f"n_steps must be at least 2; got n_steps={n_steps}.")
    check_is_fitted(estimator)
    ends = np.vstack([_one_row(x_start, "x_start"), _one_row(x_end, "x_end")])
    codes = np.asarray(estimator.transform(ends), dtype=float)
    t = np.linspace(0.0, 1.0, n_steps)[:, None]
    path = (1.0 - t) * codes[0] + t * codes[1]
    images = plt._dense(_decode(estimator, path, y))
    shape = plt._image_shape(image_shape, images.shape[1], estimator)
    return plt.plot_image_grid(images, image_shape=shape, n_cols=n_steps, cmap=cmap, fig=fig)


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
    plt = _helpers()
    n_steps = plt._check_count(n_steps, "n_steps")
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
    images = plt._dense(_decode(estimator, codes, y))
    shape = plt._image_shape(image_shape, images.shape[1], estimator)
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
    plt = _helpers()
    n = plt._check_count(n_per_side, "n_per_side")
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
    images = plt._dense(_decode(estimator, codes, y))
    shape = plt._image_shape(image_shape, images.shape[1], estimator)
    return plt.plot_image_grid(images, image_shape=shape, n_cols=n, cmap=cmap, fig=fig)


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
    plt = _helpers()
    n_per_class = plt._check_count(n_per_class, "n_per_class")
    check_is_fitted(estimator)
    classes = getattr(estimator, "classes_", None)
    if classes is None or not callable(getattr(estimator, "sample", None)):
        raise ValueError(
            f"plot_class_samples needs a fitted conditional generator with classes_ and "
            f"sample(..., y=...); this {type(estimator).__name__} has none (fit "
            "VAEGenerator(conditional=True) with labels)."
        )
    labels = np.repeat(np.asarray(classes), n_per_class)
    images = plt._dense(estimator.sample(len(labels), random_state=random_state, y=labels))
    shape = plt._image_shape(image_shape, images.shape[1], estimator)
    return _labelled_rows(fig, images, shape, list(classes), n_per_class, cmap)
