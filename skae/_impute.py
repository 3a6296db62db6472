"""AutoencoderImputer: fill in missing values with an autoencoder trained on incomplete rows."""

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import check_random_state

from ._autoencoder import AutoencoderTransformer
from ._vae import VAEGenerator
from ._vae_model import LOGVAR_MAX, LOGVAR_MIN
from ._validation import (
    HasMethods,
    Integral,
    Interval,
    _BaseImputer,
    _check_feature_names_in,
    _check_inputs_dtype,
    _fit_context,
    _get_mask,
    check_is_fitted,
    is_pandas_na,
    is_scalar_nan,
    validate_data,
)

_DTYPES = [np.float64, np.float32]
# The default autoencoder's code is as wide as the features, up to this width.
_MAX_CODE = 64


def default_imputation_estimator(n_features, random_state):
    """The autoencoder that ``estimator=None`` trains on ``n_features`` features.

    A denoising autoencoder that hides a fifth of the observed values as
    missing at every step (``noise="missing"``) and learns to restore them
    from the rest.  Its code is as wide as the data (up to 64 components):
    the hidden values, not the code's width, keep it from copying its input,
    and a narrower code restored the missing values less well on the tables
    and the digits of ``benchmarks/bench_impute.py``.  It has no
    ``linear_shortcut``: with one, the same benchmark's errors rose on 11 of
    its 12 cells of the tables and the digits.
    """
    return AutoencoderTransformer(
        n_components=int(min(_MAX_CODE, n_features)), hidden_layer_sizes=(256, 256),
        noise="missing", noise_level=0.2, linear_shortcut=False, random_state=random_state,
    )


class AutoencoderImputer(_BaseImputer):
    """Imputation of missing values with an autoencoder trained on the incomplete rows.

    The autoencoder (``estimator``) is trained on the rows as they are:
    its loss counts only the observed values, and its built-in encoder
    reads, beside the values, which of them are missing.  To impute, each
    row with missing values is encoded and decoded, and its missing entries
    are set to the reconstruction; observed entries are returned bitwise
    unchanged.  With ``n_iter > 1`` the filled rows are encoded and decoded
    again (as complete rows) and the missing entries refilled, ``n_iter``
    times in all.

    With a :class:`~skae.VAEGenerator` and ``sample_posterior=True`` each
    missing entry is a draw from the model's predictive distribution
    instead of its mean: a code drawn from the posterior of the row's
    observed values, decoded, plus a draw of the observation noise.
    Repeated :meth:`transform` calls give new draws (the generator of
    ``random_state`` advances); imputers fitted with different
    ``random_state`` give different draws, and equal seeds equal draws.
    This is multiple imputation, as :class:`~sklearn.impute.IterativeImputer`
    offers it.

    A row whose entries are all missing is imputed from the mask alone: it
    gets the reconstruction of the code the encoder gives an empty row (the
    same for every such row), close to the features' means.  A feature with
    no observed value in ``fit`` is dropped from the output, or kept and
    filled with 0 with ``keep_empty_features=True``, as in
    :class:`~sklearn.impute.SimpleImputer`.

    Read more in the user guide's "Missing values".

    Parameters
    ----------
    estimator : AutoencoderTransformer, VAEGenerator or None, default=None
        The autoencoder to train, cloned at :meth:`fit`.  None trains an
        :class:`~skae.AutoencoderTransformer` chosen for imputation: a
        denoising autoencoder with ``noise="missing"`` and
        ``noise_level=0.2`` (a fifth of the observed values hidden as
        missing at each step, to be restored), ``hidden_layer_sizes=(256,
        256)``, a code as wide as the features (up to 64 components) and no
        ``linear_shortcut``, seeded by ``random_state``.  An estimator given
        here keeps its own ``random_state``.  A custom ``encoder`` reads the
        values alone, with missing values at the feature's mean (no mask);
        so does an estimator whose first fit saw no missing value and did
        not use ``noise="missing"``.
    missing_values : int, float, np.nan, None or pandas.NA, default=np.nan
        The placeholder for the missing values.  All occurrences of
        ``missing_values`` are imputed.  ``X`` is read as numbers, so
        ``None`` and ``pandas.NA`` entries become NaN and these three mean
        the same.  With a number as placeholder, ``X`` must not hold NaN.
    n_iter : int, default=1
        Number of passes of encoding, decoding and filling in.
    sample_posterior : bool, default=False
        Draw each imputation from the predictive distribution of a
        :class:`~skae.VAEGenerator` (see above) instead of taking its mean.
        Needs ``estimator`` to be a VAEGenerator.
    random_state : int, RandomState instance or None, default=None
        Seeds the default estimator's training and the draws of
        ``sample_posterior``.  Pass an int for reproducible results.
    add_indicator : bool, default=False
        If True, a :class:`~sklearn.impute.MissingIndicator` transform is
        stacked onto the output of the imputer's transform.
    keep_empty_features : bool, default=False
        If True, features that consist exclusively of missing values when
        :meth:`fit` is called are returned in the results of
        :meth:`transform`, filled with 0.

    Attributes
    ----------
    estimator_ : AutoencoderTransformer or VAEGenerator
        The fitted autoencoder, trained on the features that are not empty.
    indicator_ : :class:`~sklearn.impute.MissingIndicator`
        Indicator used to add binary indicators for missing values.
        ``None`` if ``add_indicator=False``.
    random_state_ : RandomState instance
        The generator of the draws of ``sample_posterior``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit` (string column names only).

    See Also
    --------
    sklearn.impute.SimpleImputer : Univariate imputation.
    sklearn.impute.KNNImputer : Imputation from the nearest neighbours.
    sklearn.impute.IterativeImputer : Imputation by chained regressions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_wine
    >>> from skae import AutoencoderImputer
    >>> X, _ = load_wine(return_X_y=True)
    >>> X_missing = X.copy()
    >>> X_missing[np.random.default_rng(0).random(X.shape) < 0.2] = np.nan
    >>> imputer = AutoencoderImputer(random_state=0)
    >>> X_filled = imputer.fit_transform(X_missing)
    >>> bool(np.isnan(X_filled).any())
    False
    """

    _parameter_constraints: dict = {
        **_BaseImputer._parameter_constraints,
        "estimator": [None, HasMethods(["fit", "transform", "inverse_transform"])],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "sample_posterior": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        missing_values=np.nan,
        n_iter=1,
        sample_posterior=False,
        random_state=None,
        add_indicator=False,
        keep_empty_features=False,
    ):
        super().__init__(missing_values=missing_values, add_indicator=add_indicator,
                         keep_empty_features=keep_empty_features)
        self.estimator = estimator
        self.n_iter = n_iter
        self.sample_posterior = sample_posterior
        self.random_state = random_state

    # ----------------------------------------------------------- validation
    def _nan_like(self):
        # X is numeric here, so None and pandas.NA entries arrive as NaN.
        value = self.missing_values
        return value is None or is_pandas_na(value) or is_scalar_nan(value)

    def _validate_input(self, X, in_fit):
        nan_like = self._nan_like()
        X = validate_data(
            self, X, reset=in_fit, dtype=_DTYPES,
            ensure_all_finite="allow-nan" if nan_like else True,
        )
        _check_inputs_dtype(X, np.nan if nan_like else self.missing_values)
        return X

    def _missing_mask(self, X):
        """Boolean mask of the entries of ``X`` that hold ``missing_values``."""
        if self._nan_like():  # None and pandas.NA are NaN once X is a float array
            return np.isnan(X)
        return _get_mask(X, self.missing_values)

    def _check_estimator(self):
        estimator = self.estimator
        if estimator is not None and not isinstance(estimator, (AutoencoderTransformer,
                                                                VAEGenerator)):
            raise TypeError(
                "estimator must be an AutoencoderTransformer, a VAEGenerator or None; got "
                f"{type(estimator).__name__}."
            )
        if self.sample_posterior and not isinstance(estimator, VAEGenerator):
            raise ValueError(
                "sample_posterior=True draws from the predictive distribution of a "
                "VAEGenerator; got estimator="
                f"{'None' if estimator is None else type(estimator).__name__}. Pass "
                "estimator=VAEGenerator(...) or sample_posterior=False."
            )
        if isinstance(estimator, VAEGenerator) and estimator.conditional:
            raise ValueError(
                "estimator=VAEGenerator(conditional=True) needs class labels to encode; "
                "an imputer has none. Pass a VAEGenerator with conditional=False."
            )

    # -------------------------------------------------------------- fitting
    @_fit_context(
        # the estimator's parameters are validated by its own fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None):
        """Fit the autoencoder on ``X``, missing values included.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data, where missing values are marked by
            ``missing_values``.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted imputer.
        """
        snapshot = dict(self.__dict__)
        try:
            return self._fit(X)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _fit(self, X):
        self._check_estimator()
        X = self._validate_input(X, in_fit=True)
        mask = self._missing_mask(X)
        super()._fit_indicator(mask)
        self._empty_features = mask.all(0)
        valid = ~self._empty_features
        rng = check_random_state(self.random_state)
        train_seed = int(rng.randint(np.iinfo(np.int32).max))
        if self.estimator is None:
            estimator = default_imputation_estimator(int(valid.sum()), train_seed)
        else:
            estimator = clone(self.estimator)
        self.random_state_ = np.random.RandomState(rng.randint(np.iinfo(np.int32).max))
        if valid.any():
            estimator.fit(_with_nan(X[:, valid], mask[:, valid]))
        self.estimator_ = estimator
        return self

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Impute all missing values in ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data to complete.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features_out)
            ``X`` with its missing values imputed, in the dtype of ``X``
            (float32 stays float32, anything else is float64); empty
            features dropped unless ``keep_empty_features``, and followed
            by the missing-value indicators if ``add_indicator``.
        """
        check_is_fitted(self)
        X = self._validate_input(X, in_fit=False)
        mask = self._missing_mask(X)
        X_indicator = super()._transform_indicator(mask)
        valid = ~self._empty_features
        filled = np.array(X[:, valid], copy=True)
        rows = mask[:, valid].any(1)
        if rows.any():
            filled[rows] = self._impute(filled[rows], mask[rows][:, valid])
        if self.keep_empty_features:
            out = np.zeros(X.shape, dtype=X.dtype)
            out[:, valid] = filled
            filled = out
        return super()._concatenate_indicator(filled, X_indicator)

    def _impute(self, X, mask):
        """``X`` (rows that miss values, at ``mask``) with its missing entries filled."""
        X = _with_nan(X, mask)
        for step in range(self.n_iter):
            last = step == self.n_iter - 1
            if self.sample_posterior and last:
                values = self._draw(X)
            else:
                values = self.estimator_.inverse_transform(self.estimator_.transform(X))
            X[mask] = values[mask]
        return X

    def _draw(self, X):
        """One draw from the VAE's predictive distribution for each row of ``X``."""
        vae = self.estimator_
        d = vae.n_components_
        stats = vae._map_rows(X, vae.net_.code_stats, 2 * d, np.float64, "code_stats")
        logvar = np.clip(stats[:, d:], LOGVAR_MIN, LOGVAR_MAX)
        eps = self.random_state_.standard_normal((X.shape[0], d))
        codes = stats[:, :d] + np.exp(0.5 * logvar) * eps
        mean = vae.inverse_transform(codes)
        if vae._spec.likelihood == "bernoulli":
            return (self.random_state_.random_sample(mean.shape) < mean).astype(X.dtype)
        with torch.no_grad():
            std = vae.net_.noise_std().to("cpu", torch.float64).numpy()
        noise = self.random_state_.standard_normal(mean.shape)
        return (mean + std * noise).astype(X.dtype)

    def get_feature_names_out(self, input_features=None):
        """Get output feature names for transformation.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input features.

            - If `input_features` is `None`, then `feature_names_in_` is
              used as feature names in. If `feature_names_in_` is not defined,
              then the following input feature names are generated:
              `["x0", "x1", ..., "x(n_features_in_ - 1)"]`.
            - If `input_features` is an array-like, then `input_features` must
              match `feature_names_in_` if `feature_names_in_` is defined.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The names of the features kept (all with
            ``keep_empty_features=True``), followed by those of the
            indicators with ``add_indicator=True``.
        """
        check_is_fitted(self, "n_features_in_")
        input_features = _check_feature_names_in(self, input_features)
        kept = np.ones(self.n_features_in_, dtype=bool)
        if not self.keep_empty_features:
            kept = ~self._empty_features
        names = input_features[kept]
        return self._concatenate_indicator_feature_names_out(names, input_features)


def _with_nan(X, mask):
    """A float copy of ``X`` with NaN at ``mask``."""
    X = np.array(X, copy=True)
    X[mask] = np.nan
    return X
