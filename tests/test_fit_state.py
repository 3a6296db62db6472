"""State across fits: warm starts, partial_fit, set_params, and fits that raise."""

import copy
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from conftest import assert_same_weights
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from torch import nn

from skae import AutoencoderTransformer, TrainingDivergedError, VAEGenerator

FAST = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=32, random_state=0)
ESTIMATORS = [AutoencoderTransformer, VAEGenerator]


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


def fitted_state(est):
    """Everything a fit may change, copied (tensors cloned)."""
    fitted = {k: v for k, v in vars(est).items()
              if k != "net_" and (k.endswith("_") or k.startswith("_"))}
    return copy.deepcopy(fitted), {
        k: v.clone() for k, v in est.net_.state_dict().items()
    }


def assert_state_equal(before, est):
    attrs, weights = before
    now_attrs, now_weights = fitted_state(est)
    assert now_attrs.keys() == attrs.keys()
    for key, value in attrs.items():
        if key == "_optimizer_state":
            for i, state in value["state"].items():
                for name, tensor in state.items():
                    assert torch.equal(torch.as_tensor(tensor),
                                       torch.as_tensor(now_attrs[key]["state"][i][name]))
        elif isinstance(value, torch.Tensor):
            assert torch.equal(value, now_attrs[key]), key
        elif key != "_spec":
            assert repr(value) == repr(now_attrs[key]), key
    for key, tensor in weights.items():
        assert torch.equal(tensor, now_weights[key]), key


# ---------------------------------------------------------------- schedules
@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_warm_start_anneals_over_each_fit(schedule, small_digits):
    X = small_digits[0]
    est = AutoencoderTransformer(n_components=3, learning_rate_schedule=schedule,
                                 early_stopping=False, warm_start=True, **FAST)
    est.fit(X)
    first = {k: v.clone() for k, v in est.net_.state_dict().items()}
    est.fit(X)
    lrs = [r["lr"] for r in est.history_]
    # the second call's rates retrace the first call's schedule
    np.testing.assert_allclose(lrs[4:], lrs[:4])
    assert min(lrs[4:]) > 0
    assert any(not torch.equal(first[k], v) for k, v in est.net_.state_dict().items())


# ------------------------------------------------------ structural changes
AE_CHANGES = [
    ("n_components", 5), ("hidden_layer_sizes", (8,)), ("activation", "tanh"),
    ("loss", "bce"), ("scaling", "feature"), ("input_shape", (1, 8, 8)),
]
VAE_CHANGES = [
    ("n_components", 5), ("likelihood", "bernoulli"), ("observation_variance", 0.5),
]
CONV_CHANGES = [
    ("architecture", "mlp"), ("conv_channels", (4,)), ("conv_hidden_layer_sizes", (8,)),
    ("input_shape", (1, 4, 16)),
]


def _changed(cls, base, name, value, X, method):
    est = quiet(cls(n_components=3, warm_start=True, **{**FAST, **base}).fit, X)
    before = fitted_state(est)
    est.set_params(**{name: value})
    with pytest.raises(ValueError, match=rf"{name}=.*does not describe the fitted network"):
        getattr(est, method)(X)
    assert_state_equal(before, est)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("name, value", AE_CHANGES, ids=[c[0] for c in AE_CHANGES])
def test_structural_change_is_refused_autoencoder(name, value, method, small_digits):
    _changed(AutoencoderTransformer, {}, name, value, small_digits[0], method)


@pytest.mark.parametrize("name, value", VAE_CHANGES, ids=[c[0] for c in VAE_CHANGES])
def test_structural_change_is_refused_vae(name, value, small_digits):
    _changed(VAEGenerator, {}, name, value, small_digits[0], "partial_fit")


@pytest.mark.parametrize("name, value", CONV_CHANGES, ids=[c[0] for c in CONV_CHANGES])
def test_structural_change_is_refused_conv(name, value, small_digits):
    base = dict(input_shape=(1, 8, 8), conv_channels=(4, 8))
    _changed(AutoencoderTransformer, base, name, value, small_digits[0], "fit")


@pytest.mark.parametrize("which", ["encoder", "decoder"])
def test_new_custom_module_is_refused(which, small_digits):
    X = small_digits[0]
    module = nn.Sequential(nn.Linear(64, 16), nn.ReLU()) if which == "encoder" else nn.Linear(3, 64)
    _changed(AutoencoderTransformer, {which: module}, which, copy.deepcopy(module), X, "fit")


def test_non_structural_changes_continue_training(small_digits):
    X = small_digits[0]
    est = quiet(VAEGenerator(n_components=3, observation_variance=0.5, warm_start=True,
                             **FAST).fit, X)
    est.set_params(learning_rate=1e-4, observation_variance=0.3, batch_size=64, max_iter=2)
    quiet(est.fit, X)
    assert est.n_iter_ == 6


def test_a_new_fixed_observation_variance_is_used_by_a_warm_start(small_digits):
    X = small_digits[0]
    est = quiet(VAEGenerator(n_components=3, observation_variance=0.5, warm_start=True,
                             **FAST).fit, X)
    fresh = quiet(VAEGenerator(n_components=3, observation_variance=0.01, **FAST).fit, X)
    est.set_params(observation_variance=0.01, max_iter=1)
    quiet(est.fit, X)
    # the variance in the network is the new one: noise and scores use it
    std = est.net_.noise_std().detach().numpy()
    np.testing.assert_allclose(std, fresh.net_.noise_std().detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(std, np.sqrt(0.01), rtol=1e-5)


# ------------------------------------------------------------ failed calls
class _Armed(nn.Module):
    """An encoder that raises on its third call once armed (the copy shares the flag)."""

    armed = False
    calls = 0

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(64, 16)

    def forward(self, x):
        if _Armed.armed:
            _Armed.calls += 1
            if _Armed.calls == 3:
                raise RuntimeError("boom inside the user's module")
        return self.body(x)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("failure", ["user-module", "divergence", "bad-data"])
@pytest.mark.parametrize("method", ["partial_fit", "warm-fit"])
def test_failed_call_leaves_estimator_unchanged(cls, failure, method, small_digits, monkeypatch):
    X = small_digits[0]
    monkeypatch.setattr(_Armed, "armed", False)
    monkeypatch.setattr(_Armed, "calls", 0)
    est = cls(n_components=3, encoder=_Armed, warm_start=method == "warm-fit", **FAST)
    quiet(est.fit, X)
    est.partial_fit(X)
    if cls is VAEGenerator:
        est.sample(2)  # advance the sample stream once
    before = fitted_state(est)
    data = X
    if failure == "user-module":
        monkeypatch.setattr(_Armed, "armed", True)
        expected = RuntimeError
    elif failure == "divergence":
        est.set_params(optimizer="sgd", learning_rate=1e12)
        expected = TrainingDivergedError
    else:
        data = X.copy()
        data[5, 3] = np.inf  # (NaN is a missing value, which fit accepts)
        expected = ValueError
    with pytest.raises(expected):
        quiet(est.partial_fit if method == "partial_fit" else est.fit, data)
    assert_state_equal(before, est)
    monkeypatch.setattr(_Armed, "armed", False)
    if cls is VAEGenerator:  # the sample stream continues where it was
        twin = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(est.sample(3), twin.sample(3))


def test_failed_fresh_fit_keeps_the_fitted_model(small_digits):
    X8 = small_digits[0][:, :8]
    est = quiet(AutoencoderTransformer(n_components=2, **FAST).fit, X8)
    codes = est.transform(X8)
    with pytest.raises(ValueError):
        est.fit(np.ones((1, 5)))
    assert est.n_features_in_ == 8
    np.testing.assert_array_equal(est.transform(X8), codes)


# -------------------------------------------------------------- set_params
def test_set_params_after_fit_does_not_change_inference(small_digits):
    X = small_digits[0]
    ae = quiet(AutoencoderTransformer(n_components=3, **FAST).fit, X)
    codes, names = ae.transform(X), ae.get_feature_names_out()
    ae.set_params(n_components=5, loss="bce", input_shape=(1, 8, 8))
    np.testing.assert_array_equal(ae.transform(X), codes)
    np.testing.assert_array_equal(ae.get_feature_names_out(), names)
    assert ae.inverse_transform(codes).shape == X.shape

    vae = quiet(VAEGenerator(n_components=3, **FAST).fit, X)
    score, samples = vae.score(X), vae.sample(4, random_state=0)
    vae.set_params(n_components=5, likelihood="bernoulli", observation_variance=0.1)
    assert vae.score(X) == score
    np.testing.assert_array_equal(vae.sample(4, random_state=0), samples)
    vae.set_params(likelihood="gaussian", observation_variance=0.1)
    assert vae.score(X) == score


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_get_feature_names_out_before_fit(cls):
    with pytest.raises(NotFittedError):
        cls().get_feature_names_out()


# ------------------------------------------------------------- concurrency
def test_concurrent_sample_calls_take_disjoint_parts_of_the_stream(small_digits):
    vae = quiet(VAEGenerator(n_components=3, **FAST).fit, small_digits[0])
    twin = pickle.loads(pickle.dumps(vae))
    n_calls = 16
    serial = np.concatenate([twin.sample(5) for _ in range(n_calls)])
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = np.concatenate(list(pool.map(lambda _: vae.sample(5), range(n_calls))))
    assert len(np.unique(parallel, axis=0)) == len(parallel)
    order = np.lexsort(serial.T), np.lexsort(parallel.T)
    np.testing.assert_array_equal(serial[order[0]], parallel[order[1]])
    # and the streams end in the same place
    np.testing.assert_array_equal(vae.sample(2), twin.sample(2))


def test_partial_fit_continues_after_the_first_chunk(small_digits):
    X = small_digits[0]
    est = AutoencoderTransformer(n_components=3, **FAST)
    for chunk in np.array_split(X, 3):
        est.partial_fit(chunk)
    assert est.n_iter_ == 3 and len(est.history_) == 3
    assert_same_weights(est, pickle.loads(pickle.dumps(est)))
