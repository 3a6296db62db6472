"""One frozen description of an estimator's network, worked out once per fit.

:func:`describe_network` turns an estimator's parameters and the number of
features into a :class:`NetworkSpec`: the resolved image shape, the kind of
network, checked widths, the batch size, the output and likelihood.  The
network is built from it (:meth:`NetworkSpec.build`) and the spec is kept
with the fitted model, so a later warm-started ``fit`` or ``partial_fit``
can tell whether the parameters still describe the same network.
"""

import dataclasses
import math
from dataclasses import dataclass, field

import torch

from ._random import generator_seed, init_parameters, seeded_global_rng
from ._validation import check_widths, resolve_image_shape
from .nn._build import output_width, resolve_module
from .nn._conv import ConvDecoder, ConvEncoder
from .nn._mlp import MLPDecoder, MLPEncoder


def _short(value):
    """A value for an error message: modules, classes and functions by their name."""
    if isinstance(value, torch.nn.Module):
        return f"<{type(value).__name__} instance>"
    if callable(value):
        return f"<{getattr(value, '__name__', type(value).__name__)}>"
    return repr(value)


@dataclass(frozen=True)
class NetworkSpec:
    """What fixes the structure of a network (and its batch size).

    Fields that do not matter for the network at hand are None (e.g. the
    MLP widths of a convolutional net), so two specs compare equal exactly
    when they build networks of the same structure.
    """

    n_features: int
    n_components: int
    input_shape: tuple | None
    architecture: str  # "mlp" or "conv"
    hidden_layer_sizes: tuple | None
    conv_channels: tuple | None
    conv_hidden_layer_sizes: tuple | None
    activation: str | None
    encoder: object
    decoder: object
    output: str  # "identity" or "sigmoid"
    likelihood: str | None  # None for a deterministic autoencoder
    observation_variance: object  # "learned", "feature", "shared", a float, or None
    scaling: str
    batch_size: int = field(compare=False)
    conditional: bool = False  # the decoder also reads a one-hot class label
    classes: tuple | None = None  # the labels of a conditional model, in order
    # the built-in encoder reads the missing-value mask beside the values
    missing_mask: bool = False
    # a linear path beside the built-in encoder and decoder (AutoencoderNet)
    linear_shortcut: bool = False

    def changed_fields(self, other):
        """Names of the structural fields in which ``other`` differs from this spec."""
        names = []
        for f in dataclasses.fields(self):
            if not f.compare:
                continue
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "observation_variance":  # a fixed variance may change
                a, b = (a if isinstance(a, str) else None), (b if isinstance(b, str) else None)
            if a is not b and a != b:
                names.append(f.name)
        return names

    def require_same(self, other, params, output_param):
        """Raise ``ValueError`` naming the parameter if ``other`` is another network.

        ``params`` are the estimator's current parameters; ``output_param``
        names the one that sets the output (``"loss"`` or ``"likelihood"``).
        """
        changed = self.changed_fields(other)
        if not changed:
            return
        field = changed[0]
        if field == "classes" and "conditional" not in changed:
            raise ValueError(
                f"y holds the classes {list(other.classes)}, but the fitted conditional "
                f"model was trained on the classes {list(self.classes)}; warm_start=True "
                "and partial_fit continue training the fitted network. To start afresh, "
                "call fit with warm_start=False (or fit a clone of the estimator)."
            )
        param = output_param if field == "output" else field
        before, after = _short(getattr(self, field)), _short(getattr(other, field))
        raise ValueError(
            f"{param}={_short(params[param])} does not describe the fitted network "
            f"({field} {before} != {after}); warm_start=True and partial_fit continue "
            "training the fitted network. To start afresh, call fit with "
            "warm_start=False (or fit a clone of the estimator)."
        )

    def config(self):
        """The spec as plain values (custom modules replaced by their presence)."""
        values = dataclasses.asdict(self)
        values["encoder"] = self.encoder is not None
        values["decoder"] = self.decoder is not None
        return values

    @classmethod
    def from_config(cls, values, *, encoder=None, decoder=None):
        """Inverse of :meth:`config`, given the custom modules if any."""
        values = dict(values, encoder=encoder, decoder=decoder)
        values.setdefault("conditional", False)
        values.setdefault("classes", None)
        values.setdefault("missing_mask", False)
        values.setdefault("linear_shortcut", False)
        for key in ("input_shape", "hidden_layer_sizes", "conv_channels",
                    "conv_hidden_layer_sizes", "classes"):
            if values[key] is not None:
                values[key] = tuple(values[key])
        return cls(**values)

    @property
    def has_user_modules(self):
        """True when the user supplied the encoder or the decoder."""
        return self.encoder is not None or self.decoder is not None

    def build(self, generator, assemble):
        """A freshly initialised network of this structure.

        ``assemble(spec, encoder, decoder, feature_width)`` is the estimator's
        own step that puts the encoder and the decoder into its network (the
        code heads, the likelihood); the spec knows nothing of the models.

        skae's own layers are initialised from the local torch ``generator``.
        A user's encoder or decoder given as a class or factory is built with
        torch's default generator seeded from ``generator`` and restored
        afterwards (:func:`~skae._random.seeded_global_rng`); one given as an
        instance is copied with its weights.
        """
        with seeded_global_rng(generator_seed(generator)):
            net = self._construct(assemble)
        own = [net.head]
        if self.encoder is None:
            own.append(net.encoder)
        if self.decoder is None:
            own.append(net.decoder)
        if net.shortcut_in is not None:
            own += [net.shortcut_in, net.shortcut_out]
        for module in own:
            init_parameters(module, generator)
        return net

    def _construct(self, assemble):
        n_classes = len(self.classes) if self.conditional else 0
        # a conditional decoder reads the code followed by the one-hot label
        context = {"n_features": self.n_features, "n_components": self.n_components,
                   "input_shape": self.input_shape}
        decoder_context = dict(context, n_components=self.n_components + n_classes)
        encoder, decoder = self._default_modules()
        if self.encoder is not None:
            encoder = resolve_module(self.encoder, "encoder", context)
        if self.decoder is not None:
            decoder = resolve_module(self.decoder, "decoder", decoder_context)
        shape = self._encoder_input_shape()
        width = output_width(encoder, torch.zeros(2, *shape), "encoder")
        produced = output_width(decoder, torch.zeros(2, self.n_components + n_classes),
                                "decoder")
        if produced != self.n_features:
            raise ValueError(
                f"The decoder returns {produced} values per sample, but X has "
                f"{self.n_features} features."
            )
        return assemble(self, encoder, decoder, width)

    def _encoder_input_shape(self):
        """Shape of one row as the encoder reads it: the mask doubles columns or channels."""
        factor = 2 if self.missing_mask else 1
        if self.input_shape is None:
            return (factor * self.n_features,)
        c, height, width = self.input_shape
        return (factor * c, height, width)

    def _default_modules(self):
        """The built-in encoder and decoder (only the parts the user did not supply)."""
        encoder = decoder = None
        width = self.n_components + (len(self.classes) if self.conditional else 0)
        if self.architecture == "conv":
            channels, dense = self.conv_channels, self.conv_hidden_layer_sizes
            if self.encoder is None:
                encoder = ConvEncoder(self._encoder_input_shape(), channels, self.activation,
                                      hidden=dense)
            if self.decoder is None:
                decoder = ConvDecoder(width, self.input_shape, channels[::-1],
                                      self.activation, hidden=dense[::-1])
            return encoder, decoder
        hidden = self.hidden_layer_sizes
        if self.encoder is None:
            encoder = MLPEncoder(math.prod(self._encoder_input_shape()), hidden,
                                 self.activation)
        if self.decoder is None:
            decoder = MLPDecoder(width, hidden, self.n_features, self.activation)
        return encoder, decoder


def describe_network(params, n_features, *, output, likelihood=None, auto_batch_size,
                     classes=None, missing=False):
    """Work out the :class:`NetworkSpec` for an estimator's ``params`` and ``n_features``.

    Parameters
    ----------
    params : dict
        The estimator's parameters (``get_params(deep=False)``).
    n_features : int
    output : {"identity", "sigmoid"}
    likelihood : {"gaussian", "bernoulli"} or None
    auto_batch_size : dict
        What ``batch_size="auto"`` means for ``"mlp"`` and ``"conv"``.
    classes : tuple or None
        The class labels of a conditional model (``params["conditional"]``).
    missing : bool, default=False
        Whether the network will see missing values in training: the
        built-in encoder then reads the missing-value mask beside the
        values (a user's encoder reads the values alone).

    Raises
    ------
    ValueError
        When the widths or the image shape are invalid, or do not fit the data.
    """
    shape = params["input_shape"]
    if shape is not None:
        shape = resolve_image_shape(shape, n_features)
    elif params["architecture"] == "conv":
        raise ValueError("architecture='conv' needs input_shape=(C, H, W).")
    architecture = "conv" if shape is not None and params["architecture"] != "mlp" else "mlp"
    # every width is checked, but only those the network uses are kept
    hidden = check_widths(params["hidden_layer_sizes"], "hidden_layer_sizes")
    channels = check_widths(params["conv_channels"], "conv_channels", allow_empty=False)
    dense = check_widths(params["conv_hidden_layer_sizes"], "conv_hidden_layer_sizes")
    builtin = params["encoder"] is None or params["decoder"] is None
    user_modules = params["encoder"] is not None or params["decoder"] is not None
    if not builtin or architecture == "conv":
        hidden = None
    if not builtin or architecture == "mlp":
        channels = dense = None
    batch_size = params["batch_size"]
    if batch_size == "auto":
        batch_size = auto_batch_size[architecture]
    variance = params.get("observation_variance") if likelihood == "gaussian" else None
    return NetworkSpec(
        n_features=n_features,
        n_components=params["n_components"],
        architecture=architecture,
        input_shape=shape,
        hidden_layer_sizes=hidden,
        conv_channels=channels,
        conv_hidden_layer_sizes=dense,
        activation=params["activation"] if builtin else None,
        encoder=params["encoder"],
        decoder=params["decoder"],
        output=output,
        likelihood=likelihood,
        observation_variance=variance,
        scaling=params["scaling"],
        batch_size=int(batch_size),
        conditional=bool(params.get("conditional", False)),
        classes=tuple(classes) if params.get("conditional", False) else None,
        missing_mask=bool(missing) and params["encoder"] is None,
        # only beside skae's own networks, and never beside an empty MLP body
        linear_shortcut=(bool(params.get("linear_shortcut", False)) and not user_modules
                         and (architecture == "conv" or bool(hidden))),
    )
