"""Ordered codes against separately trained codes, and n_components as a fraction.

On the MNIST-5k split (4,000 train / 1,000 test digits), ``loss="bce"``,
defaults otherwise:

* one ordered fit at k = 30: the test reconstruction error of its 2-, 10- and
  30-column prefixes, against autoencoders trained separately at k = 2, 10
  and 30, and against PCA(30);
* ``AutoencoderTransformer(n_components=0.8)``: the number of components it
  keeps, its test R², and its fit time against the k = 30 fit's, beside the
  number of components ``PCA(0.8)`` needs.

``--other`` runs the fractional fit on data the defaults were not chosen on
(digits, raw breast_cancer and wine) against PCA on the same scaled data.
``--plot PATH`` writes the cumulative explained variance of PCA and the
ordered code.  Run with OMP_NUM_THREADS=2 to measure on two cores.

    python benchmarks/bench_ordered.py [--other] [--plot ordered.png]
"""

import argparse
import time
import warnings

from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer
from skae.benchmark._metrics import reconstruction_metrics
from skae.datasets import load_mnist5k_split


def fit_timed(est, X):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    return est, time.perf_counter() - start


def prefix_error(est, X, k):
    return reconstruction_metrics(X, est.inverse_transform(est.transform(X)[:, :k]),
                                  X.mean(0))["recon_error"]


def mnist(plot):
    Xtr, Xte, _, _ = load_mnist5k_split()
    pca = PCA(30).fit(Xtr)
    pca_err = reconstruction_metrics(Xte, pca.inverse_transform(pca.transform(Xte)),
                                     Xtr.mean(0))["recon_error"]
    print(f"PCA(30) test error {pca_err:.3f}; PCA(0.8) needs "
          f"{PCA(0.8).fit(Xtr).n_components_} components\n")
    ordered, t_ordered = fit_timed(AutoencoderTransformer(30, ordered=True, loss="bce",
                                                          random_state=0), Xtr)
    print("| k | separate fit: error | ordered k=30, first k columns: error | ratio | fit s (sep.) |")
    print("|---:|---:|---:|---:|---:|")
    t30 = None
    for k in (2, 10, 30):
        sep, t = fit_timed(AutoencoderTransformer(k, loss="bce", random_state=0), Xtr)
        t30 = t if k == 30 else t30
        e_sep, e_ord = prefix_error(sep, Xte, k), prefix_error(ordered, Xte, k)
        print(f"| {k} | {e_sep:.3f} | {e_ord:.3f} | {e_ord / e_sep:.3f} | {t:.1f} |")
    print(f"\nordered k=30: error {prefix_error(ordered, Xte, 30) / pca_err:.3f} x PCA(30)'s; "
          f"fit {t_ordered:.1f} s ({ordered.n_iter_} epochs)")
    frac, t_frac = fit_timed(AutoencoderTransformer(0.8, loss="bce", random_state=0), Xtr)
    r2 = reconstruction_metrics(Xte, frac.inverse_transform(frac.transform(Xte)),
                                Xtr.mean(0))["r2"]
    print(f"n_components=0.8: code width {frac._spec.n_components}, keeps "
          f"{frac.n_components_}, test R2 {r2:.3f}, fit {t_frac:.1f} s = "
          f"{t_frac / t30:.2f} x the k=30 fit")
    if plot:
        from skae.plotting import plot_explained_variance

        ax = plot_explained_variance(PCA(60).fit(Xtr), ordered,
                                     labels=["PCA", "ordered autoencoder"], threshold=0.8)
        ax.set_title("MNIST-5k: variance explained by the first k components", fontsize=10)
        ax.figure.savefig(plot, dpi=120, bbox_inches="tight")


def other():
    print("\n| data | PCA(0.8) k | autoencoder(0.8) width | keeps | test R2 | PCA k-comp. test R2 |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, loader in (("digits", load_digits), ("breast_cancer", load_breast_cancer),
                         ("wine", load_wine)):
        X = loader().data.astype(float)
        Xtr, Xte = train_test_split(X, test_size=0.25, random_state=0)
        est, _ = fit_timed(AutoencoderTransformer(0.8, random_state=0), Xtr)
        mean = est.net_.mean.numpy() + est.net_.input_shift.numpy()
        scale = est.net_.scale.numpy()
        Str, Ste = (Xtr - mean) / scale, (Xte - mean) / scale  # the network's units
        rec = (est.inverse_transform(est.transform(Xte)) - mean) / scale
        r2 = reconstruction_metrics(Ste, rec, Str.mean(0))["r2"]
        pca = PCA(est.n_components_).fit(Str)
        r2_pca = reconstruction_metrics(Ste, pca.inverse_transform(pca.transform(Ste)),
                                        Str.mean(0))["r2"]
        print(f"| {name} | {PCA(0.8).fit(Str).n_components_} | {est._spec.n_components} | "
              f"{est.n_components_} | {r2:.3f} | {r2_pca:.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", action="store_true", help="also digits, breast_cancer, wine")
    parser.add_argument("--only-other", action="store_true", help="skip MNIST-5k")
    parser.add_argument("--plot", help="write the explained-variance plot here")
    args = parser.parse_args()
    if not args.only_other:
        mnist(args.plot)
    if args.other or args.only_other:
        other()


if __name__ == "__main__":
    main()
