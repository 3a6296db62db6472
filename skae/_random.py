"""Randomness that never touches the global numpy or torch generators."""

import contextlib

import torch
from sklearn.utils import check_random_state


def draw_seed(random_state):
    """Draw a 62-bit seed from ``random_state`` (None, int or RandomState)."""
    return int(check_random_state(random_state).randint(0, 2**62, dtype="int64"))


def make_generator(seed, device="cpu"):
    """A local ``torch.Generator`` on ``device`` seeded with ``seed``."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(int(seed))
    return generator


@contextlib.contextmanager
def isolated_torch_rng(seed, device="cpu"):
    """Run a block with torch's default generators seeded, then restore them.

    Module constructors and layers such as ``nn.Dropout`` draw from torch's
    default generator and cannot be handed a local one.  Inside this block
    they draw from a stream fixed by ``seed``; on exit the global state is
    exactly what it was before, so callers' randomness is never disturbed.
    """
    device = torch.device(device)
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices, device_type="cuda"):
        torch.random.manual_seed(int(seed) % (2**63))
        yield
