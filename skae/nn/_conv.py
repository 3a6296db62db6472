"""Convolutional encoder body and decoder for image data of shape (C, H, W).

The encoder halves the spatial size once per entry of ``channels`` (rounding
up), flattens and applies optional fully connected layers; skae appends the
linear code head(s) itself.  The decoder mirrors it: the fully connected
layers, a linear layer to the smallest feature map, then one 2x
transposed-conv stage per entry of ``channels``, each cropped to the size the
encoder had at that depth, ending at exactly (H, W).
Neither module uses batch normalisation or dropout, so each row of a batch is
processed independently of the others.
"""

import math
import numbers

from torch import nn

from ._activations import get_activation


def _check_input_shape(input_shape):
    """Return ``input_shape`` as a tuple of three positive ints or raise ValueError."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape)
        or not all(s >= 1 for s in shape)
    ):
        raise ValueError(
            f"input_shape must be a tuple of 3 positive ints (C, H, W), got {input_shape!r}."
        )
    return tuple(int(s) for s in shape)


def resolve_input_shape(input_shape, n_features):
    """``input_shape`` with a -1 entry filled in, checked against ``n_features``.

    Raises ValueError when the shape is not three positive ints (one may be
    -1) or does not describe ``n_features`` values.
    """
    shape = tuple(input_shape)
    if shape.count(-1) == 1 and len(shape) == 3:
        known = math.prod(d for d in shape if d != -1)
        if known > 0 and n_features > 0 and n_features % known == 0:
            shape = tuple(n_features // known if d == -1 else d for d in shape)
        else:
            raise ValueError(
                f"input_shape={tuple(input_shape)} cannot be completed for "
                f"X with {n_features} features."
            )
    shape = _check_input_shape(shape)
    if math.prod(shape) != n_features:
        raise ValueError(
            f"input_shape={shape} describes {math.prod(shape)} values per sample, "
            f"but X has {n_features} features."
        )
    return shape


def _check_widths(widths, name, allow_empty=False):
    """Return ``widths`` as a tuple of positive ints (non-empty unless allowed) or raise."""
    if isinstance(widths, numbers.Integral) and not isinstance(widths, bool):
        widths = (widths,)
    try:
        sizes = tuple(widths)
    except TypeError:
        sizes = None
    if (
        sizes is None
        or (not sizes and not allow_empty)
        or not all(
            isinstance(c, numbers.Integral) and not isinstance(c, bool) and c >= 1 for c in sizes
        )
    ):
        kind = "a tuple" if allow_empty else "a non-empty tuple"
        raise ValueError(f"{name} must be {kind} of positive ints, got {widths!r}.")
    return tuple(int(c) for c in sizes)


def _check_positive_int(value, name, odd=False):
    """Return ``value`` as a positive (optionally odd) int or raise ValueError."""
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < 1
        or (odd and value % 2 == 0)
    ):
        kind = "a positive odd int" if odd else "a positive int"
        raise ValueError(f"{name} must be {kind}, got {value!r}.")
    return int(value)


def _halved(size, times):
    """Spatial size after ``times`` stride-2 convolutions: ceil-halve ``size``."""
    for _ in range(times):
        size = (size + 1) // 2
    return size


class ConvEncoder(nn.Module):
    """Convolutional encoder body: stride-2 conv blocks followed by a flatten.

    Each entry of ``channels`` adds a ``Conv2d(stride=2, padding=kernel_size // 2)``
    that halves height and width (rounding up, so any size >= 1 stays >= 1)
    followed by the activation.  The maps are then flattened and go through
    the fully connected layers of ``hidden`` (each followed by the
    activation); there is no linear head.

    Parameters
    ----------
    input_shape : tuple of int
        Shape ``(C, H, W)`` of one input image.
    channels : tuple of int, default=(32, 64)
        Output channels of the successive stride-2 convolutions.
    activation : str, default="relu"
        Name of the activation, see :func:`skae.nn._activations.get_activation`.
    kernel_size : int, default=3
        Odd convolution kernel size.
    hidden : tuple of int, default=()
        Widths of fully connected layers after the convolutions.

    Attributes
    ----------
    out_features : int
        Size ``d`` of the output: ``hidden[-1]``, or ``channels[-1] * h * w``
        without ``hidden``.
    output_spatial_shape : tuple of int
        Spatial size ``(h, w)`` of the last feature map.
    """

    def __init__(
        self, input_shape, channels=(32, 64), activation="relu", kernel_size=3, hidden=()
    ):
        super().__init__()
        self.input_shape = _check_input_shape(input_shape)
        self.channels = _check_widths(channels, "channels")
        self.hidden = _check_widths(hidden, "hidden", allow_empty=True)
        self.kernel_size = _check_positive_int(kernel_size, "kernel_size", odd=True)
        self.activation = activation
        get_activation(activation)  # validate before building layers
        c, h, w = self.input_shape
        layers = []
        for out_c in self.channels:
            layers.append(nn.Conv2d(c, out_c, kernel_size, stride=2, padding=kernel_size // 2))
            layers.append(get_activation(activation))
            c = out_c
        layers.append(nn.Flatten())
        n = len(self.channels)
        self.output_spatial_shape = (_halved(h, n), _halved(w, n))
        width = c * self.output_spatial_shape[0] * self.output_spatial_shape[1]
        for size in self.hidden:
            layers += [nn.Linear(width, size), get_activation(activation)]
            width = size
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x):
        """Map images ``(batch, C, H, W)`` to features ``(batch, out_features)``."""
        return self.net(x)


class ConvDecoder(nn.Module):
    """Convolutional decoder mirroring :class:`ConvEncoder`.

    The code goes through the fully connected layers of ``hidden`` (each
    followed by the activation), then a linear layer maps it to
    ``channels[0]`` feature maps of the
    encoder's smallest spatial size ``(h0, w0)`` (``H`` and ``W`` ceil-halved
    ``len(channels)`` times), followed by the activation.  Each stage then
    exactly doubles the spatial size with a
    ``ConvTranspose2d(kernel_size + 1, stride=2, padding=(kernel_size - 1) // 2)``
    (kernel 4, padding 1 by default), going through
    ``channels[1:]`` and finally to ``C`` channels.  The last stage has no
    activation: outputs are unconstrained.  After each stage the map is
    cropped to its top-left corner of the size the encoder had at that depth
    (an encoder going 28 -> 14 -> 7 -> 4 is mirrored by 4 -> 7 -> 14 -> 28,
    not 4 -> 8 -> 16 -> 32): that corner is where the encoder's stride-2
    sampling grid, which starts at pixel 0, put the image.

    Parameters
    ----------
    n_components : int
        Size of the code.
    input_shape : tuple of int
        Shape ``(C, H, W)`` of the images to reconstruct.
    channels : tuple of int, default=(64, 32)
        Channels of the feature maps in decoding order (the reverse of the
        encoder's ``channels``).
    activation : str, default="relu"
        Name of the activation, see :func:`skae.nn._activations.get_activation`.
    kernel_size : int, default=3
        Odd convolution kernel size.
    hidden : tuple of int, default=()
        Widths of fully connected layers before the feature maps, in
        decoding order (the reverse of the encoder's ``hidden``).
    """

    def __init__(
        self,
        n_components,
        input_shape,
        channels=(64, 32),
        activation="relu",
        kernel_size=3,
        hidden=(),
    ):
        super().__init__()
        self.n_components = _check_positive_int(n_components, "n_components")
        self.input_shape = _check_input_shape(input_shape)
        self.channels = _check_widths(channels, "channels")
        self.kernel_size = _check_positive_int(kernel_size, "kernel_size", odd=True)
        self.hidden = _check_widths(hidden, "hidden", allow_empty=True)
        self.activation = activation
        get_activation(activation)
        c_out, h, w = self.input_shape
        n = len(self.channels)
        self.initial_shape = (self.channels[0], _halved(h, n), _halved(w, n))
        c0, h0, w0 = self.initial_shape
        dense, width = [], self.n_components
        for size in self.hidden:
            dense += [nn.Linear(width, size), get_activation(activation)]
            width = size
        self.project = nn.Sequential(
            *dense, nn.Linear(width, c0 * h0 * w0), get_activation(activation)
        )
        # Spatial sizes the encoder went through, largest first: each stage
        # doubles and is cropped back to the size the encoder had there.
        self.stage_shapes = [(_halved(h, i), _halved(w, i)) for i in range(n - 1, -1, -1)]
        stages = []
        targets = self.channels[1:] + (c_out,)
        c = c0
        for i, out_c in enumerate(targets):
            up = nn.ConvTranspose2d(
                c, out_c, kernel_size + 1, stride=2, padding=(kernel_size - 1) // 2
            )
            stages.append(nn.Sequential(up, get_activation(activation)) if i < n - 1 else up)
            c = out_c
        self.stages = nn.ModuleList(stages)

    def forward(self, z):
        """Map codes ``(batch, n_components)`` to images ``(batch, C, H, W)``."""
        x = self.project(z).reshape(z.shape[0], *self.initial_shape)
        for stage, (h, w) in zip(self.stages, self.stage_shapes, strict=True):
            x = stage(x)[:, :, :h, :w]
        return x
