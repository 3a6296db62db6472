"""Matplotlib helpers to inspect fitted autoencoders (and any sklearn transformer).

Every function draws on new or given matplotlib objects and returns them; none
calls ``plt.show`` or changes the backend.  Install the extra with
``pip install skae[plot]``.
"""

from ._curves import plot_loss_curve
from ._grids import plot_image_grid, plot_reconstructions, plot_samples
from ._latent import (
    plot_class_samples,
    plot_interpolation,
    plot_latent_2d,
    plot_latent_manifold,
    plot_latent_traversal,
)
from ._outliers import plot_outliers
from ._variance import plot_explained_variance

__all__ = [
    "plot_class_samples",
    "plot_explained_variance",
    "plot_image_grid",
    "plot_interpolation",
    "plot_latent_2d",
    "plot_latent_manifold",
    "plot_latent_traversal",
    "plot_loss_curve",
    "plot_outliers",
    "plot_reconstructions",
    "plot_samples",
]
