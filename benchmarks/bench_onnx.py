"""ONNX export agreement: onnxruntime against scikit-learn on held-out digits.

Each model is fitted (defaults, a modest ``max_iter``) inside
``make_pipeline(StandardScaler(), model)`` on 1,200 digits and converted with
``skl2onnx.to_onnx`` (``import skae.onnx`` registers the converters); the
table gives, for float32 and float64 inputs, the largest absolute difference
between onnxruntime's codes and ``pipeline.transform`` on the 597 held-out
digits, and the conversion time.  Last, a StandardScaler -> autoencoder ->
LogisticRegression pipeline: the fraction of held-out labels on which
onnxruntime and ``predict`` agree, and the largest probability difference.

    python benchmarks/bench_onnx.py
"""

import time
import warnings

import numpy as np
import onnxruntime as ort
import skl2onnx
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skae.onnx  # noqa: F401  (registers the converters)
from skae import AutoencoderTransformer, VAEGenerator

MODELS = {
    "MLP autoencoder": lambda: AutoencoderTransformer(16, max_iter=30, random_state=0),
    "conv autoencoder": lambda: AutoencoderTransformer(
        16, input_shape=(1, 8, 8), max_iter=10, random_state=0
    ),
    "VAE": lambda: VAEGenerator(8, max_iter=30, random_state=0),
    "ordered, n_components=0.8": lambda: AutoencoderTransformer(
        0.8, ordered=True, max_iter=30, random_state=0
    ),
}


def run(onx, X):
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: X})


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train = X[:1200], X[1200:], y[:1200]
    print(f"{'model':28s} {'k':>3s} {'max|diff| f32':>14s} {'max|diff| f64':>14s} {'convert s':>10s}")
    for name, make in MODELS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe = make_pipeline(StandardScaler(), make()).fit(X_train)
        diffs, seconds = [], []
        for dtype in (np.float32, np.float64):
            start = time.perf_counter()
            onx = skl2onnx.to_onnx(pipe, X_train[:1].astype(dtype))
            seconds.append(time.perf_counter() - start)
            (codes,) = run(onx, X_test.astype(dtype))
            diffs.append(np.abs(codes - pipe.transform(X_test.astype(dtype))).max())
        k = pipe[-1].n_components_
        print(f"{name:28s} {k:3d} {diffs[0]:14.2e} {diffs[1]:14.2e} {np.mean(seconds):10.2f}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae = AutoencoderTransformer(16, max_iter=30, random_state=0)
        clf = make_pipeline(StandardScaler(), ae, LogisticRegression(max_iter=1000))
        clf.fit(X_train, y_train)
    for dtype in (np.float32, np.float64):
        onx = skl2onnx.to_onnx(clf, X_train[:1].astype(dtype), options={"zipmap": False})
        labels, proba = run(onx, X_test.astype(dtype))
        agree = np.mean(labels == clf.predict(X_test.astype(dtype)))
        dp = np.abs(proba - clf.predict_proba(X_test.astype(dtype))).max()
        print(f"classifier pipeline, {np.dtype(dtype).name}: labels agree on {agree:.4f} "
              f"of {len(X_test)} held-out digits; max|proba diff| {dp:.2e}")


if __name__ == "__main__":
    main()
