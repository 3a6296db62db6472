"""Every public docstring passes ``numpydoc.validate``, as in scikit-learn.

Modelled on ``sklearn/tests/test_docstrings.py``: each public class,
function and public method defined in skae (inherited torch and
scikit-learn methods are theirs to document) is validated with numpydoc's
validator, and the errors below are ignored for the reasons given next to
them.  A new public name in a module's ``__all__`` is picked up
automatically, so is a module listed in ``PUBLIC_MODULES`` that is added
later (``skae.onnx``).
"""

import importlib
import inspect

import pytest
from numpydoc import validate as numpydoc_validation  # in the test extra

PUBLIC_MODULES = [
    "skae",
    "skae.dask",
    "skae.datasets",
    "skae.exceptions",
    "skae.nn",
    "skae.onnx",
    "skae.persistence",
    "skae.plotting",
]

# Ignored everywhere:
#  GL01, GL02: where the summary starts and blank lines around it (layout,
#      not content; scikit-learn ignores them too).
#  RT02: the first line of Returns holds the type only (scikit-learn ignores it,
#      so that a returned object can be named).
#  SA01, EX01: a See Also and an Examples section are welcome but not
#      required; the user guide and the gallery carry the examples.
IGNORED = {"GL01", "GL02", "RT02", "SA01", "EX01"}
# Ignored for methods only (as scikit-learn does): an extended summary is
# required of classes and functions, a one-line summary is enough for methods.
IGNORED_FOR_METHODS = {"ES01"}


def _public_modules():
    for name in PUBLIC_MODULES:
        try:
            yield importlib.import_module(name)
        except ImportError:  # an optional module whose extra is not installed
            if name != "skae.onnx":
                raise


def _own_methods(cls):
    """Public methods and properties that ``cls`` or a skae base defines."""
    for klass in cls.__mro__:
        if not klass.__module__.startswith("skae"):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                continue
            yield name


def _objects():
    seen = set()
    for module in _public_modules():
        names = getattr(module, "__all__", None) or [
            n for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
        ]
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants such as __version__, DATASETS, ACTIVATIONS
            path = f"{obj.__module__}.{obj.__qualname__}"
            if path in seen:
                continue
            seen.add(path)
            yield path, None
            if inspect.isclass(obj):
                for method in sorted(set(_own_methods(obj))):
                    yield f"{path}.{method}", method


OBJECTS = sorted(set(_objects()))


def test_public_objects_are_found():
    paths = [p for p, _ in OBJECTS]
    for expected in ("skae._autoencoder.AutoencoderTransformer.fit",
                     "skae._vae.VAEGenerator",
                     "skae.persistence.save_model",
                     "skae.plotting._latent.plot_latent_2d",
                     "skae.dask.fit_dask_array",
                     "skae.nn._mlp.MLPEncoder"):
        assert any(p.endswith(expected) for p in paths), expected


def _errors(path, method):
    result = numpydoc_validation.validate(path)
    for code, message in result["errors"]:
        if code in IGNORED or (method is not None and code in IGNORED_FOR_METHODS):
            continue
        yield f"{code}: {message}"


@pytest.mark.parametrize("path, method", OBJECTS, ids=[p for p, _ in OBJECTS])
def test_docstring(path, method):
    errors = list(_errors(path, method))
    assert not errors, f"{path}\n" + "\n".join(errors)
