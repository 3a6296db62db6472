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

from torch import nn

from ._activations import get_activation
from ._checks import check_image_shape, check_positive_int, check_widths


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
        self.input_shape = check_image_shape(input_shape)
        self.channels = check_widths(channels, "channels", allow_empty=False)
        self.hidden = check_widths(hidden, "hidden")
        self.kernel_size = check_positive_int(kernel_size, "kernel_size", odd=True)
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
        for i, out_c in enumerate(targets):
            up = nn.ConvTranspose2d(
                c, out_c, kernel_size + 1, stride=2, padding=(kernel_size - 1) // 2
            )
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
        for stage, (h, w) in zip(self.stages, self.stage_shapes, strict=True):
            x = stage(x)[:, :, :h, :w]
        return x
