"""The one module that imports scikit-learn's private validation helpers.

scikit-learn keeps ``_fit_context`` and its parameter constraints private;
importing them in this module only means a future change of theirs touches
one file of skae.
"""

import math
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
    "check_image_shape",
    "positive_int",
    "check_positive_int",
    "check_widths",
    "resolve_image_shape",
    "check_unit_interval",
    "validate_data",
    "validate_params",
]


class NoBoolInterval(Interval):
    """An :class:`Interval` of ``Integral`` that rejects ``True`` and ``False``."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def positive_int():
    """The constraint "an int >= 1" (booleans excluded), for ``validate_params``."""
    return NoBoolInterval(Integral, 1, None, closed="left")


def check_widths(widths, name, *, allow_empty=True):
    """Return ``widths`` as a tuple of positive ints or raise ``ValueError``.

    A single int is read as a one-element tuple.  ``allow_empty=False``
    also rejects an empty sequence.
    """
    if isinstance(widths, Integral) and not isinstance(widths, bool):
        widths = (widths,)
    try:
        sizes = tuple(widths)
    except TypeError:
        sizes = None
    if (
        sizes is None
        or (not sizes and not allow_empty)
        or not all(isinstance(c, Integral) and not isinstance(c, bool) and c >= 1 for c in sizes)
    ):
        kind = "a tuple" if allow_empty else "a non-empty tuple"
        raise ValueError(f"{name} must be {kind} of positive ints, got {widths!r}.")
    return tuple(int(c) for c in sizes)


def check_positive_int(value, name, *, odd=False):
    """Return ``value`` as a positive (optionally odd) int or raise ``ValueError``."""
    if (
        not isinstance(value, Integral)
        or isinstance(value, bool)
        or value < 1
        or (odd and value % 2 == 0)
    ):
        kind = "a positive odd int" if odd else "a positive int"
        raise ValueError(f"{name} must be {kind}, got {name}={value!r}.")
    return int(value)


def check_image_shape(input_shape, name="input_shape"):
    """Return ``input_shape`` as a tuple of three positive ints ``(C, H, W)`` or raise."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or not all(isinstance(s, Integral) and not isinstance(s, bool) for s in shape)
        or not all(s >= 1 for s in shape)
    ):
        raise ValueError(
            f"{name} must be a tuple of 3 positive ints (C, H, W), got {input_shape!r}."
        )
    return tuple(int(s) for s in shape)


def resolve_image_shape(input_shape, n_features, name="input_shape"):
    """``input_shape`` with a -1 entry filled in, checked against ``n_features``.

    Raises ``ValueError`` when the shape is not three positive ints (one may
    be -1) or does not describe ``n_features`` values.
    """
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if shape is not None and len(shape) == 3 and shape.count(-1) == 1:
        known = math.prod(d for d in shape if d != -1)
        if not (known > 0 and n_features > 0 and n_features % known == 0):
            raise ValueError(
                f"{name}={shape} cannot be completed for X with {n_features} features."
            )
        shape = tuple(n_features // known if d == -1 else d for d in shape)
    shape = check_image_shape(input_shape if shape is None else shape, name)
    if math.prod(shape) != n_features:
        raise ValueError(
            f"{name}={shape} describes {math.prod(shape)} values per sample, "
            f"but X has {n_features} features."
        )
    return shape


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
