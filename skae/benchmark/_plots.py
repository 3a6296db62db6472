"""PNG figures of a benchmark, drawn on ``matplotlib.figure.Figure`` objects.

No pyplot state is created or left behind (the figures are never shown), so
the benchmark runs the same on a headless machine.  :mod:`skae.plotting` is
imported lazily (it needs matplotlib): the latent maps and VAE samples use
it, and a plot that cannot be drawn is skipped with a note.
"""

import numpy as np

_DPI = 120


def _figure(width, height):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("The benchmark plots need matplotlib: pip install matplotlib") from exc
    return Figure(figsize=(width, height), layout="constrained")


def _by_method(records, key):
    """``{method: (ks, values)}`` of the records with a value for ``key``."""
    out = {}
    for rec in records:
        if rec.get(key) is not None:
            ks, values = out.setdefault(rec["method"], ([], []))
            ks.append(rec["k"])
            values.append(rec[key])
    return out


def _lines(ax, series, ks):
    for method, (xs, ys) in series.items():
        order = np.argsort(xs)
        ax.plot(np.asarray(xs)[order], np.asarray(ys)[order], marker="o", label=method)
    ax.set_xscale("log" if max(ks) / min(ks) >= 8 else "linear")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("n_components (k)")
    ax.grid(True, alpha=0.3)


def _plain_log_label(value, _pos):
    """Label a log-axis tick as 0.3 rather than 3 x 10^-1, only at 1, 2, 3 and 5."""
    if value <= 0:
        return ""
    lead = round(value / 10 ** np.floor(np.log10(value)), 6)
    return f"{value:g}" if lead in (1, 2, 3, 5) else ""


def error_vs_components(records, path, title=""):
    """Test reconstruction error against k, one line per method.

    Parameters
    ----------
    records : list of dict
        Job records.
    path : path-like
        PNG to write.
    title : str, default=""
        Figure title (e.g. the data set).
    """
    series = _by_method(records, "recon_error")
    if not series:
        raise ValueError("no finished job to plot")
    ks = sorted({k for xs, _ in series.values() for k in xs})
    fig = _figure(6.4, 4.4)
    ax = fig.subplots()
    _lines(ax, series, ks)
    values = [v for _, ys in series.values() for v in ys]
    if min(values) > 0 and max(values) / min(values) > 10:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        plain = FuncFormatter(_plain_log_label)
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax.set_ylabel("test reconstruction error\n(mean summed squared error per sample)")
    ax.set_title(f"Reconstruction error vs code size {title}".strip())
    ax.legend()
    fig.savefig(path, dpi=_DPI)


def accuracy_vs_components(records, path, title=""):
    """Test accuracy of LogisticRegression and 5-NN on the codes against k.

    Parameters
    ----------
    records : list of dict
        Job records (with ``logreg_acc`` and ``knn_acc``).
    path : path-like
        PNG to write.
    title : str, default=""
        Figure title.
    """
    panels = [("LogisticRegression on the codes", "logreg_acc"),
              ("5-nearest neighbours on the codes", "knn_acc")]
    if not any(_by_method(records, key) for _, key in panels):
        raise ValueError("no accuracies to plot")
    fig = _figure(10, 4.2)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (name, key) in zip(axes, panels, strict=True):
        series = _by_method(records, key)
        _lines(ax, series, sorted({k for xs, _ in series.values() for k in xs}))
        ax.set_title(name)
    axes[0].set_ylabel("test accuracy")
    axes[1].legend(loc="lower right")
    fig.suptitle(f"Downstream accuracy vs code size {title}".strip())
    fig.savefig(path, dpi=_DPI)


def reconstructions(dataset, estimators, k, path, n_images=10):
    """Test images (top row) and each method's reconstructions below them.

    Parameters
    ----------
    dataset : skae.datasets.Dataset
        Image data (``image_shape`` set).
    estimators : list of (str, fitted estimator)
        One row per method, in this order.
    k : int
        Their code size (for the title).
    path : path-like
        PNG to write.
    n_images : int, default=10
        Number of test images (columns).
    """
    if dataset.image_shape is None:
        raise ValueError("not image data")
    c, h, w = dataset.image_shape
    if c not in (1, 3):
        raise ValueError(f"cannot show images with {c} channels")
    X = dataset.X_test[:n_images]
    rows = [("original", X)]
    rows += [(name, est.inverse_transform(est.transform(X))) for name, est in estimators]
    vmin, vmax = float(X.min()), float(X.max())
    n, gap = X.shape[0], max(1, w // 8)
    # one image of every panel, a gap of missing pixels between them: a single
    # Axes draws in a fraction of the time of one Axes per panel
    canvas = np.full((c, len(rows) * (h + gap) - gap, n * (w + gap) - gap), np.nan)
    for r, (_, images) in enumerate(rows):
        panels = np.asarray(images, dtype=float).reshape(n, c, h, w)
        for j in range(n):
            canvas[:, r * (h + gap):r * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = panels[j]
    fig = _figure(0.9 * n + 1.4, 0.95 * len(rows) + 0.5)
    ax = fig.subplots()
    if c == 3:
        rgb = np.clip((canvas.transpose(1, 2, 0) - vmin) / (vmax - vmin or 1), 0, 1)
        alpha = ~np.isnan(canvas[0])
        ax.imshow(np.dstack([np.nan_to_num(rgb), alpha.astype(float)]))
    else:
        from matplotlib import colormaps

        ax.imshow(canvas[0], cmap=colormaps["gray"].with_extremes(bad="white"),
                  vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([r * (h + gap) + (h - 1) / 2 for r in range(len(rows))],
                  [name for name, _ in rows], fontsize=9)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.suptitle(f"Test images and their reconstructions at k={k}")
    fig.savefig(path, dpi=_DPI)


def latent_2d(dataset, estimators, k, path):
    """One 2-D map of the test codes per method, coloured by label.

    Parameters
    ----------
    dataset : skae.datasets.Dataset
        Its test split is encoded; ``y_test`` colours the points.
    estimators : list of (str, fitted estimator)
        One panel per method.
    k : int
        Their code size; with k > 2 the first two components are drawn.
    path : path-like
        PNG to write.
    """
    from skae.plotting import plot_latent_2d

    n = len(estimators)
    if n == 0:
        raise ValueError(f"no method was fitted at k={k}")
    n_cols = min(n, 3)
    n_rows = -(-n // n_cols)
    fig = _figure(4.2 * n_cols, 3.9 * n_rows)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    handles = None
    for i, (name, est) in enumerate(estimators):
        plot_latent_2d(est, dataset.X_test, dataset.y_test, ax=axes[i], s=6, title=name)
        legend = axes[i].get_legend()
        if legend is not None:  # one shared legend beside the grid, not one per panel
            handles = legend.legend_handles
            labels = [text.get_text() for text in legend.texts]
            legend.remove()
    for ax in axes[n:]:
        ax.set_axis_off()
    if handles:
        fig.legend(handles, labels, loc="outside right center", title="label",
                   fontsize="small", ncols=1 if len(handles) <= 12 else 2)
    which = "codes" if k == 2 else f"first two of {k} code components"
    fig.suptitle(f"Test-set {which} (k={k}), coloured by label")
    fig.savefig(path, dpi=_DPI)


def vae_samples(estimator, image_shape, path, *, seed=0, n_samples=32):
    """A grid of images drawn from the VAE.

    Parameters
    ----------
    estimator : fitted skae.VAEGenerator
    image_shape : tuple of int
        ``(C, H, W)``.
    path : path-like
        PNG to write.
    seed : int, default=0
        ``random_state`` of ``sample``.
    n_samples : int, default=32
        Number of images (8 per row).
    """
    from skae.plotting import plot_samples

    fig = _figure(8, 4.4)
    plot_samples(estimator, n_samples=n_samples, image_shape=image_shape,
                 random_state=seed, n_cols=8, fig=fig)
    fig.suptitle(f"Samples of the VAE (k={estimator.n_components})")
    fig.savefig(path, dpi=_DPI)


def fit_ordered_autoencoder(dataset, k, *, seed=0, quick=False):
    """The benchmark's autoencoder with ``ordered=True``, fitted at ``k`` components.

    Parameters
    ----------
    dataset : skae.datasets.Dataset
    k : int
    seed : int, default=0
    quick : bool, default=False
        Cap the epochs as the quick benchmark does.

    Returns
    -------
    autoencoder : skae.AutoencoderTransformer
        Fitted on the training data (its convergence warning silenced).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from . import _methods

    ae = _methods.build(_methods.METHODS["autoencoder"], k, dataset, seed, quick=quick)
    ae.set_params(ordered=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(dataset.X_train)
    return ae


def explained_variance(dataset, k, path, *, seed=0, quick=False, ordered=None):
    """Cumulative explained variance of PCA and of an ordered autoencoder, against k.

    PCA is fitted here at ``k`` components on the training data; the
    autoencoder is ``ordered``, or :func:`fit_ordered_autoencoder` fits it
    here (its ratios are held-out R² gains; see
    :class:`skae.AutoencoderTransformer`).

    Parameters
    ----------
    dataset : skae.datasets.Dataset
    k : int
        Number of components of both fits.
    path : path-like
        PNG to write.
    seed : int, default=0
        ``random_state`` of both fits.
    quick : bool, default=False
        Cap the autoencoder's epochs as the quick benchmark does.
    ordered : skae.AutoencoderTransformer, default=None
        The ordered autoencoder, already fitted at ``k`` components.
    """
    from sklearn.decomposition import PCA

    from skae.plotting import plot_explained_variance

    ae = ordered if ordered is not None else fit_ordered_autoencoder(
        dataset, k, seed=seed, quick=quick)
    pca = PCA(n_components=k, random_state=seed).fit(dataset.X_train)
    fig = _figure(5.5, 3.8)
    plot_explained_variance(pca, ae, labels=["PCA", "ordered autoencoder (held-out)"],
                            ax=fig.subplots(), threshold=0.8)
    fig.suptitle(f"Cumulative explained variance ({dataset.name})")
    fig.savefig(path, dpi=_DPI)
