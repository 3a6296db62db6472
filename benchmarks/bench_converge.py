"""Defaults that stop when large data has converged.

The training loop checks the monitored loss (and keeps the best weights) at
the end of each epoch and, on large data, about every 20,000 training samples
within it (``skae._training.CHECK_SAMPLES``): early stopping's patience,
``n_iter_no_change``, counts those checks, so a large data set stops once it
has converged instead of after whole passes.  It also stops once the best
validation loss has gained less than ``tol`` times the validation loss before
training over the last ``n_iter_no_change * 10,000`` training samples
(``skae._training.WINDOW_SAMPLES``; the window rule).

1. ``large``: :class:`skae.AutoencoderTransformer` with the package defaults
   (``n_components=10``) on a 100,000 x 200 table of rank-10 structure (10
   Gaussian factors through a random tanh layer of 50 units and a random
   linear map to 200 features, plus Gaussian noise of 0.1 times the signal's
   scale), with a held-out 10,000-row test table drawn the same way.  Fit
   time, epochs, checks and the held-out R² of the default fit, of a fit that
   runs ``--reference-epochs`` (200) epochs and ends with the best of them
   (``n_iter_no_change`` as large as the budget), of PCA(10), of fits with
   the other ``--tol`` values given, of the defaults without the window rule
   (``--no-window``) and, with ``--epoch-checks``, of the defaults checked
   once per epoch only (as a loop that checks whole epochs).
2. ``small``: the package defaults on the small sets (digits, MNIST-5k,
   breast cancer, wine; ``n_components=10``, 5 for wine): how many
   checks an epoch holds (one on all of them: the schedule is the one of whole
   epochs there), epochs, fit time and held-out R².

Prints figures only (no asserts); ``uptime`` before and after.

    python benchmarks/bench_converge.py [large|small|all] [--threads 1] [--reference-epochs 200]
                                        [--tol 1e-3 ...] [--no-window] [--epoch-checks]
"""

import argparse
import subprocess
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_diabetes, load_iris
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import skae._training
from skae import AutoencoderTransformer
from skae._training import CHECK_SAMPLES, WINDOW_SAMPLES, batch_bounds, check_points
from skae.datasets import load_dataset

N_ROWS, N_TEST, N_FEATURES, RANK = 100_000, 10_000, 200, 10


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def low_rank_table(n_rows, seed):
    """Rows of a fixed rank-10 non-linear map plus noise; ``seed`` draws the rows."""
    maps = np.random.RandomState(0)
    inner = maps.normal(size=(RANK, 50)) / np.sqrt(RANK)
    outer = maps.normal(size=(50, N_FEATURES)) / np.sqrt(50)
    rng = np.random.RandomState(seed)
    signal = np.tanh(rng.normal(size=(n_rows, RANK)) @ inner) @ outer
    noise = 0.1 * signal.std() * rng.normal(size=signal.shape)
    return (signal + noise).astype(np.float32)


def r2(est, X_test, mean):
    rec = est.inverse_transform(est.transform(X_test))
    return 1.0 - ((X_test - rec) ** 2).sum() / ((X_test - mean) ** 2).sum()


def n_checks(est, n_rows):
    """Checks per epoch of a fit of ``est`` on ``n_rows`` rows (as the loop computes them)."""
    n_val = int(np.ceil(est.validation_fraction * n_rows)) if est.early_stopping else 0
    n_train = n_rows - n_val
    batch = min(est._spec.batch_size, n_train)
    return len(check_points(n_train, len(batch_bounds(n_train, batch)), n_val))


def timed_fit(est, X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        est.fit(X)
        seconds = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return seconds, converged


def large(args):
    X, X_test = low_rank_table(N_ROWS, 1), low_rank_table(N_TEST, 2)
    mean = X.mean(axis=0)
    pca = PCA(RANK, random_state=0).fit(X)
    print(f"{N_ROWS:,} x {N_FEATURES} table of rank {RANK}; held-out {N_TEST:,} rows; "
          f"checks about every {CHECK_SAMPLES:,} samples")
    print(f"PCA({RANK}): held-out R² {r2(pca, X_test, mean):.4f}")
    fits = {"defaults": AutoencoderTransformer(RANK, random_state=0)}
    if args.no_window:
        fits["defaults without the window rule"] = AutoencoderTransformer(RANK, random_state=0)
    if args.epoch_checks:
        fits["defaults, one check per epoch"] = AutoencoderTransformer(RANK, random_state=0)
    for tol in args.tol:
        fits[f"tol={tol:g}"] = AutoencoderTransformer(RANK, tol=tol, random_state=0)
    if args.reference_epochs:
        fits[f"{args.reference_epochs} epochs, best kept"] = AutoencoderTransformer(
            RANK, max_iter=args.reference_epochs, n_iter_no_change=10 ** 9, random_state=0)
    print("| fit | s | CPU s | epochs | checks / epoch | stopped by | held-out R² |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for name, est in fits.items():
        # one check per epoch: a period longer than any epoch
        skae._training.CHECK_SAMPLES = 10 ** 12 if "per epoch" in name else CHECK_SAMPLES
        # no window: one longer than any fit
        skae._training.WINDOW_SAMPLES = 10 ** 15 if "without the window" in name else WINDOW_SAMPLES
        cpu = time.process_time()
        seconds, converged = timed_fit(est, X)
        cpu = time.process_time() - cpu
        stop = "convergence" if converged else "max_iter"
        print(f"| {name} | {seconds:.1f} | {cpu:.1f} | {est.n_iter_} | {n_checks(est, N_ROWS)} | {stop} "
              f"| {r2(est, X_test, mean):.4f} |", flush=True)
    skae._training.CHECK_SAMPLES = CHECK_SAMPLES
    skae._training.WINDOW_SAMPLES = WINDOW_SAMPLES


def scikit_learn_table(loader):
    """A scikit-learn table split 3:1, standardised on its training part."""
    X = loader(return_X_y=True)[0]
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def small(args):
    sets = {"digits": 10, "mnist5k": 10, "breast_cancer": 10, "wine": 5, "iris": 2,
            "diabetes": 5}
    print("| data | rows | checks / epoch | epochs | s | CPU s | held-out R² |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, k in sets.items():
        if name in ("iris", "diabetes"):
            X_train, X_test = scikit_learn_table(load_iris if name == "iris" else load_diabetes)
        else:
            ds = load_dataset(name, random_state=0)
            X_train, X_test = ds.X_train, ds.X_test
        est = AutoencoderTransformer(k, random_state=0)
        cpu = time.process_time()
        seconds, _ = timed_fit(est, X_train)
        cpu = time.process_time() - cpu
        score = r2(est, X_test, X_train.mean(axis=0))
        print(f"| {name} | {X_train.shape[0]:,} | {n_checks(est, X_train.shape[0])} | "
              f"{est.n_iter_} | {seconds:.1f} | {cpu:.1f} | {score:.4f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="all", choices=["large", "small", "all"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tol", type=float, nargs="*", default=[],
                        help="also fit with each of these tol (the defaults otherwise)")
    parser.add_argument("--no-window", action="store_true",
                        help="also fit the defaults without the window rule")
    parser.add_argument("--epoch-checks", action="store_true",
                        help="also fit the defaults with one check per epoch")
    parser.add_argument("--reference-epochs", type=int, default=200,
                        help="epochs of the reference fit (0: no reference fit)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(uptime())
    print(f"torch threads: {torch.get_num_threads()}")
    if args.part in ("large", "all"):
        large(args)
    if args.part in ("small", "all"):
        small(args)
    print(uptime())


if __name__ == "__main__":
    main()
