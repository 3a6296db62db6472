"""The worst rows of an outlier detector, with what makes them outliers.

Images are drawn beside their reconstructions and a map of each pixel's
share of the score; table rows as bars of their most anomalous features.
Re-exported by :mod:`skae.plotting`.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._helpers import _check_count, _dense, _image_shape, _new_axes, _pyplot, _show


def plot_outliers(detector, X, *, n_outliers=8, image_shape=None, n_features=5,
                  feature_names=None, cmap="gray", fig=None):
    """Show the rows of ``X`` that ``detector`` scores lowest, and why.

    Rows are ranked by ``detector.score_samples(X)``, lowest (most anomalous)
    first, and explained by ``detector.score_samples_per_feature(X)``.  Images
    (``image_shape`` given, or a detector whose estimator was fitted with an
    ``input_shape``) are shown in three rows: the image, its reconstruction
    and the map of each pixel's part of the score (darker = more anomalous).
    Table rows get one bar chart each, of the ``n_features`` features with
    the most negative parts, labelled with the row's value of the feature.

    Parameters
    ----------
    detector : fitted AutoencoderOutlierDetector
        The detector whose outliers are shown.
    X : array-like of shape (n_samples, n_features)
        Rows to rank; the ``n_outliers`` lowest-scoring ones are shown.
    n_outliers : int, default=8
        Number of rows shown (at most n_samples).
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)`` to draw rows as images; by default the
        estimator's fitted ``input_shape_``, and bar charts when it has none.
    n_features : int, default=5
        Number of features in each bar chart (tables only).
    feature_names : array-like of str, default=None
        Names of the features in the bar charts; by default the detector's
        ``feature_names_in_``, else ``x0, x1, ...``.
    cmap : str or Colormap, default="gray"
        Colormap of grey images.
    fig : matplotlib Figure or SubFigure, default=None
        Empty figure to draw into; a new one by default.

    Returns
    -------
    fig : matplotlib Figure
        Each panel is titled with the row's index in ``X`` and its score.
    """
    n_outliers = _check_count(n_outliers, "n_outliers")
    n_features = _check_count(n_features, "n_features")
    check_is_fitted(detector)
    if not hasattr(detector, "score_samples_per_feature"):
        raise TypeError(
            f"{type(detector).__name__} has no score_samples_per_feature method; pass a "
            "fitted AutoencoderOutlierDetector."
        )
    scores = detector.score_samples(X)
    worst = np.argsort(scores, kind="stable")[:n_outliers]
    rows = X.iloc[worst] if hasattr(X, "iloc") else X[worst]
    parts = detector.score_samples_per_feature(rows)
    values = _dense(rows)
    estimator = detector.estimator_
    if image_shape is None and getattr(estimator, "input_shape_", None) is None:
        names = _feature_names(detector, feature_names, values.shape[1])
        return _table_panels(values, parts, worst, scores[worst], names, n_features, fig)
    shape = _image_shape(image_shape, values.shape[1], estimator)
    recon = _dense(estimator.inverse_transform(estimator.transform(rows)))
    fig, axes = _new_axes(fig, 3, len(worst))
    vmin, vmax = values.min(), values.max()
    heat = -parts.reshape(len(worst), shape[0], -1).sum(1)  # summed over channels
    for j, index in enumerate(worst):
        _show(axes[0, j], values[j], shape, cmap, vmin, vmax)
        _show(axes[1, j], recon[j], shape, cmap, vmin, vmax)
        _show(axes[2, j], heat[j], (1, *shape[1:]), "Reds", 0.0, heat.max())
        axes[0, j].set_title(f"#{index}\n{scores[index]:.3g}", fontsize="small")
    for row, label in enumerate(("row", "reconstruction", "share of score")):
        axes[row, 0].text(-0.08, 0.5, label, transform=axes[row, 0].transAxes,
                          rotation=90, ha="right", va="center", fontsize="small")
    return fig


def _feature_names(detector, feature_names, width):
    if feature_names is None:
        feature_names = getattr(detector, "feature_names_in_", None)
    if feature_names is None:
        return [f"x{j}" for j in range(width)]
    names = [str(name) for name in feature_names]
    if len(names) != width:
        raise ValueError(f"feature_names has {len(names)} names, but X has {width} features.")
    return names


def _table_panels(values, parts, indices, scores, names, n_features, fig):
    """One horizontal bar chart per row: its most anomalous features."""
    n = len(indices)
    n_cols = min(n, 4)
    n_rows = -(-n // n_cols)
    if fig is None:
        fig = _pyplot().figure(figsize=(3.4 * n_cols, 0.45 * n_features * n_rows + 1),
                                         layout="constrained")
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    for ax, row, part, index, score in zip(axes.ravel(), values, parts, indices, scores,
                                           strict=False):
        top = np.argsort(part, kind="stable")[:n_features][::-1]  # largest bar on top
        ax.barh(np.arange(len(top)), -part[top], color="tab:red")
        ax.set_yticks(np.arange(len(top)),
                      [f"{names[j]} = {row[j]:.3g}" for j in top], fontsize="small")
        ax.set_title(f"row #{index}, score {score:.3g}", fontsize="small")
        ax.set_xlabel("part of -score", fontsize="small")
    return fig
