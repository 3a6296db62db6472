#!/usr/bin/env python3
"""Set up a local environment and run skae's main job or its test suite.

    python3 run.py benchmark [--dataset digits ...]   # PCA vs autoencoders, prints a table
    python3 run.py test [pytest arguments ...]        # the test suite

The first call creates ``.venv`` next to this file and installs skae with
what it needs; later calls reuse it (and reinstall only when pyproject.toml
changed).  PyTorch is handled with care:

* a torch that the invoking Python already has is kept (the environment is
  created with access to it), so a user with a GPU build keeps theirs;
* on a machine with an NVIDIA GPU (``nvidia-smi`` answers) torch comes from
  PyPI, which serves CUDA builds;
* on a machine without one, the CPU build is installed: a CPU wheel that
  pip's configured ``find-links`` already hold, else the official CPU index
  (https://download.pytorch.org/whl/cpu, about 200 MB instead of several GB).

Only the standard library is used here, so Python 3.10+ is all it needs.
"""

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("SKAE_VENV", ROOT / ".venv"))
EXTRAS = "test,benchmark,speed,onnx"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def log(message):
    print(f"[run.py] {message}", flush=True)


def venv_python():
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return VENV / sub


def has_torch(python):
    probe = [str(python), "-c", "import torch"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def pip(*args, check=True):
    cmd = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", *args]
    log(" ".join(cmd[1:]))
    return subprocess.run(cmd, check=check).returncode == 0


def gpu_present():
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


def install_torch():
    """Install torch into the environment, the CPU build unless a GPU is present."""
    if platform.system() == "Darwin" or gpu_present():
        pip("torch")
        return
    # A CPU wheel already on this machine (pip's find-links): no download.
    if pip("--no-index", "--no-deps", "torch", check=False) and pip("torch", check=False):
        return
    if pip("torch", "--index-url", CPU_INDEX, "--extra-index-url", "https://pypi.org/simple",
           check=False):
        return
    sys.exit(
        "[run.py] Could not install PyTorch. Install it into .venv yourself "
        "(see https://pytorch.org/get-started/locally/) and run this command again."
    )


def ensure_environment():
    stamp = VENV / ".skae-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + EXTRAS.encode()).hexdigest()
    if not venv_python().exists():
        reuse = has_torch(sys.executable)
        log(f"creating {VENV}" + (" (reusing the torch of this Python)" if reuse else ""))
        venv.EnvBuilder(with_pip=True, system_site_packages=reuse).create(VENV)
    if stamp.exists() and stamp.read_text() == digest and has_torch(venv_python()):
        return
    if not has_torch(venv_python()):
        install_torch()
    pip("-e", f"{ROOT}[{EXTRAS}]")
    stamp.write_text(digest)


def main(argv):
    if not argv or argv[0] not in ("benchmark", "test"):
        sys.exit(__doc__)
    ensure_environment()
    command, rest = argv[0], argv[1:]
    if command == "test":
        cmd = [str(venv_python()), "-m", "pytest", *rest]
    else:
        cmd = [str(venv_python()), "-m", "skae.benchmark", *rest]
    log(" ".join(cmd[1:]))
    os.chdir(ROOT)
    return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
