"""Convolutional vs fully connected networks on the MNIST-5k split.

* AutoencoderTransformer(n_components=30, loss="bce"): test reconstruction
  error (mean summed squared error per image) relative to PCA(30), fit time,
  seconds per epoch and 5-NN accuracy of the codes, for the MLP and for
  ``input_shape=(1, 28, 28)`` (the convolutional net), defaults otherwise.
* VAEGenerator(n_components=20, likelihood="bernoulli") on digits binarised at
  0.5: Frechet distance of 1,000 samples to the test digits in PCA-50
  features (as in bench_vae.py), MLP against conv.

Each model is fitted with several seeds (``--seeds``, default 3): a 5-NN
accuracy on 1,000 test digits moves by about 0.007 between seeds, as much as
the gap it is meant to show, so the means are what to compare.

    python benchmarks/bench_conv.py [--part ae|vae|all] [--seeds 3]
"""

import argparse
import time
import warnings

import numpy as np
import torch
from bench_vae import N_DRAWS, frechet_distance
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer, VAEGenerator
from skae.datasets import load_mnist5k_split

IMAGE = (1, 28, 28)
NETS = (("MLP", {}), ("conv", {"input_shape": IMAGE}))


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


def _row(name, seed, values, fmt):
    cells = [name, seed] + [f.format(v) for f, v in zip(fmt, values, strict=True)]
    return "| " + " | ".join(cells) + " |"


def autoencoders(Xtr, Xte, ytr, yte, seeds):
    pca = PCA(30, random_state=0).fit(Xtr)
    pca_err = error(pca, Xte)
    print(f"PCA(30): test error {pca_err:.3f}, 5-NN {knn(pca, Xtr, ytr, Xte, yte):.3f}\n")
    print("| autoencoder (k=30, loss='bce') | seed | test error | ratio to PCA | 5-NN acc "
          "| fit s | epochs | s/epoch |")
    print("|---|---|---|---|---|---|---|---|")
    fmt = ("{:.3f}", "{:.3f}", "{:.4f}", "{:.1f}", "{:.0f}", "{:.2f}")
    for name, extra in NETS:
        rows = []
        for seed in seeds:
            ae = AutoencoderTransformer(n_components=30, loss="bce", random_state=seed, **extra)
            seconds = fit_timed(ae, Xtr)
            err = error(ae, Xte)
            rows.append((err, err / pca_err, knn(ae, Xtr, ytr, Xte, yte), seconds,
                         ae.n_iter_, seconds / ae.n_iter_))
            print(_row(name, str(seed), rows[-1], fmt), flush=True)
        print(_row(f"**{name}**", "mean", np.mean(rows, axis=0), fmt), flush=True)


def vaes(Xtr, Xte, seeds):
    Btr, Bte = (Xtr > 0.5).astype(np.float64), (Xte > 0.5).astype(np.float64)
    feats = PCA(50, random_state=0).fit(Btr)
    test_feats = feats.transform(Bte)
    print("\n| VAE (k=20, bernoulli, binarised) | seed | FD to test digits | test ELBO "
          "| fit s | epochs | s/epoch |")
    print("|---|---|---|---|---|---|---|")
    fmt = ("{:.2f}", "{:.2f}", "{:.1f}", "{:.0f}", "{:.2f}")
    for name, extra in NETS:
        rows = []
        for seed in seeds:
            vae = VAEGenerator(n_components=20, likelihood="bernoulli", random_state=seed, **extra)
            seconds = fit_timed(vae, Btr)
            draws = vae.sample(N_DRAWS, random_state=0)
            fd = frechet_distance(feats.transform(draws), test_feats)
            rows.append((fd, vae.score(Bte), seconds, vae.n_iter_, seconds / vae.n_iter_))
            print(_row(name, str(seed), rows[-1], fmt), flush=True)
        print(_row(f"**{name}**", "mean", np.mean(rows, axis=0), fmt), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("ae", "vae", "all"), default="all")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    Xtr, Xte, ytr, yte = load_mnist5k_split()
    print(f"MNIST-5k: {len(Xtr)} train / {len(Xte)} test; torch threads: "
          f"{torch.get_num_threads()}; seeds {seeds}\n")
    if args.part in ("ae", "all"):
        autoencoders(Xtr, Xte, ytr, yte, seeds)
    if args.part in ("vae", "all"):
        vaes(Xtr, Xte, seeds)


if __name__ == "__main__":
    main()
