"""Worker processes that run a benchmark's jobs side by side.

The jobs of a benchmark are independent fits, each on its own threads
(``--threads``): on a machine with several cores, :func:`run_in_pool` runs
them in ``n_jobs`` worker processes at once.  Each worker loads the data set
once, limits torch and the BLAS libraries to the threads of the parent, and
warms each method up once (see :func:`skae.benchmark._runner.warm_up`), so a
job measures in a worker what it measures alone.  Fits are seeded and run on
a fixed number of threads, so their figures do not depend on the process
they run in.

Workers are started with the ``spawn`` method, on every platform: a fork of
a process that already runs threads (a progress bar's monitor, a thread pool
of torch) can deadlock.  The data set reaches them through a temporary file,
not through the pool's start-up arguments: the parent writes those arguments
into each new worker's pipe before it starts the next, and a write larger
than the pipe's buffer waits until that worker has imported skae and read
it, so that the workers would start one after another.
"""

import gc
import multiprocessing
import pickle
import signal
import tempfile
from pathlib import Path

from . import _methods

# The state of a worker process, set once by _init_worker.
_WORKER = {}


def _init_worker(dataset_path, seed, quick, with_labels, keep, threads):
    import torch
    from threadpoolctl import threadpool_limits

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    torch.set_num_threads(threads)
    with open(dataset_path, "rb") as file:  # written by run_in_pool for this run
        dataset = pickle.load(file)
    _WORKER.update(
        dataset=dataset, seed=seed, quick=quick, with_labels=with_labels, keep=set(keep),
        warmed=set(), limits=threadpool_limits(limits=threads),
    )


def _run_task(task):
    """Run one task in a worker: ``(task, outcome)``.

    ``task`` is ``("job", index, method name, k)`` or ``("extra", name,
    function, kwargs)``.  The outcome of a job is ``(record, estimator or
    None, None)`` or ``(None, None, error)``; that of an extra is
    ``(None, result, None)`` or ``(None, None, error)``.
    """
    from ._runner import run_job, warm_up

    state = _WORKER
    dataset, seed = state["dataset"], state["seed"]
    try:
        if task[0] == "extra":
            _, _, function, kwargs = task
            return task, (None, function(dataset, **kwargs), None)
        _, _, name, k = task
        method = _methods.METHODS[name]
        if name not in state["warmed"]:
            warm_up(method, dataset, seed, k)
            state["warmed"].add(name)
            # what the imports and the warm-up left behind lives as long as the
            # worker: out of the full collection that starts each job's memory
            # measurement (a fifth of a second each, once torch is imported)
            gc.collect()
            gc.freeze()
        record, estimator = run_job(method, k, dataset, seed, quick=state["quick"],
                                    with_labels=state["with_labels"])
    except Exception as exc:  # one broken method must not end the benchmark
        return task, (None, None, f"{type(exc).__name__}: {exc}")
    kept = estimator if (name, k) in state["keep"] else None
    return task, (record, kept, None)


def run_in_pool(tasks, n_jobs, *, dataset, seed, quick, with_labels, keep, threads):
    """Run ``tasks`` in ``n_jobs`` worker processes; yield ``(task, outcome)`` as each ends.

    Parameters
    ----------
    tasks : list of tuple
        See :func:`_run_task`; they start in this order.
    n_jobs : int
        Number of worker processes.
    dataset : skae.datasets.Dataset
    seed : int
    quick, with_labels : bool
    keep : collection of (str, int)
        Jobs whose fitted estimator comes back.
    threads : int
        Threads of torch and of the BLAS libraries in each worker.

    A ``KeyboardInterrupt`` in the parent ends the workers at once and is
    raised on.
    """
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="skae-benchmark-") as folder:
        path = Path(folder) / "dataset.pkl"
        with open(path, "wb") as file:
            pickle.dump(dataset, file, protocol=pickle.HIGHEST_PROTOCOL)
        pool = context.Pool(min(n_jobs, len(tasks)), initializer=_init_worker,
                            initargs=(str(path), seed, quick, with_labels, tuple(keep), threads))
        try:
            yield from pool.imap_unordered(_run_task, tasks, chunksize=1)
        except BaseException:
            pool.terminate()
            raise
        else:
            pool.close()
        finally:
            pool.join()
