"""Training curves of a fitted estimator."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._helpers import _pyplot


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
