"""Turning the ``encoder``/``decoder`` parameters into modules.

The contract for user networks
------------------------------
``encoder`` and ``decoder`` accept a ``torch.nn.Module`` instance, a
``torch.nn.Module`` subclass or any factory returning a module.

* A class or factory is called with the keyword arguments it accepts among
  ``n_features``, ``n_components`` and ``input_shape`` (``input_shape`` is
  ``(C, H, W)`` for image data and ``None`` otherwise).
* An instance is deep-copied at every fresh ``fit``: skae never trains the
  object you passed, and ``sklearn.base.clone`` gives an untrained estimator.
* The **encoder** maps a batch of inputs -- ``(batch, n_features)``, or
  ``(batch, C, H, W)`` when ``input_shape`` is given -- to features of shape
  ``(batch, d)`` for any ``d``.  skae appends the code head itself: a
  ``Linear(d, n_components)`` for the autoencoder, mean and log-variance
  heads for the VAE.  Inputs arrive standardised: centred, and divided by
  each feature's standard deviation or by one shared scale (the estimator's
  ``scaling_``).
* The **decoder** maps codes ``(batch, n_components)`` to
  ``(batch, n_features)`` or ``(batch, C, H, W)`` *unconstrained* outputs:
  skae applies the sigmoid for ``loss="bce"`` / ``likelihood="bernoulli"``
  and undoes the standardisation otherwise.
"""

import copy
import inspect

import torch
from torch import nn

CONTEXT_KEYS = ("n_features", "n_components", "input_shape")


def _accepted_kwargs(factory, context):
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return dict(context)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(context)
    return {k: v for k, v in context.items() if k in params}


def resolve_module(spec, name, context):
    """Return a fresh module for the parameter ``name`` given as ``spec``."""
    if isinstance(spec, nn.Module):
        return copy.deepcopy(spec)
    if callable(spec):
        module = spec(**_accepted_kwargs(spec, context))
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"The {name} factory must return a torch.nn.Module; it returned "
                f"{type(module).__name__}."
            )
        return module
    raise TypeError(
        f"{name} must be None, a torch.nn.Module instance, or a class or factory "
        f"returning one; got {type(spec).__name__}."
    )


def output_width(module, input_example, name):
    """Width of ``module``'s flattened output for ``input_example`` (dry run)."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(input_example)
    except Exception as exc:
        raise ValueError(
            f"The {name} failed on an input of shape {tuple(input_example.shape)}: {exc}"
        ) from exc
    finally:
        module.train(was_training)
    if not isinstance(out, torch.Tensor) or out.shape[0] != input_example.shape[0]:
        raise ValueError(
            f"The {name} must return a tensor with one row per input row; got "
            f"{type(out).__name__} of shape {getattr(out, 'shape', None)}."
        )
    return int(out[0].numel())
