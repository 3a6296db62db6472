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
    extras : dict
        What each of ``run_benchmark``'s ``extras`` returned, or the text of
        its error.
    """

    records: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)
    fitted: dict = dataclasses.field(default_factory=dict)
    label_note: str | None = None
    interrupted: bool = False
    extras: dict = dataclasses.field(default_factory=dict)


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
                  keep=(), progress=True, n_jobs=1, extras=None):
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
    n_jobs : int, default=1
        Number of jobs that run at once, each in a worker process on the
        torch threads of the caller (:mod:`skae.benchmark._pool`); the
        longest methods start first.  1 runs every job in this process.
        The figures do not depend on it, except the times and memory of a
        machine whose cores are already busy.  In worker processes a Ctrl-C
        ends every running job at once.  Workers import the registry of
        methods afresh: a method added to it at run time needs ``n_jobs=1``.
    extras : dict, default=None
        ``{name: (function, kwargs)}``: other work that runs beside the
        jobs (in a worker when ``n_jobs > 1``), as ``function(dataset,
        **kwargs)``; ``function`` must be importable from a module.  Its
        result, or the text of its error, is in ``run.extras[name]``.

    Returns
    -------
    run : BenchmarkRun
    """
    options = dict(options or {})
    extras = dict(extras or {})
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
    finished = {}  # job index -> record, so that the records keep the jobs' order
    try:
        if n_jobs > 1 and len(jobs) + len(extras) > 1:
            outcomes = _in_workers(jobs, extras, n_jobs, dataset, seed, quick, keep, run)
        else:
            outcomes = _in_process(jobs, extras, dataset, seed, quick, run, bar)
        for done, (index, record, estimator, error) in enumerate(outcomes, start=1):
            method, k = jobs[index]
            if error is not None:
                run.failed.append({"method": method.name, "k": int(k), "error": error})
                _say(bar, f"[{done}/{len(jobs)}] {method.name} k={k}: FAILED ({error})")
            else:
                finished[index] = record
                if (method.name, k) in keep:
                    run.fitted[(method.name, k)] = estimator
                if progress:
                    _say(bar, job_line(record, done, len(jobs)))
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
    run.records = [finished[i] for i in sorted(finished)]
    return run


def _in_process(jobs, extras, dataset, seed, quick, run, bar):
    """Run the jobs one after another here; yield ``(index, record, estimator, error)``."""
    warmed = set()
    for index, (method, k) in enumerate(jobs):
        if bar is not None:
            bar.set_postfix_str(f"{method.name} k={k}")
        if method.name not in warmed:
            warm_up(method, dataset, seed, k)
            warmed.add(method.name)
        try:
            record, estimator = run_job(method, k, dataset, seed, quick=quick,
                                        with_labels=run.label_note is None)
        except Exception as exc:  # one broken method must not end the benchmark
            yield index, None, None, f"{type(exc).__name__}: {exc}"
        else:
            yield index, record, estimator, None
    for name, (function, kwargs) in extras.items():
        try:
            run.extras[name] = function(dataset, **kwargs)
        except Exception as exc:
            run.extras[name] = f"{type(exc).__name__}: {exc}"


def _in_workers(jobs, extras, n_jobs, dataset, seed, quick, keep, run):
    """Run the jobs and extras in worker processes; yield the jobs as in :func:`_in_process`."""
    import torch

    from ._pool import run_in_pool

    tasks = [("job", i, method.name, k) for i, (method, k) in enumerate(jobs)]
    tasks += [("extra", name, function, kwargs) for name, (function, kwargs) in extras.items()]
    # the longest first, so that the last to start are short ones
    cost = {("job", i): jobs[i][0].cost for i in range(len(jobs))}
    tasks.sort(key=lambda t: -cost.get(t[:2], _methods.EXTRA_COST))
    for task, (record, result, error) in run_in_pool(
        tasks, n_jobs, dataset=dataset, seed=seed, quick=quick,
        with_labels=run.label_note is None, keep=keep, threads=torch.get_num_threads(),
    ):
        if task[0] == "extra":
            run.extras[task[1]] = result if error is None else error
        else:
            yield task[1], record, result, error
