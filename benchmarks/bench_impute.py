"""Missing values: AutoencoderImputer against scikit-learn's imputers.

Run from the repository root (``python -m`` imports the skae of this
checkout)::

    python -m benchmarks.bench_impute             # every set, pattern and method
    python -m benchmarks.bench_impute --quick     # wine and digits, small subsets (a smoke test)
    python -m benchmarks.bench_impute --datasets wine,digits --methods mean,knn,ae

All methods run side by side, on the same rows and the same holes, in one run.

Sets
----
``breast_cancer``, ``wine``, ``diabetes`` (raw, unscaled: mixed units),
``digits`` (the 8x8 digits, pixels 0..16) and ``mnist`` (MNIST-5k: the
4,000/1,000 split of :func:`skae.datasets.load_mnist5k_split`, pixels in
[0, 1]). The scikit-learn sets are split 75/25 with
``train_test_split(random_state=0)`` (stratified where there are classes).

Missingness
-----------
``mcar20`` and ``mcar50``: each entry goes missing with probability 0.2 or
0.5, independently. ``mnar``: each entry above its feature's 75th
percentile (of the complete training rows) goes missing with probability
0.5 (missing not at random: the large values are the missing ones). The
holes are drawn with ``np.random.RandomState([0, set, pattern])`` in both
the training and the test rows.

Protocol
--------
Each imputer is fitted on the incomplete training rows
(``fit_transform``), then fills the incomplete test rows (``transform``);
the test rows are never seen in fitting. Figures:

- ``RMSE``: root mean squared error of the filled test entries, in
  min-max-normalised units (each feature divided by its range over the
  complete training rows; the unit GAIN reports);
- ``ratio``: the RMSE divided by the best peer's on the same set and
  pattern (peers: the scikit-learn imputers);
- ``downstream``: with class labels, the test accuracy of
  ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))``
  trained on the filled training rows and scored on the filled test rows;
  on ``diabetes`` (a regression target) the test R² of
  ``make_pipeline(StandardScaler(), Ridge())`` the same way;
- ``seconds``: wall-clock seconds of ``fit_transform`` (training rows) plus
  ``transform`` (test rows).

Methods
-------
Peers: ``mean`` ``SimpleImputer()``; ``knn`` ``KNNImputer()`` (5
neighbours); ``bayes`` ``IterativeImputer(BayesianRidge())`` (its
default); ``trees`` ``IterativeImputer(ExtraTreesRegressor(n_estimators=10))``
(the MissForest recipe). On MNIST (784 features, 784 regressions per
round) the iterative imputers are bounded, or they would take hours (the
bound is printed beside their figures): ``bayes`` as ``WIDE_BAYES`` (3
rounds over the 100 most correlated pixels), ``trees`` as ``WIDE_TREES``. All peers keep empty
features (``keep_empty_features=True``) so every method returns every
column. skae: ``ae`` ``AutoencoderImputer()`` (its defaults) and ``vae``
``AutoencoderImputer(VAEGenerator())``, seeded. While ``skae`` has no
``AutoencoderImputer``, the script says so and runs the peers only.

Extras
------
``coverage``: multiple imputation with the VAE on MNIST-5k at 20 % MCAR:
``DRAWS`` imputations with ``sample_posterior=True`` and ``random_state``
0, 1, ..., and the share of the true test values that fall inside the
5-95 % interval of the draws (target: 85 to 95 %). ``timing``: fitting and
filling 10,000 MNIST rows x 784 at 20 % MCAR (the first 10,000 training
digits of the IDX files in ``../shared/data/mnist`` or ``--mnist-dir``
when present, else MNIST-5k repeated), ``AutoencoderImputer()`` against
one round of ``IterativeImputer(BayesianRidge())`` (``max_iter=1``), a
lower bound on the time of its default 10 rounds, so a method faster than it
is faster than the default. That round fits 784 ``BayesianRidge`` on
10,000 x 783 (about an hour on a loaded 2-core machine): by default
``TIMING_SAMPLED`` of its regressions, drawn at random, are timed and the
time scaled to all of them; ``--timing-full-bayes`` runs the whole round.

Targets (checked at the end): images (digits, MNIST-5k) RMSE at most 0.80x
the best peer's at 20 % MCAR; tables (breast_cancer, wine, diabetes) at
most 1.05x the best peer's on every set and pattern and a mean RMSE lower
than every peer's; coverage between 85 and 95 %; 10,000 x 784 faster than
``IterativeImputer(BayesianRidge())``.

Times are wall-clock seconds with ``OMP_NUM_THREADS`` threads and depend on
how loaded the machine is: the load average is printed.
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import BayesianRidge, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skae
from skae import VAEGenerator
from skae.datasets import load_mnist5k_split, load_mnist_idx

try:
    from skae import AutoencoderImputer
except ImportError:  # an older skae: peers only
    AutoencoderImputer = None

SEED = 0
ROOT = Path(__file__).resolve().parent.parent
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
ALL_SETS = ("breast_cancer", "wine", "diabetes", "digits", "mnist")
TABLES = ("breast_cancer", "wine", "diabetes")
IMAGES = ("digits", "mnist")
PATTERNS = ("mcar20", "mcar50", "mnar")
PEERS = ("mean", "knn", "bayes", "trees")
SKAE = ("ae", "vae")
# Bounds of the iterative imputers on sets wider than WIDE (784 regressions per round on MNIST).
WIDE = 100
WIDE_BAYES = dict(max_iter=3, n_nearest_features=100)
WIDE_TREES = dict(max_iter=3, n_nearest_features=30)
TREES = 10  # n_estimators of the ExtraTreesRegressor
DRAWS = 20
TIMING_ROWS = 10_000
TIMING_MAX_ITER = 1
TIMING_SAMPLED = 16  # regressions of IterativeImputer timed for its estimate
QUICK_ROWS = 300  # training rows per set with --quick (test rows: a third of that)
QUICK_SETS = ("wine", "digits")
QUICK_DRAWS = 3
QUICK_TIMING_ROWS = 1_000


# ---------------------------------------------------------------- data
def load(name, quick=False):
    """``(X_train, X_test, y_train, y_test, is_classification)`` of one set."""
    if name == "mnist":
        X_train, X_test, y_train, y_test = load_mnist5k_split()
        classes = True
    else:
        loader = {"breast_cancer": load_breast_cancer, "wine": load_wine,
                  "diabetes": load_diabetes, "digits": load_digits}[name]
        X, y = loader(return_X_y=True)
        classes = name != "diabetes"
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=SEED, stratify=y if classes else None)
    if quick:
        X_train, y_train = X_train[:QUICK_ROWS], y_train[:QUICK_ROWS]
        X_test, y_test = X_test[:QUICK_ROWS // 3], y_test[:QUICK_ROWS // 3]
    return (X_train.astype(np.float64), X_test.astype(np.float64), y_train, y_test,
            classes)


def holes(X, pattern, rng, q75):
    """Boolean mask of the entries of ``X`` that go missing under ``pattern``."""
    if pattern == "mcar20":
        return rng.rand(*X.shape) < 0.2
    if pattern == "mcar50":
        return rng.rand(*X.shape) < 0.5
    return (X > q75) & (rng.rand(*X.shape) < 0.5)


def with_holes(X_train, X_test, set_index, pattern):
    """The two masks of one set and pattern, drawn from a fixed seed."""
    rng = np.random.RandomState([SEED, set_index, PATTERNS.index(pattern)])
    q75 = np.percentile(X_train, 75, axis=0)
    return holes(X_train, pattern, rng, q75), holes(X_test, pattern, rng, q75)


def punched(X, mask):
    X = X.copy()
    X[mask] = np.nan
    return X


def normalised_rmse(X_true, X_filled, mask, span):
    """RMSE over the masked entries, each feature divided by its training range."""
    err = (X_filled - X_true) / span
    return float(np.sqrt(np.mean(err[mask] ** 2)))


# ------------------------------------------------------------- methods
def methods(n_features, selected):
    """``{name: (factory, note)}`` of the selected methods for ``n_features`` features."""
    bayes = WIDE_BAYES if n_features > WIDE else {}
    trees = WIDE_TREES if n_features > WIDE else {}
    out = {
        "mean": (lambda: SimpleImputer(keep_empty_features=True), ""),
        "knn": (lambda: KNNImputer(keep_empty_features=True), ""),
        "bayes": (lambda: IterativeImputer(BayesianRidge(), random_state=SEED,
                                           keep_empty_features=True, **bayes),
                  f"bounded: {bayes}" if bayes else ""),
        "trees": (lambda: IterativeImputer(
            ExtraTreesRegressor(n_estimators=TREES, random_state=SEED, n_jobs=1),
            random_state=SEED, keep_empty_features=True, **trees),
            f"n_estimators={TREES}" + (f", bounded: {trees}" if trees else "")),
    }
    if AutoencoderImputer is not None:
        out["ae"] = (lambda: AutoencoderImputer(random_state=SEED), "")
        out["vae"] = (lambda: AutoencoderImputer(VAEGenerator(random_state=SEED),
                                                 random_state=SEED), "")
    return {name: out[name] for name in selected if name in out}


def downstream(Z_train, Z_test, y_train, y_test, classes):
    """Test accuracy (classes) or R² (regression) of a model trained on the filled rows."""
    model = (make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)) if classes
             else make_pipeline(StandardScaler(), Ridge()))
    return float(model.fit(Z_train, y_train).score(Z_test, y_test))


def run_case(name, pattern, data, selected, set_index):
    """Fit every method on one set and pattern; print and return ``{method: record}``."""
    X_train, X_test, y_train, y_test, classes = data
    mask_train, mask_test = with_holes(X_train, X_test, set_index, pattern)
    M_train, M_test = punched(X_train, mask_train), punched(X_test, mask_test)
    span = X_train.max(0) - X_train.min(0)
    span[span == 0] = 1.0
    print(f"\n== {name}, {pattern}: {X_train.shape[0]} train / {X_test.shape[0]} test rows x "
          f"{X_train.shape[1]}, {mask_train.mean():.1%} / {mask_test.mean():.1%} missing ==",
          flush=True)
    records = {}
    for method, (factory, note) in methods(X_train.shape[1], selected).items():
        model = factory()
        start = time.perf_counter()
        Z_train = model.fit_transform(M_train)
        Z_test = model.transform(M_test)
        seconds = time.perf_counter() - start
        if not (np.array_equal(Z_test[~mask_test], X_test[~mask_test])
                and np.isfinite(Z_test).all()):
            print(f"  {method}: the observed entries changed or NaN remain", flush=True)
        rmse = normalised_rmse(X_test, Z_test, mask_test, span)
        score = downstream(Z_train, Z_test, y_train, y_test, classes)
        records[method] = dict(rmse=rmse, score=score, seconds=seconds)
        print(f"  {method:<6} RMSE {rmse:.4f}  {'acc' if classes else 'R²'} {score:.4f}  "
              f"{seconds:7.1f} s" + (f"  ({note})" if note else ""), flush=True)
    return records


# ------------------------------------------------------------- reports
def best_peer(records):
    peers = [records[m]["rmse"] for m in PEERS if m in records]
    return min(peers) if peers else float("nan")


def print_table(name, pattern, records, classes):
    best = best_peer(records)
    score = "accuracy" if classes else "R² (Ridge)"
    print(f"\n{name}, {pattern}")
    print(f"| method | RMSE | ratio to best peer | {score} | seconds |")
    print("|---|---:|---:|---:|---:|")
    for method, rec in records.items():
        print(f"| {method} | {rec['rmse']:.4f} | {rec['rmse'] / best:.3f} | {rec['score']:.4f} | "
              f"{rec['seconds']:.1f} |")


def print_overview(results):
    """Ratio of every method in every case, and the averages over the cases."""
    cases = list(results)
    names = list(dict.fromkeys(m for recs in results.values() for m in recs))
    print("\nRMSE / best peer's RMSE, every set and pattern")
    print("| set, pattern | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for case in cases:
        best = best_peer(results[case])
        print(f"| {case[0]}, {case[1]} | " + " | ".join(
            f"{results[case][m]['rmse'] / best:.3f}" if m in results[case] else "-"
            for m in names) + " |")
    for title, group in (("tabular", TABLES), ("image", IMAGES), ("all", ALL_SETS)):
        chosen = [c for c in cases if c[0] in group]
        if not chosen:
            continue
        print(f"\nAverages over the {len(chosen)} {title} case(s)")
        print("| method | mean RMSE | mean ratio | mean downstream | mean seconds |")
        print("|---|---:|---:|---:|---:|")
        for m in names:
            recs = [(results[c][m], best_peer(results[c])) for c in chosen if m in results[c]]
            if len(recs) < len(chosen):
                continue
            print(f"| {m} | {np.mean([r['rmse'] for r, _ in recs]):.4f} | "
                  f"{np.mean([r['rmse'] / b for r, b in recs]):.3f} | "
                  f"{np.mean([r['score'] for r, _ in recs]):.4f} | "
                  f"{np.mean([r['seconds'] for r, _ in recs]):.1f} |")


def check_targets(results, coverage, timing):
    """Print which targets each skae method meets (only those measured in this run)."""
    print("\nTargets")
    skae = [m for m in SKAE if any(m in recs for recs in results.values())]
    for m in skae:
        images = [c for c in results if c[0] in IMAGES and c[1] == "mcar20" and m in results[c]]
        for case in images:
            ratio = results[case][m]["rmse"] / best_peer(results[case])
            print(f"  {m}: {case[0]} mcar20 RMSE {ratio:.3f}x best peer (target <= 0.80): "
                  f"{'PASS' if ratio <= 0.80 else 'FAIL'}")
        tables = [c for c in results if c[0] in TABLES and m in results[c]]
        if tables:
            ratios = {c: results[c][m]["rmse"] / best_peer(results[c]) for c in tables}
            worst = max(ratios, key=ratios.get)
            print(f"  {m}: tables, worst ratio {ratios[worst]:.3f} ({worst[0]}, {worst[1]}; "
                  f"target <= 1.05 everywhere): {'PASS' if ratios[worst] <= 1.05 else 'FAIL'}")
            mean = np.mean([results[c][m]["rmse"] for c in tables])
            peers = {p: np.mean([results[c][p]["rmse"] for c in tables])
                     for p in PEERS if all(p in results[c] for c in tables)}
            lower = all(mean < v for v in peers.values())
            print(f"  {m}: tables, mean RMSE {mean:.4f} against the peers' "
                  + ", ".join(f"{p} {v:.4f}" for p, v in peers.items())
                  + f" (target: lower than all): {'PASS' if lower else 'FAIL'}")
    if coverage is not None:
        print(f"  vae: 90 % interval coverage {coverage:.1%} (target 85-95 %): "
              f"{'PASS' if 0.85 <= coverage <= 0.95 else 'FAIL'}")
    if timing is not None:
        n_rows, ae, bayes = timing
        print(f"  ae: {n_rows:,} x 784 in {ae:.1f} s against {bayes:.1f} s for one round of "
              f"IterativeImputer(BayesianRidge()) (target: faster): "
              f"{'PASS' if ae < bayes else 'FAIL'}")


# -------------------------------------------------------------- extras
def run_coverage(draws, quick):
    """Share of the true masked MNIST-5k test values inside the draws' 5-95 % interval.

    The VAE keeps its own seed, so imputers that differ only in
    ``random_state`` train the same network and differ in their draws: one
    imputer is fitted and ``transform`` called ``draws`` times (each call
    draws anew, its generator advancing), which saves ``draws - 1`` equal fits.
    """
    X_train, X_test, *_ = load("mnist", quick)
    set_index = ALL_SETS.index("mnist")
    mask_train, mask_test = with_holes(X_train, X_test, set_index, "mcar20")
    M_train, M_test = punched(X_train, mask_train), punched(X_test, mask_test)
    print(f"\n== VAE multiple imputation: {draws} draws on MNIST-5k, mcar20, "
          f"{X_train.shape[0]} train / {X_test.shape[0]} test rows ==", flush=True)
    start = time.perf_counter()
    model = AutoencoderImputer(VAEGenerator(random_state=SEED), sample_posterior=True,
                               random_state=SEED).fit(M_train)
    fit_seconds = time.perf_counter() - start
    filled = np.array([model.transform(M_test)[mask_test] for _ in range(draws)])
    print(f"  fit {fit_seconds:.1f} s, {draws} transforms {time.perf_counter() - start - fit_seconds:.1f} s",
          flush=True)
    low, high = np.percentile(filled, [5, 95], axis=0)
    truth = X_test[mask_test]
    inside = float(np.mean((truth >= low) & (truth <= high)))
    width = float(np.mean(high - low))
    spread = float(np.mean(filled.std(0)))
    mean_rmse = float(np.sqrt(np.mean((filled.mean(0) - truth) ** 2)))
    print(f"  coverage of the 5-95 % interval: {inside:.1%} (mean width {width:.3f}, "
          f"mean std of the draws {spread:.4f}, RMSE of the draws' mean {mean_rmse:.4f}, "
          "pixels in [0, 1])", flush=True)
    return inside


def timing_rows(n_rows, mnist_dir):
    if (Path(mnist_dir) / "train-images-idx3-ubyte.gz").exists() or any(
            Path(mnist_dir).glob("*train-images-idx3-ubyte*")):
        X, _ = load_mnist_idx(mnist_dir)
        return X[:n_rows].astype(np.float64) / 255.0, f"MNIST IDX files in {mnist_dir}"
    X_train, X_test, *_ = load_mnist5k_split()
    X = np.vstack([X_train, X_test])
    return np.resize(X, (n_rows, X.shape[1])), "MNIST-5k repeated (no IDX files found)"


def bayes_round_estimate(M, n_sampled, rng):
    """Seconds of one round of ``IterativeImputer(BayesianRidge())`` on ``M``, extrapolated.

    One round fits and applies one ``BayesianRidge`` per feature with missing
    values, on all the other features (the mean-filled start of the first
    round); ``n_sampled`` of these regressions are timed and the time scaled
    to all of them.
    """
    missing = np.isnan(M)
    filled = np.where(missing, np.nanmean(M, axis=0), M)
    features = np.flatnonzero(missing.any(0))
    sampled = rng.choice(features, min(n_sampled, len(features)), replace=False)
    start = time.perf_counter()
    for j in sampled:
        others = np.arange(M.shape[1]) != j
        observed = ~missing[:, j]
        model = BayesianRidge().fit(filled[observed][:, others], M[observed, j])
        model.predict(filled[~observed][:, others])
    return (time.perf_counter() - start) * len(features) / len(sampled), len(sampled), len(features)


def run_timing(n_rows, mnist_dir, full_bayes):
    """Seconds to fit and fill ``n_rows`` x 784 at 20 % MCAR: skae's default against bayes."""
    X, source = timing_rows(n_rows, mnist_dir)
    rng = np.random.RandomState([SEED, 99])
    M = punched(X, rng.rand(*X.shape) < 0.2)
    print(f"\n== timing: {X.shape[0]:,} x {X.shape[1]} at 20 % MCAR ({source}) ==",
          flush=True)
    start = time.perf_counter()
    AutoencoderImputer(random_state=SEED).fit_transform(M)
    ae = time.perf_counter() - start
    print(f"  ae     {ae:.1f} s  (AutoencoderImputer(random_state=0).fit_transform)", flush=True)
    if full_bayes:
        start = time.perf_counter()
        IterativeImputer(BayesianRidge(), max_iter=TIMING_MAX_ITER, random_state=SEED,
                         keep_empty_features=True).fit_transform(M)
        bayes = time.perf_counter() - start
        how = f"IterativeImputer(BayesianRidge(), max_iter={TIMING_MAX_ITER}).fit_transform"
    else:
        bayes, n_timed, n_all = bayes_round_estimate(M, TIMING_SAMPLED, rng)
        how = (f"one round of IterativeImputer(BayesianRidge()): {n_timed} of its {n_all} "
               f"regressions timed, scaled to all {n_all}; --timing-full-bayes runs it")
    print(f"  bayes  {bayes:.1f} s  ({how})", flush=True)
    return X.shape[0], ae, bayes


# ---------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"sets {QUICK_SETS} unless --datasets, {QUICK_ROWS} training rows "
                             f"per set, {QUICK_DRAWS} draws, {QUICK_TIMING_ROWS:,} timing rows")
    parser.add_argument("--datasets", default=None,
                        help=f"comma-separated sets among {ALL_SETS} (default: all)")
    parser.add_argument("--patterns", default=",".join(PATTERNS),
                        help="comma-separated missingness patterns (default: all)")
    parser.add_argument("--methods", default=",".join(PEERS + SKAE),
                        help="comma-separated methods (default: all)")
    parser.add_argument("--extras", default="coverage,timing",
                        help="comma-separated extras: coverage, timing ('' for none)")
    parser.add_argument("--timing-full-bayes", action="store_true",
                        help="run IterativeImputer's whole round in the timing (about an hour "
                             "on 10,000 rows) instead of timing some of its regressions")
    parser.add_argument("--mnist-dir", default=str(MNIST_DIR),
                        help="folder of the MNIST IDX files for the timing")
    args = parser.parse_args()
    if args.datasets is None:
        args.datasets = ",".join(QUICK_SETS if args.quick else ALL_SETS)
    sets = [s for s in args.datasets.split(",") if s]
    patterns = [p for p in args.patterns.split(",") if p]
    selected = [m for m in args.methods.split(",") if m]
    extras = [e for e in args.extras.split(",") if e]
    for value, allowed, option in ((sets, ALL_SETS, "--datasets"),
                                   (patterns, PATTERNS, "--patterns"),
                                   (selected, PEERS + SKAE, "--methods"),
                                   (extras, ("coverage", "timing"), "--extras")):
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            parser.error(f"{option}: unknown {unknown}; choose among {list(allowed)}")
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    print(f"skae {skae.__version__} from {Path(skae.__file__).parent}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    if AutoencoderImputer is None:
        print("skae has no AutoencoderImputer yet: the peers only (no ae, vae, coverage, "
              "timing).")
        extras = []

    results = {}
    classes_of = {}
    for name in sets:
        data = load(name, args.quick)
        classes_of[name] = data[4]
        for pattern in patterns:
            results[(name, pattern)] = run_case(name, pattern, data, selected,
                                                ALL_SETS.index(name))
    coverage = (run_coverage(QUICK_DRAWS if args.quick else DRAWS, args.quick)
                if "coverage" in extras else None)
    timing = (run_timing(QUICK_TIMING_ROWS if args.quick else TIMING_ROWS, args.mnist_dir,
                         args.timing_full_bayes)
              if "timing" in extras else None)

    print("\n\n==================== results ====================")
    for (name, pattern), records in results.items():
        print_table(name, pattern, records, classes_of[name])
    if results:
        print_overview(results)
    check_targets(results, coverage, timing)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
