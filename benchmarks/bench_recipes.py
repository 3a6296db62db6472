"""Train the recipes of ``benchmarks/recipes/`` on the full MNIST and score them.

Each recipe is a JSON file of constructor parameters that works as is::

    est = Estimator(**json.load(open("benchmarks/recipes/hinton_mlp.json"))).fit(X_train)

and runs a fixed number of epochs (``max_iter``) under a one-cycle schedule
that spans them, so that its outcome does not depend on the machine's speed
or on when a noisy validation curve stalls; ``max_time`` (seconds) only
guards the budget on a slower machine (the schedule then spans the time).
The data are the standard IDX files (``--data``, default
../shared/data/mnist; the same digits as
``sklearn.datasets.fetch_openml("mnist_784")``), pixels / 255:

- ``hinton_mlp`` and ``hinton_conv`` (:class:`skae.AutoencoderTransformer`,
  30 components) are scored by the squared reconstruction error per test
  image, the unit of Hinton & Salakhutdinov (Science, 2006): 13.87 for
  PCA(30), 3.00 for their 784-1000-500-250-30 autoencoder.
- ``vae_mnist_nll`` (:class:`skae.VAEGenerator`, Bernoulli likelihood) is
  trained on the 60,000 training images binarised once by Bernoulli draws
  (``np.random.RandomState(0).rand(*X.shape) < X``) and scored by the test
  negative log-likelihood in nats, with 1,000 importance samples, on the
  10,000 test images binarised the same way with seed 1.

Each train figure is the test figure's measure over all 60,000 training
images, of the returned model (for the VAE the same importance-weighted
negative log-likelihood, which scores the training set too: six times the
test set's scoring time).

::

    python benchmarks/bench_recipes.py hinton_mlp hinton_conv vae_mnist_nll
    python benchmarks/bench_recipes.py vae_mnist_nll --threads 1 --max-time 60   # a short try
    python benchmarks/bench_recipes.py hinton_mlp --set weight_decay=0.01       # a variant
    python benchmarks/bench_recipes.py hinton_mlp --set max_iter=20 --set activation=silu
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer, VAEGenerator
from skae.datasets import load_mnist_idx

RECIPES = Path(__file__).resolve().parent / "recipes"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
ESTIMATORS = {"hinton_mlp": AutoencoderTransformer, "hinton_conv": AutoencoderTransformer,
              "vae_mnist_nll": VAEGenerator}
TARGETS = {"hinton_mlp": 3.00, "hinton_conv": 2.30, "vae_mnist_nll": 88.0}


def load_recipe(name):
    with open(RECIPES / f"{name}.json") as f:
        return json.load(f)


def squared_error(est, X):
    """Mean over rows of the summed squared reconstruction error."""
    return float(((est.inverse_transform(est.transform(X)) - X) ** 2).sum(1).mean())


def load_data(directory, binarised):
    Xtr = load_mnist_idx(directory, subset="train")[0].astype(np.float32) / 255.0
    Xte = load_mnist_idx(directory, subset="test")[0].astype(np.float32) / 255.0
    if binarised:
        Xtr = (np.random.RandomState(0).rand(*Xtr.shape) < Xtr).astype(np.float32)
        Xte = (np.random.RandomState(1).rand(*Xte.shape) < Xte).astype(np.float32)
    return Xtr, Xte


def run(name, args):
    params = load_recipe(name)
    if args.max_time is not None:
        params["max_time"] = args.max_time
    params.update(args.set)
    params["device"] = args.device
    est = ESTIMATORS[name](**params)
    vae = isinstance(est, VAEGenerator)
    Xtr, Xte = load_data(args.data, binarised=vae)
    print(f"\n== {name}: {type(est).__name__}, train {Xtr.shape}, test {Xte.shape}, "
          f"{torch.get_num_threads()} torch threads, {args.device}", flush=True)
    print(f"   {json.dumps(params)}", flush=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(Xtr)
    fit_s = time.perf_counter() - start
    times = [record["time"] for record in est.history_]
    row = {"recipe": name, "fit_minutes": round(fit_s / 60, 2), "epochs": est.n_iter_,
           "target": TARGETS[name],
           # how the cost of an epoch moved over the fit
           "epoch_seconds_first_last_5": [round(float(np.mean(times[:5])), 2),
                                          round(float(np.mean(times[-5:])), 2)]}
    # the train figure is the test figure's measure, of the returned model, over
    # all 60,000 training images (not the last epoch's running loss)
    if vae:
        row["test_nll_elbo"] = round(-est.score(Xte), 2)
        start = time.perf_counter()
        for split, X in (("test", Xte), ("train", Xtr)):
            row[f"{split}_nll_k{args.k}"] = round(
                float(-est.score_samples(X, n_importance_samples=args.k).mean()), 2)
        row["score_minutes"] = round((time.perf_counter() - start) / 60, 2)
    else:
        row["pca30_test_error"] = round(squared_error(PCA(30, random_state=0).fit(Xtr), Xte), 2)
        row["test_error"] = round(squared_error(est, Xte), 3)
        row["train_error"] = round(squared_error(est, Xtr), 3)
    print("   " + json.dumps(row), flush=True)
    return row


def _parameter(text):
    """``NAME=JSON`` -> ``(name, value)``, for ``--set``."""
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value  # a plain string, such as a schedule's name


def build_parser():
    """The command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", choices=sorted(ESTIMATORS), default=None,
                        help="recipes to run (default: all)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--max-time", type=float, default=None,
                        help="override the recipes' max_time (seconds)")
    parser.add_argument("--k", type=int, default=1000, help="importance samples of the NLL")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", type=_parameter, nargs="+", action="extend", default=[],
                        metavar="NAME=JSON",
                        help="override recipe parameters, e.g. weight_decay=0.01; may be "
                             "given more than once, the later value of a name winning")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [run(name, args) for name in (args.recipes or sorted(ESTIMATORS))]
    print("\n| recipe | epochs | fit (min) | test figure | train figure | target |\n"
          "|---|---:|---:|---:|---:|---:|")
    for r in rows:
        test = r.get("test_error", r.get(f"test_nll_k{args.k}"))
        train = r.get("train_error", r.get(f"train_nll_k{args.k}"))
        print(f"| {r['recipe']} | {r['epochs']} | {r['fit_minutes']} | {test} | {train} | "
              f"{r['target']} |")


if __name__ == "__main__":
    main()
