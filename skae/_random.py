"""Randomness that never changes the global numpy or torch generators.

Everything skae draws comes from local generators: ``numpy`` ``RandomState``
objects made by :func:`draw_seed` and ``torch.Generator`` objects made by
:func:`make_generator`.  Built-in layers are initialised from a local
generator too (:func:`init_parameters`), so fits in parallel threads are
reproducible and never touch what the caller's code draws.

User-supplied modules are the exception: their constructors and layers such
as ``nn.Dropout`` draw from torch's default generator, which cannot be handed
to them.  :func:`seeded_global_rng` runs such code with that generator seeded
and restores it afterwards, holding a process-wide lock, so that two fits
with user modules in different threads run that code one at a time.
"""

import contextlib
import math
import threading

import torch
from sklearn.utils import check_random_state
from torch import nn

_GLOBAL_RNG_LOCK = threading.RLock()


def draw_seed(random_state):
    """Draw a 62-bit seed from ``random_state`` (None, int or RandomState)."""
    return int(check_random_state(random_state).randint(0, 2**62, dtype="int64"))


def make_generator(seed, device="cpu"):
    """A local ``torch.Generator`` on ``device`` seeded with ``seed``."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(int(seed))
    return generator


def generator_seed(generator):
    """A 62-bit seed drawn from the torch ``generator``."""
    return int(torch.randint(0, 2**62, (1,), generator=generator))


@contextlib.contextmanager
def seeded_global_rng(seed, device="cpu"):
    """Run a block with torch's default generator of ``device`` seeded, then restore it.

    Only the CPU generator and, for a CUDA ``device``, that one device's
    generator are seeded and restored (``torch.manual_seed`` would seed every
    device).  A process-wide lock is held for the whole block, so that
    threads never see each other's seeds.
    """
    device = torch.device(device)
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=devices, device_type="cuda"):
        torch.default_generator.manual_seed(int(seed) % 2**63)
        for index in devices:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(int(seed) % 2**63)
        yield


_INITIALISED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d,
                nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def init_parameters(module, generator):
    """Initialise every linear and convolutional layer of ``module`` from ``generator``.

    The same distributions as torch's own ``reset_parameters``: weights
    Kaiming-uniform with ``a=sqrt(5)``, biases uniform in
    ``±1/sqrt(fan_in)``, drawn from the local ``generator`` only.
    """
    with torch.no_grad():
        for layer in module.modules():
            if not isinstance(layer, _INITIALISED):
                continue
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module
