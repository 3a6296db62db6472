"""Training options that change the optimisation: each is shown to take effect."""

import warnings

import numpy as np
import pytest
import torch
from conftest import assert_same_weights
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer, VAEGenerator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _quiet(fit, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args)


def _flat(est):
    return torch.cat([p.detach().flatten() for p in est.net_.parameters()])


def test_early_stopping_returns_the_weights_of_the_best_epoch(small_digits):
    X = small_digits[0]
    ae = _quiet(AutoencoderTransformer(n_components=4, hidden_layer_sizes=(32,), max_iter=300,
                                       n_iter_no_change=4, learning_rate=3e-2,
                                       random_state=0).fit, X)
    best = int(np.argmin(ae.validation_loss_curve_)) + 1
    assert best < ae.n_iter_  # later epochs were worse, and were trained
    # training is deterministic: the same fit cut at the best epoch ends on those weights
    cut = _quiet(clone(ae).set_params(max_iter=best).fit, X)
    assert_same_weights(ae, cut)
    last = _quiet(clone(ae).set_params(max_iter=ae.n_iter_, early_stopping=False).fit, X)
    assert not torch.equal(_flat(ae), _flat(last))


def test_max_grad_norm_bounds_each_step(small_digits):
    X = small_digits[0]
    params = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=1, noise=None,
                  batch_size=len(X), early_stopping=False, optimizer="sgd",
                  learning_rate=1.0, weight_decay=0.0, random_state=0)
    init = _quiet(AutoencoderTransformer(**{**params, "learning_rate": 1e-12}).fit, X)
    free = _quiet(AutoencoderTransformer(**params).fit, X)
    clipped = _quiet(AutoencoderTransformer(**params, max_grad_norm=1e-3).fit, X)
    step = float((_flat(clipped) - _flat(init)).norm())
    # one Nesterov step from rest moves by (1 + momentum) * lr * the clipped gradient
    assert step <= 1.9 * 1e-3 * (1 + 1e-4)
    assert float((_flat(free) - _flat(init)).norm()) > 10 * step


def test_weight_decay_shrinks_the_weights(small_digits):
    X = small_digits[0]
    params = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=5, early_stopping=False,
                  random_state=0)
    plain = _quiet(AutoencoderTransformer(**params).fit, X)
    decayed = _quiet(AutoencoderTransformer(**params, weight_decay=20.0).fit, X)
    assert float(_flat(decayed).norm()) < 0.9 * float(_flat(plain).norm())


def test_verbose_two_prints_epochs_and_a_progress_bar(small_digits, capsys):
    X = small_digits[0]
    _quiet(VAEGenerator(n_components=2, hidden_layer_sizes=(8,), max_iter=2, verbose=2,
                        random_state=0).fit, X)
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if line.startswith("epoch")]
    assert len(lines) == 2 and "kl=" in lines[0] and "validation_loss=" in lines[0]
    assert "batch" in out.err  # tqdm's bar


def test_device_auto_resolves_to_an_available_device(small_digits):
    X = small_digits[0]
    ae = _quiet(AutoencoderTransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=1,
                                       device="auto", random_state=0).fit, X)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert ae.device_.startswith(expected)
    assert str(next(ae.net_.parameters()).device).startswith(expected)
    cpu = _quiet(clone(ae).set_params(device="cpu").fit, X)
    if expected == "cpu":
        np.testing.assert_array_equal(ae.transform(X), cpu.transform(X))
