"""Build skae's sdist and wheel and smoke-test each in a fresh virtual environment.

    python tests/check_release.py [--torch "torch==2.13.0"] [--keep DIR]

Steps (standard library only; run with any Python that has ``build``):

1. ``git archive HEAD`` into a temporary folder (what is committed, nothing
   else) and ``python -m build`` there: ``dist/skae-<v>.tar.gz`` and
   ``dist/skae-<v>-py3-none-any.whl``;
2. for each artifact, a new virtual environment with torch (``--torch``, a
   pip requirement; pip's configured find-links may hold a CPU wheel) and the
   artifact installed by pip with its dependencies;
3. from an empty folder (so the source tree cannot be imported), the smoke
   test below: the installed version matches ``skae.__version__`` and the
   metadata; an ``AutoencoderTransformer`` and a ``VAEGenerator`` fit,
   transform, and survive ``save_model``/``load_model`` and pickle with
   identical codes; the sdist also carries README, LICENSE, CHANGELOG and
   tests.

Not collected by pytest (the name does not start with ``test_``): it takes a
minute or two and needs the package index.
"""

import argparse
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SMOKE = r'''
import importlib.metadata, pickle, sys, tempfile, warnings
from pathlib import Path
import numpy as np
import skae
from skae import AutoencoderTransformer, VAEGenerator, load_model, save_model

assert "site-packages" in skae.__file__, skae.__file__
assert importlib.metadata.version("skae") == skae.__version__
X = np.random.default_rng(0).random((300, 20))
with tempfile.TemporaryDirectory() as tmp:
    for est in (AutoencoderTransformer(3, max_iter=5, random_state=0),
                VAEGenerator(2, max_iter=5, random_state=0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short fits: ConvergenceWarning
            codes = est.fit(X).transform(X)
        name = type(est).__name__
        save_model(est, Path(tmp) / name)
        loaded = load_model(Path(tmp) / name)
        assert np.array_equal(loaded.transform(X), codes), name
        assert np.array_equal(pickle.loads(pickle.dumps(est)).transform(X), codes), name
        print(f"{name}: fit, transform {codes.shape}, save/load and pickle give identical codes")
print(f"skae {skae.__version__} from {skae.__file__}")
'''


def run(cmd, **kwargs):
    print("$", " ".join("<smoke test>" if c == SMOKE else str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, check=True, **kwargs)


def build(workdir):
    src = workdir / "src"
    src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True,
                             capture_output=True).stdout
    run(["tar", "-x", "-C", str(src)], input=archive)
    start = time.perf_counter()
    run([sys.executable, "-m", "build", "--outdir", str(workdir / "dist"), str(src)],
        capture_output=True)
    print(f"built in {time.perf_counter() - start:.1f} s")
    artifacts = sorted((workdir / "dist").iterdir())
    for path in artifacts:
        print(f"  {path.name}: {path.stat().st_size / 1024:.0f} KiB")
    return artifacts


def check_sdist(path):
    names = {n.split("/", 1)[1] for n in tarfile.open(path).getnames() if "/" in n}
    for needed in ("README.md", "LICENSE", "CHANGELOG.md", "pyproject.toml",
                   "skae/__init__.py", "tests/conftest.py", "examples"):
        assert needed in names, f"{needed} missing from {path.name}"
    print(f"  {path.name} carries README, LICENSE, CHANGELOG, tests and examples")


def smoke(artifact, workdir, torch_req):
    env = workdir / f"venv-{artifact.suffix.lstrip('.')}"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    start = time.perf_counter()
    run([python, "-m", "pip", "install", "-q", torch_req])
    run([python, "-m", "pip", "install", "-q", str(artifact)])
    print(f"installed in {time.perf_counter() - start:.1f} s")
    empty = workdir / "empty"
    empty.mkdir(exist_ok=True)
    run([python, "-c", SMOKE], cwd=empty)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", default="torch", help="pip requirement for torch")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        artifacts = build(workdir)
        for artifact in artifacts:
            if artifact.name.endswith(".tar.gz"):
                check_sdist(artifact)
            smoke(artifact, workdir, args.torch)
    print("release check passed")


if __name__ == "__main__":
    main()
