"""sphinx-gallery image scraper for the PNG files that skae's examples write.

Every example saves its figures with ``savefig`` into ``$SKAE_EXAMPLES_OUTPUT``
and closes them (so that it runs the same way in ``tests/test_examples.py``,
from a shell, and here).  After each code block this scraper copies the PNG
files that the block wrote (new, or rewritten since they were last seen)
into the gallery and returns the reStructuredText that shows them.
"""

import os
import shutil
from pathlib import Path

from sphinx_gallery.scrapers import figure_rst

_seen = {}  # path -> modification time (ns) already shown


def output_dir():
    return Path(os.environ["SKAE_EXAMPLES_OUTPUT"])


def scrape_pngs(block, block_vars, gallery_conf):
    """Show the PNG files written by the code block that just ran."""
    folder = output_dir()
    if not folder.is_dir():
        return ""
    new = []
    for path in folder.rglob("*.png"):
        stamp = path.stat().st_mtime_ns
        if _seen.get(path) != stamp:
            _seen[path] = stamp
            new.append((stamp, path.name, path))
    images = []
    for _, _, path in sorted(new):
        target = next(block_vars["image_path_iterator"])
        shutil.copyfile(path, target)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])
