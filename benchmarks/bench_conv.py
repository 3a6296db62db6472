"""Convolutional vs fully connected networks on the MNIST-5k split.

* AutoencoderTransformer(n_components=30): test reconstruction error (mean
  summed squared error per image) relative to PCA(30), fit time, seconds per
  epoch, 5-NN accuracy of the codes, for the MLP and for
  ``input_shape=(1, 28, 28)`` (the convolutional net).
* VAEGenerator(n_components=20, likelihood="bernoulli") on digits binarised at
  0.5: Frechet distance of 1,000 samples to the test digits in PCA-50
  features (as in bench_vae.py), MLP against conv.

    python benchmarks/bench_conv.py
"""

import time
import warnings

import numpy as np
from bench_vae import N_DRAWS, frechet_distance
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer, VAEGenerator
from skae.datasets import load_mnist5k_split

IMAGE = (1, 28, 28)


def fit_timed(est, X):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    return time.perf_counter() - start


def knn(est, Xtr, ytr, Xte, yte):
    clf = make_pipeline(StandardScaler(), KNeighborsClassifier(5))
    return clf.fit(est.transform(Xtr), ytr).score(est.transform(Xte), yte)


def error(est, X):
    return float(((est.inverse_transform(est.transform(X)) - X) ** 2).sum(1).mean())


def main():
    Xtr, Xte, ytr, yte = load_mnist5k_split()
    pca = PCA(30, random_state=0).fit(Xtr)
    pca_err = error(pca, Xte)
    print(f"MNIST-5k: {len(Xtr)} train / {len(Xte)} test; PCA(30) test error {pca_err:.3f}, "
          f"5-NN {knn(pca, Xtr, ytr, Xte, yte):.3f}\n")
    print("| autoencoder (k=30, loss='bce') | test error | ratio to PCA | 5-NN acc | fit s | epochs | s/epoch |")
    print("|---|---|---|---|---|---|---|")
    for name, extra in (("MLP", {}), ("conv", {"input_shape": IMAGE})):
        ae = AutoencoderTransformer(n_components=30, loss="bce", random_state=0, **extra)
        seconds = fit_timed(ae, Xtr)
        err = error(ae, Xte)
        print(f"| {name} | {err:.3f} | {err / pca_err:.3f} | {knn(ae, Xtr, ytr, Xte, yte):.3f} "
              f"| {seconds:.1f} | {ae.n_iter_} | {seconds / ae.n_iter_:.2f} |", flush=True)

    Btr, Bte = (Xtr > 0.5).astype(np.float64), (Xte > 0.5).astype(np.float64)
    feats = PCA(50, random_state=0).fit(Btr)
    test_feats = feats.transform(Bte)
    print("\n| VAE (k=20, bernoulli, binarised) | FD to test digits | test ELBO | fit s | epochs | s/epoch |")
    print("|---|---|---|---|---|---|")
    for name, extra in (("MLP", {}), ("conv", {"input_shape": IMAGE})):
        vae = VAEGenerator(n_components=20, likelihood="bernoulli", random_state=0, **extra)
        seconds = fit_timed(vae, Btr)
        fd = frechet_distance(feats.transform(vae.sample(N_DRAWS, random_state=0)), test_feats)
        print(f"| {name} | {fd:.2f} | {vae.score(Bte):.2f} | {seconds:.1f} | {vae.n_iter_} "
              f"| {seconds / vae.n_iter_:.2f} |", flush=True)


if __name__ == "__main__":
    main()
