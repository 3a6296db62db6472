"""What is worked out after training: over every partial_fit chunk, from fitted state only, kept on Ctrl-C."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from skae import AutoencoderTransformer, VAEGenerator
from skae._ordered import ordered_components
from skae._reservoir import update_reservoir


def test_the_reservoir_is_a_uniform_sample_of_every_chunk():
    X = np.arange(10000, dtype=float)[:, None]
    labels = np.arange(10000) % 7
    counts = np.zeros(10000)
    for trial in range(20):
        state = None
        for c, lo in enumerate(range(0, 10000, 2500)):
            state = update_reservoir(state, X[lo:lo + 2500], labels[lo:lo + 2500],
                                     seed=trial * 10 + c, capacity=500)
        rows = state["rows"].numpy().ravel().astype(int)
        assert len(rows) == 500 and len(set(rows)) == 500 and state["seen"] == 10000
        np.testing.assert_array_equal(state["labels"].numpy(), labels[rows])
        counts[rows] += 1
    # each quarter of the data holds a quarter of the sample (20 x 500 draws)
    shares = counts.reshape(4, -1).sum(1) / counts.sum()
    np.testing.assert_allclose(shares, 0.25, atol=0.03)


def test_the_vae_sampler_is_fitted_to_every_chunk(digits):
    X, y = digits
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    vae = VAEGenerator(n_components=4, hidden_layer_sizes=(32,), random_state=0)
    chunks = np.array_split(np.arange(len(X)), 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for chunk in chunks:
            vae.partial_fit(X[chunk])
    rows = vae._reservoir_rows.numpy()
    assert sorted(map(tuple, rows)) == sorted(map(tuple, X))  # fewer rows than it holds
    codes = vae.transform(X)
    first, last = codes[chunks[0]], codes[chunks[-1]]
    # the sampler's mixture explains the first chunk's codes as well as the last's
    draws = vae._draw(torch.Generator().manual_seed(0), 4000, None, None)[1].numpy()
    nearest = KNeighborsClassifier(1).fit(codes, y).predict(draws)
    share_first, share_last = np.isin(nearest, [0, 1]).mean(), np.isin(nearest, [7, 8, 9]).mean()
    # classes 0 and 1 (the first chunk) are 20 % of the rows: a sampler fitted to the last
    # chunk alone draws next to none near them
    assert share_first > 0.05, (share_first, share_last)
    assert share_last < 0.5, (share_first, share_last)
    assert np.linalg.norm(first.mean(0) - last.mean(0)) > 0  # the chunks' codes differ


def test_ordered_variance_is_measured_on_every_chunk(digits):
    X = digits[0]
    ae = AutoencoderTransformer(n_components=6, ordered=True, hidden_layer_sizes=(32,),
                                random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for chunk in np.array_split(np.arange(len(X)), 3):
            ae.partial_fit(X[chunk])
    # fewer rows than the reservoir holds: it is every row seen
    rows = ae._reservoir_rows.numpy()
    assert sorted(map(tuple, rows)) == sorted(map(tuple, X))
    _, ratio, _ = ordered_components(ae.net_, rows, np.arange(len(rows)), ae.device_, None)
    np.testing.assert_allclose(ae.explained_variance_ratio_, ratio)
    _, last_only, _ = ordered_components(ae.net_, X[-599:], np.arange(599), ae.device_, None)
    assert not np.allclose(ae.explained_variance_ratio_, last_only)
    assert torch.is_tensor(ae._reservoir_rows)


def test_ordered_accepts_numpy_booleans(small_digits):
    X = small_digits[0]
    params = dict(n_components=4, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae = AutoencoderTransformer(ordered=np.True_, **params).fit(X)
        plain = AutoencoderTransformer(ordered=np.False_, **params).fit(X)
    assert ae.explained_variance_ratio_.shape == (4,)
    assert not hasattr(plain, "explained_variance_ratio_")


def test_scores_read_the_fitted_importance_samples(small_digits):
    X = small_digits[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae = VAEGenerator(n_components=2, hidden_layer_sizes=(16,), max_iter=2,
                           random_state=0).fit(X)
    before = vae.score(X)
    vae.set_params(n_importance_samples=50)
    assert vae.score(X) == before
    assert vae.score_samples(X, n_importance_samples=50).mean() != before


def test_a_huge_code_samples_from_the_prior_with_a_warning(small_digits):
    X = small_digits[0][:10]
    vae = VAEGenerator(n_components=20_000, hidden_layer_sizes=(4,), max_iter=1,
                       early_stopping=False, random_state=0)
    with pytest.warns(UserWarning, match=r"from the prior N\(0, I\) instead"):
        vae.fit(X)
    assert np.isfinite(vae.sample(3, random_state=0)).all()


@pytest.mark.parametrize("cls, step", [(VAEGenerator, "_fit_sampler"),
                                       (AutoencoderTransformer, "_after_fit")])
def test_ctrl_c_after_training_keeps_the_trained_network(small_digits, monkeypatch, cls, step):
    X = small_digits[0]
    params = dict(n_components=3, hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    if cls is AutoencoderTransformer:
        params["ordered"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = cls(**params).fit(X)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    est = cls(**params)
    monkeypatch.setattr(est, step, interrupt)
    with pytest.warns(UserWarning, match="keeping the trained network"):
        est.fit(X)
    monkeypatch.undo()
    assert est.interrupted_ and est.n_iter_ == reference.n_iter_
    np.testing.assert_array_equal(est.transform(X), reference.transform(X))
    assert np.isfinite(est.inverse_transform(est.transform(X[:5]))).all()
    if cls is VAEGenerator:
        assert np.isfinite(est.sample(4, random_state=0)).all()
    else:
        assert est.n_components_ == 3 and not hasattr(est, "explained_variance_ratio_")
