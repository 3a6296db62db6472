"""Networks used by skae's estimators, and the contract for your own.

``encoder`` and ``decoder`` parameters accept a ``torch.nn.Module``
instance, a module class or a factory; see :mod:`skae.nn._build` for the
full contract.  In short: the encoder maps inputs (``(batch, n_features)``,
or ``(batch, C, H, W)`` with ``input_shape``) to features ``(batch, d)``
and skae appends the code head(s); the decoder maps codes
``(batch, n_components)`` to unconstrained outputs of ``n_features`` values
per row (or ``(batch, C, H, W)``).

The built-in modules below can be reused as building blocks.
"""

from ._activations import ACTIVATIONS, get_activation
from ._conv import ConvDecoder, ConvEncoder
from ._mlp import MLPDecoder, MLPEncoder
from ._network import AutoencoderNet

__all__ = [
    "ACTIVATIONS",
    "AutoencoderNet",
    "ConvDecoder",
    "ConvEncoder",
    "MLPDecoder",
    "MLPEncoder",
    "get_activation",
]
