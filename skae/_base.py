"""The base class shared by every skae estimator. Not for direct use."""

from abc import ABCMeta, abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array

from ._data import BatchReader, feature_moments
from ._device import DeviceStateMixin, resolve_device, to_cpu
from ._random import draw_seed, isolated_torch_rng, make_generator
from ._training import LoopConfig, make_optimizer, train
from ._validation import (
    HasMethods,
    Integral,
    Interval,
    Real,
    StrOptions,
    _fit_context,
    check_float32_range,
    check_is_fitted,
    check_layer_sizes,
    validate_data,
)
from .nn._build import output_width, resolve_module
from .nn._conv import ConvDecoder, ConvEncoder, resolve_input_shape
from .nn._mlp import MLPDecoder, MLPEncoder
from .nn._network import AutoencoderNet

_DTYPES = [np.float64, np.float32]
# Inference runs on chunks of exactly this many rows (the last one padded):
# float32 kernels pick their blocking by batch size, so a fixed size is what
# makes every output row independent of the rows it is batched with.
_INFERENCE_ROWS = 512


class BaseAutoencoder(
    DeviceStateMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator,
    metaclass=ABCMeta,
):
    """Fit skeleton, batched inference, tags and pickling shared by skae's estimators.

    Subclasses define ``__init__`` (storing parameters only), the output kind
    of the network, and their loss through :meth:`_train_loss` and
    :meth:`_validation_loss`.
    """

    _n_heads = 1
    # What batch_size="auto" means for the fully connected and the
    # convolutional network (see the estimators' docstrings).
    _auto_batch_size = {"mlp": 128, "conv": 32}

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [tuple, list],
        "activation": [
            StrOptions({"relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid", "identity"})
        ],
        "input_shape": [None, tuple, list],
        "architecture": [StrOptions({"auto", "mlp", "conv"})],
        "conv_channels": [tuple, list],
        "conv_hidden_layer_sizes": [tuple, list],
        "encoder": [None, callable, HasMethods(["forward"])],
        "decoder": [None, callable, HasMethods(["forward"])],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "learning_rate_schedule": [StrOptions({"constant", "plateau", "cosine", "onecycle"})],
        "optimizer": [StrOptions({"adam", "sgd", "rmsprop"}), callable],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ----------------------------------------------------------------- hooks
    @abstractmethod
    def _output_kind(self):
        """``"sigmoid"`` for data in [0, 1] read as probabilities, else ``"identity"``."""

    @abstractmethod
    def _train_loss(self, net, x, generator, epoch):
        """Mean training loss of batch ``x`` and a dict of its parts."""

    @abstractmethod
    def _validation_loss(self, net, x, generator):
        """Per-sample loss of batch ``x`` used for early stopping."""

    def _check_training_data(self, X):
        """Extra checks on validated training data (e.g. a [0, 1] range)."""

    def _build_extra(self, net):
        """Add estimator-specific parameters to a freshly built network."""

    # ------------------------------------------------------------- building
    def _input_shape(self, n_features):
        """The validated ``input_shape`` (or None); its product must be n_features."""
        if self.input_shape is None:
            if self.architecture == "conv":
                raise ValueError("architecture='conv' needs input_shape=(C, H, W).")
            return None
        return resolve_input_shape(self.input_shape, n_features)

    def _context(self, n_features):
        return {
            "n_features": n_features,
            "n_components": self.n_components,
            "input_shape": self._input_shape(n_features),
        }

    def _uses_conv(self, n_features):
        """Whether the default network for this data is the convolutional one."""
        return self._input_shape(n_features) is not None and self.architecture != "mlp"

    def _batch_size(self, n_features):
        if self.batch_size == "auto":
            return self._auto_batch_size["conv" if self._uses_conv(n_features) else "mlp"]
        return self.batch_size

    def _default_modules(self, n_features):
        shape = self._input_shape(n_features)
        if self._uses_conv(n_features):
            channels = check_layer_sizes(self.conv_channels, "conv_channels")
            if not channels:
                raise ValueError("conv_channels must hold at least one width.")
            dense = check_layer_sizes(self.conv_hidden_layer_sizes, "conv_hidden_layer_sizes")
            encoder = ConvEncoder(shape, channels, self.activation, hidden=dense)
            decoder = ConvDecoder(
                self.n_components, shape, channels[::-1], self.activation, hidden=dense[::-1]
            )
            return encoder, decoder, shape
        hidden = check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        encoder = MLPEncoder(n_features, hidden, self.activation)
        decoder = MLPDecoder(self.n_components, hidden, n_features, self.activation)
        return encoder, decoder, shape

    def _build_net(self, n_features):
        ctx = self._context(n_features)
        encoder, decoder, input_shape = self._default_modules(n_features)
        if self.encoder is not None:
            encoder = resolve_module(self.encoder, "encoder", ctx)
        if self.decoder is not None:
            decoder = resolve_module(self.decoder, "decoder", ctx)
        shape = (2, *input_shape) if input_shape is not None else (2, n_features)
        width = output_width(encoder, torch.zeros(shape), "encoder")
        net = AutoencoderNet(
            encoder, decoder, width, self.n_components, n_features,
            n_heads=self._n_heads, input_shape=input_shape, output=self._output_kind(),
        )
        produced = output_width(decoder, torch.zeros(2, self.n_components), "decoder")
        if produced != n_features:
            raise ValueError(
                f"The decoder returns {produced} values per sample, but X has "
                f"{n_features} features."
            )
        self._build_extra(net)
        return net

    # -------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the autoencoder to ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.  Sparse matrices are densified one batch at a
            time and memory-mapped arrays are read one batch at a time.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch on ``X``, continuing from the current weights.

        The first call builds the network and fixes the data scaling from
        that first chunk.  No validation split and no early stopping.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, incremental=True)

    def _fit(self, X, *, incremental):
        fresh = not hasattr(self, "net_") or not (incremental or self.warm_start)
        check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        check_layer_sizes(self.conv_hidden_layer_sizes, "conv_hidden_layer_sizes")
        device = resolve_device(self.device)
        X = self._validate_X(X, reset=fresh)
        self._input_shape(X.shape[1])
        self._check_training_data(X)
        n_samples = X.shape[0]
        use_val = self.early_stopping and self.validation_fraction > 0 and not incremental
        n_val = int(np.ceil(self.validation_fraction * n_samples)) if use_val else 0
        if n_samples - n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no training "
                f"sample with n_samples={n_samples}; pass more samples or set "
                "early_stopping=False."
            )
        if fresh:
            self._seed = draw_seed(self.random_state)
            self._n_fit_calls = 0
        call_seed = (self._seed + 7919 * self._n_fit_calls) % 2**62
        self._n_fit_calls += 1
        generator = make_generator(call_seed, "cpu")
        reader = BatchReader(X, device)
        perm = torch.randperm(n_samples, generator=generator)
        val_idx, train_idx = perm[:n_val], perm[n_val:]
        try:
            with isolated_torch_rng(call_seed, device):
                if fresh:
                    net = self._build_net(X.shape[1])
                    net.set_scaling(*feature_moments(reader))
                    net.to(device)
                    optimizer_state = None
                else:
                    net, optimizer_state = self.net_, self._optimizer_state
                optimizer = make_optimizer(
                    self.optimizer, net.parameters(), self.learning_rate, self.weight_decay
                )
                if optimizer_state is not None:
                    optimizer.load_state_dict(optimizer_state)
                    for group in optimizer.param_groups:
                        group["lr"] = self.learning_rate
                epochs_done = 0 if fresh else self.n_iter_
                cfg = LoopConfig(
                    batch_size=min(self._batch_size(X.shape[1]), len(train_idx)),
                    max_epochs=1 if incremental else self.max_iter,
                    schedule="constant" if incremental else self.learning_rate_schedule,
                    n_iter_no_change=self.n_iter_no_change,
                    tol=self.tol,
                    monitor_validation=use_val,
                    stop_early=not incremental,
                    max_grad_norm=self.max_grad_norm,
                    verbose=self.verbose,
                    epoch_offset=epochs_done,
                )
                result = train(
                    net, optimizer, reader, train_idx, val_idx,
                    self._train_loss, self._validation_loss, generator, cfg,
                )
        except BaseException:
            if fresh:
                self._forget_fit()
            raise
        self.net_ = net
        self.device_ = str(device)
        self._optimizer_state = to_cpu(optimizer.state_dict())
        self.history_ = ([] if fresh else self.history_) + result.history
        self.loss_curve_ = [r["loss"] for r in self.history_]
        self.validation_loss_curve_ = [
            r["validation_loss"] for r in self.history_ if "validation_loss" in r
        ]
        self.best_loss_ = min(result.best_loss, np.inf if fresh else self.best_loss_)
        self.n_iter_ = epochs_done + len(result.history)
        self._record_history()
        self._after_fit(X, fresh=fresh, incremental=incremental)
        return self

    def _record_history(self):
        """Derive estimator-specific curves from ``history_``."""

    def _after_fit(self, X, *, fresh, incremental):
        """Estimator-specific steps after training, given the validated ``X``."""

    def _forget_fit(self):
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)
        for name in ("_optimizer_state", "n_features_in_", "feature_names_in_"):
            self.__dict__.pop(name, None)

    # ------------------------------------------------------------ inference
    def _validate_X(self, X, *, reset):
        """Validate data for any method: 2-D, finite, numeric, within float32 range."""
        X = validate_data(self, X, accept_sparse="csr", dtype=_DTYPES, reset=reset)
        check_float32_range(X)
        return X

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")

    @property
    def _n_features_out(self):
        return self.n_components

    def _map_rows(self, X, fn, width, dtype):
        """Apply ``fn`` to float32 batches of ``X`` under inference mode.

        Every chunk holds exactly ``_INFERENCE_ROWS`` rows (the last is padded
        with zeros), so results are bitwise batch-invariant.
        """
        out = np.empty((X.shape[0], width), dtype=dtype)
        reader = BatchReader(X, self.device_, stream=True)
        with torch.inference_mode():
            lo = 0
            for x in reader.slices(_INFERENCE_ROWS):
                n = x.shape[0]
                if n < _INFERENCE_ROWS:
                    x = torch.cat([x, x.new_zeros((_INFERENCE_ROWS - n, *x.shape[1:]))])
                res = fn(x)[:n].reshape(n, width)
                out[lo:lo + n] = res.to("cpu").numpy()
                lo += n
        return out

    def transform(self, X):
        """Encode ``X`` into codes (deterministic; no noise, eval mode).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The codes, in the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._map_rows(X, self.net_.encode, self.n_components, X.dtype)

    def inverse_transform(self, X):
        """Decode codes back to data space (the reconstruction's mean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Reconstructions, in the dtype of ``X``.
        """
        check_is_fitted(self)
        X = check_array(X, dtype=_DTYPES, input_name="X")
        check_float32_range(X)
        if X.shape[1] != self.n_components:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} expects "
                f"{self.n_components} components as input to inverse_transform."
            )
        return self._map_rows(X, self.net_.decode, self.n_features_in_, X.dtype)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over ``X`` (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    # ---------------------------------------------------------------- tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
