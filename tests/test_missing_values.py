"""Training on and encoding rows with missing values (NaN)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import quiet_fit

from skae import AutoencoderTransformer, VAEGenerator
from skae._data import data_scaling
from skae._losses import observed_mask, reconstruction_loss
from skae.nn import AutoencoderNet
from skae.nn._network import zero_missing_

FAST = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def tables():
    """A table in mixed units, and a copy with a fifth of its values and one row missing."""
    rng = np.random.RandomState(0)
    Z = rng.randn(200, 3)
    X = Z @ rng.randn(3, 6) * [1, 10, 100, 0.1, 1, 5] + [0, 50, -300, 1, 2, 3]
    X_missing = X.copy()
    X_missing[rng.rand(*X.shape) < 0.2] = np.nan
    X_missing[7] = np.nan  # a row with every value missing
    return X, X_missing


MODELS = {
    "ae": lambda: AutoencoderTransformer(n_components=2, **FAST),
    "vae": lambda: VAEGenerator(n_components=2, **FAST),
    "vae-iwae": lambda: VAEGenerator(n_components=2, iwae_samples=3, n_importance_samples=3,
                                     **FAST),
    "conv": lambda: AutoencoderTransformer(n_components=2, input_shape=(1, 2, 3),
                                           conv_channels=(4,), max_iter=3, random_state=0),
    "mlp-on-images": lambda: AutoencoderTransformer(n_components=2, input_shape=(1, 2, 3),
                                                    architecture="mlp", **FAST),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_transform_and_score_with_missing_values(name, tables, one_torch_thread):
    _, X = tables
    est = quiet_fit(MODELS[name](), X)
    assert est.net_.missing_mask
    codes, scores = est.transform(X), est.score_samples(X)
    assert np.isfinite(codes).all() and np.isfinite(scores).all()
    assert np.isfinite(est.loss_curve_).all()
    est.partial_fit(X)  # continues with the same network
    assert np.isfinite(est.transform(X)).all()


def test_the_mask_reaches_the_built_in_encoder(tables, one_torch_thread):
    X, X_missing = tables
    with_mask = quiet_fit(AutoencoderTransformer(n_components=2, **FAST), X_missing)
    first = with_mask.net_.encoder[1]  # Flatten, then the first Linear
    assert first.in_features == 2 * X.shape[1]
    without = quiet_fit(AutoencoderTransformer(n_components=2, **FAST), X)
    assert not without.net_.missing_mask
    assert without.net_.encoder[1].in_features == X.shape[1]
    # noise="missing" hides values in training: the mask is built without NaN in X
    hiding = quiet_fit(AutoencoderTransformer(n_components=2, noise="missing", noise_level=0.2,
                                              **FAST), X)
    assert hiding.net_.missing_mask
    # the encoder reads the mask: hiding a value changes the code differently
    # from setting it to its mean
    row = X[:1].copy()
    mean_row = row.copy()
    mean_row[0, 0] = hiding.net_.mean[0].item()
    hidden_row = row.copy()
    hidden_row[0, 0] = np.nan
    assert not np.allclose(hiding.transform(hidden_row), hiding.transform(mean_row))


def test_a_model_without_mask_reads_missing_values_as_the_mean(tables, one_torch_thread):
    X, _ = tables
    est = quiet_fit(AutoencoderTransformer(n_components=2, **FAST), X)
    rows = X[:5].copy()
    rows[:, 2] = np.nan
    filled = X[:5].copy()
    filled[:, 2] = np.float32(est.net_.mean[2].item())  # the value that standardises to 0
    np.testing.assert_allclose(est.transform(rows), est.transform(filled), rtol=1e-6, atol=1e-6)


def test_user_encoder_reads_values_alone(tables, one_torch_thread):
    _, X = tables
    seen = []

    class Encoder(torch.nn.Module):
        def __init__(self, n_features):
            super().__init__()
            self.layer = torch.nn.Linear(n_features, 8)

        def forward(self, x):
            seen.append(x.shape[1])
            assert not torch.isnan(x).any()
            return self.layer(x)

    est = quiet_fit(AutoencoderTransformer(n_components=2, encoder=Encoder, **FAST), X)
    assert not est.net_.missing_mask and set(seen) == {X.shape[1]}
    assert np.isfinite(est.transform(X)).all()


def test_scaling_ignores_missing_values(tables):
    X, X_missing = tables
    for data in (X_missing, sp.csr_matrix(X_missing)):
        mean, scale, mode = data_scaling(data, "feature")
        np.testing.assert_allclose(mean, np.nanmean(X_missing, 0), rtol=1e-12)
        np.testing.assert_allclose(scale, np.nanstd(X_missing, 0), rtol=1e-10)
        assert mode == "feature"
    empty = X_missing.copy()
    empty[:, 1] = np.nan  # a feature never observed: mean 0, scale 1
    mean, scale, _ = data_scaling(empty, "feature")
    assert mean[1] == 0 and scale[1] == 1 and np.isfinite(mean).all()


def test_loss_counts_only_observed_entries():
    output = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0, 0.0], [5.0, 5.0, 5.0]])
    observed = torch.tensor([[True, False, True], [False, False, False]])
    loss = reconstruction_loss(output, target, "mse", observed)
    torch.testing.assert_close(loss, torch.tensor([10.0, 0.0]))  # 1 + 9; an empty row costs 0


def test_observed_mask_finds_missing_values_whatever_the_sum():
    """The mask is None only for a batch without NaN, even where its sum is NaN without one."""
    big = torch.tensor([[3e38, torch.inf, -3e38, -torch.inf], [1.0, 2.0, 3.0, 4.0]])
    assert torch.isnan(big.sum())  # +inf meets -inf: the cheap test is inconclusive
    assert observed_mask(big) is None
    assert observed_mask(big[1:] * 2) is None
    gap = big.clone()
    gap[1, 2] = torch.nan
    expected = torch.ones(2, 4, dtype=torch.bool)
    expected[1, 2] = False
    assert torch.equal(observed_mask(gap), expected)


def test_missing_values_become_zero_and_infinities_stay():
    x = torch.tensor([torch.nan, -torch.inf, torch.inf, -0.0, 1.5])
    assert torch.equal(zero_missing_(x.clone()), x.masked_fill(torch.isnan(x), 0.0))
    assert torch.equal(zero_missing_(x.clone()).signbit(), torch.tensor([False, True, False, True, False]))


def test_observed_only_training_differs_from_mean_filling(tables, one_torch_thread):
    _, X = tables
    filled = np.where(np.isnan(X), np.nanmean(X, 0), X)
    a = quiet_fit(AutoencoderTransformer(n_components=2, **FAST), X)
    b = quiet_fit(AutoencoderTransformer(n_components=2, **FAST), filled)
    # same scaling statistics of the observed values, different losses
    np.testing.assert_allclose(a.net_.mean.numpy(), b.net_.mean.numpy(), rtol=1e-6)
    assert not np.allclose(a.loss_curve_, b.loss_curve_)
    # the fitted model's loss does not change with what stands in the missing entries
    x = torch.tensor(X[:50], dtype=torch.float32)
    other = torch.where(torch.isnan(x), torch.tensor(1e3), x)
    loss = a._validation_loss(a.net_, x, None)
    loss_other = reconstruction_loss(a.net_.decode_raw(a.net_.encode(x)), a.net_.target(other),
                                     "mse", ~torch.isnan(x))
    torch.testing.assert_close(loss, loss_other)


def test_rows_with_every_value_missing(tables, one_torch_thread):
    _, X = tables
    rows = np.vstack([X, np.full((2, X.shape[1]), np.nan)])
    ae = quiet_fit(AutoencoderTransformer(n_components=2, **FAST), X)
    codes = ae.transform(rows)
    np.testing.assert_array_equal(codes[-1], codes[-2])  # one code for every empty row
    np.testing.assert_array_equal(codes[-1], codes[7])
    assert np.isfinite(codes).all()
    assert ae.score_samples(rows)[-1] == 0  # no observed error
    vae = quiet_fit(VAEGenerator(n_components=2, **FAST), X)
    score = vae.score_samples(rows)[-1]  # the ELBO of nothing observed: minus the KL
    assert np.isfinite(score) and score <= 0


def test_sparse_and_memmap_inputs_with_missing_values(tables, tmp_path, one_torch_thread):
    _, X = tables
    dense = quiet_fit(AutoencoderTransformer(n_components=2, **FAST), X)
    path = tmp_path / "X.npy"
    np.save(path, X)
    for data in (sp.csr_matrix(X), np.load(path, mmap_mode="r")):
        est = quiet_fit(AutoencoderTransformer(n_components=2, **FAST), data)
        np.testing.assert_allclose(est.transform(data), dense.transform(X), rtol=1e-4, atol=1e-5)


def test_infinity_is_still_rejected(tables):
    X, _ = tables
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        AutoencoderTransformer(**FAST).fit(bad)


def test_fractional_code_and_umap_refuse_missing_values(tables):
    _, X = tables
    with pytest.raises(ValueError, match="missing values"):
        AutoencoderTransformer(n_components=0.8, **FAST).fit(X)
    with pytest.raises(ValueError, match="missing values"):
        AutoencoderTransformer(embedding="umap", **FAST).fit(X)


def _old_standardise(self, x):
    return (x - self.mean).div_(self.scale)


def _old_reconstruction_loss(output, target, kind, observed=None):
    assert observed is None
    if kind == "mse":
        return (output - target).square().sum(1)
    return torch.nn.functional.binary_cross_entropy_with_logits(
        output, target, reduction="none").sum(1)


@pytest.mark.parametrize("name", ["ae", "vae", "conv"])
def test_without_missing_values_nothing_changes(name, tables, monkeypatch, one_torch_thread):
    """Without NaN, every result is bitwise that of the code before missing values existed."""
    X, _ = tables
    new = quiet_fit(MODELS[name](), X)
    assert not new.net_.missing_mask
    monkeypatch.setattr(AutoencoderNet, "standardise", _old_standardise)
    monkeypatch.setattr("skae._autoencoder.reconstruction_loss", _old_reconstruction_loss)
    old = quiet_fit(MODELS[name](), X)
    assert new.loss_curve_ == old.loss_curve_
    for a, b in zip(new.net_.state_dict().values(), old.net_.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(new.transform(X), old.transform(X))
    np.testing.assert_array_equal(new.score_samples(X), old.score_samples(X))


def test_a_model_with_the_mask_saves_and_loads(tables, tmp_path, one_torch_thread):
    from skae import load_model, save_model

    _, X = tables
    est = quiet_fit(AutoencoderTransformer(n_components=2, **FAST), X)
    save_model(est, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.net_.missing_mask
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_configurations_that_need_complete_rows_say_so(tables, one_torch_thread):
    X, X_missing = tables
    for params in ({"n_components": 0.8}, {"n_components": "mle"}, {"embedding": "umap"}):
        est = AutoencoderTransformer(**{**FAST, **params})
        assert not est.__sklearn_tags__().input_tags.allow_nan
        quiet_fit(est, X)
        with pytest.raises(ValueError, match="without missing values"):
            est.transform(X_missing)
    assert AutoencoderTransformer().__sklearn_tags__().input_tags.allow_nan
