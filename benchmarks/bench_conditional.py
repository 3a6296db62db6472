"""Class-conditional generation and the latent sampler of VAEGenerator, measured.

Default mode, on the fixed MNIST-5k split (``skae.datasets.load_mnist5k_split``,
4,000 training and 1,000 test digits, binarised at 0.5)::

    OMP_NUM_THREADS=1 python benchmarks/bench_conditional.py

fits ``VAEGenerator(n_components=16, likelihood="bernoulli")`` and the same
model with ``conditional=True`` (defaults otherwise) and prints

* the Frechet distance (FD, as in ``bench_vae.py``: PCA-50 features of the
  training digits, 1,000 draws against the 1,000 test digits; the mean over
  5 sampling seeds) of the unconditional VAE's samples with
  ``sampler="mixture"`` (the default) and ``sampler="prior"``, as ratios to
  scikit-learn's generator (a ``GaussianMixture(10)`` on PCA-30 codes);
* for the conditional VAE: 100 samples per class classified by an RBF ``SVC``
  trained on the real training digits (its accuracy on the real test digits
  is printed for reference), the accuracy per class and overall (bar: >= 0.90),
  and the FD of 1,000 class-balanced conditional samples (bar: below the
  unconditional VAE's).

``--digits`` runs the same measurements with every default (Gaussian
likelihood) on scikit-learn's 8x8 digits (1,437 train / 360 test, PCA-30
features for the FD).
"""

import argparse
import os
import time
import warnings

import numpy as np
from scipy import linalg
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from skae import VAEGenerator
from skae.datasets import load_mnist5k_split

N_DRAWS = 1000


def frechet_distance(a, b):
    """Frechet distance between Gaussians fitted to the rows of ``a`` and ``b``."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(linalg.sqrtm(cov_a @ cov_b))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * root))


def gmm_samples(X_train, n, n_pca):
    """scikit-learn's generator: GaussianMixture(10) on PCA codes, decoded by PCA."""
    pca = PCA(n_pca, random_state=0).fit(X_train)
    gmm = GaussianMixture(n_components=10, random_state=0).fit(pca.transform(X_train))
    return pca.inverse_transform(gmm.sample(n)[0])


def fit(est, X, y=None):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return time.perf_counter() - start


def run(X_train, X_test, y_train, y_test, params, n_pca_fd, n_pca_gmm):
    print(f"torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}, load average "
          f"{os.getloadavg()[0]:.1f}")
    feats = PCA(n_pca_fd, random_state=0).fit(X_train)
    test_feats = feats.transform(X_test)

    def fd(samples):
        return frechet_distance(feats.transform(samples), test_feats)

    fd_gmm = fd(gmm_samples(X_train, N_DRAWS, n_pca_gmm))
    rng = np.random.RandomState(0)
    n_floor = min(N_DRAWS, len(X_train))
    fd_floor = fd(X_train[rng.choice(len(X_train), n_floor, replace=False)])

    svc = SVC(kernel="rbf", gamma="scale").fit(X_train, y_train)
    print(f"RBF SVC trained on the real training digits: test accuracy "
          f"{svc.score(X_test, y_test):.3f}")

    rows = []
    vae = VAEGenerator(**params, random_state=0)  # sampler="mixture", the default
    t = fit(vae, X_train)
    fd_mix = fd_mean(fd, lambda r: vae.sample(N_DRAWS, random_state=r))
    vae.set_params(sampler="prior")
    vae._fit_sampler(X_train)  # what fit(sampler="prior") leaves: no mixture
    fd_prior = fd_mean(fd, lambda r: vae.sample(N_DRAWS, random_state=r))
    rows += [("VAE, sampler='mixture'", fd_mix, t, vae.n_iter_),
             ("VAE, sampler='prior'", fd_prior, t, vae.n_iter_)]

    cvae = VAEGenerator(**params, conditional=True, random_state=0)
    t = fit(cvae, X_train, y_train)
    classes = cvae.classes_
    per_class = 100
    labels = np.repeat(classes, per_class)
    balanced = np.repeat(classes, N_DRAWS // len(classes))
    pred = svc.predict(cvae.sample(len(labels), random_state=100, y=labels))
    fd_cond = fd_mean(fd, lambda r: cvae.sample(len(balanced), random_state=r, y=balanced))
    cvae.set_params(sampler="prior")
    cvae._fit_sampler(X_train)
    pred_prior = svc.predict(cvae.sample(len(labels), random_state=100, y=labels))
    fd_cond_prior = fd_mean(
        fd, lambda r: cvae.sample(len(balanced), random_state=r, y=balanced))
    rows += [("conditional VAE, sampler='mixture'", fd_cond, t, cvae.n_iter_),
             ("conditional VAE, sampler='prior'", fd_cond_prior, t, cvae.n_iter_)]

    print(f"\nFrechet distance to the {len(X_test)} test digits (PCA-{n_pca_fd} features)")
    print(f"  {'generator':36s} {'FD':>8s} {'/ GMM':>7s} {'fit s':>7s} {'epochs':>7s}")
    print(f"  {'GaussianMixture(10) on PCA-' + str(n_pca_gmm):36s} {fd_gmm:8.2f} {1:7.2f}")
    for name, (value, sd), t, n_iter in rows:
        print(f"  {name:36s} {value:8.2f} {value / fd_gmm:7.2f} {t:7.1f} {n_iter:7d}"
              f"   (sd {sd:.2f} over 5 sampling seeds)")
    print(f"  {'training digits (floor)':36s} {fd_floor:8.2f} {fd_floor / fd_gmm:7.2f}")

    print(f"\nConditional samples classified by the SVC ({per_class} per class)")
    print("  sampler  " + " ".join(f"{c!s:>5s}" for c in classes) + "    all")
    for name, p in (("mixture", pred), ("prior", pred_prior)):
        print(f"  {name:8s} " + " ".join(f"{np.mean(p[labels == c] == c):5.2f}" for c in classes)
              + f"  {np.mean(p == labels):5.3f}")
    print(f"\nBars (defaults, sampler='mixture'): conditional accuracy "
          f"{np.mean(pred == labels):.3f} (>= 0.90); conditional FD {fd_cond[0]:.2f} < "
          f"unconditional FD {fd_mix[0]:.2f}; unconditional FD / GMM {fd_mix[0] / fd_gmm:.2f} "
          "(<= 0.35)")


def fd_mean(fd, draw, seeds=5):
    """Mean and standard deviation of the FD over ``seeds`` sampling seeds."""
    values = [fd(draw(r)) for r in range(seeds)]
    return float(np.mean(values)), float(np.std(values))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digits", action="store_true",
                        help="scikit-learn's 8x8 digits with every default")
    args = parser.parse_args()
    if args.digits:
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X / 16.0, y, test_size=0.2, stratify=y, random_state=0)
        print(f"scikit-learn digits (8x8, grey values / 16): {len(X_train)} train / "
              f"{len(X_test)} test; VAEGenerator() defaults")
        run(X_train, X_test, y_train, y_test, {}, n_pca_fd=30, n_pca_gmm=20)
        return
    X_train, X_test, y_train, y_test = load_mnist5k_split()
    X_train = (X_train > 0.5).astype(np.float64)
    X_test = (X_test > 0.5).astype(np.float64)
    print(f"MNIST-5k, binarised at 0.5: {len(X_train)} train / {len(X_test)} test digits; "
          "VAEGenerator(n_components=16, likelihood='bernoulli')")
    run(X_train, X_test, y_train, y_test,
        {"n_components": 16, "likelihood": "bernoulli"}, n_pca_fd=50, n_pca_gmm=30)


if __name__ == "__main__":
    main()
