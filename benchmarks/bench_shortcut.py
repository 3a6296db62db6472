"""AutoencoderTransformer with and without ``linear_shortcut``, side by side.

For each data set, code width and seed, the same estimator (package defaults
otherwise, or ``--loss``) is fitted with ``linear_shortcut=False`` and
``linear_shortcut=True`` on the training rows of
:func:`skae.datasets.load_dataset`'s split, and scored on its test rows:

* the reconstruction error (mean summed squared error per row) divided by
  that of ``PCA(k)`` fitted on the same rows (below 1: better than PCA),
* the seconds ``fit`` took and the epochs it ran.

The two fits of a row run one after the other in the same process, so
their times compare; the figures of the row between them do not depend on
the machine's load.  ``--conv`` adds the convolutional network on the image
sets (``input_shape`` given).

    python benchmarks/bench_shortcut.py [--datasets digits,mnist5k,breast_cancer,wine]
        [--ks 2,10,30] [--seeds 0] [--loss mse|bce] [--conv] [--threads 2]
"""

import argparse

import torch
from bench_conv import error, fit_timed
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer
from skae.datasets import load_dataset

IMAGE_KS = (2, 10, 30)
TABLE_KS = (2, 5)


def compare(dataset, k, seed, params):
    """One table row: the ratios to PCA, fit times and epochs without and with."""
    pca = error(PCA(k, random_state=seed).fit(dataset.X_train), dataset.X_test)
    cells = []
    for shortcut in (False, True):
        est = AutoencoderTransformer(n_components=k, linear_shortcut=shortcut,
                                     random_state=seed, **params)
        seconds = fit_timed(est, dataset.X_train)
        cells.append((error(est, dataset.X_test) / pca, seconds, est.n_iter_))
    return pca, cells


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,breast_cancer,wine,mnist5k")
    parser.add_argument("--ks", default=None,
                        help=f"code widths (default {IMAGE_KS} on images, {TABLE_KS} on tables)")
    parser.add_argument("--seeds", default="0", help="random_state of each fit, e.g. 0,1,2")
    parser.add_argument("--loss", choices=("mse", "bce"), default="mse",
                        help="bce needs data in [0, 1] (the image sets)")
    parser.add_argument("--conv", action="store_true",
                        help="also the convolutional network on the image sets")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"torch threads: {args.threads}; loss={args.loss!r}; ratio = test error / PCA(k)'s")
    print("| data | net | k | seed | PCA error | ratio, no shortcut | ratio, shortcut "
          "| fit s (epochs), no shortcut | fit s (epochs), shortcut |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.datasets.split(","):
        dataset = load_dataset(name)
        image = dataset.image_shape is not None
        ks = ([int(k) for k in args.ks.split(",")] if args.ks
              else IMAGE_KS if image else TABLE_KS)
        nets = [("MLP", {})]
        if args.conv and image:
            nets.append(("conv", {"input_shape": tuple(dataset.image_shape)}))
        for net, params in nets:
            for k in ks:
                for seed in seeds:
                    pca, cells = compare(dataset, k, seed, dict(params, loss=args.loss))
                    (r0, t0, n0), (r1, t1, n1) = cells
                    print(f"| {name} | {net} | {k} | {seed} | {pca:.4g} | {r0:.4f} | {r1:.4f} "
                          f"| {t0:.1f} ({n0}) | {t1:.1f} ({n1}) |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
