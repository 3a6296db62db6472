"""The network every skae estimator trains: encoder body, code head, decoder."""

import math

import torch
from torch import nn


def zero_missing_(h):
    """Set the missing values (NaN) of ``h`` to 0 in place; infinities stay as they are.

    ``nan_to_num_`` does in one pass what ``masked_fill_(isnan(h), 0)`` does
    in two (a fraction of the cost of a training step on a narrow table),
    with bitwise the same result.
    """
    return h.nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)


class AutoencoderNet(nn.Module):
    """Encoder body + linear code head(s) + decoder, with data scaling built in.

    Inputs are standardised feature by feature, ``(x - mean) / scale``; the
    two buffers are set once per fit (see the estimators' ``scaling``).

    Parameters
    ----------
    encoder : nn.Module
        Body mapping standardised inputs to ``(batch, d)`` features.
    decoder : nn.Module
        Maps codes to unconstrained outputs of ``n_features`` values per row.
    feature_width : int
        ``d``, the width of the encoder's features.
    n_components : int
        Width of the code.
    n_features : int
        Width of the data rows.
    n_heads : int, default=1
        Number of code heads stacked in one linear layer (2 for a VAE: the
        posterior mean and log-variance).
    input_shape : tuple of int or None
        ``(C, H, W)``: rows are reshaped to images before the encoder.
    output : {"identity", "sigmoid"}
        How decoder outputs become data: undo the scaling, or a sigmoid for
        data in [0, 1].
    missing_mask : bool, default=False
        Feed the encoder the mask of missing values beside the values: a
        second block of ``n_features`` columns (a second set of channels for
        images), 1 where the value is missing.  Missing values (NaN) reach
        the encoder as 0 in standardised units (the feature's mean) either
        way.
    linear_shortcut : bool, default=False
        Add a linear path beside the encoder and the decoder: bias-free
        ``Linear`` layers from the encoder's input (flattened) to the heads
        (``shortcut_in``) and from the code to the output (``shortcut_out``),
        added to the code heads' and the decoder's outputs.  The network then
        holds a linear autoencoder, and the encoder and the decoder learn
        what it misses.
    """

    def __init__(self, encoder, decoder, feature_width, n_components, n_features,
                 *, n_heads=1, input_shape=None, output="identity", missing_mask=False,
                 linear_shortcut=False):
        super().__init__()
        self.missing_mask = bool(missing_mask)
        self.encoder = encoder
        self.head = nn.Linear(feature_width, n_components * n_heads)
        self.decoder = decoder
        self.shortcut_in = self.shortcut_out = None
        if linear_shortcut:
            # Two products added, not one product of [features, input] side by
            # side: that one, of a width found nowhere else in the network, left
            # rows' results depending on their place in a batch on a small table
            # (no chunk length passed skae._data.batch_invariant_lengths' probe).
            read = n_features * (2 if self.missing_mask else 1)  # the encoder's input
            self.shortcut_in = nn.Linear(read, n_components * n_heads, bias=False)
            self.shortcut_out = nn.Linear(n_components, n_features, bias=False)
        self.n_components = n_components
        self.n_features = n_features
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.output = output
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        # Subtracted from the data in float64, before they are cast to float32
        # for the network (see set_scaling); kept in float64.
        self.register_buffer("input_shift", torch.zeros(n_features, dtype=torch.float64))

    def __setstate__(self, state):
        super().__setstate__(state)
        if "shortcut_in" not in self.__dict__ and "shortcut_in" not in self._modules:
            self.shortcut_in = self.shortcut_out = None  # pickled before the shortcut existed

    def set_scaling(self, mean, scale, shift=None):
        """Set the per-feature mean and scale of the data.

        Parameters
        ----------
        mean : array-like of shape (n_features,)
            Value subtracted from each feature.
        scale : array-like of shape (n_features,)
            Positive value each centred feature is divided by.
        shift : array-like of shape (n_features,) or None, default=None
            The part of ``mean`` that is subtracted from the data in float64
            before they reach the network (``input_shift``), so that data far
            from zero keep their precision in float32; the network's own
            ``mean`` is the rest.  The network then reads and returns data
            minus ``input_shift``.  None: no shift.
        """
        mean = torch.as_tensor(mean, dtype=torch.float64)
        shift = torch.zeros_like(mean) if shift is None else torch.as_tensor(
            shift, dtype=torch.float64)
        self.input_shift.copy_(shift)
        self.mean.copy_((mean - shift).to(self.mean.dtype))
        self.scale.copy_(torch.as_tensor(scale, dtype=self.scale.dtype))

    def standardise(self, x):
        """Data units -> the scaled units the encoder sees.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Data in its own units.

        Returns
        -------
        x_scaled : torch.Tensor of shape (batch, n_features)
            ``(x - mean) / scale``, with missing values (NaN) at 0.
        """
        h = (x - self.mean).div_(self.scale)  # in place: one batch-sized tensor, not two
        return zero_missing_(h)

    def encoder_input(self, x):
        """Data -> what the encoder reads: standardised, as images, with the mask if any.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Data in its own units, NaN where a value is missing.

        Returns
        -------
        h : torch.Tensor of shape (batch, n_features) or (batch, C, H, W)
            :meth:`standardise` of ``x``, reshaped to ``input_shape``; with
            ``missing_mask``, followed by the missing-value mask (twice the
            columns, or twice the channels).
        """
        h = self.standardise(x)
        if self.missing_mask:
            h = torch.cat([h, torch.isnan(x).to(h.dtype)], 1)
        if self.input_shape is not None:
            c, height, width = self.input_shape
            h = h.reshape(h.shape[0], c * (2 if self.missing_mask else 1), height, width)
        return h

    def code_stats(self, x):
        """Raw head output: ``(batch, n_heads * n_components)``.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Data in its own units (standardised here).

        Returns
        -------
        stats : torch.Tensor of shape (batch, n_heads * n_components)
            The heads side by side: the code, or for a VAE the posterior
            mean followed by the log-variance.
        """
        h = self.encoder_input(x)
        stats = self.head(self.encoder(h).flatten(1))
        if self.shortcut_in is not None:
            stats = stats + self.shortcut_in(h.flatten(1))
        return stats

    def encode(self, x):
        """Encode data into codes.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Data in its own units.

        Returns
        -------
        code : torch.Tensor of shape (batch, n_components)
            The first head: the code, or the posterior mean for a VAE.
        """
        return self.code_stats(x)[:, : self.n_components]

    def decode_raw(self, z):
        """Unconstrained decoder output, flattened to ``(batch, n_features)``.

        Parameters
        ----------
        z : torch.Tensor of shape (batch, n_components)
            Codes.

        Returns
        -------
        out : torch.Tensor of shape (batch, n_features)
            Values in scaled units, or logits for a sigmoid output.
        """
        out = self.decoder(z).reshape(z.shape[0], self.n_features)
        if self.shortcut_out is not None:
            out = out + self.shortcut_out(z)
        return out

    def to_data(self, out):
        """Decoder output -> data units (the reconstruction's mean).

        Parameters
        ----------
        out : torch.Tensor of shape (batch, n_features)
            Output of :meth:`decode_raw`.

        Returns
        -------
        x : torch.Tensor of shape (batch, n_features)
            ``sigmoid(out)`` for a sigmoid output, else ``out * scale + mean``.
        """
        if self.output == "sigmoid":
            return torch.sigmoid(out)
        return out * self.scale + self.mean

    def target(self, x):
        """Data -> the units in which the reconstruction loss is computed.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Data in its own units.

        Returns
        -------
        target : torch.Tensor of shape (batch, n_features)
            ``x`` itself for a sigmoid output, else :meth:`standardise` of it;
            missing values (NaN) at 0 (the losses leave them out).
        """
        if self.output == "sigmoid":
            return zero_missing_(x.clone())
        return self.standardise(x)

    def decode(self, z):
        """Decode codes into reconstructions in data units.

        Parameters
        ----------
        z : torch.Tensor of shape (batch, n_components)
            Codes.

        Returns
        -------
        x : torch.Tensor of shape (batch, n_features)
            The reconstructions' means, in the units of the data.
        """
        return self.to_data(self.decode_raw(z))

    def forward(self, x):
        """Reconstruct data: :meth:`decode` of :meth:`encode`.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Data in its own units.

        Returns
        -------
        x_hat : torch.Tensor of shape (batch, n_features)
            Reconstructions in data units.
        """
        return self.decode(self.encode(x))
