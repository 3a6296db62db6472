"""Cumulative explained variance against the number of components."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._helpers import _pyplot


def plot_explained_variance(*estimators, labels=None, ax=None, threshold=None):
    """Draw the cumulative explained variance of fitted estimators against k.

    Works for any estimator with ``explained_variance_ratio_``:
    :class:`~sklearn.decomposition.PCA` and its relatives, and a
    :class:`~skae.AutoencoderTransformer` with ordered codes, whose ratios are
    measured on held-out data (see its docstring), so the two can be read on
    the same axes.

    Parameters
    ----------
    *estimators : fitted estimators
        Each with an ``explained_variance_ratio_`` attribute.
    labels : list of str, default=None
        Legend labels, one per estimator; defaults to the class names.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure is made when None.
    threshold : float, default=None
        A fraction of variance (e.g. 0.8) drawn as a horizontal line, with
        the smallest ``k`` reaching it marked for each estimator.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on.
    """
    if not estimators:
        raise ValueError("plot_explained_variance needs at least one fitted estimator.")
    if labels is not None and len(labels) != len(estimators):
        raise ValueError(
            f"labels has {len(labels)} entries but {len(estimators)} estimators were given."
        )
    if threshold is not None and not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1); got threshold={threshold!r}.")
    curves = []
    for est in estimators:
        check_is_fitted(est)
        ratios = getattr(est, "explained_variance_ratio_", None)
        if ratios is None:
            raise ValueError(
                f"{type(est).__name__} has no explained_variance_ratio_; fit an "
                "AutoencoderTransformer with ordered=True (or a fractional n_components)."
            )
        curves.append(np.cumsum(np.asarray(ratios, dtype=float)))
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(5, 3.5), layout="constrained")
    labels = labels or [type(est).__name__ for est in estimators]
    for label, cum in zip(labels, curves, strict=True):
        k = np.arange(1, len(cum) + 1)
        (line,) = ax.plot(k, cum, marker="." if len(cum) <= 60 else None, label=label)
        if threshold is not None and (cum >= threshold).any():
            first = int(np.argmax(cum >= threshold)) + 1
            ax.axvline(first, color=line.get_color(), linestyle=":", linewidth=1)
    if threshold is not None:
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("number of components k")
    ax.set_ylabel("cumulative explained variance")
    ax.set_ylim(min(0.0, *(c.min() for c in curves)), 1.0)
    ax.legend(frameon=False)
    return ax
