"""Convolutional encoder body and decoder for image data of shape (C, H, W).

The encoder halves the spatial size once per entry of ``channels`` (rounding
up), flattens and applies optional fully connected layers; skae appends the
linear code head(s) itself.  The decoder mirrors it: the fully connected
layers, a linear layer to the smallest feature map, then one 2x
transposed-conv stage per entry of ``channels``, each cropped to the size the
encoder had at that depth, ending at exactly (H, W).
Neither module uses batch normalisation or dropout, so each row of a batch is
processed independently of the others.

A convolution over a feature map of a few pixels is a small linear map: the
layers whose dense matrix has at most ``DENSE_ENTRIES`` entries compute it
as one matrix product (the matrix is gathered from the kernel at every call,
exactly, so the parameters and their gradients are the convolution's own).
On such maps a convolution library's per-call cost dominates; a matrix
product of that size costs a fraction of it.
"""

import math

import torch
from torch import nn

from ._activations import get_activation
from ._checks import check_image_shape, check_positive_int, check_widths


def _halved(size, times):
    """Spatial size after ``times`` stride-2 convolutions: ceil-halve ``size``."""
    for _ in range(times):
        size = (size + 1) // 2
    return size


# Largest dense matrix (output by input values of one image) that a layer
# computes as a matrix product instead of a convolution.
DENSE_ENTRIES = 1 << 18


def _tap_matrix(kernel_size, stride, padding, small_hw, large_hw):
    """Which kernel tap joins each pixel of the small map to each of the large one.

    A 0/1 matrix of shape ``(kernel_size**2, Hs*Ws * Hl*Wl)``: the entry of
    tap ``(a, b)`` (row ``a * kernel_size + b``) and pixels ``(i, j)`` of
    the small map and ``(y, x)`` of the large one (column ``(i * Ws + j) *
    Hl*Wl + y * Wl + x``) is 1 when ``y = stride * i - padding + a`` and
    ``x = stride * j - padding + b``.  A stride-``stride`` convolution maps
    the large map to the small one through these taps; its transpose maps
    the small one to the large one.
    """
    (hs, ws), (hl, wl) = small_hw, large_hw
    taps = torch.zeros(kernel_size * kernel_size, hs * ws * hl * wl)
    for i in range(hs):
        for j in range(ws):
            for a in range(kernel_size):
                for b in range(kernel_size):
                    y, x = stride * i - padding + a, stride * j - padding + b
                    if 0 <= y < hl and 0 <= x < wl:
                        taps[a * kernel_size + b, (i * ws + j) * hl * wl + y * wl + x] = 1.0
    return taps


def _dense_weight(weight, taps, rows, cols):
    """The ``(rows[0] * rows[1], cols[0] * cols[1])`` matrix of a convolution on small maps.

    ``weight`` is ``(rows[0], cols[0], k, k)`` and ``taps`` is
    :func:`_tap_matrix` with ``rows[1]`` pixels on its small-map side when
    the small map is the output; each entry is one kernel weight (times 1)
    plus zeros, so the matrix holds the kernel's values exactly.
    """
    (ro, rp), (co, cp) = rows, cols
    expanded = weight.reshape(ro * co, -1) @ taps
    return expanded.reshape(ro, co, rp, cp).permute(0, 2, 1, 3).reshape(ro * rp, co * cp)


class _SmallMapConv2d(nn.Conv2d):
    """``Conv2d`` (stride 2) that computes small maps as one dense matrix product.

    The same parameters, state-dict keys and results (up to rounding) as
    ``nn.Conv2d``; ``in_hw`` is the spatial size of the input it is built for.
    """

    def __init__(self, in_channels, out_channels, kernel_size, in_hw):
        super().__init__(in_channels, out_channels, kernel_size, stride=2,
                         padding=kernel_size // 2)
        self.in_hw = tuple(in_hw)
        self.out_hw = (_halved(in_hw[0], 1), _halved(in_hw[1], 1))
        dense = in_channels * out_channels * math.prod(self.in_hw) * math.prod(self.out_hw)
        taps = (_tap_matrix(kernel_size, 2, kernel_size // 2, self.out_hw, self.in_hw)
                if dense <= DENSE_ENTRIES else None)
        self.register_buffer("taps", taps, persistent=False)

    def forward(self, x):
        if self.taps is None or tuple(x.shape[2:]) != self.in_hw:
            return super().forward(x)
        out_pixels = math.prod(self.out_hw)
        matrix = _dense_weight(self.weight, self.taps, (self.out_channels, out_pixels),
                               (self.in_channels, math.prod(self.in_hw)))
        bias = self.bias.repeat_interleave(out_pixels)
        out = torch.addmm(bias, x.reshape(x.shape[0], -1), matrix.t())
        return out.reshape(x.shape[0], self.out_channels, *self.out_hw)


class _SmallMapConvTranspose2d(nn.ConvTranspose2d):
    """``ConvTranspose2d`` (stride 2) doubling a map, cropped to ``out_hw``.

    Computes small maps as one dense matrix product of only the kept output
    pixels; larger ones as the transposed convolution, then the crop.  The
    same parameters and state-dict keys as ``nn.ConvTranspose2d``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, in_hw, out_hw):
        padding = (kernel_size - 1) // 2
        super().__init__(in_channels, out_channels, kernel_size + 1, stride=2,
                         padding=padding)
        self.in_hw, self.out_hw = tuple(in_hw), tuple(out_hw)
        dense = in_channels * out_channels * math.prod(self.in_hw) * math.prod(self.out_hw)
        taps = (_tap_matrix(kernel_size + 1, 2, padding, self.in_hw, self.out_hw)
                if dense <= DENSE_ENTRIES else None)
        self.register_buffer("taps", taps, persistent=False)

    def forward(self, x):
        h, w = self.out_hw
        if self.taps is None or tuple(x.shape[2:]) != self.in_hw:
            return super().forward(x)[:, :, :h, :w]
        matrix = _dense_weight(self.weight, self.taps, (self.in_channels, math.prod(self.in_hw)),
                               (self.out_channels, h * w))
        bias = self.bias.repeat_interleave(h * w)
        out = torch.addmm(bias, x.reshape(x.shape[0], -1), matrix)
        return out.reshape(x.shape[0], self.out_channels, h, w)


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
        self.input_shape = check_image_shape(input_shape)
        self.channels = check_widths(channels, "channels", allow_empty=False)
        self.hidden = check_widths(hidden, "hidden")
        self.kernel_size = check_positive_int(kernel_size, "kernel_size", odd=True)
        self.activation = activation
        get_activation(activation)  # validate before building layers
        c, h, w = self.input_shape
        layers = []
        for i, out_c in enumerate(self.channels):
            layers.append(_SmallMapConv2d(c, out_c, kernel_size, (_halved(h, i), _halved(w, i))))
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
        """Map images ``(batch, C, H, W)`` to features ``(batch, out_features)``.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, C, H, W)
            Standardised images.

        Returns
        -------
        features : torch.Tensor of shape (batch, out_features)
            The flattened feature maps, after the fully connected layers.
        """
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
        self.n_components = check_positive_int(n_components, "n_components")
        self.input_shape = check_image_shape(input_shape)
        self.channels = check_widths(channels, "channels", allow_empty=False)
        self.kernel_size = check_positive_int(kernel_size, "kernel_size", odd=True)
        self.hidden = check_widths(hidden, "hidden")
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
        sizes = [self.initial_shape[1:], *self.stage_shapes]
        for i, out_c in enumerate(targets):
            up = _SmallMapConvTranspose2d(c, out_c, kernel_size, sizes[i], sizes[i + 1])
            stages.append(nn.Sequential(up, get_activation(activation)) if i < n - 1 else up)
            c = out_c
        self.stages = nn.ModuleList(stages)

    def forward(self, z):
        """Map codes ``(batch, n_components)`` to images ``(batch, C, H, W)``.

        Parameters
        ----------
        z : torch.Tensor of shape (batch, n_components)
            Codes.

        Returns
        -------
        images : torch.Tensor of shape (batch, C, H, W)
            Unconstrained outputs (no final activation).
        """
        x = self.project(z).reshape(z.shape[0], *self.initial_shape)
        for stage in self.stages:
            x = stage(x)
        return x
