"""The base class shared by every skae estimator. Not for direct use."""

import contextlib
import copy
import warnings
from abc import ABCMeta, abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import metadata_routing

from ._data import BatchReader, data_scaling, has_missing, input_shift, resolve_scaling
from ._device import DeviceStateMixin, resolve_device, to_cpu
from ._inference import InferenceMixin
from ._losses import trimmed_mean
from ._network_spec import describe_network
from ._random import draw_seed, make_generator, seeded_global_rng
from ._reservoir import update_reservoir
from ._training import LoopConfig, make_optimizer, train, user_stacklevel
from ._validation import (
    HasMethods,
    Integral,
    Interval,
    Real,
    StrOptions,
    _fit_context,
    check_float32_scale,
    check_unit_interval,
)

# Successive fit calls of one estimator draw from streams this far apart (a
# prime, so that the streams of different seeds do not line up).
_FIT_CALL_STRIDE = 7919
# partial_fit fixes the data scaling from its first chunk: fewer rows than
# this give a noisy estimate, and a warning.
_MIN_SCALING_ROWS = 32
# batch_size="auto" on small data: batches small enough that an epoch takes
# at least _MIN_STEPS_PER_EPOCH optimizer steps, but of at least
# _MIN_AUTO_BATCH rows (a table of 150 rows would otherwise train on one or
# two steps per epoch, and stop long before it has converged).
_MIN_STEPS_PER_EPOCH = 8
_MIN_AUTO_BATCH = 16


class BaseAutoencoder(
    InferenceMixin, DeviceStateMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator,
    metaclass=ABCMeta,
):
    """Fit skeleton, batched inference, tags and pickling shared by skae's estimators.

    Subclasses define ``__init__`` (storing parameters only) and these hooks:
    :meth:`_model_kind` (the output and likelihood of the network),
    :meth:`_train_loss` and :meth:`_validation_loss`; optionally
    :meth:`_check_training_data`, :meth:`_loss_offset`, :meth:`_prepare_network`
    and :meth:`_after_fit`.
    """

    # What batch_size="auto" means for the fully connected and the
    # convolutional network (see the estimators' docstrings).
    _auto_batch_size = {"mlp": 128, "conv": 32}
    # The parameter that sets the network's output (named in error messages).
    _output_param = "loss"
    # What a fitted model is, beside its parameters, its network (``net_``,
    # described by ``_spec``) and its optimizer state: the attributes that
    # skae.persistence writes and reads back.  Subclasses add theirs.
    _fitted_state = (
        "n_features_in_", "feature_names_in_", "n_components_", "input_shape_", "scaling_",
        "device_", "interrupted_", "history_", "loss_curve_", "validation_loss_curve_",
        "best_loss_", "n_iter_", "_seed", "_n_fit_calls", "_optimizer_kind",
        "_reservoir_rows", "_reservoir_labels", "_reservoir_seen", "_validation_rows",
    )
    # fit's trim_fraction is a setting, not per-sample metadata to route (as
    # check_input of scikit-learn's trees): no set_fit_request for it.
    __metadata_request__fit = {"trim_fraction": metadata_routing.UNUSED}

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [tuple, list],
        "activation": [
            StrOptions({"relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid", "identity"})
        ],
        "scaling": [StrOptions({"auto", "feature", "global"})],
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
        "max_time": [None, Interval(Real, 0, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ----------------------------------------------------------------- hooks
    @abstractmethod
    def _model_kind(self):
        """``{"output": "identity" | "sigmoid", "likelihood": None | name}`` of the network."""

    @abstractmethod
    def _train_loss(self, net, x, generator, epoch):
        """Per-sample training losses of batch ``x``, shape ``(n,)``, and a dict of its parts.

        The fit averages the losses (leaving out the largest ``trim_fraction``
        of them, see :meth:`fit`); the parts are batch means, for ``history_``.
        """

    @abstractmethod
    def _validation_loss(self, net, x, generator):
        """Per-sample loss of batch ``x`` used for early stopping."""

    @staticmethod
    @abstractmethod
    def _assemble_network(spec, encoder, decoder, feature_width):
        """The estimator's network around ``encoder`` and ``decoder`` (see ``NetworkSpec.build``)."""

    def _check_training_data(self, X):
        """Extra checks of parameters against validated training data."""

    def _hides_values(self):
        """Whether training hides observed values as missing (so the network needs the mask)."""
        return False

    def _fit_losses(self, net, reader, train_idx, seed):
        """The training and validation losses the loop calls in this fit.

        By default :meth:`_train_loss` and :meth:`_validation_loss`.  A loss
        that needs something worked out once per fit from the training rows
        (``reader`` reads them in the network's input units, ``seed`` seeds
        any randomness) binds it here.
        """
        return self._train_loss, self._validation_loss

    def _loss_offset(self, net):
        """Constant added to the losses of ``history_`` to report them in data units.

        The loop monitors the losses without it, so early stopping and the
        plateau schedule do not depend on the units of ``X``.
        """
        return 0.0

    def _prepare_network(self, net, X, scaling):
        """Set up a network built for the validated data ``X`` once its ``scaling`` is chosen."""

    def _after_fit(self, X, *, fresh, incremental, eval_rows, labels):
        """Estimator-specific steps after a successful fit.

        ``X`` is the validated data and ``eval_rows`` the indices of its rows
        held out for validation (the training rows when there are none);
        ``labels`` are the class indices of the rows of ``X`` (None when no
        ``y`` is used).  After ``partial_fit``, ``X`` is instead a uniform
        sample of every row the ``partial_fit`` calls have seen
        (:mod:`skae._reservoir`) and ``eval_rows`` all its rows, so that what
        is worked out here describes every chunk, not the last one.
        """

    def _after_fit_interrupted(self):
        """Leave a usable model when Ctrl-C stops :meth:`_after_fit`; what it lacks.

        The trained network is kept; this returns a sentence (or "") saying
        what the interrupted step would have added.
        """
        return ""

    def _update_network(self, net):
        """Set what the current parameters change in a warm-started copy ``net``.

        Called before training continues from the fitted network; parameters
        that do not change its structure but live in it (e.g. a fixed
        observation variance) are written here.
        """

    def _code_width(self, X, fresh):
        """Width of the network's code for this fit (``n_components`` by default)."""
        return self.n_components

    def _check_targets(self, X, y, *, fresh, incremental):
        """Validate ``y`` against the validated ``X``; None when ``y`` is not used.

        Estimators that train on labels return an object with a ``classes``
        tuple and a ``reader(X, device)`` method giving the batch reader of
        the fit (``reader(X, device, shift)``); they may set label attributes here (a failing fit restores
        the estimator).  By default ``y`` is ignored.
        """
        return None

    # ------------------------------------------------------------- building
    def _describe(self, n_features, code_width, targets=None, fresh=True, missing=False):
        """The :class:`~skae._network_spec.NetworkSpec` of these parameters for the data.

        ``fresh`` is False when the fit continues the fitted network;
        ``missing``: whether the network sees missing values in training.
        """
        params = {**self.get_params(deep=False), "n_components": code_width}
        classes = None if targets is None else targets.classes
        return describe_network(
            params, n_features, classes=classes, missing=missing,
            auto_batch_size=self._auto_batch_size, **self._model_kind(),
        )

    def _epoch_batch_size(self, spec, n_train):
        """The mini-batch size of this fit on ``n_train`` training rows."""
        size = spec.batch_size
        if self.batch_size == "auto":
            size = min(size, max(_MIN_AUTO_BATCH, n_train // _MIN_STEPS_PER_EPOCH))
        return min(size, n_train)

    # -------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, trim_fraction=0.0):
        """Fit the autoencoder to ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.  Sparse matrices are densified one batch at a
            time and memory-mapped arrays are read one batch at a time.
        y : array-like of shape (n_samples,) or None, default=None
            Class labels for a conditional :class:`VAEGenerator`; ignored
            otherwise (present for API consistency by convention).
        trim_fraction : float in [0, 0.5), default=0.0
            Fraction of each mini-batch's rows with the largest training
            loss that are left out of that step's loss (a trimmed mean,
            rounded down to whole rows), so that a model trained on data
            that holds outliers does not learn to reconstruct them.  The
            validation loss of early stopping stays the plain mean.  See
            :class:`~skae.AutoencoderOutlierDetector`.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False, trim_fraction=trim_fraction)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch on ``X``, continuing from the current weights.

        The first call builds the network and fixes the data scaling from
        that first chunk (a warning says when it holds too few rows for a
        reliable estimate).  No validation split and no early stopping.
        What is worked out from the data after training (a VAE's sampling
        mixture, an ordered code's ``explained_variance_ratio_``) describes
        every chunk seen since the last :meth:`fit`: it is computed on a
        uniform sample of up to 2,000 of their rows, kept with the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,) or None, default=None
            Class labels for a conditional :class:`VAEGenerator` (the first
            chunk fixes ``classes_``); ignored otherwise.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, incremental=True)

    def _fit(self, X, y, *, incremental, trim_fraction=0.0):
        """Fit, or leave the estimator exactly as it was if anything raises."""
        snapshot = dict(self.__dict__)
        try:
            return self._fit_or_raise(X, y, incremental=incremental, trim_fraction=trim_fraction)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _fit_or_raise(self, X, y, *, incremental, trim_fraction):
        if not (isinstance(trim_fraction, Real) and 0 <= trim_fraction < 0.5):
            raise ValueError(
                f"trim_fraction must be a float in [0, 0.5); got {trim_fraction!r}."
            )
        fresh = not hasattr(self, "net_") or not (incremental or self.warm_start)
        device = resolve_device(self.device)
        X = self._validate_X(X, reset=fresh)
        targets = self._check_targets(X, y, fresh=fresh, incremental=incremental)
        # the first fit decides whether the built-in encoder reads a missing-value mask
        missing = (self._hides_values() or has_missing(X) if fresh
                   else self._spec.missing_mask)
        spec = self._describe(X.shape[1], self._code_width(X, fresh), targets, fresh, missing)
        if not fresh:
            self._spec.require_same(spec, self.get_params(deep=False), self._output_param)
        if spec.output == "sigmoid":
            check_unit_interval(X, f"{self._output_param}={getattr(self, self._output_param)!r}")
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
        if fresh and incremental and n_samples < _MIN_SCALING_ROWS:
            warnings.warn(
                f"partial_fit fixes the data scaling from its first chunk, which holds only "
                f"{n_samples} rows; the estimate is unreliable below {_MIN_SCALING_ROWS} rows. "
                "Pass a larger first chunk.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        seed = draw_seed(self.random_state) if fresh else self._seed
        n_calls = 0 if fresh else self._n_fit_calls
        call_seed = (seed + _FIT_CALL_STRIDE * n_calls) % 2**62
        generator = make_generator(call_seed, "cpu")
        perm = torch.randperm(n_samples, generator=generator)
        val_idx, train_idx = perm[:n_val], perm[n_val:]
        state = None  # of the optimizer; a new kind of optimizer starts afresh
        if fresh:
            mean, scale, scaling = data_scaling(X, resolve_scaling(self.scaling,
                                                                   spec.input_shape))
            check_float32_scale(scale)
            net = spec.build(generator, self._assemble_network)
            net.set_scaling(mean, scale, shift=input_shift(mean, scale, spec.output))
            self._prepare_network(net, X, scaling)
            net.to(device)
        else:  # train a copy: the fitted network stays as it is until success
            net = copy.deepcopy(self.net_).to(device)
            self._update_network(net)
            if self._optimizer_kind == self.optimizer:
                state = copy.deepcopy(self._optimizer_state)
            scaling = self.scaling_
        shift = net.input_shift.cpu().numpy()
        reader = (BatchReader(X, device, shift=shift) if targets is None
                  else targets.reader(X, device, shift))
        optimizer = make_optimizer(self.optimizer, net.parameters(), self.learning_rate,
                                   self.weight_decay, state=state)
        epochs_done = 0 if fresh else self.n_iter_
        annealed = self.learning_rate_schedule in ("cosine", "onecycle")
        cfg = LoopConfig(
            batch_size=self._epoch_batch_size(spec, len(train_idx)),
            max_epochs=1 if incremental else self.max_iter,
            schedule="constant" if incremental else self.learning_rate_schedule,
            n_iter_no_change=self.n_iter_no_change, tol=self.tol,
            monitor_validation=use_val,
            # scikit-learn's MLP stops on a plateau of the training loss even
            # without early stopping; an annealed schedule runs to its end.
            stop_on_plateau=not incremental and (self.early_stopping or not annealed),
            keep_best=self.early_stopping and not incremental,
            max_grad_norm=self.max_grad_norm, verbose=self.verbose,
            epoch_offset=epochs_done,
            max_time=None if incremental else self.max_time,
        )

        train_loss, val_loss = self._fit_losses(net, reader, train_idx, call_seed)

        def batch_loss(net, x, generator, epoch):
            losses, parts = train_loss(net, x, generator, epoch)
            return trimmed_mean(losses, trim_fraction), parts

        # a user's modules may draw from torch's default generator (e.g. dropout)
        with (seeded_global_rng(call_seed, device) if spec.has_user_modules
              else contextlib.nullcontext()):
            result = train(
                net, optimizer, reader, train_idx, val_idx,
                batch_loss, val_loss, generator, cfg,
            )
        offset = self._loss_offset(net)
        for record in result.history:
            for key in ("loss", "reconstruction", "validation_loss"):
                if key in record:
                    record[key] += offset
        self._seed, self._n_fit_calls = seed, n_calls + 1
        self._spec = spec
        self.net_ = net
        self.device_ = str(device)
        self.n_components_ = spec.n_components
        self.input_shape_ = spec.input_shape
        self.scaling_ = scaling
        self.interrupted_ = result.interrupted
        self._optimizer_state = to_cpu(optimizer.state_dict())
        self._optimizer_kind = self.optimizer
        self.history_ = ([] if fresh else self.history_) + result.history
        self.loss_curve_ = [r["loss"] for r in self.history_]
        self.validation_loss_curve_ = [
            r["validation_loss"] for r in self.history_ if "validation_loss" in r
        ]
        self.best_loss_ = min(result.best_loss + offset, np.inf if fresh else self.best_loss_)
        self.n_iter_ = epochs_done + len(result.history)
        self._validation_rows = val_idx.numpy()  # rows this fit did not train on
        labels = None if targets is None else targets.codes
        eval_rows = (val_idx if n_val else train_idx).numpy()
        if incremental:
            X, labels = self._remember_rows(X, labels, fresh, call_seed)
            eval_rows = np.arange(X.shape[0])
        else:
            for name in ("_reservoir_rows", "_reservoir_labels", "_reservoir_seen"):
                self.__dict__.pop(name, None)
        try:
            self._after_fit(X, fresh=fresh, incremental=incremental, eval_rows=eval_rows,
                            labels=labels)
        except KeyboardInterrupt:  # keep the finished training
            missing = self._after_fit_interrupted()
            self.interrupted_ = True
            warnings.warn(
                "Interrupted by the user after training, while the fitted model was being "
                "completed; keeping the trained network" + (f", but {missing}" if missing
                                                             else "") + ". Fit again to complete it.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        return self

    def _remember_rows(self, X, labels, fresh, seed):
        """Add a ``partial_fit`` chunk to the sample of rows seen; that sample and its labels."""
        state = None
        if not fresh and hasattr(self, "_reservoir_rows"):
            state = {"rows": self._reservoir_rows, "labels": self._reservoir_labels,
                     "seen": self._reservoir_seen}
        state = update_reservoir(state, X, labels, seed)
        self._reservoir_rows, self._reservoir_labels = state["rows"], state["labels"]
        self._reservoir_seen = state["seen"]
        rows = state["rows"].numpy().astype(X.dtype, copy=False)
        return rows, None if state["labels"] is None else state["labels"].numpy()

    # ---------------------------------------------------------------- tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = self._allows_missing()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
