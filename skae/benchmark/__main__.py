"""``python -m skae.benchmark``: PCA, KernelPCA and skae's autoencoders, side by side.

Examples
--------
::

    python -m skae.benchmark                          # digits, k = 2 10 30
    python -m skae.benchmark --dataset wine --methods pca autoencoder
    python -m skae.benchmark --dataset my_data.npz --n-components 2 5
    skae-benchmark --dataset mnist5k --output-dir results/mnist5k
"""

import argparse
import os
import sys
import time
from pathlib import Path

from . import _methods, _plots
from ._report import build_report, markdown_report, markdown_table, write_json
from ._runner import QUICK_TEST, QUICK_TRAIN, resolve_components, run_benchmark, subsample

# --jobs is at most this by default: a few workers keep every core busy on a
# run of 18 jobs, while each holds its own copy of the data and of torch.
MAX_DEFAULT_JOBS = 4

PLOT_FILES = ("error_vs_components.png", "accuracy_vs_components.png", "reconstructions.png",
              "latent_2d.png", "vae_samples.png", "explained_variance.png")


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def build_parser():
    """The command-line parser of the benchmark.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    script = Path(sys.argv[0]).name == "skae-benchmark"
    parser = argparse.ArgumentParser(
        prog="skae-benchmark" if script else "python -m skae.benchmark",
        description="Benchmark PCA, KernelPCA and skae's autoencoders (reconstruction error, "
                    "downstream accuracy, time, memory) on one data set with fixed seeds.",
    )
    parser.add_argument("--dataset", default="digits",
                        help="digits, mnist, mnist5k, breast_cancer, wine, or the path of a "
                             ".npy/.npz/.csv file (default: digits)")
    parser.add_argument("--labels", default=None,
                        help="user files: .npy label column index or label file, .npz key, "
                             ".csv column name or index")
    parser.add_argument("--n-components", type=_positive_int, nargs="+", default=[2, 10, 30],
                        metavar="K", help="code sizes, capped at n_features - 1 "
                                          "(default: 2 10 30)")
    parser.add_argument("--methods", nargs="+", choices=list(_methods.METHODS), default=None,
                        metavar="METHOD",
                        help=f"any of {', '.join(_methods.METHODS)} (default: all that apply; "
                             "autoencoder_conv needs image data)")
    parser.add_argument("--output-dir", default=None,
                        help="where results.json, results.md and the plots go "
                             "(default: results/<dataset>)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every method (default: 0)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {_methods.QUICK_MAX_ITER} epochs, at most "
                             f"{QUICK_TRAIN} training and {QUICK_TEST} test samples")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG files")
    parser.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                        help="threads of torch and of the BLAS library in each fit (default: "
                             "1; the models are small, and two threads on two cores stall "
                             "whenever another process needs a core)")
    parser.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                        help="jobs that run at once, each in a worker process on --threads "
                             "threads (default: the cores available divided by --threads, "
                             f"at most {MAX_DEFAULT_JOBS}; 1 runs every job in this process)")
    parser.add_argument("--max-kernel-pca-samples", type=_positive_int, default=3000,
                        metavar="N", help="skip KernelPCA above N training samples "
                                          "(default: 3000)")
    return parser


def default_jobs(threads):
    """``--jobs`` when it is not given: the cores available over ``threads``, capped."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_JOBS, cores // threads))


def _default_output_dir(name):
    path = Path(name)
    stem = path.stem if path.suffix else path.name
    return Path("results") / (stem or "data")


def _make_plots(out_dir, dataset, run, ks, seed, quick):
    """Write the PNG files; return ``{file: path or "skipped: reason"}``."""
    plots = {}
    records = run.records
    mid_k, latent_k = ks[len(ks) // 2], (2 if 2 in ks else max(ks))
    image = dataset.image_shape is not None
    names = [r["method"] for r in records]
    methods = list(dict.fromkeys(names))

    def fitted(k):
        return [(m, run.fitted[(m, k)]) for m in methods if (m, k) in run.fitted]

    jobs = {
        "error_vs_components.png": lambda p: _plots.error_vs_components(
            records, p, f"({dataset.name})"),
        "accuracy_vs_components.png": None if run.label_note else (
            lambda p: _plots.accuracy_vs_components(records, p, f"({dataset.name})")),
        "reconstructions.png": (lambda p: _plots.reconstructions(
            dataset, fitted(mid_k), mid_k, p)) if image else None,
        "latent_2d.png": (lambda p: _plots.latent_2d(dataset, fitted(latent_k), latent_k, p))
        if latent_k >= 2 else None,
        "vae_samples.png": (lambda p: _plots.vae_samples(
            run.fitted[("vae", mid_k)], dataset.image_shape, p, seed=seed))
        if image and ("vae", mid_k) in run.fitted else None,
        "explained_variance.png": (lambda p: _explained_variance(
            dataset, max(ks), p, seed, quick, run.extras.get("ordered_autoencoder")))
        if "autoencoder" in methods else None,
    }
    why_not = {
        "accuracy_vs_components.png": f"no accuracies ({run.label_note})",
        "reconstructions.png": "not image data",
        "latent_2d.png": "every code size is 1",
        "vae_samples.png": "not image data" if not image else "no fitted VAE",
        "explained_variance.png": "the autoencoder method did not run",
    }
    for name in PLOT_FILES:
        draw, path = jobs[name], out_dir / name
        if draw is None:
            plots[name] = f"skipped: {why_not[name]}"
        else:
            try:
                draw(path)
            except Exception as exc:  # e.g. matplotlib is not installed
                plots[name] = f"skipped: {type(exc).__name__}: {exc}"
            else:
                plots[name] = str(path)
        if plots[name].startswith("skipped"):
            print(f"No {name}: {plots[name][len('skipped: '):]}", flush=True)
    return plots


def _explained_variance(dataset, k, path, seed, quick, ordered):
    """The explained-variance plot, with the ordered autoencoder the run fitted."""
    if isinstance(ordered, str):  # the text of the error that fitting it raised
        raise RuntimeError(ordered)
    _plots.explained_variance(dataset, k, path, seed=seed, quick=quick, ordered=ordered)


def main(argv=None):
    """Run the benchmark from the command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; ``sys.argv[1:]`` by default.

    Returns
    -------
    status : int
        0 on success, 1 when some job failed or the run was interrupted.
    """
    args = build_parser().parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:  # NumPy's and SciPy's BLAS (PCA, KernelPCA, the metrics) as well
        with threadpool_limits(limits=args.threads):
            return _run(args)
    finally:  # a caller in the same process keeps its own setting
        torch.set_num_threads(threads)


def _run(args):
    """The benchmark of the parsed command line; the exit status."""
    start = time.perf_counter()
    from skae.datasets import load_dataset

    try:
        dataset = load_dataset(args.dataset, random_state=args.seed, labels=args.labels)
    except (ValueError, FileNotFoundError, ImportError, ConnectionError) as exc:
        print(f"error: cannot load dataset {args.dataset!r}: {exc}", file=sys.stderr)
        return 2
    notes = []
    if args.quick:
        full = (dataset.X_train.shape[0], dataset.X_test.shape[0])
        dataset = subsample(dataset, args.seed)
        if (dataset.X_train.shape[0], dataset.X_test.shape[0]) != full:
            notes.append(f"quick mode: subsampled {full[0]}/{full[1]} train/test samples to "
                         f"{dataset.X_train.shape[0]}/{dataset.X_test.shape[0]}")
    n_train, n_features = dataset.X_train.shape
    ks, cap_notes = resolve_components(args.n_components, n_features, n_train)
    notes += cap_notes
    method_names = args.methods or _methods.default_methods(dataset)
    method_names = list(dict.fromkeys(method_names))
    out_dir = Path(args.output_dir) if args.output_dir else _default_output_dir(args.dataset)
    out_dir.mkdir(parents=True, exist_ok=True)

    print(f"Dataset {dataset.name}: {dataset.description}; {n_train} train / "
          f"{dataset.X_test.shape[0]} test samples, {n_features} features.", flush=True)
    for note in notes:
        print(f"Note: {note}.", flush=True)
    jobs = args.jobs or default_jobs(args.threads)
    print(f"Methods {', '.join(method_names)}; n_components {ks}; seed {args.seed}; "
          f"{jobs} job{'s' if jobs > 1 else ''} at once on {args.threads} "
          f"thread{'s' if args.threads > 1 else ''} each.", flush=True)
    keep, extras = set(), {}
    if not args.no_plots:
        mid_k, latent_k = ks[len(ks) // 2], (2 if 2 in ks else max(ks))
        keep = {(m, k) for m in method_names for k in (mid_k, latent_k)}
        if "autoencoder" in method_names:  # the explained-variance plot's fit
            extras["ordered_autoencoder"] = (
                _plots.fit_ordered_autoencoder,
                {"k": max(ks), "seed": args.seed, "quick": args.quick})
    run = run_benchmark(
        dataset, method_names, ks, seed=args.seed, quick=args.quick,
        options={"max_kernel_pca_samples": args.max_kernel_pca_samples}, keep=keep,
        n_jobs=jobs, extras=extras,
    )
    print()
    print(markdown_table(run.records), flush=True)
    print()
    plots = {} if args.no_plots else _make_plots(out_dir, dataset, run, ks, args.seed, args.quick)
    config = {"dataset": args.dataset, "labels": args.labels, "n_components": ks,
              "requested_n_components": args.n_components, "methods": method_names,
              "seed": args.seed, "quick": args.quick, "no_plots": args.no_plots,
              "threads": args.threads, "jobs": jobs,
              "max_kernel_pca_samples": args.max_kernel_pca_samples,
              "kernel_pca_alpha": _methods.KERNEL_PCA_ALPHA}
    report = build_report(dataset, config, run, notes, plots)
    report["wall_s"] = time.perf_counter() - start
    json_path, md_path = out_dir / "results.json", out_dir / "results.md"
    write_json(report, json_path)
    md_path.write_text(markdown_report(report), encoding="utf-8")
    for failure in run.failed:
        print(f"FAILED {failure['method']} k={failure['k']}: {failure['error']}")
    print(f"Finished in {report['wall_s']:.0f} s.")
    print(f"Results: {json_path}")
    print(f"         {md_path}")
    written = [p for p in plots.values() if not p.startswith("skipped")]
    if written:
        print(f"Plots:   {written[0]}")
        for path in written[1:]:
            print(f"         {path}")
    return 1 if run.failed or run.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
