"""VAEGenerator: a variational autoencoder that encodes, scores and generates data."""

import numpy as np

from ._base import BaseAutoencoder
from ._conditional import fit_targets
from ._generative import GenerativeMixin
from ._random import draw_seed, make_generator
from ._vae_model import VariationalNet, make_likelihood
from ._validation import Integral, Interval, Real, StrOptions

_COLLAPSE_ROWS = 2000  # training rows inspected for posterior collapse
# free_bits="auto": nats per latent dimension for a first fit on fewer rows
# than _FREE_BITS_ROWS (none for more), where the KL term would otherwise
# collapse the posterior before the decoder has learned from the few rows
_FREE_BITS_ROWS = 1000
_SMALL_DATA_FREE_BITS = 1.0


class VAEGenerator(GenerativeMixin, BaseAutoencoder):
    """Variational autoencoder: codes, a data likelihood, and new samples.

    A Gaussian encoder ``q(z|x) = N(mu(x), diag(sigma^2(x)))`` (a mean and a
    log-variance head on a deep MLP) and a decoder ``p(x|z)`` are trained
    together by maximising the evidence lower bound (ELBO) under a standard
    normal prior ``p(z) = N(0, I)``.  ``transform`` returns the posterior
    mean, ``inverse_transform`` the decoder's mean, :meth:`sample` draws new
    data, and :meth:`score_samples` estimates ``log p(x)`` in nats, so
    :meth:`score` (its mean) lets :class:`~sklearn.model_selection.GridSearchCV`
    select models by held-out likelihood.

    Inputs are standardised inside the network (see ``scaling``), so raw
    data can be passed without a scaler; likelihoods are reported in the
    units of ``X`` all the same.

    Missing values (NaN) are accepted in ``fit``, ``partial_fit``,
    ``transform`` and ``score_samples``: the training loss and the scores
    count only the observed values of each row, and the scaling statistics
    are those of the observed values.  When the first fit (the first chunk
    of ``partial_fit``) holds missing values, the built-in encoder reads
    the missing-value mask beside the values (twice the input columns, or
    twice the channels of an image); a user's ``encoder`` reads the values
    alone.  A missing value reaches the encoder as 0 in standardised units
    (the feature's training mean), so a model fitted without missing values
    reads one as that mean.  A row with every value missing is encoded from
    its mask alone (one code for all such rows) and counts nothing in the
    loss.  Infinite values are rejected.  See
    :class:`~skae.AutoencoderImputer` to fill missing values in.

    Parameters
    ----------
    n_components : int, default=16
        Width of the code.
    hidden_layer_sizes : tuple of int, default=(512, 256)
        Widths of the encoder's hidden layers, from input to code; the
        decoder mirrors them.  ``()`` gives a linear autoencoder.
    activation : {"relu", "leaky_relu", "elu", "gelu", "silu", "tanh", \
"sigmoid", "identity"}, default="relu"
        Activation after each hidden layer.
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
    likelihood : {"gaussian", "bernoulli"}, default="gaussian"
        The decoder's distribution ``p(x|z)``.  ``"gaussian"``: independent
        normals around the decoder's output with variance
        ``observation_variance``.  ``"bernoulli"``: independent Bernoulli
        variables whose probabilities are the decoder's sigmoid output; it
        needs ``X`` in [0, 1] and is a normalised likelihood for binary data
        only (for grey values it is the usual cross-entropy surrogate).
    beta : float, default=1.0
        Weight of the KL term (a beta-VAE): ``> 1`` favours disentangled,
        smoother codes, ``< 1`` sharper reconstructions.  ``beta=1`` trains
        the true ELBO.
    kl_warmup : int, default=0
        Number of epochs over which the KL weight grows linearly from
        ``beta / kl_warmup`` to ``beta`` (guards against posterior collapse);
        0 uses ``beta`` from the start.  Counted in epochs since the network
        was built, so ``partial_fit`` and ``warm_start`` continue the ramp.
        Early stopping always monitors the loss with the full ``beta``.
    free_bits : float or "auto", default="auto"
        Nats of KL per latent dimension that cost nothing (free bits,
        Kingma et al., 2016): a dimension whose KL, averaged over the
        mini-batch, is below ``free_bits`` adds that constant to the loss
        instead, so the KL term stops pushing a little-used dimension to
        the prior, which guards against posterior collapse.  0 trains the
        ELBO.  ``"auto"`` is 1 nat when the first fit has fewer than 1,000
        rows (small tables, on which the plain ELBO collapses the posterior
        before the decoder has learned) and 0 otherwise; later
        ``partial_fit`` and warm-started calls keep it.  Early stopping
        monitors the same objective.  Not used with ``iwae_samples > 1``.
    observation_variance : {"learned", "feature", "shared"} or float, \
default="learned"
        Variance of the Gaussian likelihood in the (squared) units of ``X``.
        ``"feature"`` learns one variance per feature, so that each feature
        gets noise on its own scale: each training batch is scored with the
        variance that maximises its likelihood, the mean squared residual
        of each feature (a calibrated decoder, Rybkin et al., 2021), and
        the end of each fit sets it to that of (up to 20,000 of) the
        training rows, decoded from one posterior draw each, so that
        ``score``, ``score_samples`` and ``sample`` use the variance that
        maximises the likelihood of the training rows given the network.
        It is kept above 1/1000 of each feature's variance in the
        network's units, so that a feature the decoder predicts exactly
        cannot shrink it without bound.  ``"shared"`` learns one for all
        features by gradient steps, starting at the variance of the
        (scaled) data; ``"learned"`` is ``"feature"`` for data scaled
        feature by feature (``scaling_="feature"``: tables) and
        ``"shared"`` for data sharing one scale (``scaling_="global"``:
        pixels, whose constant borders would drive per-feature variances
        to that floor).  A float fixes it.  Ignored by
        ``likelihood="bernoulli"``.  The likelihood of ``score`` and
        ``score_samples`` is diagonal (the features independent given the
        code); with a per-feature variance, the noise that :meth:`sample`
        adds is drawn with a full covariance instead, estimated from the
        same posterior draws: ``Cov(x) - Cov(decoder(z))``, what the decoded
        codes leave of the training rows' covariance (the residuals'
        covariance plus their covariance with the decoded means), so that
        the samples keep the correlations the code does not carry (see
        :meth:`sample`).
    conditional : bool, default=False
        If True, ``fit(X, y)`` learns ``p(x | z, y)`` for the class labels
        ``y`` (required): the decoder and the posterior ``q(z | x, y)`` read
        the one-hot label, which supplies the class, so the code need not.
        :meth:`transform` needs no labels: it returns the mean of
        ``sum_y p(y | x) q(z | x, y)``, with ``p(y | x)`` from the class
        frequencies and each label's ELBO (``len(classes_)`` decodes per
        row).  :meth:`sample`, :meth:`inverse_transform` and
        :meth:`score_samples` take labels.  If False, ``y`` is ignored.
    sampler : {"mixture", "prior"}, default="mixture"
        Where :meth:`sample` draws codes from.  ``"mixture"``: a
        full-covariance Gaussian mixture (at most 20 components, one per 20
        codes) fitted at the end of each fit to one posterior draw of each of
        its training rows (20,000 at most; on fewer than 1,000 rows, as
        many draws of each, up to 10, as give 1,000 codes), the aggregated
        posterior of two-stage VAEs, on one BLAS/OpenMP thread whatever the
        process allows (so that the BLAS thread count does not change it);
        ``partial_fit`` fits it to the codes of its own chunk.  A conditional
        model fits one per class, to the codes ``q(z | x, y)`` of its rows,
        so that code and label agree (fewer than 2 rows: the prior).
        ``"prior"``: ``N(0, I)``, which also decodes codes no training row
        reached; as a conditional model's code still carries some of the
        class, such a code may contradict its label.  Only :meth:`sample`
        uses it: :meth:`score_samples` keeps the prior of training.
    n_importance_samples : int, default=1
        Default number ``K`` of posterior samples per row in
        :meth:`score_samples` and :meth:`score`: 1 gives the ELBO, more the
        tighter importance-weighted bound (IWAE), at K times the cost.
    iwae_samples : int, default=1
        Number ``K`` of posterior draws per row in the training objective: 1
        trains the ELBO; ``K > 1`` the importance-weighted bound (IWAE,
        Burda et al.), tighter and with more active latent dimensions, at
        about ``K`` times the decoder's cost per step.  Early stopping
        monitors the same bound.
    weight_decay : float, default=1e-4
        Decoupled weight decay of the optimizer.
    batch_size : int or "auto", default="auto"
        Mini-batch size (capped at the number of training samples; a last
        batch of a single row is merged into the one before it).  ``"auto"``
        is 32 for the convolutional autoencoder, 128 for the fully connected
        one and 64 for the VAE with either network, each lowered on small
        data so that an epoch takes at least 8 steps (to no fewer than 16
        rows a batch): 16 rows for a table of 150 rows.
    learning_rate : float, default=5e-4
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
    n_iter_no_change : int, default=20
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
    conv_hidden_layer_sizes : tuple of int, default=(256,)
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
        The trained network (``encode``/``decode`` methods).  Its
        ``likelihood`` module holds the learned Gaussian log-variance
        (``logvar``, in the network's standardised units) if any.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit` (string column names only).
    loss_curve_ : list of float
        Training loss per epoch: the negative ELBO per sample in nats of
        the density of ``X`` in its own units (see Notes), with the KL term
        weighted by ``beta`` (and the warm-up).
    reconstruction_loss_curve_ : list of float
        Its reconstruction part ``-E_q[log p(x|z)]`` per epoch, in nats.
    kl_loss_curve_ : list of float
        Its unweighted KL part ``KL(q(z|x) || p(z))`` per epoch, in nats.
    validation_loss_curve_ : list of float
        Validation negative ELBO (KL weighted by ``beta``) per epoch (empty
        without a split).
    history_ : list of dict
        Per-epoch record: loss, its parts, validation loss, learning rate, time.
    best_loss_ : float
        Best value of the monitored loss (the validation loss with a
        validation split, else the training loss), in the units of
        ``loss_curve_``.  With ``early_stopping=True`` the network holds the
        weights of that epoch.
    n_iter_ : int
        Number of epochs run.
    classes_ : ndarray of shape (n_classes,)
        Class labels of a conditional model (``conditional=True`` only).
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
    AutoencoderTransformer : A deterministic autoencoder for dimensionality reduction.
    sklearn.mixture.GaussianMixture : A shallow density model that also samples.

    Notes
    -----
    *Units.*  Every loss and score is in nats of the density of ``X`` in its
    own units: the Gaussian likelihood is computed in the network's
    standardised units and corrected by the Jacobian of the scaling,
    ``-sum(log(scale))``.  Reconstruction terms are summed over features and
    averaged over samples.  Early stopping and the plateau schedule monitor
    the losses without that constant, so they do not depend on the units of
    ``X``.

    *Defaults.*  The network is the autoencoder's; ``n_components=16``
    (unused latent dimensions cost little, as the KL term switches them
    off; it may exceed ``n_features_in_``), a ``"auto"`` batch of 64 rows,
    ``learning_rate=5e-4`` and ``n_iter_no_change=20`` (the ELBO's
    gradient and validation value are noisy: smaller steps, more patience)
    differ from it.

    *Randomness.*  ``random_state`` also fixes the noise of
    :meth:`score_samples` and the stream that :meth:`sample` draws from when
    called without its own ``random_state``.  The noise of
    :meth:`score_samples` is derived from the content of each row, so a
    row's score does not depend on the rows scored with it, their order or
    the batching; identical rows score identically.

    A fit ends with a ``UserWarning`` when the posterior has collapsed: when
    every latent dimension carries less than 0.01 nats of KL on average over
    the training data, the decoder ignores the code (lower ``beta``, or use
    ``free_bits`` or ``kl_warmup``).

    References
    ----------
    D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    Y. Burda, R. Grosse and R. Salakhutdinov, "Importance Weighted
    Autoencoders", ICLR 2016.
    I. Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a
    Constrained Variational Framework", ICLR 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAEGenerator
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAEGenerator(n_components=8, max_iter=5, random_state=0)
    >>> vae.fit_transform(X / 16).shape
    (1797, 8)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    """

    _auto_batch_size = {"mlp": 64, "conv": 64}
    _output_param = "likelihood"
    _fitted_state = (*BaseAutoencoder._fitted_state, "reconstruction_loss_curve_",
                     "kl_loss_curve_", "classes_", "_class_counts", "_fit_dtype", "_mixture",
                     "_n_importance_samples", "_sample_rng_state", "_auto_free_bits",
                     "_sample_noise")

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "likelihood": [StrOptions({"gaussian", "bernoulli"})],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup": [Interval(Integral, 0, None, closed="left")],
        "free_bits": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "observation_variance": [
            StrOptions({"learned", "feature", "shared"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "iwae_samples": [Interval(Integral, 1, None, closed="left")],
        "conditional": ["boolean"],
        "sampler": [StrOptions({"prior", "mixture"})],
    }

    def __init__(
        self,
        n_components=16,
        *,
        hidden_layer_sizes=(512, 256),
        activation="relu",
        scaling="auto",
        likelihood="gaussian",
        beta=1.0,
        kl_warmup=0,
        free_bits="auto",
        observation_variance="learned",
        conditional=False,
        sampler="mixture",
        n_importance_samples=1,
        iwae_samples=1,
        weight_decay=1e-4,
        batch_size="auto",
        learning_rate=5e-4,
        learning_rate_schedule="plateau",
        optimizer="adam",
        max_iter=200,
        max_time=None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        tol=1e-4,
        max_grad_norm=None,
        warm_start=False,
        input_shape=None,
        architecture="auto",
        conv_channels=(32, 64, 128),
        conv_hidden_layer_sizes=(256,),
        encoder=None,
        decoder=None,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.scaling = scaling
        self.likelihood = likelihood
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.free_bits = free_bits
        self.observation_variance = observation_variance
        self.conditional = conditional
        self.sampler = sampler
        self.n_importance_samples = n_importance_samples
        self.iwae_samples = iwae_samples
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

    # ----------------------------------------------------------- base hooks
    @staticmethod
    def _assemble_network(spec, encoder, decoder, feature_width):
        likelihood = make_likelihood(spec.likelihood, spec.observation_variance, spec.n_features)
        n_classes = len(spec.classes) if spec.conditional else 0
        return VariationalNet(encoder, decoder, feature_width, spec.n_components,
                              spec.n_features, likelihood=likelihood,
                              input_shape=spec.input_shape, n_classes=n_classes,
                              missing_mask=spec.missing_mask)

    def _model_kind(self):
        output = "sigmoid" if self.likelihood == "bernoulli" else "identity"
        return {"output": output, "likelihood": self.likelihood}

    def _train_loss(self, net, x, generator, epoch):
        warm = min(1.0, (epoch + 1) / self.kl_warmup) if self.kl_warmup > 0 else 1.0
        loss, rec, kl = net.training_terms(x, generator, self.iwae_samples, self.beta * warm,
                                           self._free_bits())
        return loss, {"reconstruction": rec.mean().detach(), "kl": kl.mean().detach()}

    def _validation_loss(self, net, x, generator):
        return net.training_terms(x, generator, self.iwae_samples, self.beta, self._free_bits())[0]

    def _check_targets(self, X, y, *, fresh, incremental):
        if not self.conditional:
            return None  # y is ignored
        continued = not fresh and self._spec.conditional
        labels, counts = fit_targets(
            self, X, y, fitted_classes=self.classes_ if continued else None,
            fitted_counts=self._class_counts if continued else None, incremental=incremental)
        # a fit that fails restores the estimator, these included
        self.classes_, self._class_counts = np.asarray(labels.classes), counts
        return labels

    def _update_network(self, net):
        if self.likelihood == "gaussian" and not isinstance(self.observation_variance, str):
            net.likelihood.set_variance(self.observation_variance)

    def _free_bits(self):
        """The free bits of this fit: ``free_bits``, with "auto" resolved by the first fit."""
        if self.free_bits != "auto":
            return self.free_bits
        return getattr(self, "_auto_free_bits", 0.0)  # a model fitted before free bits: the ELBO

    def _prepare_network(self, net, X, scaling):
        small = X.shape[0] < _FREE_BITS_ROWS
        self._auto_free_bits = _SMALL_DATA_FREE_BITS if small else 0.0
        if self.likelihood == "gaussian" and self.observation_variance == "learned":
            # one variance per feature for features scaled one by one (tables);
            # one for all when they share a scale (pixels, some always blank)
            net.likelihood.share(scaling == "global")

    def _loss_offset(self, net):
        return -float(net.log_jacobian())

    def _after_fit(self, X, *, fresh, incremental, eval_rows, labels):
        self.reconstruction_loss_curve_ = [r["reconstruction"] for r in self.history_]
        self.kl_loss_curve_ = [r["kl"] for r in self.history_]
        if fresh:
            self._fit_dtype = X.dtype
            stream = make_generator(draw_seed(self._seed % 2**32))
            self._sample_rng_state = stream.get_state()
        if self._spec.conditional:
            self.net_.set_class_prior(self._class_counts)
        else:
            for name in ("classes_", "_class_counts"):
                self.__dict__.pop(name, None)
        self._n_importance_samples = self.n_importance_samples
        # the prior and independent noise, until the sampler is fitted below
        self._mixture = self._sample_noise = None
        if not incremental:
            self._warn_if_collapsed(X[:_COLLAPSE_ROWS])
        self._fit_sampler(X, labels)

    def _after_fit_interrupted(self):
        missing = "sample draws codes from the prior N(0, I), not from a mixture fitted to them"
        if getattr(self.net_.likelihood, "calibrated", False):
            missing += (", and the per-feature observation variance may not be set from the "
                        "training rows, nor the covariance of the noise that sample adds")
        return missing

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.conditional
        return tags
