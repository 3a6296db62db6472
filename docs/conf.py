"""Sphinx configuration of skae's documentation site.

Build it with ``python3 run.py docs`` (the whole site, running the gallery)
or ``python3 run.py docs --no-gallery`` (the gallery pages without running
the examples).  The output is ``docs/_build/html/index.html``.
"""

import importlib
import inspect
import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "sphinxext"))

import skae  # noqa: E402

project = "skae"
author = "the skae developers"
copyright = "the skae developers"  # noqa: A001
release = skae.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinx_design",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "api_listing.rst", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
html_static_path = ["_static"]
html_css_files = ["skae.css"]
default_role = "literal"

# -- API reference: autosummary stubs in docs/generated/ and numpydoc ------
# api.rst includes api_listing.rst, which is written below from the public
# modules' __all__ (so a new public name, or the optional skae.onnx, appears
# without editing the docs); autosummary makes the stubs from that file.
autosummary_generate = ["api_listing.rst"]
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False
numpydoc_xref_param_type = False

# -- Theme ----------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skae {release}"
html_theme_options = {
    "logo": {"text": "skae"},
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"install": [], "benchmarks": []}
html_show_sourcelink = False

# -- Gallery --------------------------------------------------------------
# The examples save their figures as PNG files in $SKAE_EXAMPLES_OUTPUT and
# close them; png_scraper shows those files under each code block.
EXAMPLE_OUTPUT = DOCS / "_build" / "example_output"
shutil.rmtree(EXAMPLE_OUTPUT, ignore_errors=True)
EXAMPLE_OUTPUT.mkdir(parents=True)
os.environ["SKAE_EXAMPLES_OUTPUT"] = str(EXAMPLE_OUTPUT)
os.environ.setdefault("MPLBACKEND", "Agg")

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "image_scrapers": ("png_scraper.scrape_pngs",),
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "auto_examples/backreferences",
    "doc_module": ("skae",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "abort_on_example_error": True,
}

# -- The API listing, built from each public module's __all__ --------------
# (title, module, the module whose name the entries are listed under)
API_SECTIONS = [
    ("Estimators", "skae", ["AutoencoderTransformer", "VAEGenerator", "AutoencoderOutlierDetector",
                            "AutoencoderImputer"]),
    ("Saving and loading", "skae", ["save_model", "load_model"]),
    ("Exceptions", "skae.exceptions", None),
    ("Plotting", "skae.plotting", None),
    ("Data sets", "skae.datasets", None),
    ("Dask arrays", "skae.dask", None),
    ("Networks", "skae.nn", None),
    ("ONNX export", "skae.onnx", None),
]


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__]
    return [n for n in names if not n.startswith("_")]


def api_listing():
    """reStructuredText of every public class, function and constant."""
    lines = []
    listed = set()
    for title, module_name, names in API_SECTIONS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # an optional module whose extra is missing
            continue
        names = names or _public_names(module)
        if module_name == "skae":
            names = [n for n in names if n in _public_names(module)]
        lines += [title, "-" * len(title), ""]
        if module_name != "skae":
            lines += [f".. automodule:: {module_name}", "   :no-members:", ""]
        lines += [f".. currentmodule:: {module_name}", ""]
        groups = {"class": [], "function": [], "data": []}
        for name in names:
            obj = getattr(module, name)
            kind = ("class" if inspect.isclass(obj) else
                    "function" if callable(obj) else "data")
            groups[kind].append(name)
            listed.add(id(obj))
        for kind, members in groups.items():
            if not members:
                continue
            lines += [".. autosummary::", "   :nosignatures:", "   :toctree: generated/",
                      f"   :template: {kind}.rst", ""]
            lines += [f"   {name}" for name in members] + [""]
    missing = [n for n in _public_names(skae)
               if n != "__version__" and id(getattr(skae, n)) not in listed]
    if missing:
        raise RuntimeError(f"docs/conf.py: API_SECTIONS does not list skae.{missing}")
    return "\n".join(lines)


# "ndarray of shape (n_samples, n_components_)": in reStructuredText a word
# ending in "_" is a link, so fitted-attribute names inside shapes are quoted.
_SHAPE = re.compile(r"of shape \(([^)]*)\)")
_TRAILING = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,)\s]|$)")


def _quote_shapes(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        lines[i] = _SHAPE.sub(lambda m: "of shape (" + _TRAILING.sub(r"`\1`", m[1]) + ")",
                              line)


def setup(app):
    app.connect("autodoc-process-docstring", _quote_shapes)


_listing = DOCS / "api_listing.rst"
_text = api_listing()
if not _listing.is_file() or _listing.read_text() != _text:  # keep mtimes of unchanged builds
    _listing.write_text(_text)
