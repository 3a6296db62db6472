"""Saving fitted estimators without pickle: weights plus a JSON config.

``pickle``/``joblib`` round trips work for skae estimators, but loading a
pickle runs whatever code the file names, so only load pickles you made.
:func:`save_model` writes a folder holding

* ``config.json``: the estimator class, its parameters and its fitted
  metadata (plain JSON), and
* ``weights.pt``: the network's tensors, read back with
  ``torch.load(..., weights_only=True)``, which refuses to build anything but
  tensors and plain containers,

and :func:`load_model` rebuilds the estimator from them.  A file crafted to
run code when unpickled is rejected before anything in it runs.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import NotFittedError

from ._autoencoder import AutoencoderTransformer
from ._device import resolve_device
from ._network_spec import NetworkSpec
from ._random import make_generator
from ._vae import VAEGenerator

FORMAT_VERSION = 2
_CLASSES = {cls.__name__: cls for cls in (AutoencoderTransformer, VAEGenerator)}


def _encode(value):
    """JSON form of a fitted attribute; tensors are stored beside the weights."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, type) and value in (np.float32, np.float64):
        return {"__dtype__": np.dtype(value).name}
    if isinstance(value, np.dtype):
        return {"__dtype__": value.name}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in config.json")


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.asarray(value["__ndarray__"], dtype=value["dtype"])
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
        if "__dtype__" in value:
            return np.dtype(value["__dtype__"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def save_model(estimator, path, *, overwrite=False):
    """Save a fitted skae estimator as ``path/config.json`` + ``path/weights.pt``.

    ``config.json`` holds the class, the parameters and the fitted metadata
    as plain JSON; ``weights.pt`` holds only tensors.  Neither needs pickle
    to be read back (see :func:`load_model`).

    Parameters
    ----------
    estimator : AutoencoderTransformer or VAEGenerator
        A fitted estimator with the built-in networks.  Custom ``encoder`` /
        ``decoder`` modules cannot be written as JSON: save such a model and
        pass the same modules to :func:`load_model`.
    path : str or Path
        Folder to write: created if needed, and refused if it already
        exists and is not empty, unless ``overwrite=True``.
    overwrite : bool, default=False
        Write into an existing, non-empty folder, replacing its
        ``config.json`` and ``weights.pt`` (other files are left alone).

    Returns
    -------
    path : Path
        The folder written.

    Raises
    ------
    FileExistsError
        If ``path`` is a file, or a non-empty folder and ``overwrite`` is
        False.  Nothing is written then.
    """
    if not isinstance(estimator, tuple(_CLASSES.values())):
        raise TypeError(f"save_model expects a skae estimator, got {type(estimator).__name__}.")
    if not hasattr(estimator, "net_"):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before saving it."
        )
    params = estimator.get_params(deep=False)
    params["encoder"] = params["decoder"] = None
    custom = [n for n in ("encoder", "decoder") if getattr(estimator, n) is not None]
    if not isinstance(params.get("random_state"), (int, type(None))):
        params["random_state"] = None
    if not isinstance(params.get("optimizer"), str):
        raise ValueError("save_model cannot store a custom optimizer class; use a named optimizer.")
    fitted, tensors = {}, {}
    state = vars(estimator)
    for key in type(estimator)._fitted_state:  # what a fitted model is, listed by its class
        if key not in state:
            continue
        value = state[key]
        if isinstance(value, torch.Tensor):
            tensors[key] = value.detach().cpu()
        else:
            fitted[key] = _encode(value)
    config = {
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "params": _encode(params),
        "custom_modules": custom,
        "network": _encode(estimator._spec.config()),
        "fitted": fitted,
    }
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} is a file; save_model writes a folder. Pass a new path.")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        what = "a saved model" if (path / "config.json").exists() else "other files"
        raise FileExistsError(
            f"{path} already exists and holds {what}; pass overwrite=True to replace "
            "its config.json and weights.pt, or a new path."
        )
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in estimator.net_.state_dict().items()}
    torch.save({"state_dict": state, "tensors": tensors}, path / "weights.pt")
    (path / "config.json").write_text(json.dumps(config, indent=1))
    return path


def load_model(path, *, encoder=None, decoder=None, device=None):
    """Rebuild an estimator saved with :func:`save_model`, without unpickling code.

    The weights are read with ``torch.load(..., weights_only=True)``, which
    refuses anything but tensors and plain containers: a file crafted to run
    code when unpickled raises ``ValueError`` before any of it runs.

    Parameters
    ----------
    path : str or Path
        The folder written by :func:`save_model`.
    encoder, decoder : module, class or factory, optional
        The custom modules the model was fitted with, if any.
    device : str or torch.device, optional
        Where to put the network.  An unavailable device raises
        ``ValueError``, as the estimators' ``device`` parameter does.  By
        default the fitted device, or the CPU (with a warning) when that
        device is not available here.

    Returns
    -------
    estimator : AutoencoderTransformer or VAEGenerator
        The fitted estimator, ready to ``transform`` (and, for a VAE, to
        ``sample`` and ``score_samples``).
    """
    path = Path(path)
    config = json.loads((path / "config.json").read_text())
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"Unsupported model format {config.get('format_version')!r} in {path}.")
    classes = _CLASSES
    if config["class"] not in classes:
        raise ValueError(f"Unknown estimator class {config['class']!r} in {path}/config.json.")
    missing = [n for n in config["custom_modules"] if {"encoder": encoder, "decoder": decoder}[n] is None]
    if missing:
        raise ValueError(f"This model was fitted with a custom {' and '.join(missing)}; pass it to load_model.")
    try:
        blob = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"{path / 'weights.pt'} is not a plain weights file (it may try to run code "
            f"when loaded); refusing to load it: {exc}"
        ) from None
    params = _decode(config["params"])
    params.update(encoder=encoder, decoder=decoder)
    if config["class"] == "AutoencoderTransformer":
        # saved before linear_shortcut existed: such a network has no shortcut
        params.setdefault("linear_shortcut", False)
    est = classes[config["class"]](**params)
    for key, value in config["fitted"].items():
        setattr(est, key, _decode(value))
    for key, value in blob["tensors"].items():
        setattr(est, key, value)
    est._spec = NetworkSpec.from_config(_decode(config["network"]),
                                        encoder=encoder, decoder=decoder)
    net = est._spec.build(make_generator(0), est._assemble_network)  # its weights are replaced by the saved ones
    state = dict(blob["state_dict"])
    # models saved before the float64 input shift existed have none
    state.setdefault("input_shift", torch.zeros(net.input_shift.shape, dtype=torch.float64))
    net.load_state_dict(state, strict=True)
    if device is not None:
        target = resolve_device(device)
    else:
        try:
            target = resolve_device(est.device_)
        except ValueError:
            warnings.warn(
                f"This model was fitted on {est.device_}, which is not available here; "
                "it has been loaded on the CPU.",
                UserWarning,
                stacklevel=2,
            )
            target = torch.device("cpu")
    est.net_ = net.to(target).eval()
    est.device_ = str(target)
    est._optimizer_state = None
    return est
