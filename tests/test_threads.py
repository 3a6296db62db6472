"""Fits in parallel threads: reproducible, and blind to the caller's random state."""

import threading

import numpy as np
import pytest
import torch

from skae import AutoencoderTransformer, VAEGenerator


def _fit_in_threads(make, X, seeds):
    out, errors = {}, []
    barrier = threading.Barrier(len(seeds))

    def work(seed):
        try:
            est = make(seed)
            barrier.wait()
            out[seed] = est.fit(X).transform(X)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return out


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAEGenerator])
def test_threaded_fits_equal_serial_fits(small_digits, cls):
    X = small_digits[0][:200]

    def make(seed):
        return cls(n_components=4, hidden_layer_sizes=(64, 64), max_iter=2,
                   early_stopping=False, random_state=seed)

    seeds = [0, 1, 2, 3]
    serial = {s: make(s).fit(X).transform(X) for s in seeds}
    for _ in range(2):
        threaded = _fit_in_threads(make, X, seeds)
        for s in seeds:
            np.testing.assert_array_equal(threaded[s], serial[s])


def test_fit_leaves_the_global_torch_state_alone(small_digits):
    X = small_digits[0][:100]
    torch.manual_seed(123)
    state = torch.get_rng_state()
    AutoencoderTransformer(n_components=2, hidden_layer_sizes=(16,), max_iter=1,
                           random_state=0).fit(X)
    assert torch.equal(torch.get_rng_state(), state)
    # the same fit gives the same model whatever the caller's torch state
    codes = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        ae = AutoencoderTransformer(n_components=2, hidden_layer_sizes=(16,), max_iter=1,
                                    random_state=0).fit(X)
        codes.append(ae.transform(X))
    np.testing.assert_array_equal(*codes)


def test_user_modules_are_reproducible_in_threads(small_digits):
    X = small_digits[0][:120]

    def encoder(n_features):
        return torch.nn.Sequential(torch.nn.Linear(n_features, 16), torch.nn.ReLU(),
                                   torch.nn.Dropout(0.3))

    def make(seed):
        return AutoencoderTransformer(n_components=2, encoder=encoder, max_iter=2,
                                      early_stopping=False, random_state=seed)

    seeds = [0, 1, 2]
    serial = {s: make(s).fit(X).transform(X) for s in seeds}
    threaded = _fit_in_threads(make, X, seeds)
    for s in seeds:
        np.testing.assert_array_equal(threaded[s], serial[s])
