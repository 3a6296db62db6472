"""The one module that imports scikit-learn's private validation and imputation helpers.

scikit-learn keeps ``_fit_context`` and its parameter constraints private;
importing them in this module only means a future change of theirs touches
one file of skae.
"""

import functools
import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.impute._base import _BaseImputer, _check_inputs_dtype
from sklearn.utils._mask import _get_mask
from sklearn.utils._missing import is_pandas_na, is_scalar_nan
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils._set_output import ADAPTERS_MANAGER, _get_output_config
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

# the shape checks of the network builders, re-exported for the estimators
from .nn._checks import check_image_shape, check_positive_int, check_widths, resolve_image_shape

__all__ = [
    "HasMethods",
    "Integral",
    "Interval",
    "Options",
    "Real",
    "StrOptions",
    "_BaseImputer",
    "_check_feature_names_in",
    "_check_inputs_dtype",
    "_fit_context",
    "_get_mask",
    "is_pandas_na",
    "is_scalar_nan",
    "check_is_fitted",
    "check_float32_range",
    "check_image_shape",
    "positive_int",
    "check_positive_int",
    "check_widths",
    "resolve_image_shape",
    "check_unit_interval",
    "check_numeric_columns",
    "validate_data",
    "validate_method_params",
    "validate_params",
    "wrap_like_transform",
]


class NoBoolInterval(Interval):
    """An :class:`Interval` of ``Integral`` that rejects ``True`` and ``False``."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def positive_int():
    """The constraint "an int >= 1" (booleans excluded), for ``validate_params``."""
    return NoBoolInterval(Integral, 1, None, closed="left")


def _chunked_extremes(X):
    """Min and max of ``X`` (dense, memmap or sparse), read in chunks; NaN is left out."""
    data = X.data if hasattr(X, "tocsr") else X
    lo, hi = np.inf, -np.inf
    step = max(1, 2**22 // max(1, int(np.prod(data.shape[1:]))))
    for start in range(0, data.shape[0], step):
        chunk = np.asarray(data[start:start + step])
        if chunk.size:  # fmin and fmax skip NaN (missing values)
            lo = np.fmin(lo, np.fmin.reduce(chunk, axis=None))
            hi = np.fmax(hi, np.fmax.reduce(chunk, axis=None))
    return lo, hi


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_float32_range(X, input_name="X"):
    """Raise ``ValueError`` if float64 values would overflow float32 (skae computes in float32)."""
    if X.dtype == np.float32 or X.shape[0] == 0:
        return
    lo, hi = _chunked_extremes(X)
    if max(abs(lo), abs(hi)) > _FLOAT32_MAX:
        raise ValueError(
            f"{input_name} contains values too large for float32 (|value| up to "
            f"{max(abs(lo), abs(hi)):.3g} > {_FLOAT32_MAX:.3g}); skae computes in "
            "float32. Scale the data first (e.g. with StandardScaler)."
        )


# The smallest feature scale the network resolves: below it, standardised
# values and the scale itself fall among float32's subnormal numbers.
_FLOAT32_MIN_SCALE = 1e-30


def check_float32_scale(scale, input_name="X"):
    """Raise ``ValueError`` if a feature's scale is too small for float32 computations.

    ``scale`` is the per-feature scale the data are divided by (constant
    features have scale 1).  skae computes in float32, whose normal numbers
    end near 1e-38: data whose spread is far below that cannot be trained on.
    """
    tiny = np.flatnonzero(scale < _FLOAT32_MIN_SCALE)
    if tiny.size:
        j = int(tiny[np.argmin(scale[tiny])])
        raise ValueError(
            f"{input_name} has features whose spread is too small for float32: feature {j} "
            f"varies by about {scale[j]:.3g}, below {_FLOAT32_MIN_SCALE:g}; skae computes in "
            "float32. Multiply X by a constant or standardise it first (e.g. with "
            "StandardScaler)."
        )


def check_unit_interval(X, what):
    """Raise ``ValueError`` unless every value of ``X`` lies in [0, 1].

    Works on dense arrays, memory maps (read in chunks) and sparse matrices
    (only the stored values are looked at; implicit zeros are in range).
    """
    lo, hi = _chunked_extremes(X)
    if lo < 0 or hi > 1:
        raise ValueError(
            f"{what} requires X to lie in [0, 1]; got values in "
            f"[{lo:.4g}, {hi:.4g}]. Scale X (e.g. with MinMaxScaler) or use "
            "a Gaussian/MSE reconstruction."
        )


def validate_method_params(constraints):
    """Validate a method's arguments against ``constraints``, like ``validate_params``.

    Errors name the method as ``<class of the instance>.<method>`` (e.g.
    ``VAEGenerator.sample``), whichever class in the hierarchy defines it.
    """
    def decorate(method):
        signature = inspect.signature(method)

        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            params = dict(bound.arguments)
            params.pop("self")
            validate_parameter_constraints(
                constraints, params, caller_name=f"{type(self).__name__}.{method.__name__}"
            )
            return method(self, *args, **kwargs)

        return wrapper

    return decorate


def check_numeric_columns(X, estimator_name):
    """Raise ``ValueError`` naming the columns of a pandas DataFrame ``X`` that are not numeric.

    Categorical columns whose categories are numbers are accepted (they
    convert to their values); anything else, such as string categories or
    text, must be encoded before an autoencoder can read it.
    """
    if not (hasattr(X, "columns") and hasattr(getattr(X, "dtypes", None), "items")):
        return
    from pandas.api.types import is_bool_dtype, is_numeric_dtype  # X is a DataFrame

    bad = []
    for column, dtype in X.dtypes.items():
        values = getattr(dtype, "categories", None)
        inner = dtype if values is None else values.dtype
        if not (is_numeric_dtype(inner) or is_bool_dtype(inner)):
            bad.append(f"{column!r} ({dtype})")
    if bad:
        many = len(bad) > 1
        raise ValueError(
            f"{estimator_name} needs numeric features, but column{'s' if many else ''} "
            f"{', '.join(bad)} of X {'are' if many else 'is'} not numeric; encode "
            "categories first, e.g. with sklearn.preprocessing.OneHotEncoder in a "
            "ColumnTransformer."
        )


def wrap_like_transform(estimator, X, columns):
    """``X`` in the container ``set_output(transform=...)`` asks of ``estimator``.

    ``"default"`` returns the array itself; ``"pandas"`` or ``"polars"`` a
    DataFrame with these ``columns``.
    """
    dense = _get_output_config("transform", estimator)["dense"]
    if dense == "default":
        return X
    return ADAPTERS_MANAGER.adapters[dense].create_container(X, None, columns=columns)
