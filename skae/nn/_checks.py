"""Checks of the shapes and widths that the network builders take.

They know nothing of scikit-learn: :mod:`skae.nn` uses them directly and
the estimators through :mod:`skae._validation`.
"""

import math
from numbers import Integral


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
