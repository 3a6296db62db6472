"""Hostile inputs against every public estimator and every method that takes data.

Each case either works (and the result is asserted finite and well shaped)
or raises ValueError/TypeError with a message that names the problem.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

import skae
from skae._base import BaseAutoencoder

# The transformers that own a network. AutoencoderOutlierDetector takes one of
# them as its estimator and is checked by scikit-learn's outlier-detector
# checks in tests/test_outlier.py.
ESTIMATORS = [
    getattr(skae, name) for name in skae.__all__
    if isinstance(getattr(skae, name), type) and issubclass(getattr(skae, name), BaseEstimator)
    and issubclass(getattr(skae, name), BaseAutoencoder)
]
FAST = dict(hidden_layer_sizes=(8,), max_iter=3, batch_size=16, random_state=0)
RNG = np.random.RandomState(0)
BASE = RNG.rand(40, 6)


def _with(value, where=(0, 0)):
    X = BASE.copy()
    X[where] = value
    return X


def _ragged():
    return [[0.1, 0.2, 0.3], [0.4, 0.5]]


# (id, X factory, extra params, expected): expected is "ok" or (exception, regex)
DATA_CASES = [
    ("nan", lambda: _with(np.nan), {}, "ok"),  # a missing value (tests/test_missing_values.py)
    ("+inf", lambda: _with(np.inf), {}, (ValueError, "infinity")),
    ("-inf", lambda: _with(-np.inf), {}, (ValueError, "infinity")),
    ("beyond-float32", lambda: _with(1e39), {}, (ValueError, "too large for float32")),
    ("near-float32-max", lambda: _with(1e30), {}, "ok"),
    ("empty-samples", lambda: np.empty((0, 6)), {}, (ValueError, "0 sample")),
    ("zero-features", lambda: np.empty((40, 0)), {}, (ValueError, "0 feature")),
    ("ragged-lists", _ragged, {}, (ValueError, "inhomogeneous|sequence")),
    ("strings", lambda: np.array([["a", "b"], ["c", "d"]]), {}, (ValueError, "convert|numeric|string")),
    ("object-numbers", lambda: BASE.astype(object), {}, "ok"),
    ("complex", lambda: BASE + 1j, {}, (ValueError, "[Cc]omplex")),
    ("booleans", lambda: BASE > 0.5, {}, "ok"),
    ("int8", lambda: (BASE * 100).astype(np.int8), {}, "ok"),
    ("uint8", lambda: (BASE * 255).astype(np.uint8), {}, "ok"),
    ("float16", lambda: BASE.astype(np.float16), {}, "ok"),
    ("1-D", lambda: BASE[:, 0], {}, (ValueError, "Expected 2D array")),
    ("3-D", lambda: BASE.reshape(40, 2, 3), {}, (ValueError, "dim 3|2D")),
    ("csr-zero-rows", lambda: sp.csr_matrix(np.where(np.arange(40)[:, None] % 3 == 0, 0, BASE)), {}, "ok"),
    ("csc", lambda: sp.csc_matrix(BASE), {}, "ok"),
    ("coo", lambda: sp.coo_matrix(BASE), {}, "ok"),
    ("pandas-text-column", lambda: pd.DataFrame({"a": BASE[:, 0], "b": ["x"] * 40}), {}, (ValueError, "column 'b' .* not numeric")),
    ("pandas-category-column", lambda: pd.DataFrame({"a": BASE[:, 0], "b": pd.Categorical(["x", "y"] * 20)}), {}, (ValueError, r"column 'b' \(category\) of X is not numeric")),
    ("pandas-numeric-categories", lambda: pd.DataFrame(BASE).astype({5: "category"}), {}, "ok"),
    ("constant-feature", lambda: np.column_stack([BASE, np.full(40, 3.0)]), {}, "ok"),
    ("all-constant", lambda: np.ones((40, 6)), {}, "ok"),
    ("batch-larger-than-n", lambda: BASE, {"batch_size": 1000}, "ok"),
    ("one-sample", lambda: BASE[:1], {}, (ValueError, "n_samples=1")),
    ("one-sample-no-split", lambda: BASE[:1], {"early_stopping": False}, "ok"),
    ("split-leaves-nothing", lambda: BASE[:3], {"validation_fraction": 0.9}, (ValueError, "validation_fraction")),
    ("bce-out-of-range", lambda: BASE * 3, {"_unit": True}, (ValueError, r"requires X to lie in \[0, 1\]")),
]

PARAM_CASES = [
    ("n_components-str", {"n_components": "3"}, "n_components"),
    ("n_components-zero", {"n_components": 0}, "n_components"),
    ("learning_rate-negative", {"learning_rate": -1.0}, "learning_rate"),
    ("max_iter-zero", {"max_iter": 0}, "max_iter"),
    ("batch_size-float", {"batch_size": 2.5}, "batch_size"),
    ("batch_size-unknown-string", {"batch_size": "large"}, "batch_size"),
    ("hidden-zero-width", {"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ("conv-hidden-zero-width", {"conv_hidden_layer_sizes": (0,)}, "conv_hidden_layer_sizes"),
    ("activation-unknown", {"activation": "swish"}, "activation"),
    ("optimizer-unknown", {"optimizer": "lbfgs"}, "optimizer"),
    ("validation_fraction-one", {"validation_fraction": 1.0}, "validation_fraction"),
    ("device-unavailable", {"device": "cuda:9"}, "device"),
    ("input_shape-mismatch", {"input_shape": (1, 2, 2)}, "input_shape"),
]


def _params(cls, extra):
    extra = dict(extra)
    if extra.pop("_unit", False):
        extra["loss" if "loss" in cls().get_params() else "likelihood"] = (
            "bce" if "loss" in cls().get_params() else "bernoulli"
        )
    return {**FAST, **extra}


@pytest.fixture(scope="module", params=ESTIMATORS, ids=lambda c: c.__name__)
def fitted(request):
    return request.param(n_components=2, **FAST).fit(BASE)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("method", ["fit", "partial_fit", "fit_transform"])
@pytest.mark.parametrize("case", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_training_methods(cls, method, case):
    name, make_X, extra, expected = case
    if method == "partial_fit" and name in ("one-sample", "split-leaves-nothing"):
        expected = "ok"  # partial_fit never holds out a validation split
    est = cls(n_components=2, **_params(cls, extra))
    X = make_X()
    if expected == "ok":
        out = getattr(est, method)(X)
        Z = est.transform(X)
        assert Z.shape == (X.shape[0], 2) and np.isfinite(Z).all()
        if method == "fit_transform":
            assert np.isfinite(out).all() and out.shape == Z.shape
    else:
        exc, match = expected
        with pytest.raises(exc, match=match):
            getattr(est, method)(X)


@pytest.mark.parametrize("method", ["transform", "score_samples", "score"])
@pytest.mark.parametrize(
    "case", [c for c in DATA_CASES if c[2] == {}], ids=[c[0] for c in DATA_CASES if c[2] == {}]
)
def test_inference_methods(fitted, method, case):
    name, make_X, _, expected = case
    X = make_X()
    if name in ("constant-feature",):
        expected = (ValueError, "X has 7 features, but .* is expecting 6")
    if name == "one-sample":
        expected = "ok"  # nothing is held out at inference
    if expected == "ok":
        out = np.asarray(getattr(fitted, method)(X))
        assert np.isfinite(out).all()
        if method == "transform":
            assert out.shape == (X.shape[0], 2)
        elif method == "score_samples":
            assert out.shape == (X.shape[0],)
    else:
        exc, match = expected
        with pytest.raises(exc, match=match):
            getattr(fitted, method)(X)


@pytest.mark.parametrize(
    "codes, expected",
    [
        (np.zeros((5, 2)), "ok"),
        (np.zeros((5, 3)), (ValueError, "X has 3 features, but .* expects 2 components")),
        (np.full((5, 2), np.nan), (ValueError, "NaN")),
        (np.full((5, 2), 1e39), (ValueError, "too large for float32")),
        (np.zeros(2), (ValueError, "Expected 2D array")),
        (np.zeros((0, 2)), (ValueError, "0 sample")),
        ([["a", "b"]], (ValueError, "convert|string")),
    ],
    ids=["ok", "wrong-width", "nan", "overflow", "1-D", "empty", "strings"],
)
def test_inverse_transform(fitted, codes, expected):
    if expected == "ok":
        out = fitted.inverse_transform(codes)
        assert out.shape == (5, 6) and np.isfinite(out).all()
    else:
        with pytest.raises(expected[0], match=expected[1]):
            fitted.inverse_transform(codes)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", PARAM_CASES, ids=[c[0] for c in PARAM_CASES])
def test_invalid_parameters(cls, case):
    _, params, match = case
    with pytest.raises((ValueError, TypeError), match=match):
        cls(**{**FAST, **params}).fit(BASE)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_methods_before_fit_raise_not_fitted(cls):
    est = cls(**FAST)
    for method in ("transform", "score_samples", "score"):
        with pytest.raises(NotFittedError):
            getattr(est, method)(BASE)
    with pytest.raises(NotFittedError):
        est.inverse_transform(np.zeros((2, 2)))


@pytest.mark.parametrize("n_samples", [0, -1, 1.5, "3", None])
def test_sample_rejects_bad_counts(n_samples):
    samplers = [c for c in ESTIMATORS if hasattr(c, "sample")]
    assert samplers, "a generative estimator is exported"
    est = samplers[0](n_components=2, **FAST).fit(BASE)
    with pytest.raises((ValueError, TypeError), match="n_samples") as info:
        est.sample(n_samples)
    assert f"{samplers[0].__name__}.sample" in str(info.value)  # the public name
