"""Ordered codes, n_components as a fraction of variance, explained_variance_ratio_."""


import re

import numpy as np
import pytest
from conftest import quiet_fit
from sklearn.base import clone
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer
from skae._ordered import FULL_CODE_WEIGHT

FAST = dict(hidden_layer_sizes=(64,), max_iter=40, random_state=0)


def prefix_errors(est, X, ks):
    """Errors of the reconstructions from the first k components (the rest zero)."""
    Z = est.transform(X)
    errors = []
    for k in ks:
        padded = np.hstack([Z[:, :k], np.zeros((len(X), Z.shape[1] - k))])
        errors.append(((X - est.inverse_transform(padded)) ** 2).sum(1).mean())
    return errors


def held_out_pca_r2(X, k, folds=5):
    """R² of PCA(k) on held-out rows: fitted on the other folds (rows i % folds)."""
    X = (X - X.mean(0)) / np.sqrt(X.var(0).mean())  # one scale, as for pixels
    sse = sst = 0.0
    for fold in range(folds):
        test, train = X[np.arange(len(X)) % folds == fold], X[np.arange(len(X)) % folds != fold]
        pca = PCA(k, svd_solver="full").fit(train)
        sse += ((test - pca.inverse_transform(pca.transform(test))) ** 2).sum()
        sst += ((test - train.mean(0)) ** 2).sum()
    return 1 - sse / sst


@pytest.fixture(scope="module")
def ordered_and_plain(digits):
    X = digits[0][:1200]
    ordered = quiet_fit(AutoencoderTransformer(8, ordered=True, **FAST), X)
    plain = quiet_fit(AutoencoderTransformer(8, **FAST), X)
    return X, ordered, plain


def test_prefixes_of_an_ordered_code_are_codes(ordered_and_plain, one_torch_thread):
    X, ordered, plain = ordered_and_plain
    errs_ordered = prefix_errors(ordered, X, [1, 2, 4, 8])
    errs_plain = prefix_errors(plain, X, [1, 2, 4, 8])
    assert np.all(np.diff(errs_ordered) < 0)  # every added component helps
    # a plain code's prefixes are poor; the ordered code's are good
    assert errs_ordered[1] < 0.8 * errs_plain[1] and errs_ordered[2] < 0.8 * errs_plain[2]


def test_explained_variance_ratio_reads_like_pcas(ordered_and_plain):
    X, ordered, plain = ordered_and_plain
    evr = ordered.explained_variance_ratio_
    assert evr.shape == (8,) and not hasattr(plain, "explained_variance_ratio_")
    cum = np.cumsum(evr)
    assert 0 < cum[0] and cum[-1] < 1 and cum[-1] > 0.6
    # it is the reconstructed fraction of variance of the held-out rows
    est = clone(ordered).set_params(early_stopping=False)
    est = quiet_fit(est, X)
    Z = est.transform(X)
    rec = est.inverse_transform(Z[:, :4])
    scale = est.net_.scale.numpy()
    r2 = 1 - (((X - rec) / scale) ** 2).sum() / (((X - est.net_.mean.numpy() - est.net_.input_shift.numpy()) / scale) ** 2).sum()
    assert np.cumsum(est.explained_variance_ratio_)[3] == pytest.approx(r2, abs=1e-4)


def test_fraction_keeps_the_smallest_prefix_that_reaches_it(digits, one_torch_thread):
    X = digits[0][:1200]
    est = quiet_fit(AutoencoderTransformer(0.7, **FAST), X)
    width = est._spec.n_components
    # as wide as PCA needs to reach the fraction on held-out rows (5-fold)
    assert held_out_pca_r2(X, width) >= 0.7 > held_out_pca_r2(X, width - 1)
    assert width >= PCA(0.7, svd_solver="full").fit(X).n_components_
    k = est.n_components_
    cum = np.cumsum(est.explained_variance_ratio_)
    assert len(cum) == k and cum[-1] >= 0.7 and (k == 1 or cum[-2] < 0.7)
    assert k <= width
    assert est.transform(X).shape == (len(X), k)
    assert len(est.get_feature_names_out()) == k
    assert est.inverse_transform(est.transform(X)[:, :2]).shape == X.shape
    scores = est.score_samples(X)
    np.testing.assert_allclose(
        -scores, ((X - est.inverse_transform(est.transform(X))) ** 2).sum(1), rtol=1e-5
    )


def test_integer_n_components_sets_n_components_(digits):
    est = quiet_fit(AutoencoderTransformer(3, hidden_layer_sizes=(8,), max_iter=2), digits[0])
    assert est.n_components_ == 3


@pytest.mark.parametrize(
    "params, match",
    [({"n_components": 1.5}, "n_components"), ({"n_components": 0.0}, "n_components"),
     ({"n_components": 0.9, "ordered": False}, r"n_components=0.9 .*ordered=False"),
     ({"ordered": "yes"}, "ordered")],
)
def test_bad_fraction_or_ordered(params, match, digits):
    with pytest.raises(ValueError, match=match):
        AutoencoderTransformer(**{"hidden_layer_sizes": (8,), "max_iter": 2, **params}).fit(
            digits[0][:100])


def test_prefix_wider_than_the_code_is_refused(ordered_and_plain):
    X, ordered, plain = ordered_and_plain
    with pytest.raises(ValueError, match="expects at most 8 components"):
        ordered.inverse_transform(np.zeros((2, 9)))
    with pytest.raises(ValueError, match="expects 8 components"):
        plain.inverse_transform(np.zeros((2, 4)))  # a plain code has no usable prefixes


def test_ordered_codes_with_partial_fit_and_warm_start(digits):
    X = digits[0][:600]
    est = AutoencoderTransformer(0.6, hidden_layer_sizes=(32,), random_state=0)
    for chunk in np.array_split(X, 3):
        est.partial_fit(chunk)
    assert est.n_iter_ == 3 and len(est.explained_variance_ratio_) == est.n_components_
    warm = AutoencoderTransformer(0.6, hidden_layer_sizes=(32,), max_iter=3, warm_start=True,
                                  random_state=0)
    quiet_fit(warm, X)
    width = warm._spec.n_components
    quiet_fit(warm, X[::-1][:100])  # a warm start keeps the fitted width
    assert warm._spec.n_components == width and warm.n_iter_ == 6


def test_code_penalty_adds_to_the_ordered_objective(digits):
    X = digits[0][:300]
    est = AutoencoderTransformer(4, ordered=True, code_penalty="l2", code_penalty_weight=0.1,
                                 hidden_layer_sizes=(16,), max_iter=2, random_state=0).fit(X)
    for r in est.history_:
        expected = (FULL_CODE_WEIGHT * r["reconstruction"] + r["prefix_reconstruction"]
                    + 0.1 * r["code_penalty"])
        assert r["loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("params, ceiling", [
    ({"max_iter": 2}, r"training is the ceiling.*noise_level=0.5.*max_iter=2 epochs: pass a "
                      "larger max_iter"),
    ({"validation_fraction": 0.02, "hidden_layer_sizes": (8,), "max_iter": 2},
     r"the width, chosen by cross-validated PCA, is the ceiling\. Pass an int n_components > "
     r"\d+ \(up to n_features=64\)"),
])
def test_a_missed_fraction_names_its_ceiling_and_the_parameter_to_move(digits, params, ceiling):
    X = digits[0][:600]
    # loss="bce": a code whose logits the principal components cannot stand in for
    est = AutoencoderTransformer(0.97, random_state=0, loss="bce",
                                 **{"hidden_layer_sizes": (16,), **params})
    with pytest.warns(UserWarning, match="reconstructs -?\\d+\\.\\d+ of the held-out variance, less "
                                         "than n_components=0.97; keeping all") as record:
        est.fit(X)
    message = " ".join(str(w.message) for w in record if "ordered code" in str(w.message))
    assert re.search(ceiling, message), message
    assert "pass" in message.split("PCA with as many components")[1].lower()


def test_a_fraction_that_pca_reaches_is_reached_on_a_small_table():
    from sklearn.datasets import load_wine

    X = load_wine().data  # 178 rows: too few for the network to generalise as PCA does
    est = AutoencoderTransformer(0.95, hidden_layer_sizes=(32,), max_iter=20, random_state=0)
    with pytest.warns(UserWarning, match="Kept instead the linear code of the principal "
                                         "components"):
        est.fit(X)
    # the held-out rows' variance reached, and the prefixes still add up as PCA's do
    assert np.sum(est.explained_variance_ratio_) >= 0.95
    assert np.all(est.explained_variance_ratio_ > 0)
    assert est.n_components_ <= X.shape[1]
    held_out = X[np.sort(est._validation_rows)]
    train = np.delete(X, est._validation_rows, axis=0)
    mean, std = X.mean(0), X.std(0)
    pca = PCA(est.n_components_).fit((train - mean) / std)
    Z = est.transform(held_out)[:, :est.n_components_]
    np.testing.assert_allclose(np.abs(Z), np.abs(pca.transform((held_out - mean) / std)),
                               atol=1e-3)
    rec = est.inverse_transform(Z)
    r2 = 1 - ((held_out - rec) / std).var(0).sum() / ((held_out - mean) / std).var(0).sum()
    assert r2 > 0.9


def test_mle_guesses_the_width_as_pca_does():
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler

    X = load_wine().data
    est = quiet_fit(AutoencoderTransformer("mle", hidden_layer_sizes=(16,), max_iter=2,
                                           random_state=0), X)
    expected = PCA("mle", svd_solver="full").fit(StandardScaler().fit_transform(X)).n_components_
    assert est.n_components_ == expected and est.transform(X).shape == (len(X), expected)
    with pytest.raises(ValueError, match="n_components='mle' needs at least as many rows"):
        AutoencoderTransformer("mle", max_iter=1).fit(X[:5])
