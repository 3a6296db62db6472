"""Devices: resolving the ``device`` parameter, and pickles that move between machines."""

import copy
import warnings

import torch


def resolve_device(device):
    """Turn the ``device`` parameter into an available ``torch.device``."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='cpu' or device='auto'."
        )
    if resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={device!r} was requested but MPS is not available.")
    return resolved


class DeviceStateMixin:
    """Pickle the network on the CPU; reload it on its device, or the CPU with a warning.

    A model fitted on a GPU therefore unpickles on a CPU-only machine.
    """

    def __getstate__(self):
        state = super().__getstate__()
        net = state.get("net_")
        if net is not None and next(net.buffers()).device.type != "cpu":
            state["net_"] = copy.deepcopy(net).to("cpu")
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "net_" not in state:
            return
        try:
            resolve_device(self.device_)
        except ValueError:
            warnings.warn(
                f"This model was fitted on {self.device_}, which is not available here; "
                "it has been loaded on the CPU.",
                UserWarning,
                stacklevel=2,
            )
            self.device_ = "cpu"
        self.net_.to(self.device_)


def to_cpu(obj):
    """A (nested) optimizer state with every tensor on the CPU.

    Tensors already on the CPU are kept, not copied: the state of a finished
    optimizer is handed over, and a warm start trains on a deep copy of it.
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu")  # no copy of what is already there
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_cpu(v) for v in obj]
    return obj
