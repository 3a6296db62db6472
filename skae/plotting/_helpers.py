"""Helpers shared by the plotting modules: matplotlib import, checks, image layout."""

import math
from numbers import Integral

import numpy as np

# plot_latent_2d draws a legend of the classes up to this many; a colour bar beyond.
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


def _missing(y):
    """Mask of the missing labels (None or NaN) of a 1-D label array."""
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype == object:
        return np.array([v is None or (isinstance(v, float) and v != v) for v in y], dtype=bool)
    return np.zeros(y.shape[0], dtype=bool)
