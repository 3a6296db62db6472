"""The registry of benchmarked methods: how each is built and when it applies.

Every method is a :class:`Method`: a name, a one-line description, a factory
``make(n_components, dataset, seed)`` returning an unfitted estimator with
``transform`` and ``inverse_transform``, and an applicability check that
returns the reason why the method is skipped on a data set (or None).

The neural methods are benchmarked with the package defaults: nothing is
tuned per data set.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sklearn.decomposition import PCA, KernelPCA

from .._autoencoder import AutoencoderTransformer
from .._vae import VAEGenerator

#: Ridge of KernelPCA's learned pre-image (inverse_transform).  scikit-learn's
#: default (1.0) over-smooths the reconstructions of standardised or [0, 1]
#: data so much that KernelPCA would lose to PCA for a reason that has nothing
#: to do with the kernel; 1e-3 is one fixed value used on every data set.
KERNEL_PCA_ALPHA = 1e-3

#: Epoch budget of the neural methods in ``--quick`` mode (smoke tests).
QUICK_MAX_ITER = 3

#: :attr:`Method.cost` of the work that runs beside the jobs (the ordered
#: autoencoder of the explained-variance plot).
EXTRA_COST = 3


@dataclass(frozen=True)
class Method:
    """One benchmarked method.

    Attributes
    ----------
    name : str
        Identifier used on the command line and in the results.
    description : str
        One line for the report.
    make : callable
        ``make(n_components, dataset, seed)`` -> unfitted estimator.
    skip_reason : callable
        ``skip_reason(dataset, n_train, options)`` -> str or None; a string
        says why the method does not run on this data set.
    neural : bool
        Whether it trains with epochs (``--quick`` then caps ``max_iter``).
    cost : int
        Rough rank of its fit time among the methods (higher is longer):
        jobs that run side by side start with the longest.
    """

    name: str
    description: str
    make: Callable
    skip_reason: Callable
    neural: bool = False
    cost: int = 0


def _make_pca(n, dataset, seed):
    return PCA(n_components=n, random_state=seed)


def _make_kernel_pca(n, dataset, seed):
    return KernelPCA(
        n_components=n, kernel="rbf", gamma=None, fit_inverse_transform=True,
        alpha=KERNEL_PCA_ALPHA, random_state=seed,
    )


def _make_autoencoder(n, dataset, seed):
    return AutoencoderTransformer(n_components=n, random_state=seed)


def _make_autoencoder_conv(n, dataset, seed):
    return AutoencoderTransformer(
        n_components=n, input_shape=tuple(dataset.image_shape), random_state=seed
    )


def _make_umap_ae(n, dataset, seed):
    return AutoencoderTransformer(n_components=n, embedding="umap", random_state=seed)


def _make_vae(n, dataset, seed):
    likelihood = "bernoulli" if dataset.unit_interval else "gaussian"
    return VAEGenerator(n_components=n, likelihood=likelihood, random_state=seed)


def _always(dataset, n_train, options):
    return None


def _kernel_pca_skip(dataset, n_train, options):
    cap = options.get("max_kernel_pca_samples")
    if cap is not None and n_train > cap:
        return (
            f"{n_train} training samples exceed --max-kernel-pca-samples={cap} "
            "(KernelPCA needs an n_train x n_train kernel matrix and its eigendecomposition)"
        )
    return None


def _conv_skip(dataset, n_train, options):
    if dataset.image_shape is None:
        return "not image data (the data set has no image_shape)"
    return None


METHODS = {
    m.name: m
    for m in [
        Method("pca", "sklearn PCA (linear baseline)", _make_pca, _always),
        Method(
            "kernel_pca",
            f"sklearn KernelPCA, RBF kernel, gamma=1/n_features, alpha={KERNEL_PCA_ALPHA}",
            _make_kernel_pca, _kernel_pca_skip, cost=1,
        ),
        Method(
            "autoencoder", "skae AutoencoderTransformer, package defaults (MLP)",
            _make_autoencoder, _always, neural=True, cost=2,
        ),
        Method(
            "autoencoder_conv",
            "skae AutoencoderTransformer with input_shape (convolutional), package defaults",
            _make_autoencoder_conv, _conv_skip, neural=True, cost=4,
        ),
        Method(
            "umap_ae",
            "skae AutoencoderTransformer(embedding='umap'): UMAP's neighbour-graph term "
            "added to the reconstruction loss, package defaults otherwise",
            _make_umap_ae, _always, neural=True, cost=3,
        ),
        Method(
            "vae",
            "skae VAEGenerator, package defaults, bernoulli likelihood for [0, 1] data "
            "else gaussian",
            _make_vae, _always, neural=True, cost=3,
        ),
    ]
}


def default_methods(dataset):
    """Names of the methods that apply to ``dataset`` by default.

    Parameters
    ----------
    dataset : skae.datasets.Dataset
        The loaded data set.

    Returns
    -------
    names : list of str
        Every registered method, except ``autoencoder_conv`` on tabular data.
    """
    return [n for n in METHODS if n != "autoencoder_conv" or dataset.image_shape is not None]


def build(method, n_components, dataset, seed, *, quick=False):
    """Build the unfitted estimator of ``method`` at ``n_components``.

    Parameters
    ----------
    method : Method
        Registry entry.
    n_components : int
        Size of the code.
    dataset : skae.datasets.Dataset
        The data set (image shape, value range).
    seed : int
        ``random_state`` of the estimator.
    quick : bool, default=False
        Cap the epochs of neural methods at :data:`QUICK_MAX_ITER`.

    Returns
    -------
    estimator : object
        An unfitted scikit-learn style transformer.
    """
    estimator = method.make(n_components, dataset, seed)
    if quick and method.neural and "max_iter" in estimator.get_params():
        estimator.set_params(max_iter=QUICK_MAX_ITER)
    return estimator


def estimator_params(estimator):
    """JSON-friendly parameters of ``estimator`` (repr of anything exotic).

    Parameters
    ----------
    estimator : object
        A scikit-learn style estimator.

    Returns
    -------
    params : dict
        Its ``get_params(deep=False)`` with non-JSON values replaced by reprs.
    """
    out = {}
    for key, value in estimator.get_params(deep=False).items():
        if isinstance(value, tuple):
            value = list(value)
        if value is None or isinstance(value, bool | int | float | str | list):
            out[key] = value
        else:
            out[key] = repr(value)
    return out
