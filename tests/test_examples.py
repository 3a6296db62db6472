"""Run every script of ``examples/`` in its fast mode.

Each script runs in a subprocess with ``SKAE_EXAMPLES_FAST=1`` (a few epochs
on small data) and ``SKAE_EXAMPLES_OUTPUT`` pointing at a temporary folder; it
must exit with status 0 and write at least one readable PNG image.  A script
that ignores ``SKAE_EXAMPLES_OUTPUT`` may write into ``examples/output/``
instead: PNG files written there during the run count too.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
import matplotlib.image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_examples_are_found():
    assert len(EXAMPLES) >= 4, f"expected the example scripts in {ROOT / 'examples'}"


def _new_pngs(folder, since):
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.rglob("*.png")) if p.stat().st_mtime >= since]


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    env = dict(os.environ)
    env.update(
        SKAE_EXAMPLES_FAST="1",
        SKAE_EXAMPLES_OUTPUT=str(tmp_path),
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    env.setdefault("OMP_NUM_THREADS", "1")  # small fits: threads only add overhead
    start = time.time() - 1  # file system timestamps may be coarse
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"{script.name} exited with status {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
    )
    pngs = _new_pngs(tmp_path, start) + _new_pngs(script.parent / "output", start)
    assert pngs, f"{script.name} wrote no PNG file\n--- stdout ---\n{proc.stdout[-3000:]}"
    for png in pngs:
        image = matplotlib.image.imread(png)
        assert image.ndim == 3 and image.shape[0] > 10 and image.shape[1] > 10, png
        assert image.std() > 0, f"{png} is a blank image"
