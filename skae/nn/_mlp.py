"""The default fully connected encoder body and decoder."""

from torch import nn

from ._activations import get_activation


class MLPEncoder(nn.Sequential):
    """Fully connected encoder body: ``Linear -> activation`` per hidden layer.

    Inputs are flattened first, so image batches ``(batch, C, H, W)`` work too.

    skae appends the code head (a ``Linear`` to ``n_components``, or the mean
    and log-variance heads of a VAE) after this body.

    Parameters
    ----------
    n_features : int
        Width of the input rows.
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers, from the input towards the code.  An
        empty tuple gives an identity body (a linear autoencoder).
    activation : str, default="relu"
        Name of the activation after each hidden layer.

    Attributes
    ----------
    out_features : int
        Width of the features this body returns.
    """

    def __init__(self, n_features, hidden_layer_sizes, activation="relu"):
        layers = [nn.Flatten()]
        width = n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), get_activation(activation)]
            width = size
        super().__init__(*layers)
        self.out_features = width


class MLPDecoder(nn.Sequential):
    """Fully connected decoder mirroring :class:`MLPEncoder`.

    ``Linear -> activation`` per hidden layer, in the reverse order of the
    encoder's, then a final ``Linear`` to ``n_features`` without activation.

    Parameters
    ----------
    n_components : int
        Width of the codes.
    hidden_layer_sizes : tuple of int
        Widths of the encoder's hidden layers; the decoder uses them reversed.
    n_features : int
        Width of the reconstructed rows.  The last layer is linear: skae
        applies the output non-linearity (sigmoid for binary cross-entropy).
    activation : str, default="relu"
        Name of the activation after each hidden layer.
    """

    def __init__(self, n_components, hidden_layer_sizes, n_features, activation="relu"):
        layers = []
        width = n_components
        for size in reversed(tuple(hidden_layer_sizes)):
            layers += [nn.Linear(width, size), get_activation(activation)]
            width = size
        layers.append(nn.Linear(width, n_features))
        super().__init__(*layers)
