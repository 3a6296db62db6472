"""The one module that imports scikit-learn's private validation helpers.

scikit-learn keeps ``_fit_context`` and its parameter constraints private;
importing them in this module only means a future change of theirs touches
one file of skae.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "HasMethods",
    "Integral",
    "Interval",
    "Options",
    "Real",
    "StrOptions",
    "_fit_context",
    "check_is_fitted",
    "check_float32_range",
    "check_layer_sizes",
    "check_unit_interval",
    "validate_data",
    "validate_params",
]


def check_layer_sizes(sizes, name):
    """Return ``sizes`` as a tuple of positive ints or raise ``ValueError``."""
    sizes = tuple(sizes)
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, Integral) or size < 1:
            raise ValueError(
                f"{name} must contain positive integers, got {sizes!r}."
            )
    return tuple(int(s) for s in sizes)


def _chunked_extremes(X):
    """Min and max of ``X`` (dense, memmap or sparse), read in chunks."""
    data = X.data if hasattr(X, "tocsr") else X
    lo, hi = np.inf, -np.inf
    step = max(1, 2**22 // max(1, int(np.prod(data.shape[1:]))))
    for start in range(0, data.shape[0], step):
        chunk = np.asarray(data[start:start + step])
        if chunk.size:
            lo, hi = min(lo, chunk.min()), max(hi, chunk.max())
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
