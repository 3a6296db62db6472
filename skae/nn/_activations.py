"""Activation functions looked up by name."""

from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def get_activation(name):
    """Return a new activation module for ``name`` (a key of ``ACTIVATIONS``).

    Each call builds a fresh module, so layers never share one instance.

    Parameters
    ----------
    name : {"relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid", \
"identity"}
        The activation's name, as in the estimators' ``activation`` parameter.

    Returns
    -------
    module : torch.nn.Module
        A new instance of the activation (``torch.nn.ReLU()`` for ``"relu"``).

    Raises
    ------
    ValueError
        If ``name`` is not a key of ``ACTIVATIONS``.
    """
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"activation={name!r} is not supported; choose one of {sorted(ACTIVATIONS)}."
        ) from None
