"""ONNX export through skl2onnx: skae steps inside scikit-learn pipelines."""

import builtins
import importlib
import sys

import numpy as np
import pytest
from conftest import quiet_fit
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderOutlierDetector, AutoencoderTransformer, VAEGenerator

# The onnx extra (pip install skae[onnx]) is optional: without it, nothing here can run.
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
skl2onnx = pytest.importorskip("skl2onnx", reason="the onnx extra is not installed")
pytest.importorskip("onnxscript", reason="the onnx extra is not installed")

import skae.onnx  # noqa: E402  (needs the extra)

FAST = dict(hidden_layer_sizes=(32,), max_iter=4, batch_size=32, random_state=0)
MODELS = {
    "mlp": lambda: AutoencoderTransformer(6, **FAST),
    "conv": lambda: AutoencoderTransformer(
        6, input_shape=(1, 8, 8), conv_channels=(4, 8), max_iter=3, random_state=0
    ),
    "shortcut": lambda: AutoencoderTransformer(6, linear_shortcut=True, **FAST),
    "vae": lambda: VAEGenerator(4, **FAST),
    "umap": lambda: AutoencoderTransformer(2, embedding="umap", n_neighbors=5, **FAST),
    # a fractional n_components keeps a prefix of the 6 trained components
    "ordered": lambda: AutoencoderTransformer(
        0.5, ordered=True, hidden_layer_sizes=(128,), max_iter=10, batch_size=32, random_state=0
    ),
}


def run_onnx(onx, X):
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: X})


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:400], y[:400], X[400:700], y[400:700]


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted_pipeline(request, data):
    from threadpoolctl import threadpool_limits

    X, _, _, _ = data
    with threadpool_limits(1):
        pipe = quiet_fit(make_pipeline(StandardScaler(), MODELS[request.param]()), X)
    return request.param, pipe


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_codes_match_transform(fitted_pipeline, data, dtype, one_torch_thread):
    name, pipe = fitted_pipeline
    _, _, X_test, _ = data
    est = pipe[-1]
    if name == "ordered":  # the slice to n_components_ is exercised
        assert est.n_components_ < est.net_.n_components
    onx = skl2onnx.to_onnx(pipe, X_test[:1].astype(dtype))
    # the batch axis is dynamic: other sizes than the export's one row
    for n in (1, 7, X_test.shape[0]):
        X = X_test[:n].astype(dtype)
        (codes,) = run_onnx(onx, X)
        expected = pipe.transform(X)
        assert codes.dtype == dtype and codes.shape == (n, est.n_components_)
        np.testing.assert_allclose(codes, expected, rtol=0, atol=1e-4)


def test_internal_standardisation_is_in_the_graph(data, one_torch_thread):
    X, _, X_test, _ = data
    # raw pixels (no StandardScaler in front): per-feature scaling inside the net
    est = quiet_fit(AutoencoderTransformer(4, scaling="feature", **FAST), X * 16.0)
    assert not np.allclose(est.net_.mean.numpy(), 0.0)
    assert not np.allclose(est.net_.scale.numpy(), 1.0)
    onx = skl2onnx.to_onnx(est, (X[:1] * 16.0).astype(np.float32))
    (codes,) = run_onnx(onx, (X_test * 16.0).astype(np.float32))
    np.testing.assert_allclose(codes, est.transform(X_test * 16.0), rtol=0, atol=1e-4)


def test_classifier_pipeline_labels_agree(data, one_torch_thread):
    X, y, X_test, _ = data
    ae = AutoencoderTransformer(16, hidden_layer_sizes=(64,), max_iter=20, random_state=0)
    pipe = quiet_fit(make_pipeline(StandardScaler(), ae, LogisticRegression(max_iter=300)), X, y)
    for dtype in (np.float32, np.float64):
        onx = skl2onnx.to_onnx(pipe, X[:1].astype(dtype), options={"zipmap": False})
        labels, proba = run_onnx(onx, X_test.astype(dtype))
        np.testing.assert_array_equal(labels, pipe.predict(X_test.astype(dtype)))
        np.testing.assert_allclose(proba, pipe.predict_proba(X_test.astype(dtype)), atol=1e-4)


def test_unfitted_and_wrong_width(data):
    X, _, _, _ = data
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(AutoencoderTransformer(2), X[:1].astype(np.float32))
    est = quiet_fit(AutoencoderTransformer(2, **FAST), X)
    with pytest.raises(ValueError, match="X has 10 features, but AutoencoderTransformer"):
        skl2onnx.to_onnx(est, X[:1, :10].astype(np.float32))


def test_register_converters_for_a_subclass(data, one_torch_thread):
    class MyAutoencoder(AutoencoderTransformer):
        pass

    X, _, X_test, _ = data
    est = quiet_fit(MyAutoencoder(3, **FAST), X)
    with pytest.raises(RuntimeError, match="MyAutoencoder"):  # skl2onnx: no converter
        skl2onnx.to_onnx(est, X[:1].astype(np.float32))
    skae.onnx.register_converters(MyAutoencoder)
    (codes,) = run_onnx(skl2onnx.to_onnx(est, X[:1].astype(np.float32)), X_test.astype(np.float32))
    np.testing.assert_allclose(codes, est.transform(X_test), rtol=0, atol=1e-4)
    with pytest.raises(TypeError, match="subclasses of AutoencoderTransformer"):
        skae.onnx.register_converters(LogisticRegression)


@pytest.mark.parametrize("missing", ["onnx", "onnxscript", "skl2onnx"])
def test_missing_extra_names_it(monkeypatch, missing):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == missing or name.startswith(missing + "."):
            raise ImportError(f"No module named {missing!r}", name=missing)
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "skae.onnx")  # restored after the test
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install skae\[onnx\]") as info:
        importlib.import_module("skae.onnx")
    assert repr(missing) in str(info.value)


def test_exporter_import_failure_says_upgrade_onnxscript(data, monkeypatch):
    # what torch.onnx.export raises when onnxscript is older than the torch
    def old_onnxscript(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'onnxscript._framework_apis.torch_2_11'",
                                  name="onnxscript._framework_apis.torch_2_11")

    X, _, _, _ = data
    est = quiet_fit(AutoencoderTransformer(2, **FAST), X)
    monkeypatch.setattr(skae.onnx.torch.onnx, "export", old_onnxscript)
    with pytest.raises(ImportError, match=r"pip install -U onnxscript"):
        skl2onnx.to_onnx(est, X[:1].astype(np.float32))


def test_target_opset(data, one_torch_thread):
    X, _, X_test, _ = data
    est = quiet_fit(AutoencoderTransformer(3, **FAST), X)
    onx = skl2onnx.to_onnx(est, X[:1].astype(np.float32), target_opset=15)
    assert {(o.domain, o.version) for o in onx.opset_import} == {("", 15)}
    (codes,) = run_onnx(onx, X_test.astype(np.float32))
    np.testing.assert_allclose(codes, est.transform(X_test), rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="target_opset=13 is below the opset"):
        skl2onnx.to_onnx(est, X[:1].astype(np.float32), target_opset=13)


def test_custom_encoder_exports_in_eval_mode(data, one_torch_thread):
    import torch.nn as nn

    def encoder(n_features):  # dropout must be off in the exported graph
        return nn.Sequential(nn.Linear(n_features, 32), nn.LayerNorm(32), nn.Dropout(0.5), nn.Tanh())

    X, _, X_test, _ = data
    est = quiet_fit(AutoencoderTransformer(3, encoder=encoder, max_iter=3, random_state=0), X)
    (codes,) = run_onnx(skl2onnx.to_onnx(est, X[:1]), X_test)
    np.testing.assert_allclose(codes, est.transform(X_test), rtol=0, atol=1e-4)


@pytest.mark.parametrize(("dtype", "statistic"), [(np.float32, "combined"),
                                                  (np.float64, "reconstruction")])
def test_outlier_detector_labels_and_scores(data, dtype, statistic, one_torch_thread):
    X, _, X_test, _ = data
    detector = AutoencoderOutlierDetector(AutoencoderTransformer(4, **FAST),
                                          statistic=statistic, contamination=0.1)
    pipe = quiet_fit(make_pipeline(StandardScaler(), detector), X)
    onx = skl2onnx.to_onnx(pipe, X_test[:1].astype(dtype))
    label, scores = run_onnx(onx, X_test.astype(dtype))
    assert label.dtype == np.int64 and scores.dtype == dtype and scores.shape == (len(X_test), 1)
    expected = pipe.decision_function(X_test)
    np.testing.assert_allclose(scores.ravel(), expected, rtol=1e-4, atol=1e-4)
    clear = np.abs(expected) > 1e-3  # labels may differ only at the threshold itself
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(label[clear], pipe.predict(X_test)[clear])
    assert set(label.tolist()) == {-1, 1}


def test_outlier_detector_around_a_vae_is_refused(data, one_torch_thread):
    X, _, _, _ = data
    detector = quiet_fit(AutoencoderOutlierDetector(VAEGenerator(2, **FAST)), X)
    with pytest.raises(NotImplementedError, match="importance-sampled"):
        skl2onnx.to_onnx(detector, X[:1].astype(np.float32))


def test_the_input_shift_is_in_the_graph(data, one_torch_thread):
    X, _, X_test, _ = data
    # pixels riding on an offset of 10,000 standard deviations: centred in float64 by
    # transform, in float32 by the graph (float32 resolves 1e4 to about 1e-3)
    est = quiet_fit(AutoencoderTransformer(4, **FAST), 1e4 + X)
    assert np.allclose(est.net_.input_shift.numpy(), 1e4 + X.mean(0))
    onx = skl2onnx.to_onnx(est, (1e4 + X[:1]).astype(np.float32))
    (codes,) = run_onnx(onx, (1e4 + X_test).astype(np.float32))
    np.testing.assert_allclose(codes, est.transform(1e4 + X_test), rtol=0, atol=0.05)


def test_missing_values_and_their_mask_are_in_the_graph(data, one_torch_thread):
    """A model fitted on rows with NaN reads the mask in the graph as transform does."""
    X, _, X_test, _ = data
    rng = np.random.RandomState(0)
    X_missing, X_test = X.copy(), X_test.astype(np.float32)
    X_missing[rng.rand(*X.shape) < 0.2] = np.nan
    X_test[rng.rand(*X_test.shape) < 0.2] = np.nan
    X_test[0] = np.nan  # a row with every value missing
    for est in (AutoencoderTransformer(4, **FAST), VAEGenerator(4, **FAST)):
        quiet_fit(est, X_missing)
        assert est.net_.missing_mask
        onx = skl2onnx.to_onnx(est, X_test[:1])
        (codes,) = run_onnx(onx, X_test)
        np.testing.assert_allclose(codes, est.transform(X_test), rtol=1e-4, atol=1e-5)
