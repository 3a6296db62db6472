"""``linear_shortcut``: a linear autoencoder beside the hidden layers."""

import json
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer
from skae.persistence import load_model, save_model


def _fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AutoencoderTransformer(**params).fit(X)


def _error(est, X):
    return ((est.inverse_transform(est.transform(X)) - X) ** 2).sum(1).mean()


def test_the_network_holds_the_linear_autoencoder_of_pca(small_digits, fast_params):
    X = small_digits[0]
    est = _fit(X, n_components=5, linear_shortcut=True, **fast_params)
    pca = PCA(5).fit(X)
    net = est.net_
    V = torch.as_tensor(pca.components_, dtype=torch.float32)
    mu = torch.as_tensor(pca.mean_, dtype=torch.float32)
    m = net.mean + net.input_shift.float()  # the network reads (x - m) / s
    s = net.scale
    last = [layer for layer in net.decoder.modules() if isinstance(layer, torch.nn.Linear)][-1]
    with torch.no_grad():  # silence the hidden layers; the shortcut alone is PCA's map
        net.head.weight.zero_()
        net.head.bias.copy_(V @ (m - mu))
        net.shortcut_in.weight.copy_(V * s)
        last.weight.zero_()
        last.bias.copy_((mu - m) / s)
        net.shortcut_out.weight.copy_(V.T / s[:, None])
    Z = est.transform(X)
    np.testing.assert_allclose(Z, pca.transform(X), atol=1e-4)
    np.testing.assert_allclose(est.inverse_transform(Z), pca.inverse_transform(Z), atol=1e-4)


def test_a_short_fit_reconstructs_better_with_the_shortcut(digits):
    X = digits[0]
    train, test = X[:1200], X[1200:]
    params = dict(n_components=20, hidden_layer_sizes=(32,), max_iter=20, batch_size=32,
                  random_state=0)
    plain = _error(_fit(train, linear_shortcut=False, **params), test)
    shortcut = _error(_fit(train, linear_shortcut=True, **params), test)
    assert shortcut < 0.8 * plain


@pytest.mark.parametrize("params", [
    {"hidden_layer_sizes": ()},
    {"encoder": torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16))},
], ids=["linear", "own-encoder"])
def test_no_shortcut_without_builtin_hidden_layers(small_digits, fast_params, params):
    X = small_digits[0]
    base = {**fast_params, "n_components": 3, **params}
    with_flag = _fit(X, linear_shortcut=True, **base)
    without = _fit(X, linear_shortcut=False, **base)
    assert with_flag.net_.shortcut_in is None and with_flag.net_.shortcut_out is None
    assert with_flag.transform(X).tobytes() == without.transform(X).tobytes()


def test_convolutional_network_gets_the_shortcut(small_digits):
    X = small_digits[0]
    est = _fit(X, n_components=4, input_shape=(1, 8, 8), conv_channels=(4, 8), max_iter=2,
               linear_shortcut=True, random_state=0)
    assert tuple(est.net_.shortcut_in.weight.shape) == (4, 64)
    assert tuple(est.net_.shortcut_out.weight.shape) == (64, 4)
    assert est.inverse_transform(est.transform(X)).shape == X.shape


@pytest.mark.parametrize("fitted_with", [False, True])
def test_warm_start_refuses_to_change_the_shortcut(small_digits, fast_params, fitted_with):
    X = small_digits[0]
    est = _fit(X, n_components=3, warm_start=True, linear_shortcut=fitted_with, **fast_params)
    before = est.transform(X)
    est.set_params(linear_shortcut=not fitted_with)
    with pytest.raises(ValueError, match="linear_shortcut"):
        est.fit(X)
    assert est.transform(X).tobytes() == before.tobytes()


def test_round_trip_and_models_saved_without_the_parameter(small_digits, fast_params,
                                                           tmp_path):
    X = small_digits[0]
    est = _fit(X, n_components=3, linear_shortcut=True, **fast_params)
    save_model(est, tmp_path / "new")
    loaded = load_model(tmp_path / "new")
    assert loaded.get_params()["linear_shortcut"] is True
    assert loaded.transform(X).tobytes() == est.transform(X).tobytes()
    # a folder saved before the parameter existed holds a network without it
    plain = _fit(X, n_components=3, linear_shortcut=False, **fast_params)
    save_model(plain, tmp_path / "old")
    config_path = tmp_path / "old" / "config.json"
    config = json.loads(config_path.read_text())
    del config["params"]["linear_shortcut"]
    del config["network"]["linear_shortcut"]
    config_path.write_text(json.dumps(config))
    old = load_model(tmp_path / "old")
    assert old.get_params()["linear_shortcut"] is False
    assert old.transform(X).tobytes() == plain.transform(X).tobytes()


def test_models_pickled_before_the_parameter_still_work(small_digits, fast_params):
    X = small_digits[0]
    est = _fit(X, n_components=3, linear_shortcut=False, **fast_params)
    Z = est.transform(X)
    del est.linear_shortcut  # what a model pickled before the parameter existed holds
    del est.net_.shortcut_in, est.net_.shortcut_out
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.get_params()["linear_shortcut"] is False
    assert loaded.transform(X).tobytes() == Z.tobytes()
