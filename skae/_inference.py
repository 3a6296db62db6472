"""Inference shared by skae's estimators: validation, batch-invariant mapping of rows,
``transform``, ``inverse_transform`` and ``score``.  Not for direct use.

:class:`InferenceMixin` reads only fitted state: the network ``net_``, its
spec ``_spec``, ``n_components_``, ``n_features_in_`` and ``device_``, and
asks its host one question, :meth:`_decodes_prefixes`.
"""

import numpy as np
from sklearn.utils import check_array

from ._data import map_rows
from ._validation import (
    check_float32_range,
    check_is_fitted,
    check_numeric_columns,
    validate_data,
)

_DTYPES = [np.float64, np.float32]


class InferenceMixin:
    """The inference methods of :class:`~skae._base.BaseAutoencoder`."""

    def _decodes_prefixes(self):
        """True when ``inverse_transform`` also takes the first ``k`` components of a code."""
        return False

    def _validate_X(self, X, *, reset):
        """Validate data for any method: 2-D, numeric, within float32 range, NaN or finite."""
        check_numeric_columns(X, type(self).__name__)
        X = validate_data(self, X, accept_sparse="csr", dtype=_DTYPES, reset=reset,
                          ensure_all_finite="allow-nan")
        check_float32_range(X)
        self._check_missing_allowed(X)
        return X

    def _check_missing_allowed(self, X):
        """Raise ``ValueError`` if these parameters cannot take missing values (NaN) in ``X``."""

    def _allows_missing(self):
        """Whether these parameters take missing values (the ``allow_nan`` tag)."""
        return True

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")

    @property
    def _n_features_out(self):
        return self.n_components_

    def get_feature_names_out(self, input_features=None):
        """Get output feature names for transformation.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only used to validate feature names with the names seen in
            :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``<classname lower><i>`` for ``i`` in ``range(n_components_)``.
        """
        check_is_fitted(self)
        return super().get_feature_names_out(input_features)

    def _map_rows(self, X, fn, width, dtype, kind, data=True):
        """:func:`skae._data.map_rows` on the fitted device (bitwise batch-invariant).

        ``kind`` names the computation ``fn`` does with the fitted network
        (the padding that keeps it batch-invariant is found once per kind).
        ``data``: the first ``n_features_in_`` columns of ``X`` are data, from
        which the network's input shift is subtracted in float64 (the other
        columns, e.g. one-hot labels, are left as they are); False for codes.
        """
        shift = None
        if data and bool(self.net_.input_shift.any()):
            shift = np.zeros(X.shape[1])
            shift[:self.n_features_in_] = self.net_.input_shift.cpu().numpy()
        return map_rows(X, fn, width, dtype, self.device_, owner=self.net_, kind=kind,
                        shift=shift)

    def _decode_rows(self, Z, dtype):
        """Decoded codes ``Z`` in data units: the input shift is added back in float64."""
        out = self._map_rows(Z, self.net_.decode, self.n_features_in_, np.float64, "decode",
                             data=False)
        out += self.net_.input_shift.cpu().numpy()
        return out.astype(dtype, copy=False)

    def transform(self, X):
        """Encode ``X`` into codes (deterministic; no noise, eval mode).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_)
            The codes, in the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        k = self.n_components_

        def encode(x):
            return self.net_.encode(x)[:, :k]

        return self._map_rows(X, encode, k, X.dtype, "encode")

    def inverse_transform(self, X):
        """Decode codes back to data space (the reconstruction's mean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Reconstructions, in the dtype of ``X``.
        """
        check_is_fitted(self)
        X = check_array(X, dtype=_DTYPES, input_name="X")
        check_float32_range(X)
        k, width = X.shape[1], self._spec.n_components
        prefixes = self._decodes_prefixes()
        if k != self.n_components_ and not (prefixes and 1 <= k < self.n_components_):
            expected = f"at most {self.n_components_}" if prefixes else self.n_components_
            raise ValueError(
                f"X has {k} features, but {type(self).__name__} expects {expected} "
                "components as input to inverse_transform."
            )
        if k < width:  # an ordered code's trailing components are zero, as in training
            X = np.hstack([X, np.zeros((X.shape[0], width - k), dtype=X.dtype)])
        return self._decode_rows(X, X.dtype)

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
            The mean score per sample, in the units of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))
