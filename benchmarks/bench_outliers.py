"""Outlier and novelty detection: AutoencoderOutlierDetector against its peers.

Run from the repository root::

    python benchmarks/bench_outliers.py            # every set (about an hour on 2 cores)
    python benchmarks/bench_outliers.py --quick    # digits 0, 4, 7 and one table of digits
    python benchmarks/bench_outliers.py --sets wbc,wine,digits --missing 0.2

All methods run side by side, on the same rows, in one run; each set prints
its mean ROC-AUC and average precision (outliers as the positive class, each
method's "more anomalous" score) and the mean fit time of one detector.

Sets
----
``mnist``
    One-class MNIST-5k (:func:`skae.datasets.load_mnist5k_split`): each digit
    in turn is the normal class, the detector is fitted on that digit's
    training rows only (about 400) and scores all 1,000 test rows, the other
    nine digits being the outliers (novelty detection).  Means over the
    digits.
``mnist-contaminated``
    The same, with the training rows of the normal digit mixed with 10 %
    of rows drawn from the other digits' training rows (contaminated
    training): the trimmed loss (``trim_fraction=0.1``) against none.
``wbc``, ``wine``, ``digits``
    Tables built offline the way ODDS builds its sets: breast cancer with
    the 357 benign rows normal and 21 malignant rows (about ODDS "WBC");
    wine with classes 1 and 2 normal and 10 rows of class 0; the 8x8 digits
    with one digit in turn as the outlier class, cut to 3 % of the rows
    (about ODDS "optdigits"; means over the digits).  Detectors are fitted
    on all rows, outliers included, and score the same rows (outlier
    detection).  Rows are drawn with ``np.random.RandomState(0)``.
    With ``--missing FRACTION``, that fraction of the tables' entries is
    hidden (NaN, missing completely at random, drawn with
    ``np.random.RandomState(0)``): skae's detectors and IsolationForest take
    the rows with their missing values, the other peers get a
    ``SimpleImputer`` (the features' means) first.

Methods
-------
``skae AE``: ``AutoencoderOutlierDetector()`` (an ``AutoencoderTransformer``
with its defaults, seeded); ``skae AE trimmed``: the same with
``trim_fraction`` set to the set's outlier fraction (contaminated sets
only); ``skae VAE``: around ``VAEGenerator()``.  Peers with scikit-learn's
defaults: ``IsolationForest``, ``LocalOutlierFactor`` (``novelty=True`` on
the one-class sets, its ``negative_outlier_factor_`` on the tables),
``OneClassSVM``, the reconstruction error of ``PCA`` with as many
components as the autoencoder's code, and PyOD's ``AutoEncoder`` (its
defaults; skipped with a note when PyOD is not installed:
``pip install skae[outliers]``).  On the tables, the distance-based
peers (LOF, OneClassSVM, PCA) get a ``StandardScaler`` first, as a user
would give them; skae's detectors, IsolationForest and PyOD (which
standardises itself) take the raw rows.

Fit times are wall-clock seconds with ``OMP_NUM_THREADS`` threads (set it
to 2 for the "2 cores" figure) and depend on how loaded the machine is: the
load average is printed.
"""

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from skae import AutoencoderOutlierDetector, AutoencoderTransformer, VAEGenerator
from skae.datasets import load_mnist5k_split

SEED = 0
MNIST_CONTAMINATION = 0.1
DIGITS_OUTLIER_FRACTION = 0.03
ALL_DIGITS = tuple(range(10))
QUICK_DIGITS = (0, 4, 7)
# A wider code than the default, beside PCA with as many components (one-class MNIST).
WIDE_CODE = 32


# ---------------------------------------------------------------- methods
class PCAError:
    """Squared reconstruction error of a PCA (higher = more anomalous)."""

    def __init__(self, n_components):
        self.n_components = n_components

    def fit(self, X, y=None):
        self.pca_ = PCA(self.n_components, random_state=SEED).fit(X)
        return self

    def anomaly_score(self, X):
        rec = self.pca_.inverse_transform(self.pca_.transform(X))
        return np.square(X - rec).sum(1)


def skae_detector(trim_fraction=0.0, statistic="combined", **params):
    params = {"linear_shortcut": False, **params}  # as the detector's default estimator
    return AutoencoderOutlierDetector(AutoencoderTransformer(random_state=SEED, **params),
                                      statistic=statistic, trim_fraction=trim_fraction)


def skae_vae():
    return AutoencoderOutlierDetector(VAEGenerator(random_state=SEED))


def pyod_autoencoder():
    from pyod.models.auto_encoder import AutoEncoder

    return AutoEncoder(verbose=0, random_state=SEED)


def has_pyod():
    try:
        import pyod  # noqa: F401
    except ImportError:
        return False
    return True


def anomaly_score(model, X):
    """Higher = more anomalous, whatever the library's convention."""
    if hasattr(model, "steps") and type(model[-1]).__module__.startswith("pyod"):
        return model[-1].decision_function(model[:-1].transform(X))
    if isinstance(model, PCAError):
        return model.anomaly_score(X)
    if type(model).__module__.startswith("pyod"):
        return model.decision_function(X)
    return -model.score_samples(X)


def methods(kind, n_components, *, trim_fraction=None, use_pyod=True, wide=None,
            missing=False):
    """``{name: factory}`` for a set of ``kind`` "novelty" or "outlier".

    ``missing``: the data hold NaN, which the peers that cannot take it get
    imputed by the features' means first.
    """
    scaled = kind == "outlier"  # tables in mixed units

    def imputed(model):
        return make_pipeline(SimpleImputer(), model) if missing else model

    def maybe_scaled(model):
        steps = [SimpleImputer()] if missing else []
        steps += [StandardScaler()] if scaled else []
        return make_pipeline(*steps, model) if steps else model

    out = {"skae AE": skae_detector}
    if wide:
        out[f"skae AE ({wide} comp.)"] = lambda: skae_detector(n_components=wide,
                                                              statistic="reconstruction")
    if trim_fraction:
        out["skae AE trimmed"] = lambda: skae_detector(trim_fraction)
    if wide and trim_fraction:
        out[f"skae AE ({wide} comp.) trimmed"] = lambda: skae_detector(
            trim_fraction, n_components=wide, statistic="reconstruction")
    out["skae VAE"] = skae_vae
    out["IsolationForest"] = lambda: IsolationForest(random_state=SEED)
    if kind == "novelty":
        out["LOF"] = lambda: maybe_scaled(LocalOutlierFactor(novelty=True))
    else:
        out["LOF"] = lambda: maybe_scaled(LocalOutlierFactor())
    out["OneClassSVM"] = lambda: maybe_scaled(OneClassSVM())
    out[f"PCA ({n_components} comp.)"] = lambda: maybe_scaled(PCAError(n_components))
    if wide:
        out[f"PCA ({wide} comp.)"] = lambda: maybe_scaled(PCAError(wide))
    if use_pyod:
        out["PyOD AutoEncoder"] = lambda: imputed(pyod_autoencoder())
    return out


def fit_and_score(model, X_fit, X_score):
    """Fit time and anomaly scores of ``X_score`` (the fitted rows for LOF outlier mode)."""
    start = time.perf_counter()
    model.fit(X_fit)
    fit_time = time.perf_counter() - start
    last = model[-1] if hasattr(model, "steps") else model
    if isinstance(last, LocalOutlierFactor) and not last.novelty:
        return fit_time, -last.negative_outlier_factor_
    if hasattr(model, "steps") and isinstance(last, PCAError):
        return fit_time, last.anomaly_score(model[:-1].transform(X_score))
    return fit_time, anomaly_score(model, X_score)


# ------------------------------------------------------------------- sets
def one_class_mnist(digits, contamination=0.0):
    """``(name, X_fit, X_score, is_outlier)`` per normal digit of MNIST-5k."""
    X_train, X_test, y_train, y_test = load_mnist5k_split()
    rng = np.random.RandomState(SEED)
    for digit in digits:
        X_fit = X_train[y_train == digit]
        if contamination:
            n_out = int(round(contamination / (1 - contamination) * len(X_fit)))
            others = rng.choice(np.flatnonzero(y_train != digit), n_out, replace=False)
            X_fit = np.vstack([X_fit, X_train[others]])
        yield f"digit {digit}", X_fit, X_test, (y_test != digit).astype(int)


def tables(digits):
    """``(name, X, X, is_outlier)`` of the ODDS-like tables (fitted and scored on the same rows)."""
    rng = np.random.RandomState(SEED)
    X, y = load_breast_cancer(return_X_y=True)  # 0 = malignant, 1 = benign
    out = rng.choice(np.flatnonzero(y == 0), 21, replace=False)
    rows = np.r_[np.flatnonzero(y == 1), out]
    yield "wbc", X[rows], X[rows], (y[rows] == 0).astype(int)
    X, y = load_wine(return_X_y=True)
    out = rng.choice(np.flatnonzero(y == 0), 10, replace=False)
    rows = np.r_[np.flatnonzero(y != 0), out]
    yield "wine", X[rows], X[rows], (y[rows] == 0).astype(int)
    X, y = load_digits(return_X_y=True)
    for digit in digits:
        normal = np.flatnonzero(y != digit)
        n_out = int(round(DIGITS_OUTLIER_FRACTION / (1 - DIGITS_OUTLIER_FRACTION) * len(normal)))
        out = rng.choice(np.flatnonzero(y == digit), n_out, replace=False)
        rows = np.r_[normal, out]
        yield f"digits {digit}", X[rows], X[rows], (y[rows] == digit).astype(int)


def hide_entries(X, fraction):
    """A copy of ``X`` with about ``fraction`` of its entries NaN (missing completely at random)."""
    X = np.array(X, dtype=np.float64)
    X[np.random.RandomState(SEED).rand(*X.shape) < fraction] = np.nan
    return X


# ---------------------------------------------------------------- running
def run_set(title, cases, kind, *, use_pyod, trimmed=False, only=None, wide=None,
            exclude=(), missing=False):
    """Fit every method on every case of one set; print and return the per-case figures."""
    cases = list(cases)
    code = AutoencoderTransformer().n_components
    print(f"\n== {title}: {len(cases)} case(s) ==", flush=True)
    results = {}  # method -> list of (case, auc, ap, fit_time)
    for case, X_fit, X_score, is_outlier in cases:
        fraction = float(np.mean(is_outlier)) if kind == "outlier" else MNIST_CONTAMINATION
        table = methods(kind, code, trim_fraction=fraction if trimmed else None,
                        use_pyod=use_pyod, wide=wide, missing=missing)
        for name, factory in table.items():
            if (only is not None and name not in only) or name in exclude:
                continue
            fit_time, score = fit_and_score(factory(), X_fit, X_score)
            auc = roc_auc_score(is_outlier, score)
            ap = average_precision_score(is_outlier, score)
            results.setdefault(name, []).append((case, auc, ap, fit_time))
            print(f"  {case:<10} {name:<22} ROC-AUC {auc:.4f}  AP {ap:.4f}  fit {fit_time:6.1f} s",
                  flush=True)
    return results


def print_summary(title, results):
    print(f"\n{title}")
    print(f"| {'method':<22} | mean ROC-AUC | mean AP | mean fit (s) |")
    print(f"|{'-' * 24}|-------------:|--------:|-------------:|")
    for name, rows in results.items():
        auc, ap, fit = (np.mean([r[i] for r in rows]) for i in (1, 2, 3))
        print(f"| {name:<22} | {auc:12.4f} | {ap:7.4f} | {fit:12.1f} |")


def print_cases(title, results):
    names = list(results)
    cases = [r[0] for r in next(iter(results.values()))]
    print(f"\n{title}: ROC-AUC per case")
    print("| case | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for i, case in enumerate(cases):
        print(f"| {case} | " + " | ".join(f"{results[n][i][1]:.4f}" for n in names) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"normal digits {QUICK_DIGITS} only, and one table of digits")
    parser.add_argument("--sets", default="mnist,mnist-contaminated,wbc,wine,digits",
                        help="comma-separated sets to run (default: all)")
    parser.add_argument("--no-pyod", action="store_true", help="leave PyOD out")
    parser.add_argument("--missing", type=float, default=0.0, metavar="FRACTION",
                        help="hide this fraction of the tables' entries (NaN, MCAR)")
    parser.add_argument("--exclude", default="",
                        help="comma-separated method names to leave out, e.g. 'skae VAE'")
    args = parser.parse_args()
    sets = args.sets.split(",")
    exclude = set(filter(None, args.exclude.split(",")))
    digits = QUICK_DIGITS if args.quick else ALL_DIGITS
    use_pyod = not args.no_pyod and has_pyod()
    if not args.no_pyod and not use_pyod:
        print("PyOD is not installed (pip install skae[outliers]): its AutoEncoder is left out.")
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"load average {os.getloadavg()[0]:.1f} at the start")

    summaries = {}
    if "mnist" in sets:
        res = run_set("one-class MNIST-5k (novelty detection)", one_class_mnist(digits),
                      "novelty", use_pyod=use_pyod, wide=WIDE_CODE, exclude=exclude)
        summaries["one-class MNIST-5k"] = res
        print_cases("one-class MNIST-5k", res)
    if "mnist-contaminated" in sets:
        wide = f"skae AE ({WIDE_CODE} comp.)"
        res = run_set(f"MNIST-5k, training rows {MNIST_CONTAMINATION:.0%} contaminated",
                      one_class_mnist(digits, MNIST_CONTAMINATION), "novelty",
                      use_pyod=False, trimmed=True, wide=WIDE_CODE, exclude=exclude,
                      only={"skae AE", "skae AE trimmed", wide, f"{wide} trimmed",
                            "IsolationForest"})
        summaries[f"MNIST-5k, {MNIST_CONTAMINATION:.0%} contaminated training"] = res
        print_cases("contaminated MNIST-5k", res)
    table_digits = digits[:1] if args.quick else digits
    for table in ("wbc", "wine", "digits"):
        if table not in sets:
            continue
        cases = [c for c in tables(table_digits) if c[0].split()[0] == table]
        if args.missing:
            cases = [(name, *[hide_entries(X, args.missing)] * 2, is_outlier)
                     for name, X, _, is_outlier in cases]
        res = run_set(f"table {table} (outlier detection, contaminated training"
                      f"{f', {args.missing:.0%} missing' if args.missing else ''})", cases,
                      "outlier", use_pyod=use_pyod, trimmed=True, exclude=exclude,
                      missing=bool(args.missing))
        summaries[f"table {table}"] = res
        if len(cases) > 1:
            print_cases(f"table {table}", res)
    for title, res in summaries.items():
        print_summary(title, res)
    tabular = [res for title, res in summaries.items() if title.startswith("table")]
    if tabular:
        print("\nTables: mean over the sets of each set's mean ROC-AUC")
        for name in tabular[0]:
            means = [np.mean([r[1] for r in res[name]]) for res in tabular if name in res]
            print(f"  {name:<22} {np.mean(means):.4f}  ({len(means)} sets)")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
