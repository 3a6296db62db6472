#!/usr/bin/env python3
"""Set up a local environment and run skae's main job or its test suite.

    python3 run.py benchmark [--dataset digits ...]   # PCA vs autoencoders, prints a table
    python3 run.py test [pytest arguments ...]        # the test suite
    python3 run.py docs [--no-gallery] [sphinx args]  # the site: docs/_build/html/index.html

The first call creates ``.venv`` next to this file and installs skae with
what that command needs, no more: the benchmark the core and its plotting and
data extras, the tests (or the docs) add their own extras when they first run.
Later calls reuse the environment and install only what a command lacks (all
of its extras again when pyproject.toml changed).  After an installation the
bytecode of the modules the command imports is compiled once, so that no
later process compiles torch from source again (as each would with
``PYTHONDONTWRITEBYTECODE`` set).  PyTorch is handled with care:

* a torch that the invoking Python already has is kept (the environment is
  created with access to it), so a user with a GPU build keeps theirs;
* on a machine with an NVIDIA GPU (``nvidia-smi`` answers) torch comes from
  PyPI, which serves CUDA builds;
* on a machine without one, the CPU build is installed: a CPU wheel that
  pip's configured ``find-links`` already hold, else the official CPU index
  (https://download.pytorch.org/whl/cpu, about 200 MB instead of several GB).

Only the standard library is used here, so Python 3.11+ is all it needs.
"""

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("SKAE_VENV", ROOT / ".venv"))
# The extras of pyproject.toml each command needs.  The main job plots and
# loads its data sets; the tests also exercise the ONNX export; the site lists
# the ONNX API as well.  Sphinx, pytest, onnx and skorch never install for the
# main job.
EXTRAS = {"benchmark": ("benchmark",), "test": ("test", "onnx"), "docs": ("docs", "onnx")}
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# What has been installed into the environment (see installed_extras).
STAMP = ".skae-installed"


def log(message):
    print(f"[run.py] {message}", flush=True)


def venv_python():
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return VENV / sub


def has_torch(python):
    probe = [str(python), "-c", "import torch"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def pip(*args, check=True):
    # --no-compile: only the modules a command imports are compiled (see
    # compile_bytecode), instead of pip compiling every file of torch, SciPy
    # and pandas up front (about half of the set-up time).
    cmd = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check",
           "--no-compile", *args]
    log(" ".join(cmd[1:]))
    return subprocess.run(cmd, check=check).returncode == 0


# Modules each command imports, whose bytecode is compiled once after an
# installation (see compile_bytecode).
WARM_MODULES = {
    "benchmark": ("skae", "skae.benchmark.__main__", "sklearn.datasets", "matplotlib.pyplot",
                  "pandas"),
    "test": ("pytest", "hypothesis", "hypothesis.extra.numpy", "dask.array", "distributed",
             "onnx", "onnxruntime", "skl2onnx", "skae.onnx", "skae.dask"),
    "docs": ("sphinx.cmd.build", "sphinx_gallery.gen_gallery", "numpydoc",
             "pydata_sphinx_theme"),
}
# Run by the environment's Python: imports the given modules (and torch's
# optimizers, which import torch._dynamo on first use) with the writing of
# bytecode on, whatever PYTHONDONTWRITEBYTECODE says.
_COMPILE = """
import sys
sys.dont_write_bytecode = False
for name in sys.argv[1:]:
    try:
        __import__(name)
    except Exception:
        pass
try:
    import torch
    torch.optim.AdamW(torch.nn.Linear(1, 1).parameters())
except Exception:
    pass
"""


def compile_bytecode(command):
    """Write the bytecode of the modules ``command`` imports from the environment.

    pip installs with ``--no-compile`` (see :func:`pip`), and Python would
    compile each module when it is first imported; but with
    ``PYTHONDONTWRITEBYTECODE`` set it never writes the result, and every
    process (each worker of the main job, each subprocess of the tests)
    compiles torch, SciPy and scikit-learn from source again, several
    seconds each.  Compiling what the command imports, once, avoids that.
    """
    names = [name for key in ("benchmark", command) for name in WARM_MODULES[key]]
    log(f"compiling the bytecode of the modules '{command}' imports")
    subprocess.run([str(venv_python()), "-c", _COMPILE, *dict.fromkeys(names)],
                   capture_output=True)


def gpu_present():
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


def install_torch():
    """Install torch into the environment, the CPU build unless a GPU is present.

    Returns the requirements to add to the installation of skae: torch's own
    dependencies are resolved and installed with skae's, in that one call.
    """
    if platform.system() == "Darwin" or gpu_present():
        return ["torch"]  # from PyPI, which serves the CUDA builds
    # A CPU wheel already on this machine (pip's find-links): no download.
    if pip("--no-index", "--no-deps", "torch", check=False):
        return []
    if pip("torch", "--index-url", CPU_INDEX, "--extra-index-url", "https://pypi.org/simple",
           check=False):
        return []
    sys.exit(
        "[run.py] Could not install PyTorch. Install it into .venv yourself "
        "(see https://pytorch.org/get-started/locally/) and run this command again."
    )


def installed_extras(digest):
    """The extras installed into the environment for this ``pyproject.toml``.

    Read from the stamp file that each installation writes; empty when there
    is none or when it was written for another ``pyproject.toml``.
    """
    try:
        recorded = json.loads((VENV / STAMP).read_text())
    except (OSError, ValueError):
        return set()
    if not isinstance(recorded, dict) or recorded.get("pyproject") != digest:
        return set()
    return set(recorded.get("extras", []))


def ensure_environment(command):
    """Create the environment if needed and install skae with the extras of ``command``.

    Extras already installed for the same ``pyproject.toml`` are kept and
    not installed again, so that each command adds only what it lacks.
    After an installation, the bytecode of what the command imports is
    compiled (:func:`compile_bytecode`).
    """
    extras = EXTRAS[command]
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not venv_python().exists():
        reuse = has_torch(sys.executable)
        log(f"creating {VENV}" + (" (reusing the torch of this Python)" if reuse else ""))
        venv.EnvBuilder(with_pip=True, system_site_packages=reuse).create(VENV)
    installed = installed_extras(digest)
    if installed.issuperset(extras) and has_torch(venv_python()):
        return
    torch = [] if has_torch(venv_python()) else install_torch()
    wanted = sorted(installed.union(extras))
    pip("-e", f"{ROOT}[{','.join(wanted)}]", *torch)
    compile_bytecode(command)
    (VENV / STAMP).write_text(json.dumps({"pyproject": digest, "extras": wanted}))


def docs_command(rest):
    """The sphinx-build command line of the docs command.

    ``--no-gallery`` builds the gallery pages without running the examples
    (sphinx-gallery's ``plot_gallery=0``); the other arguments go to
    sphinx-build (e.g. ``-W --keep-going`` to fail on warnings).
    """
    args = [a for a in rest if a != "--no-gallery"]
    gallery = [] if len(args) == len(rest) else ["-D", "plot_gallery=0"]
    source, out = ROOT / "docs", ROOT / "docs" / "_build" / "html"
    return [str(venv_python()), "-m", "sphinx", "-b", "html", *gallery, *args,
            str(source), str(out)]


def main(argv):
    if not argv or argv[0] not in ("benchmark", "test", "docs"):
        sys.exit(__doc__)
    command, rest = argv[0], argv[1:]
    ensure_environment(command)
    if command == "docs":
        cmd = docs_command(rest)
    elif command == "test":
        cmd = [str(venv_python()), "-m", "pytest", *rest]
    else:
        cmd = [str(venv_python()), "-m", "skae.benchmark", *rest]
    log(" ".join(cmd[1:]))
    os.chdir(ROOT)
    returncode = subprocess.run(cmd).returncode
    if command == "docs" and returncode == 0:
        log(f"open {ROOT / 'docs' / '_build' / 'html' / 'index.html'}")
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
