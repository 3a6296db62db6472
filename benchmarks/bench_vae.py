"""VAEGenerator as a density model and a generator of MNIST digits.

Default mode, on the fixed MNIST-5k split (``skae.datasets.load_mnist5k_split``,
4,000 training and 1,000 test digits, binarised at 0.5)::

    python benchmarks/bench_vae.py

prints the fit time of ``VAEGenerator(n_components=20, likelihood="bernoulli")``
with default settings, its test log-likelihood (ELBO and the importance-weighted
bound with K=100), and the Frechet distance (FD) between 1,000 generated digits
and the 1,000 test digits, next to scikit-learn's own generator (a 10-component
``GaussianMixture`` on PCA-30 codes, decoded by PCA) and the train-vs-test floor.

FD is measured in a fixed feature space: the projection on the first 50
principal components of the training digits.  A Gaussian is fitted to each
feature set and ``FD = |m1 - m2|^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2))``.

``--full`` trains a 784-400-40 VAE on the full MNIST in /work/shared/data/mnist
(pixels / 255 binarised stochastically with ``np.random.RandomState(0)``, the
usual "stochastically binarised MNIST") within ``--minutes`` and reports the
test negative log-likelihood with K = 100 ... 5000 importance samples.

``--mixture-threads`` times the fit of the ``sampler="mixture"`` Gaussian
mixture (20 full-covariance components, as ``VAEGenerator`` fits it) on 12,000
posterior draws (three per training digit) of a 32-component VAE trained on
MNIST-5k: on one BLAS/OpenMP thread, as ``fit`` does, against all the cores'
threads, in alternating rounds (median seconds), and whether both give the
same mixture.  ``--busy`` runs a process that keeps every core busy beside
it, as another fit would::

    python benchmarks/bench_vae.py --mixture-threads [--busy]
"""

import argparse
import copy
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from skae import VAEGenerator
from skae.datasets import load_mnist5k_split, load_mnist_idx

N_DRAWS = 1000


def frechet_distance(a, b):
    """Frechet distance between Gaussians fitted to the rows of ``a`` and ``b``."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    root = np.real(root)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * root))


def gmm_samples(X_train, n, random_state=0):
    """scikit-learn's generator: GaussianMixture(10) on PCA-30 codes, decoded by PCA."""
    pca = PCA(30, random_state=0).fit(X_train)
    gmm = GaussianMixture(n_components=10, random_state=random_state)
    gmm.fit(pca.transform(X_train))
    codes, _ = gmm.sample(n)
    return pca.inverse_transform(codes)


def run_5k():
    X_train, X_test, _, _ = load_mnist5k_split()
    X_train = (X_train > 0.5).astype(np.float64)
    X_test = (X_test > 0.5).astype(np.float64)
    print(f"MNIST-5k, binarised at 0.5: {X_train.shape[0]} train / {X_test.shape[0]} test "
          f"digits of {X_train.shape[1]} pixels")
    print(f"torch threads: {torch.get_num_threads()}, load average before the fit: "
          f"{os.getloadavg()[0]:.1f} (timings assume the cores are not shared; with "
          f"other busy processes, OMP_NUM_THREADS=1 avoids oversubscription)")

    vae = VAEGenerator(n_components=20, likelihood="bernoulli", random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vae.fit(X_train)
    fit_time = time.perf_counter() - start
    print("\nVAEGenerator(n_components=20, likelihood='bernoulli'), default settings")
    print(f"  fit time            : {fit_time:7.1f} s  ({vae.n_iter_} epochs, "
          f"{fit_time / vae.n_iter_:.2f} s/epoch)")
    print(f"  train ELBO          : {vae.score(X_train):8.2f} nats")
    start = time.perf_counter()
    elbo = vae.score(X_test)
    print(f"  test ELBO (K=1)     : {elbo:8.2f} nats")
    ll = vae.score_samples(X_test, n_importance_samples=100).mean()
    print(f"  test log p(x) K=100 : {ll:8.2f} nats  "
          f"(scored in {time.perf_counter() - start:.1f} s)")
    print(f"  mean KL per sample  : {vae.kl_loss_curve_[-1]:8.2f} nats (last epoch)")

    pca = PCA(50, random_state=0).fit(X_train)
    test_feats = pca.transform(X_test)
    fd = {}
    fd["VAE sample() (decoder mean)"] = frechet_distance(
        pca.transform(vae.sample(N_DRAWS, random_state=0)), test_feats)
    fd["VAE sample(add_noise=True)"] = frechet_distance(
        pca.transform(vae.sample(N_DRAWS, random_state=0, add_noise=True)), test_feats)
    fd["GaussianMixture(10) on PCA-30"] = frechet_distance(
        pca.transform(gmm_samples(X_train, N_DRAWS)), test_feats)
    rng = np.random.RandomState(0)
    train_draw = X_train[rng.choice(len(X_train), N_DRAWS, replace=False)]
    fd["train digits (floor)"] = frechet_distance(pca.transform(train_draw), test_feats)
    print(f"\nFrechet distance to the {len(X_test)} test digits "
          f"(PCA-50 features of the training digits, {N_DRAWS} draws each)")
    for name, value in fd.items():
        print(f"  {name:31s}: {value:8.2f}")
    ratio = fd["VAE sample() (decoder mean)"] / fd["GaussianMixture(10) on PCA-30"]
    print(f"  VAE / GMM ratio               : {ratio:8.2f}  (goal <= 0.5)")


def run_full(data_dir, minutes, n_test, ks, device):
    X_train, _ = load_mnist_idx(data_dir, subset="train")
    X_test, _ = load_mnist_idx(data_dir, subset="test")
    rng = np.random.RandomState(0)
    X_train = (rng.uniform(size=X_train.shape) < X_train / 255.0).astype(np.float32)
    X_test = (rng.uniform(size=X_test.shape) < X_test / 255.0).astype(np.float32)
    X_fit, X_val = X_train[:50_000], X_train[50_000:]
    print(f"MNIST, stochastically binarised (seed 0): {len(X_fit)} train / {len(X_val)} "
          f"validation / {len(X_test)} test digits; fit budget {minutes:g} min on {device}")
    vae = VAEGenerator(n_components=40, hidden_layer_sizes=(400,), likelihood="bernoulli",
                       batch_size=100, device=device, random_state=0)
    # One epoch per partial_fit call, so the time budget is checked between
    # epochs; the estimator with the best validation ELBO is kept.
    deadline = time.perf_counter() + 60.0 * minutes
    start = time.perf_counter()
    best, best_elbo, best_epoch, epoch_time = None, -np.inf, 0, 0.0
    while time.perf_counter() + epoch_time < deadline and vae_epochs(vae) - best_epoch < 30:
        t = time.perf_counter()
        vae.partial_fit(X_fit)
        elbo = vae.score(X_val)
        epoch_time = time.perf_counter() - t
        if elbo > best_elbo:
            best, best_elbo, best_epoch = copy.deepcopy(vae), elbo, vae.n_iter_
        if vae.n_iter_ % 10 == 0 or vae.n_iter_ < 5:
            print(f"  epoch {vae.n_iter_:4d}: train -ELBO {vae.loss_curve_[-1]:7.2f}  "
                  f"validation ELBO {elbo:8.2f}  ({epoch_time:.1f} s)", flush=True)
    print(f"fit: {time.perf_counter() - start:.0f} s, {vae.n_iter_} epochs; best validation "
          f"ELBO {best_elbo:.2f} nats at epoch {best_epoch}")
    X_eval = X_test[:n_test]
    print(f"  test NLL, ELBO    : {-best.score(X_eval):8.2f} nats  ({len(X_eval)} test digits)")
    for k in ks:
        t = time.perf_counter()
        nll = -best.score_samples(X_eval, n_importance_samples=k).mean()
        print(f"  test NLL, K={k:5d}: {nll:8.2f} nats  ({len(X_eval)} test digits, "
              f"{time.perf_counter() - t:.0f} s)", flush=True)


def run_mixture_threads(busy, rounds=3):
    from threadpoolctl import threadpool_limits

    from skae._generative import posterior_draws

    X_train = (load_mnist5k_split()[0] > 0.5).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vae = VAEGenerator(n_components=32, likelihood="bernoulli", max_iter=20,
                           sampler="prior", random_state=0).fit(X_train)
    x = torch.as_tensor(X_train - vae.net_.input_shift.numpy(), dtype=torch.float32)
    with torch.no_grad():
        stats = torch.cat(vae.net_.posterior(x), 1).double().numpy()
    rng = np.random.RandomState(0)
    codes = np.concatenate([posterior_draws(stats, rng) for _ in range(3)])
    cores = os.cpu_count()
    load = None
    if busy:  # one spinning thread per core, as another fit would
        spin = "import torch; a = torch.randn(512, 512)\nwhile True: a @ a"
        load = subprocess.Popen([sys.executable, "-c", spin])
        time.sleep(3)
    print(f"mixture of 20 components on {codes.shape[0]} x {codes.shape[1]} codes; "
          f"{cores} cores, {'busy' if busy else 'idle'}; {rounds} alternating rounds")
    times, means = {1: [], cores: []}, {}
    try:
        for _ in range(rounds):
            for threads in times:
                with threadpool_limits(limits=threads):
                    start = time.perf_counter()
                    gmm = GaussianMixture(20, covariance_type="full", reg_covar=1e-4,
                                          random_state=0).fit(codes)
                    times[threads].append(time.perf_counter() - start)
                means[threads] = gmm.means_
    finally:
        if load is not None:
            load.kill()
    for threads, seconds in times.items():
        print(f"  {threads} thread(s): median {np.median(seconds):.2f} s "
              f"({', '.join(f'{t:.2f}' for t in seconds)})")
    ratio = np.median(times[cores]) / np.median(times[1])
    print(f"  {cores} threads / 1 thread: {ratio:.2f}x; same mixture: "
          f"{means[1].tobytes() == means[cores].tobytes()}")


def vae_epochs(vae):
    return getattr(vae, "n_iter_", 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="full MNIST instead of MNIST-5k")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"),
                        help="MNIST IDX folder")
    parser.add_argument("--minutes", type=float, default=25.0, help="fit budget of --full")
    parser.add_argument("--n-test", type=int, default=10_000,
                        help="test digits scored in --full")
    parser.add_argument("--k", type=int, nargs="+", default=[100, 1000, 5000],
                        help="importance samples in --full")
    parser.add_argument("--device", default="auto", help="torch device of --full")
    parser.add_argument("--mixture-threads", action="store_true",
                        help="time the sampling mixture's fit on 1 thread against all")
    parser.add_argument("--busy", action="store_true",
                        help="with --mixture-threads: keep every core busy beside it")
    args = parser.parse_args()
    if args.mixture_threads:
        run_mixture_threads(args.busy)
    elif args.full:
        run_full(args.data, args.minutes, args.n_test, args.k, args.device)
    else:
        run_5k()


if __name__ == "__main__":
    main()
