"""2-D maps that keep neighbourhoods: AutoencoderTransformer(embedding="umap") and its peers.

On MNIST-5k (the 4,000 / 1,000 split of ``skae.datasets.load_mnist5k_split``)
and on digits (``load_dataset("digits")``: 1,347 / 450), each method fits 2-D
codes on the training rows and is scored on the test rows:

* trustworthiness (``sklearn.manifold.trustworthiness``, 10 neighbours) of
  the test codes,
* 5-NN accuracy of a classifier fitted on the training codes,
* reconstruction error of ``inverse_transform`` (mean squared Euclidean
  error per row, in the units of X) on the first ``--n-inverse`` test rows
  (umap-learn's ``inverse_transform`` takes minutes for 1,000 rows),
* seconds to fit, and to transform 1,000 new rows (the test rows, repeated
  for digits).

Peers: PCA, the plain autoencoder (package defaults), umap-learn's ``UMAP``
(``random_state`` fixed, as skae's; its numba functions are compiled on a
small fit first, so its times leave compilation out), and t-SNE, fitted on
train and test rows together as it has no ``transform`` (a reference for the
two map scores only).  umap-learn is optional: without it its rows are
skipped.

Usage::

    python benchmarks/bench_embedding.py                    # both data sets
    python benchmarks/bench_embedding.py --datasets mnist5k --methods umap-ae umap-learn
    python benchmarks/bench_embedding.py --params '{"embedding_weight": 1.0}'
"""

import argparse
import json
import os
import time
import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.manifold import TSNE, trustworthiness
from sklearn.neighbors import KNeighborsClassifier

from skae import AutoencoderTransformer
from skae.datasets import load_dataset

N_TRANSFORM = 1000
METHODS = ("pca", "autoencoder", "umap-ae", "umap-learn", "tsne")


def make(method, seed, params):
    if method == "pca":
        return PCA(2, random_state=seed)
    if method == "autoencoder":
        return AutoencoderTransformer(2, random_state=seed)
    if method == "umap-ae":
        return AutoencoderTransformer(2, embedding="umap", random_state=seed, **params)
    if method == "umap-learn":
        import umap

        return umap.UMAP(n_components=2, random_state=seed)
    raise ValueError(method)


def warm_up_umap(X):
    """Compile umap-learn's numba functions (fit, transform, inverse_transform) once."""
    import umap

    small = umap.UMAP(random_state=0).fit(X[:300])
    small.inverse_transform(small.transform(X[300:305]))


def score(method, data, seed, params, n_inverse):
    Xtr, Xte, ytr, yte = data.X_train, data.X_test, data.y_train, data.y_test
    row = {"method": method}
    if method == "tsne":  # no transform: train and test rows are embedded together
        start = time.perf_counter()
        Z = TSNE(2, random_state=seed, init="pca").fit_transform(np.vstack([Xtr, Xte]))
        row["fit_s"] = time.perf_counter() - start
        Ztr, Zte = Z[:len(Xtr)], Z[len(Xtr):]
    else:
        est = make(method, seed, params)
        start = time.perf_counter()
        est.fit(Xtr)
        row["fit_s"] = time.perf_counter() - start
        rows = np.resize(Xte, (N_TRANSFORM, Xte.shape[1]))  # 1,000 new rows
        start = time.perf_counter()
        est.transform(rows)
        row["transform_s"] = time.perf_counter() - start
        Ztr = est.embedding_ if method == "umap-learn" else est.transform(Xtr)
        Zte = est.transform(Xte)
        start = time.perf_counter()
        recon = est.inverse_transform(Zte[:n_inverse])
        row["inverse_s"] = time.perf_counter() - start
        row["inverse_error"] = float(np.mean(np.sum((recon - Xte[:n_inverse]) ** 2, 1)))
    row["trustworthiness"] = float(trustworthiness(Xte, Zte, n_neighbors=10))
    row["knn5_accuracy"] = float(KNeighborsClassifier(5).fit(Ztr, ytr).score(Zte, yte))
    return row


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_table(name, rows):
    print(f"\n### {name}\n")
    print("| method | trustworthiness | 5-NN acc | inverse error | fit s | transform 1k s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['trustworthiness']:.4f} | {r['knn5_accuracy']:.3f} | "
              f"{fmt(r.get('inverse_error'), '.2f')} | {r['fit_s']:.1f} | "
              f"{fmt(r.get('transform_s'), '.4f')} |")
    ours = {r["method"]: r for r in rows}
    if "umap-ae" in ours and "umap-learn" in ours:
        a, u = ours["umap-ae"], ours["umap-learn"]
        print(f"\numap-ae / umap-learn: fit {a['fit_s'] / u['fit_s']:.2f}x, transform "
              f"{u['transform_s'] / a['transform_s']:.0f}x faster, inverse error "
              f"{a['inverse_error'] / u['inverse_error']:.2f}x")
    if "umap-ae" in ours and "autoencoder" in ours:
        print(f"umap-ae / autoencoder: inverse error "
              f"{ours['umap-ae']['inverse_error'] / ours['autoencoder']['inverse_error']:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist5k", "digits"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--params", default="{}", help="JSON parameters of umap-ae")
    parser.add_argument("--n-inverse", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    params = json.loads(args.params)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message=".*n_jobs value.*")  # umap-learn, random_state
    print(f"threads: torch {__import__('torch').get_num_threads()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; umap-ae parameters {params}")
    results = {}
    for name in args.datasets:
        data = load_dataset(name)
        methods = list(args.methods)
        if "umap-learn" in methods:
            try:
                warm_up_umap(data.X_train)
            except ImportError:
                print("umap-learn is not installed: its rows are skipped")
                methods.remove("umap-learn")
        rows = []
        for method in methods:
            rows.append(score(method, data, args.seed, params, args.n_inverse))
            print(json.dumps({"dataset": name, **rows[-1]}), flush=True)
        print_table(f"{name}: train {data.X_train.shape}, test {data.X_test.shape}", rows)
        results[name] = rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
