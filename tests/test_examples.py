"""Run every script of ``examples/`` in its fast mode.

The scripts run one after the other in one subprocess, as sphinx-gallery
runs them (one interpreter start for all of them), each with
``SKAE_EXAMPLES_FAST=1`` (a few epochs on small data) and
``SKAE_EXAMPLES_OUTPUT`` pointing at a folder of its own; each must run to
its end without an exception and write at least one readable PNG image
into that folder.
"""

import json
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


# Runs each script given on the command line in a fresh namespace of this
# interpreter; writes {script: traceback or ""} as JSON to the last argument.
_DRIVER = """
import json, os, runpy, sys, traceback, warnings
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
*scripts, outputs, report = sys.argv[1:]
status = {}
for script in scripts:
    name = os.path.basename(script)
    os.environ["SKAE_EXAMPLES_OUTPUT"] = os.path.join(outputs, name)
    os.makedirs(os.environ["SKAE_EXAMPLES_OUTPUT"], exist_ok=True)
    try:
        with warnings.catch_warnings():
            runpy.run_path(script, run_name="__main__")
        status[name] = ""
    except BaseException:
        status[name] = traceback.format_exc()
    plt.close("all")
    print(f"ran {name}", flush=True)
with open(report, "w") as f:
    json.dump(status, f)
"""


@pytest.fixture(scope="module")
def example_runs(tmp_path_factory):
    """``(status by script name, output folder, start time, stdout, stderr)`` of one run of all."""
    outputs = tmp_path_factory.mktemp("examples")
    report = outputs / "status.json"
    env = dict(os.environ)
    env.update(
        SKAE_EXAMPLES_FAST="1",
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    env.setdefault("OMP_NUM_THREADS", "1")  # small fits: threads only add overhead
    start = time.time() - 1  # file system timestamps may be coarse
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, *map(str, EXAMPLES), str(outputs), str(report)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0 and report.is_file(), (
        f"the examples' driver exited with status {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
    )
    status = json.loads(report.read_text())
    return status, outputs, start, proc.stdout


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, example_runs):
    status, outputs, start, stdout = example_runs
    assert status[script.name] == "", f"{script.name} raised\n{status[script.name][-3000:]}"
    pngs = _new_pngs(outputs / script.name, start)
    assert pngs, f"{script.name} wrote no PNG file\n--- stdout ---\n{stdout[-3000:]}"
    for png in pngs:
        image = matplotlib.image.imread(png)
        assert image.ndim == 3 and image.shape[0] > 10 and image.shape[1] > 10, png
        assert image.std() > 0, f"{png} is a blank image"
