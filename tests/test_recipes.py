"""The recipes of benchmarks/recipes/ work as is: ``Estimator(**json.load(f)).fit(X)``."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import quiet_fit

from skae import AutoencoderTransformer, VAEGenerator

RECIPES = sorted((Path(__file__).resolve().parents[1] / "benchmarks" / "recipes").glob("*.json"))


def estimator_class(path):
    return VAEGenerator if path.stem.startswith("vae") else AutoencoderTransformer


def test_there_are_recipes():
    assert {p.stem for p in RECIPES} >= {"hinton_mlp", "hinton_conv", "vae_mnist_nll"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_fits_as_is_within_its_budget(path, one_torch_thread):
    with open(path) as f:
        params = json.load(f)
    # a recipe runs a fixed number of epochs, whatever the machine's speed: no
    # early stopping, and wall-clock time (30 minutes at most) only as a guard
    assert params["early_stopping"] is False and params["max_iter"] <= 1000
    assert 0 < params["max_time"] <= 30 * 60
    est = estimator_class(path)(**params)
    X = (np.random.RandomState(0).rand(64, 784) < 0.3).astype(np.float32)
    est.set_params(max_time=2.0, max_iter=2)  # the same recipe, cut short
    quiet_fit(est, X)
    assert est.transform(X).shape == (64, params["n_components"])
    assert np.isfinite(est.score(X))
