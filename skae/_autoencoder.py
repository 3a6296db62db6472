"""AutoencoderTransformer: a deep (denoising, regularised) autoencoder."""

import dataclasses
import functools
import warnings

import numpy as np
import torch

from ._base import BaseAutoencoder
from ._data import has_missing, resolve_scaling
from ._embedding import GraphTerm
from ._losses import code_penalty, corrupt, observed_mask, reconstruction_loss
from ._ordered import (
    FULL_CODE_WEIGHT,
    code_width_by_mle,
    code_width_for_fraction,
    ordered_components,
    prefix_mask,
    principal_code,
    set_principal_code,
)
from ._random import make_generator
from ._training import user_stacklevel
from ._validation import (
    Integral,
    Interval,
    Real,
    StrOptions,
    check_is_fitted,
    validate_method_params,
)
from .nn._network import AutoencoderNet


class AutoencoderTransformer(BaseAutoencoder):
    """Autoencoder for non-linear dimensionality reduction, a drop-in for PCA.

    A deep MLP encoder maps each sample to ``n_components`` values (the
    code) and a mirrored decoder maps codes back to the data space.  Use it
    wherever :class:`sklearn.decomposition.PCA` fits: ``transform`` gives
    codes, ``inverse_transform`` reconstructions, ``score_samples`` the
    negative reconstruction error (an anomaly score).

    Inputs are standardised inside the network (see ``scaling``), so raw
    data, tabular data in mixed units included, can be passed without a
    scaler.

    Missing values (NaN) are accepted in ``fit``, ``partial_fit``,
    ``transform`` and ``score_samples``: the training loss and the scores
    count only the observed values of each row, and the scaling statistics
    are those of the observed values.  When the first fit (the first chunk
    of ``partial_fit``) holds missing values or ``noise="missing"``, the built-in encoder reads
    the missing-value mask beside the values (twice the input columns, or
    twice the channels of an image); a user's ``encoder`` reads the values
    alone.  A missing value reaches the encoder as 0 in standardised units
    (the feature's training mean), so a model fitted without missing values
    reads one as that mean.  A row with every value missing is encoded from
    its mask alone (one code for all such rows) and counts nothing in the
    loss.  Infinite values are rejected, and so are missing values with
    ``embedding="umap"`` or a fractional or ``"mle"`` ``n_components``,
    which need complete rows.  See
    :class:`~skae.AutoencoderImputer` to fill missing values in.

    Parameters
    ----------
    n_components : int, float or "mle", default=2
        Width of the code.  A width larger than ``n_features_in_`` (an
        overcomplete code, which only the regularisation of ``noise`` or
        ``code_penalty`` keeps from copying the input) is trained with a
        warning, and refused with ``ordered=True``.  A float in (0, 1) is a fraction of variance, as
        in :class:`~sklearn.decomposition.PCA`: an ordered code is trained
        once, as wide as the number of principal components that explain
        that fraction of (up to 2,000 rows of) the scaled training data,
        and ``n_components_`` is the smallest prefix whose reconstructions
        reach that fraction of the held-out variance (R², see
        ``explained_variance_ratio_``).  Where no prefix of the trained code
        reaches it but PCA fitted on the training rows does (a deep network
        generalises less well than PCA from a few hundred rows, and the
        denoising noise keeps it from reconstructing closely), ``fit``
        keeps instead the linear code of those principal components, as
        many as reach the fraction (up to ``n_features``), and says so in
        a warning: ``net_`` then has no hidden layers, ``loss_curve_`` is
        that of the deep network, and a warm start or ``partial_fit``
        trains that linear code further.  Only skae's own MLP with ``loss="mse"``
        falls back; ``partial_fit`` and warm starts keep their network.
        Otherwise a warning names what kept the code below the fraction and
        which parameter would move it.  ``"mle"`` is the width that Minka's
        MLE guesses from the spectrum of (up to 2,000 rows of) the scaled
        training data, as :class:`~sklearn.decomposition.PCA` guesses it
        (it needs at least as many rows as features); the code is then
        trained as with an int width.
    ordered : bool or "auto", default="auto"
        Train an ordered code, whose every prefix is a good code of its own
        size: ``transform(X)[:, :k]`` is a k-component code and
        :meth:`inverse_transform` accepts any ``k <= n_components_`` leading
        columns (the missing ones are zero, as in training).  Each training
        step adds the loss of a random, log-uniformly drawn prefix of each
        row's code (nested dropout) to half the loss of the full code; it
        makes an epoch up to twice as long.  ``"auto"`` is True for a
        fractional ``n_components``, else False.
    hidden_layer_sizes : tuple of int, default=(512, 256)
        Widths of the encoder's hidden layers, from input to code; the
        decoder mirrors them.  ``()`` gives a linear autoencoder.
    activation : {"relu", "leaky_relu", "elu", "gelu", "silu", "tanh", \
"sigmoid", "identity"}, default="relu"
        Activation after each hidden layer.
    linear_shortcut : bool, default=True
        Add a linear path beside the hidden layers: the code is a linear
        function of the (scaled) input plus the encoder's output, and the
        reconstruction a linear function of the code plus the decoder's
        output.  The network then holds a linear autoencoder (the model PCA
        fits), and its hidden layers learn what that misses.  Used by skae's
        own networks, MLP or convolutional; not when ``encoder`` or
        ``decoder`` is given, nor by an MLP with ``hidden_layer_sizes=()``
        (a linear autoencoder already).  See the user guide's "When an
        autoencoder beats PCA".
    scaling : {"auto", "feature", "global"}, default="auto"
        How inputs are standardised inside the network.  ``"feature"``
        centres each feature and divides it by its own standard deviation
        (as :class:`~sklearn.preprocessing.StandardScaler` does), for
        tabular data in mixed units; ``"global"`` centres each feature and
        divides all of them by one scale (the root mean feature variance),
        for features that share their units, such as pixels; ``"auto"`` is
        ``"global"`` when ``input_shape`` is given or the features share one
        unit, as pixels do (the median range, max - min, of the non-constant
        features covers at least half the range of all the values of ``X``),
        else ``"feature"``: tables in mixed units, or with features of far
        smaller or larger ranges than the others, get per-feature scaling.
        Fixed by the first fit (the first chunk of ``partial_fit``) and kept
        by warm starts.  Reconstructions and scores are in the units of
        ``X``; ``loss_curve_`` says in which units the training losses are.
        Data whose mean lies more than 1,000 standard deviations from zero
        are centred in float64 before the network's float32 computations,
        so that they keep their precision.
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss. ``"bce"`` (binary cross-entropy with a sigmoid
        output) needs data in [0, 1], e.g. pixel intensities.
    noise : {"gaussian", "mask", "missing"} or None, default="gaussian"
        Input corruption while training (a denoising autoencoder): additive
        Gaussian noise, masking noise that zeroes each input value with
        probability ``noise_level``, or ``"missing"``, which makes each
        observed value missing with probability ``noise_level``, to be
        restored from the others (the training of an imputer; the loss
        still counts every observed value).  ``None`` trains a plain
        autoencoder.
    noise_level : float, default=0.5
        Standard deviation of the Gaussian noise, in units of each feature's
        scale (see ``scaling``); or the masking or hiding probability (< 1).  The
        default noise is a strong regulariser: it is what lets a wide
        network trained on a few thousand samples generalise instead of
        memorising.
    code_penalty : {"l2", "l1"} or None, default=None
        Penalty on the code added to the loss: ``"l2"`` adds
        ``code_penalty_weight * ||E(x)||^2``, ``"l1"`` adds
        ``code_penalty_weight * ||E(x)||_1`` (sparse codes).
    code_penalty_weight : float, default=1e-3
        Weight of ``code_penalty``.
    embedding : {"umap"} or None, default=None
        ``"umap"`` adds UMAP's neighbour-graph objective to the
        reconstruction loss, for codes that keep each row's nearest
        neighbours close (2-D maps, k-NN classifiers on the codes): once per
        fit, the fuzzy ``n_neighbors``-nearest-neighbour graph of the
        (scaled) training rows is built as umap-learn builds it; each
        training step then draws as many edges as the batch has rows, in
        proportion to their weights, encodes both ends without noise and
        adds ``embedding_weight`` times UMAP's cross-entropy between the
        graph and the codes' similarities (with 5 negative samples per
        edge).  ``transform`` stays one forward pass of the encoder and
        ``inverse_transform`` decodes.  Early stopping monitors the
        validation reconstruction loss alone.  ``partial_fit`` builds the
        graph of each chunk on its own, so neighbours in different chunks
        are not linked.  The exact neighbour search costs ``n_samples**2``
        distances; above 10,000 rows pynndescent's approximate search is used
        when it is installed.  See the user guide's "Neighbour-preserving
        maps".  None trains the plain autoencoder.
    n_neighbors : int, default=15
        Size of each row's neighbourhood in the graph (the row itself
        included), as in umap-learn: small values keep local detail, large
        ones more of the global structure.  Only used with
        ``embedding="umap"``.
    min_dist : float, default=0.1
        How tightly neighbours may gather in the code space, in [0, 1], as
        in umap-learn: small values give compact, well separated clusters.
        Only used with ``embedding="umap"``.
    embedding_weight : float, default=0.5
        Balance of the graph term against the reconstruction: the training
        loss is ``n_features * (reconstruction_per_feature + embedding_weight
        * cross_entropy)``, where the reconstruction per feature is the
        fraction of the (scaled) variance left unexplained for
        ``loss="mse"`` and the cross-entropy is that of one edge with its
        negative samples.  Larger values favour the map over the
        reconstructions.  Only used with ``embedding="umap"``.
    weight_decay : float, default=1e-4
        Decoupled weight decay of the optimizer.
    batch_size : int or "auto", default="auto"
        Mini-batch size (capped at the number of training samples; a last
        batch of a single row is merged into the one before it).  ``"auto"``
        is 32 for the convolutional autoencoder, 128 for the fully connected
        one and 64 for the VAE with either network, each lowered on small
        data so that an epoch takes at least 8 steps (to no fewer than 16
        rows a batch): 16 rows for a table of 150 rows.
    learning_rate : float, default=1e-3
        Initial learning rate.
    learning_rate_schedule : {"constant", "plateau", "cosine", "onecycle"}, \
default="plateau"
        ``"plateau"`` halves the rate whenever the monitored loss has not
        improved for ``n_iter_no_change // 2`` checks; ``"cosine"`` and
        ``"onecycle"`` anneal it over the ``max_iter`` epochs of each
        ``fit`` call (a warm-started ``fit`` anneals anew).
    optimizer : {"adam", "sgd", "rmsprop"} or callable, default="adam"
        ``"adam"`` is Adam with decoupled weight decay.  A callable is called
        as ``optimizer(params, lr=..., weight_decay=...)``.
    max_iter : int, default=200
        Maximum number of epochs.
    max_time : float or None, default=None
        Wall-clock budget of each ``fit``, in seconds: training stops at the
        first mini-batch that would start after it (the first always runs),
        and the ``"cosine"`` and ``"onecycle"`` schedules span it when
        ``max_iter`` is large.  Bitwise reproducible only where the budget
        does not bind (the clock drives the schedule from the second epoch
        on, when the elapsed time runs ahead of the epoch count);
        ``partial_fit`` ignores it.  See the user guide's "Training for a
        time budget".
    early_stopping : bool, default=True
        If True, stop when the monitored loss has not improved by ``tol``
        for ``n_iter_no_change`` checks and end with the weights of its best
        check.  The monitored loss is that of a held-out
        ``validation_fraction`` of the data, or the training loss with
        ``validation_fraction=0``.  If False, as in scikit-learn's
        :class:`~sklearn.neural_network.MLPRegressor`, training still stops
        when the training loss has not improved by ``tol`` for
        ``n_iter_no_change`` checks, keeping the last weights; the
        ``"cosine"`` and ``"onecycle"`` schedules then run all ``max_iter``
        epochs, so that the rate reaches the end of its schedule.
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in checks of the monitored loss: one
        at the end of each epoch and, on large data, evenly spaced ones
        within it, one per 20,000 training samples (or per twice the
        validation rows, if more).
    tol : float, default=1e-4
        Relative improvement of the monitored loss that counts as progress.
        With a validation split and the ``"plateau"`` schedule, training
        also stops once the best validation loss, still falling at a rate
        the schedule has lowered and then held, has gained less than
        ``tol`` times its value before training over the last
        ``n_iter_no_change * 10,000`` training samples: on large data,
        gains negligible against what training has gained end the fit.
    max_grad_norm : float or None, default=None
        Clip the gradient norm to this value (guards against divergence).
    warm_start : bool, default=False
        Continue from the previous fit's weights instead of starting anew.
    input_shape : tuple of int (C, H, W) or None, default=None
        Read each row of ``X`` as an image of this shape (``X`` stays 2-D).
        Its product must equal ``n_features_in_``; one entry may be -1, to
        be inferred from the number of features (as in ``numpy.reshape``).
    architecture : {"auto", "mlp", "conv"}, default="auto"
        ``"conv"``: stride-2 convolutions in the encoder and transposed
        convolutions in the decoder (needs ``input_shape``); ``"mlp"``: the
        fully connected net; ``"auto"``: conv when ``input_shape`` is given.
    conv_channels : tuple of int, default=(32, 64, 128)
        Channel widths of the encoder's stride-2 convolution blocks (the
        decoder mirrors them): each block halves the image's height and
        width, so three blocks take 28x28 digits to 4x4 maps.
    conv_hidden_layer_sizes : tuple of int, default=()
        Widths of fully connected layers between the convolution blocks and
        the code (the decoder mirrors them).
    encoder, decoder : torch.nn.Module, class, callable or None, default=None
        Custom networks replacing the MLP; see :mod:`skae.nn` for the
        contract.  An instance is copied, never trained in place.
    device : str or torch.device, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` (CUDA,
        then MPS, then CPU).  An unavailable device raises ``ValueError``
        at ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and noise through local
        generators, so an int gives the same fit every time and leaves the
        global random states of NumPy and torch untouched.  None draws the
        seed from NumPy's global random state, as scikit-learn's estimators
        do.
    verbose : int, default=0
        1 prints a line per epoch; 2 also shows a progress bar.

    Attributes
    ----------
    net_ : torch.nn.Module
        The trained network (``encode``/``decode`` methods).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit` (string column names only).
    loss_curve_ : list of float
        Training loss per epoch, in the scaled units the network works in
        (see ``scaling``), not in the units of ``X``: early stopping and the
        plateau schedule then do not depend on the units of ``X``, and
        ``validation_loss_curve_`` and ``best_loss_`` are in the same units.
    validation_loss_curve_ : list of float
        Validation reconstruction loss per epoch (empty without a split).
    history_ : list of dict
        Per-epoch record: loss, its parts, validation loss, learning rate, time.
    best_loss_ : float
        Best value of the monitored loss (the validation loss with a
        validation split, else the training loss), in the units of
        ``loss_curve_``.  With ``early_stopping=True`` the network holds the
        weights of that epoch.
    n_iter_ : int
        Number of epochs run.
    explained_variance_ratio_ : ndarray of shape (`n_components_`,)
        Ordered codes only: the increase of the held-out R² that each
        component adds, so that ``np.cumsum(explained_variance_ratio_)[k - 1]``
        is the fraction of variance the first ``k`` components reconstruct.
        Unlike PCA's, it is measured on the validation split (on the
        training data without one), in the network's scaled units, for a
        non-linear decoder: its entries need not decrease, and one may be
        negative when a component adds nothing.
    n_components_ : int
        Width of the fitted code: the number of columns of
        :meth:`transform`.
    input_shape_ : tuple of int or None
        The resolved ``input_shape`` (``-1`` filled in), or None.
    scaling_ : {"feature", "global"}
        The scaling ``scaling="auto"`` chose for the data.
    interrupted_ : bool
        Whether the last fit was stopped with Ctrl-C (``KeyboardInterrupt``),
        which ends training with a warning and keeps what was learned; a
        second Ctrl-C within 10 seconds is raised, e.g. to stop a grid search.
    device_ : str
        Device the network lives on.

    See Also
    --------
    VAEGenerator : A variational autoencoder that also generates data.
    sklearn.decomposition.PCA : The linear baseline.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(n_components=10, max_iter=5, random_state=0)
    >>> ae.fit_transform(X).shape
    (1797, 10)
    """

    _fitted_state = (*BaseAutoencoder._fitted_state, "explained_variance_ratio_",
                     "_fitted_fraction", "_principal_fallback")

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
            StrOptions({"mle"}),
        ],
        "ordered": [StrOptions({"auto"}), "boolean"],
        "linear_shortcut": ["boolean"],
        "loss": [StrOptions({"mse", "bce"})],
        "noise": [None, StrOptions({"gaussian", "mask", "missing"})],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "code_penalty": [None, StrOptions({"l1", "l2"})],
        "code_penalty_weight": [Interval(Real, 0, None, closed="left")],
        "embedding": [None, StrOptions({"umap"})],
        "n_neighbors": [Interval(Integral, 2, None, closed="left")],
        "min_dist": [Interval(Real, 0, 1, closed="both")],
        "embedding_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=2,
        *,
        ordered="auto",
        hidden_layer_sizes=(512, 256),
        activation="relu",
        linear_shortcut=True,
        scaling="auto",
        loss="mse",
        noise="gaussian",
        noise_level=0.5,
        code_penalty=None,
        code_penalty_weight=1e-3,
        embedding=None,
        n_neighbors=15,
        min_dist=0.1,
        embedding_weight=0.5,
        weight_decay=1e-4,
        batch_size="auto",
        learning_rate=1e-3,
        learning_rate_schedule="plateau",
        optimizer="adam",
        max_iter=200,
        max_time=None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        max_grad_norm=None,
        warm_start=False,
        input_shape=None,
        architecture="auto",
        conv_channels=(32, 64, 128),
        conv_hidden_layer_sizes=(),
        encoder=None,
        decoder=None,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.ordered = ordered
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.linear_shortcut = linear_shortcut
        self.scaling = scaling
        self.loss = loss
        self.noise = noise
        self.noise_level = noise_level
        self.code_penalty = code_penalty
        self.code_penalty_weight = code_penalty_weight
        self.embedding = embedding
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.embedding_weight = embedding_weight
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.max_time = max_time
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.max_grad_norm = max_grad_norm
        self.warm_start = warm_start
        self.input_shape = input_shape
        self.architecture = architecture
        self.conv_channels = conv_channels
        self.conv_hidden_layer_sizes = conv_hidden_layer_sizes
        self.encoder = encoder
        self.decoder = decoder
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _is_ordered(self):
        if isinstance(self.ordered, str):  # "auto": ordered when n_components is a fraction
            return self._fraction() is not None
        return bool(self.ordered)

    def _fraction(self):
        """``n_components`` when it is a fraction of variance, else None."""
        n = self.n_components
        return float(n) if isinstance(n, Real) and not isinstance(n, Integral) else None

    def _code_width(self, X, fresh):
        if self.n_components == "mle":
            if not fresh:
                return self._spec.n_components  # continue with the fitted width
            return code_width_by_mle(X, resolve_scaling(self.scaling, self.input_shape))
        fraction = self._fraction()
        if fraction is None:
            return self.n_components
        if self.ordered is False:
            raise ValueError(
                f"n_components={self.n_components} asks for a fraction of the variance, "
                "which needs ordered codes; got ordered=False. Use ordered=True (or "
                "'auto'), or an int n_components."
            )
        if not fresh and self._fitted_fraction == fraction:
            return self._spec.n_components  # continue with the fitted width
        return code_width_for_fraction(X, fraction, resolve_scaling(self.scaling,
                                                                     self.input_shape))

    def _describe(self, n_features, code_width, targets=None, fresh=True, missing=False):
        spec = super()._describe(n_features, code_width, targets, fresh, missing)
        if not fresh and getattr(self, "_principal_fallback", False):
            # a warm start continues the linear code that fit fell back on
            spec = dataclasses.replace(spec, hidden_layer_sizes=(), linear_shortcut=False)
        return spec

    @staticmethod
    def _assemble_network(spec, encoder, decoder, feature_width):
        return AutoencoderNet(encoder, decoder, feature_width, spec.n_components,
                              spec.n_features, input_shape=spec.input_shape, output=spec.output,
                              missing_mask=spec.missing_mask,
                              linear_shortcut=spec.linear_shortcut)

    def _model_kind(self):
        return {"output": "sigmoid" if self.loss == "bce" else "identity"}

    def __setstate__(self, state):
        # an estimator pickled before linear_shortcut existed has no shortcut
        super().__setstate__({"linear_shortcut": False, **state})

    def _check_training_data(self, X):
        n_features = X.shape[1]
        if isinstance(self.n_components, Integral) and self.n_components > n_features:
            if self._is_ordered():
                raise ValueError(
                    f"n_components={self.n_components} is larger than n_features={n_features}, "
                    "but an ordered code adds its components one at a time to reconstruct "
                    f"X, which its first {n_features} can do alone; pass "
                    f"n_components <= {n_features}, or ordered=False for an overcomplete code."
                )
            warnings.warn(
                f"n_components={self.n_components} is larger than n_features={n_features}: an "
                "overcomplete code, which could copy its input instead of learning "
                "structure; only a regularised autoencoder (noise, code_penalty) is kept "
                "from it. PCA refuses such a width; pass n_components <= "
                f"{n_features} for a compressed code.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        if self.noise in ("mask", "missing") and self.noise_level >= 1:
            raise ValueError(
                f"noise_level must be < 1 with noise={self.noise!r} (it is the masking "
                f"probability); got noise_level={self.noise_level}."
            )

    def _allows_missing(self):
        # the neighbour graph and the principal components behind a fractional
        # or "mle" width need complete rows
        return (self.embedding is None and self._fraction() is None
                and not (isinstance(self.n_components, str) and self.n_components == "mle"))

    def _check_missing_allowed(self, X):
        if self._allows_missing() or not has_missing(X):
            return
        if self.embedding is not None:
            raise ValueError(
                f"embedding={self.embedding!r} builds a neighbour graph of the rows, which "
                "needs X without missing values (NaN); impute X first (e.g. with "
                "skae.AutoencoderImputer) or pass embedding=None."
            )
        what = ("a width guessed by PCA's MLE" if self._fraction() is None
                else "a fraction of the variance")
        raise ValueError(
            f"n_components={self.n_components!r} asks for {what}, which is measured on X "
            "without missing values (NaN); pass an int n_components, or impute X first "
            "(e.g. with skae.AutoencoderImputer)."
        )

    def _hides_values(self):
        return self.noise == "missing" and self.noise_level > 0

    def _fit_losses(self, net, reader, train_idx, seed):
        if self.embedding is None:
            return super()._fit_losses(net, reader, train_idx, seed)
        graph = GraphTerm.build(net, reader, train_idx, self.n_neighbors, self.min_dist, seed)
        return functools.partial(self._train_loss, graph=graph), self._validation_loss

    def _train_loss(self, net, x, generator, epoch, graph=None):
        observed = observed_mask(x)  # None when no value is missing
        x_in = corrupt(x, self.noise, self.noise_level, net.scale, generator)
        code = net.encode(x_in)
        rec = reconstruction_loss(net.decode_raw(code), net.target(x), self.loss, observed)
        loss = rec
        parts = {"reconstruction": rec.mean()}
        if self._is_ordered():
            prefix = self._prefix_loss(net, x, code, generator, observed)
            loss = FULL_CODE_WEIGHT * rec + prefix
            parts["prefix_reconstruction"] = prefix.mean()
        if self.code_penalty is not None and self.code_penalty_weight > 0:
            penalty = code_penalty(code, self.code_penalty)
            loss = loss + self.code_penalty_weight * penalty
            parts["code_penalty"] = penalty.mean()
        if graph is not None:  # embedding="umap": the neighbour graph's cross-entropy
            cross_entropy = graph(net, x.shape[0], generator)
            loss = loss + self.embedding_weight * net.n_features * cross_entropy
            parts["graph_cross_entropy"] = cross_entropy
        return loss, parts

    def _validation_loss(self, net, x, generator):
        observed = observed_mask(x)
        code = net.encode(x)
        rec = reconstruction_loss(net.decode_raw(code), net.target(x), self.loss, observed)
        if self._is_ordered():  # the trained objective, with the loop's fixed noise
            return FULL_CODE_WEIGHT * rec + self._prefix_loss(net, x, code, generator, observed)
        return rec

    def _prefix_loss(self, net, x, code, generator, observed=None):
        """Per-sample loss of the reconstruction from a random prefix of each code."""
        mask = prefix_mask(code.shape[0], code.shape[1], generator, code.device)
        return reconstruction_loss(net.decode_raw(code * mask), net.target(x), self.loss,
                                   observed)

    def _decodes_prefixes(self):
        # an ordered code (fitted with its explained variance) decodes its prefixes
        return getattr(self, "explained_variance_ratio_", None) is not None

    def _after_fit_interrupted(self):
        self._fitted_fraction = self._fraction()
        if not self._is_ordered():
            return ""
        self.n_components_ = self._spec.n_components
        self.__dict__.pop("explained_variance_ratio_", None)
        return (f"the ordered code keeps all {self.n_components_} components and has no "
                "explained_variance_ratio_")

    def _after_fit(self, X, *, fresh, incremental, eval_rows, labels):
        self._fitted_fraction = self._fraction()
        if fresh:
            self._principal_fallback = False
        if not self._is_ordered():
            self.__dict__.pop("explained_variance_ratio_", None)
            return
        self.n_components_, self.explained_variance_ratio_, shortfall = ordered_components(
            self.net_, X, eval_rows, self.device_, self._fitted_fraction
        )
        if shortfall is None:
            return
        message = self._shortfall_message(shortfall, X.shape[1], len(eval_rows))
        if fresh and not incremental and self._fall_back_on_principal_code(X, eval_rows):
            message = self._fallback_message(shortfall, len(eval_rows))
        warnings.warn(message, UserWarning, stacklevel=user_stacklevel())

    def _fall_back_on_principal_code(self, X, eval_rows):
        """Replace a network that misses its fraction by the PCA code that reaches it.

        Only a network that the PCA code fits (skae's own MLP, ``loss="mse"``)
        is replaced; the code is as wide as the trained one, or as many
        components as reach the fraction on the held-out rows, up to
        ``n_features``.  Returns whether the network was replaced.
        """
        spec = self._spec
        if (spec.architecture != "mlp" or spec.encoder is not None or spec.decoder is not None
                or spec.output != "identity"):
            return False
        components, centre, needed = principal_code(self.net_, X, eval_rows,
                                                    self._fitted_fraction)
        if needed is None:
            return False
        linear = dataclasses.replace(spec, hidden_layer_sizes=(), linear_shortcut=False,
                                     n_components=max(spec.n_components, needed))
        net = linear.build(make_generator(self._seed, "cpu"), self._assemble_network)
        net.load_state_dict({**net.state_dict(), "mean": self.net_.mean,
                             "scale": self.net_.scale, "input_shift": self.net_.input_shift})
        set_principal_code(net, components, centre)
        net.to(self.device_)
        k, ratios, shortfall = ordered_components(net, X, eval_rows, self.device_,
                                                  self._fitted_fraction)
        if shortfall is not None:
            return False
        self.net_, self._spec = net, linear
        self._principal_fallback = True
        self._optimizer_kind = None  # the optimizer's state was the deep network's
        self.n_components_, self.explained_variance_ratio_ = k, ratios
        return True

    def _fallback_message(self, short, n_eval):
        f, k = self._fitted_fraction, self.n_components_
        if short.train < f:
            reason = (f"it reconstructs only {short.train:.3f} of its training rows"
                      + (f" (the denoising noise, noise={self.noise!r}, keeps it from "
                         "reconstructing closely)" if self.noise is not None else ""))
        else:
            reason = (f"it reconstructs {short.train:.3f} of its training rows but "
                      "generalises less well than PCA")
        return (
            f"The ordered code of hidden_layer_sizes={self.hidden_layer_sizes} reconstructs "
            f"only {short.reached:.3f} of the held-out variance ({n_eval} rows), less than "
            f"n_components={f}: {reason}. Kept instead the linear code of the "
            f"principal components of the training rows (net_ has no hidden layers), whose "
            f"first {k} components reconstruct "
            f"{np.sum(self.explained_variance_ratio_):.3f}; loss_curve_ is the deep "
            "network's. For a deep code, pass an int n_components (or more rows)."
        )

    def _shortfall_message(self, short, n_features, n_eval):
        """Which ceiling kept the ordered code below its fraction, and what moves it."""
        w, f = short.width, self._fitted_fraction
        text = (f"The ordered code of {w} components reconstructs {short.reached:.3f} of the "
                f"held-out variance, less than n_components={f}; keeping all {w}. PCA with "
                f"as many components reaches {short.pca:.3f} of the same {n_eval} rows")
        if short.pca < f:
            return text + (
                ": there the width, chosen by cross-validated PCA, is the ceiling. Pass an "
                f"int n_components > {w} (up to n_features={n_features}) for a wider code, "
                "or a larger validation_fraction for a steadier estimate."
            )
        if short.train >= f:
            return text + (
                f", and the code {short.train:.3f} of its training rows: the network fits "
                "its training rows but does not generalise to held-out ones, as with too "
                "few rows for its size. Pass smaller hidden_layer_sizes or more rows."
            )
        text += f", but the code only {short.train:.3f} of its training rows: training is the ceiling."
        if self.noise is not None:
            text += (f" The denoising noise (noise={self.noise!r}, noise_level="
                     f"{self.noise_level}) keeps it from reconstructing closely: pass "
                     "noise=None or a smaller noise_level.")
        if self.n_iter_ >= self.max_iter:
            text += f" Training ran all max_iter={self.max_iter} epochs: pass a larger max_iter."
        elif self.early_stopping:
            text += (f" Early stopping ended it after {self.n_iter_} epochs: pass a larger "
                     f"n_iter_no_change (it is {self.n_iter_no_change}).")
        return text

    @validate_method_params({"X": "no_validation", "units": [StrOptions({"data", "scaled"})]})
    def score_samples(self, X, *, units="data"):
        """Negative reconstruction error of each sample (higher is better).

        The error is the squared Euclidean distance between a sample and its
        reconstruction ``inverse_transform(transform(x))``, whatever ``loss``
        was trained, over the observed values of the row (missing values
        count 0).  Low scores flag anomalies.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.
        units : {"data", "scaled"}, default="data"
            ``"data"``: the error in the units of ``X``, where a feature in
            large units outweighs the others.  ``"scaled"``: in the
            standardised units the network works in (each feature's error
            divided by its scale, see ``scaling``), so that a row's score
            weighs its features as the model does: with ``scaling="feature"``
            each counts in units of its own standard deviation, as after a
            :class:`~sklearn.preprocessing.StandardScaler`.  An anomaly score
            for tables in mixed units.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-||x - x_hat||^2`` per sample, or ``-||(x - x_hat) / scale||^2``
            with ``units="scaled"``, as float64.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)

        k, width = self.n_components_, self._spec.n_components
        scaled = units == "scaled"

        def neg_error(x):
            code = self.net_.encode(x)
            code = torch.cat([code[:, :k], code.new_zeros(code.shape[0], width - k)], 1)
            error = (self.net_.decode(code) - x).double()
            error = error.masked_fill_(torch.isnan(error), 0.0)  # missing values count 0
            if scaled:
                error = error / self.net_.scale.double()
            return -error.square().sum(1)

        return self._map_rows(X, neg_error, 1, np.float64, f"score:{units}").ravel()
