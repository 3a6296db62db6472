"""CPU seconds of each job of the main benchmark, and the wall time they add up to.

``python -m skae.benchmark`` runs its jobs (one method at one code size) in
worker processes, two at a time on two cores.  Its wall time depends on what
else the machine runs; the CPU seconds of each job much less so.  This script
runs the same jobs one after another in this process on one thread (as each
worker does), after the same untimed warm-up per method, and prints for each
job its CPU seconds (``time.process_time``), its wall seconds, its epochs and
its figures (the same as the benchmark's table: the jobs are seeded).  It
also times the fit of the ordered autoencoder that the benchmark's
explained-variance plot needs, which runs beside the jobs.

The last lines give an estimate of the benchmark's wall time on an idle
machine with ``--jobs`` workers: the measured CPU seconds of the jobs and of
that fit, handed to the workers in the order the benchmark starts them (the
longest methods first), each task to the worker that is free first.  It
leaves out the start-up of the processes and the plots, and assumes each job
has a core to itself; it is an estimate, not a measurement.

    python benchmarks/bench_main_job.py [--dataset digits] [--methods ...]
        [--n-components 2 10 30] [--seed 0] [--jobs 2] [--json FILE]
"""

import argparse
import heapq
import json
import os
import time
import warnings

import torch
from threadpoolctl import threadpool_limits

from skae.benchmark import _methods, _plots
from skae.benchmark._runner import run_job, warm_up
from skae.datasets import load_dataset


def timed(function, *args, **kwargs):
    """``(result, cpu seconds, wall seconds)`` of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def estimate_wall(tasks, n_jobs):
    """Wall seconds of ``tasks`` ``(cost, cpu seconds)`` on ``n_jobs`` workers.

    The tasks start in the benchmark's order (highest ``cost`` first, ties in
    the given order), each on the worker that is free first.
    """
    order = sorted(tasks, key=lambda task: -task[0])
    free = [0.0] * n_jobs
    for _, seconds in order:
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--n-components", nargs="+", type=int, default=[2, 10, 30])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2,
                        help="workers of the wall-time estimate (default: 2)")
    parser.add_argument("--json", default=None, help="also write the records to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(limits=1)
    dataset = load_dataset(args.dataset, random_state=args.seed)
    names = args.methods or _methods.default_methods(dataset)
    print(f"{dataset.name}: {dataset.X_train.shape[0]} train rows; load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    print(f"{'method':17s} {'k':>3s} {'cpu s':>7s} {'wall s':>7s} {'epochs':>6s} "
          f"{'error':>7s} {'R²':>6s} {'LogReg':>6s} {'5-NN':>6s}")
    records, tasks = [], []
    for name in names:
        method = _methods.METHODS[name]
        warm_up(method, dataset, args.seed, args.n_components[0])
        for k in args.n_components:
            (record, _), cpu, wall = timed(run_job, method, k, dataset, args.seed)
            record.update(cpu_s=cpu, job_wall_s=wall)
            records.append(record)
            tasks.append((method.cost, cpu))
            accuracies = [record["logreg_acc"], record["knn_acc"]]
            shown = " ".join("     -" if a is None else f"{a:6.3f}" for a in accuracies)
            print(f"{name:17s} {k:3d} {cpu:7.2f} {wall:7.2f} {record['n_iter'] or '-':>6} "
                  f"{record['recon_error']:7.4g} {record['r2']:6.3f} {shown}", flush=True)
    if "autoencoder" in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ordered, cpu, wall = timed(_plots.fit_ordered_autoencoder, dataset,
                                       max(args.n_components), seed=args.seed)
        tasks.append((_methods.EXTRA_COST, cpu))
        print(f"{'ordered (plot)':17s} {max(args.n_components):3d} {cpu:7.2f} {wall:7.2f} "
              f"{ordered.n_iter_:>6}")
    total = sum(seconds for _, seconds in tasks)
    print(f"CPU seconds of the jobs and the plot's fit: {total:.1f}; load average "
          f"{os.getloadavg()[0]:.2f} at the end")
    print(f"Estimated wall seconds of these tasks on {args.jobs} idle workers "
          f"(start-up and plots left out): {estimate_wall(tasks, args.jobs):.1f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(records, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
