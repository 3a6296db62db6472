"""Run the method x n_components jobs of one benchmark and collect their figures."""

import dataclasses
import time
import warnings

import numpy as np

from . import _methods
from ._metrics import (
    PeakRSS,
    classification_metrics,
    labels_usable,
    reconstruction_metrics,
    transform_throughput,
)

#: ``--quick`` keeps at most this many training / test samples.
QUICK_TRAIN, QUICK_TEST = 300, 150


@dataclasses.dataclass
class BenchmarkRun:
    """Everything one benchmark produced.

    Attributes
    ----------
    records : list of dict
        One per finished job: method, k, the metrics, parameters, warnings.
    skipped : list of dict
        ``{"method", "k", "reason"}`` of jobs not run (``k`` None: all k).
    failed : list of dict
        ``{"method", "k", "error"}`` of jobs that raised.
    fitted : dict
        ``(method, k) -> fitted estimator`` for the jobs the plots need.
    label_note : str or None
        Why the accuracies are missing, if they are.
    interrupted : bool
        Whether Ctrl-C stopped the run early (the results are partial).
    """

    records: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)
    fitted: dict = dataclasses.field(default_factory=dict)
    label_note: str | None = None
    interrupted: bool = False


def subsample(dataset, seed, n_train=QUICK_TRAIN, n_test=QUICK_TEST):
    """A copy of ``dataset`` with at most ``n_train``/``n_test`` samples.

    The kept rows are a seeded random subset, in their original order.

    Parameters
    ----------
    dataset : skae.datasets.Dataset
    seed : int
    n_train, n_test : int

    Returns
    -------
    dataset : skae.datasets.Dataset
    """
    rng = np.random.RandomState(seed)

    def pick(X, y, n):
        if X.shape[0] <= n:
            return X, y
        idx = np.sort(rng.choice(X.shape[0], n, replace=False))
        return X[idx], (None if y is None else y[idx])

    X_train, y_train = pick(dataset.X_train, dataset.y_train, n_train)
    X_test, y_test = pick(dataset.X_test, dataset.y_test, n_test)
    return dataclasses.replace(
        dataset, X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test
    )


def resolve_components(requested, n_features, n_train):
    """Cap, deduplicate and sort the requested code sizes.

    Parameters
    ----------
    requested : list of int
        Code sizes asked for (each >= 1).
    n_features, n_train : int
        Shape of the training data.

    Returns
    -------
    ks : list of int
        Sorted distinct sizes, each at most ``min(n_features, n_train) - 1``.
    notes : list of str
        One line per size that was capped.
    """
    cap = max(min(n_features, n_train) - 1, 1)
    ks, notes = [], []
    for k in requested:
        if k > cap:
            notes.append(f"n_components={k} capped at {cap} (n_features={n_features}, "
                         f"n_train={n_train})")
            k = cap
        if k not in ks:
            ks.append(k)
    return sorted(ks), notes


def _warning_text(w):
    first = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
    return f"{w.category.__name__}: {first}"


def run_job(method, k, dataset, seed, *, quick=False, with_labels=True):
    """Fit one method at one code size and measure it on the test split.

    Parameters
    ----------
    method : skae.benchmark._methods.Method
    k : int
        ``n_components``.
    dataset : skae.datasets.Dataset
    seed : int
    quick : bool, default=False
    with_labels : bool, default=True
        Whether to compute the classification accuracies.

    Returns
    -------
    record : dict
        The figures of the job (see the ``results`` of ``results.json``).
    estimator : object
        The fitted estimator.
    """
    estimator = _methods.build(method, k, dataset, seed, quick=quick)
    X_train, X_test = dataset.X_train, dataset.X_test
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with PeakRSS() as memory:
            start = time.perf_counter()
            estimator.fit(X_train)
            fit_s = time.perf_counter() - start
        codes_test = np.asarray(estimator.transform(X_test))
        X_rec = np.asarray(estimator.inverse_transform(codes_test))
        record = {"method": method.name, "k": int(k)}
        record.update(reconstruction_metrics(X_test, X_rec, X_train.mean(axis=0)))
        record.update({"logreg_acc": None, "knn_acc": None})
        if with_labels:
            codes_train = np.asarray(estimator.transform(X_train))
            record.update(classification_metrics(
                codes_train, dataset.y_train, codes_test, dataset.y_test))
        record["fit_s"] = fit_s
        record["transform_samples_per_s"] = transform_throughput(estimator, X_test)
        record["peak_mb"] = memory.peak_mb
    record["n_iter"] = int(estimator.n_iter_) if hasattr(estimator, "n_iter_") else None
    record["params"] = _methods.estimator_params(estimator)
    record["warnings"] = sorted({_warning_text(w) for w in caught})
    return record, estimator


def warm_up(method, dataset, seed, k):
    """Fit ``method`` once on a few rows for one epoch, untimed.

    The first fit of a process pays for lazy imports, thread pools and
    allocator growth; doing that here keeps it out of the first job's fit
    time and peak memory.  Errors are ignored: the real job reports them.
    """
    n = min(64, dataset.X_train.shape[0])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = _methods.build(method, min(k, n - 1), dataset, seed, quick=True)
            if "max_iter" in est.get_params():
                est.set_params(max_iter=1)
            est.fit(dataset.X_train[:n])
            est.inverse_transform(est.transform(dataset.X_test[:n]))
    except Exception:  # the timed job raises it again and records it
        pass


def _progress(total):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency of skae, but stay usable without it
        return None
    return tqdm(total=total, desc="benchmark", unit="job", dynamic_ncols=True)


def _say(bar, line):
    if bar is not None:
        bar.write(line)
    else:
        print(line, flush=True)


def job_line(record, done, total):
    """One progress line describing a finished job."""
    parts = [f"[{done}/{total}] {record['method']} k={record['k']}:",
             f"recon error {record['recon_error']:.4g}"]
    if record["r2"] is not None:
        parts.append(f"R² {record['r2']:.3f}")
    if record["knn_acc"] is not None:
        parts.append(f"5-NN {record['knn_acc']:.3f}")
    fit = f"fit {record['fit_s']:.1f} s"
    if record["n_iter"] is not None:
        fit += f" ({record['n_iter']} epochs)"
    parts.append(fit)
    return "  ".join(parts)


def run_benchmark(dataset, method_names, ks, *, seed=0, quick=False, options=None,
                  keep=(), progress=True):
    """Fit every applicable (method, k) and measure it.

    Parameters
    ----------
    dataset : skae.datasets.Dataset
        The (possibly subsampled) data set.
    method_names : list of str
        Keys of :data:`skae.benchmark._methods.METHODS`.
    ks : list of int
        Code sizes.
    seed : int, default=0
    quick : bool, default=False
    options : dict, default=None
        Settings read by the skip checks (``max_kernel_pca_samples``).
    keep : collection of (str, int), default=()
        Jobs whose fitted estimator is kept (for the plots).
    progress : bool, default=True
        Show a progress bar and a line per finished job.

    Returns
    -------
    run : BenchmarkRun
    """
    options = dict(options or {})
    run = BenchmarkRun(label_note=labels_usable(dataset.y_train, dataset.y_test))
    n_train = dataset.X_train.shape[0]
    jobs = []
    for name in method_names:
        method = _methods.METHODS[name]
        reason = method.skip_reason(dataset, n_train, options)
        if reason is not None:
            run.skipped.append({"method": name, "k": None, "reason": reason})
            print(f"Skipping {name}: {reason}.", flush=True)
            continue
        jobs.extend((method, k) for k in ks)
    bar = _progress(len(jobs)) if progress else None
    warmed = set()
    try:
        for i, (method, k) in enumerate(jobs, start=1):
            if bar is not None:
                bar.set_postfix_str(f"{method.name} k={k}")
            if method.name not in warmed:
                warm_up(method, dataset, seed, k)
                warmed.add(method.name)
            try:
                record, estimator = run_job(method, k, dataset, seed, quick=quick,
                                            with_labels=run.label_note is None)
            except Exception as exc:  # one broken method must not end the benchmark
                error = f"{type(exc).__name__}: {exc}"
                run.failed.append({"method": method.name, "k": int(k), "error": error})
                _say(bar, f"[{i}/{len(jobs)}] {method.name} k={k}: FAILED ({error})")
            else:
                run.records.append(record)
                if (method.name, k) in keep:
                    run.fitted[(method.name, k)] = estimator
                if progress:
                    _say(bar, job_line(record, i, len(jobs)))
                    for text in record["warnings"]:
                        if not (quick and text.startswith("ConvergenceWarning")):
                            _say(bar, f"    {text}")
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        run.interrupted = True
        _say(bar, "Interrupted: writing the results of the finished jobs.")
    finally:
        if bar is not None:
            bar.close()
    return run
