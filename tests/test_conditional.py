"""Tests of the conditional VAEGenerator and of the sampler="mixture" option."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import assert_same_weights, quiet_fit
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from skae import VAEGenerator
from skae._generative import _MAX_DRAWS_PER_ROW, _MIN_MIXTURE_CODES, posterior_draws
from skae.persistence import load_model, save_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def cvae(**params):
    params = {"n_components": 4, "hidden_layer_sizes": (32,), "max_iter": 8,
              "batch_size": 64, "learning_rate": 1e-3, "conditional": True,
              "random_state": 0, **params}
    return VAEGenerator(**params)


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:600], y[:600]


@pytest.fixture(scope="module")
def fitted(data):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return quiet_fit(cvae(), *data)


# ---------------------------------------------------------------- fitting
def test_y_is_ignored_exactly_without_conditional(data):
    X, y = data
    a = quiet_fit(cvae(conditional=False), X, y)
    b = quiet_fit(cvae(conditional=False), X)
    assert_same_weights(a, b)
    assert not hasattr(a, "classes_")
    assert a.transform(X).tobytes() == b.transform(X).tobytes()
    assert a.sample(5, random_state=0).tobytes() == b.sample(5, random_state=0).tobytes()


def test_conditional_needs_y(data):
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        cvae().fit(data[0])


def test_tags_say_whether_y_is_required():
    assert cvae().__sklearn_tags__().target_tags.required
    assert not cvae(conditional=False).__sklearn_tags__().target_tags.required


def test_string_labels_classes_and_frequencies(data):
    X, y = data
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])[y]
    est = quiet_fit(cvae(max_iter=2), X, names)
    assert list(est.classes_) == sorted(set(names))
    assert est.sample(3, random_state=0, y="seven").shape == (3, 64)
    with pytest.raises(ValueError, match="'ten'"):
        est.sample(2, y="ten")
    with pytest.raises(ValueError, match="1 labels, but sample got 2"):
        est.sample(2, y=["one"])
    np.testing.assert_allclose(
        est.net_.log_prior.exp().numpy(),
        np.array([np.mean(names == c) for c in est.classes_]), rtol=1e-6)


def test_labels_drawn_with_training_frequencies(data):
    X, y = data
    keep = (y == 0) | (y == 1) & (np.arange(len(y)) % 4 == 0)  # about 4:1
    est = quiet_fit(cvae(max_iter=1), X[keep], y[keep])
    gen = torch.Generator().manual_seed(0)
    codes, _, _ = est._draw(gen, 20000, None, None)
    share = np.mean(codes == 0)
    assert abs(share - np.mean(y[keep] == 0)) < 0.015


# ----------------------------------------------------------------- using
def test_transform_needs_no_labels_and_pipelines_work(data, fitted):
    X, y = data
    assert fitted.transform(X[:7]).shape == (7, 4)
    pipe = make_pipeline(clone(fitted), LogisticRegression(max_iter=500))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "Posterior collapse")
        scores = cross_val_score(pipe, X, y, cv=2)
    # codes keep what tells digits apart: far above the 0.1 of chance (a conditional
    # model leaves some of it to the label the decoder reads)
    assert scores.mean() > 0.3


def test_decoder_obeys_the_label(digits):
    X, y = digits
    est = quiet_fit(cvae(max_iter=40, hidden_layer_sizes=(128,), n_components=8), X, y)
    clf = LogisticRegression(max_iter=2000).fit(X, y)
    labels = np.repeat(est.classes_, 30)
    accuracy = np.mean(clf.predict(est.sample(len(labels), random_state=0, y=labels)) == labels)
    assert accuracy > 0.6, accuracy  # chance is 0.1


def test_inverse_transform_labels(data, fitted):
    X, y = data
    Z = fitted.transform(X[:5])
    with pytest.raises(ValueError, match="needs the class labels y"):
        fitted.inverse_transform(Z)
    one = fitted.inverse_transform(Z, y=3)
    np.testing.assert_array_equal(one, fitted.inverse_transform(Z, y=np.full(5, 3)))
    other = fitted.inverse_transform(Z, y=np.full(5, 8))
    assert not np.allclose(one, other)
    with pytest.raises(ValueError, match="label 12"):
        fitted.inverse_transform(Z, y=12)
    plain = quiet_fit(cvae(conditional=False, max_iter=1), X)
    with pytest.raises(ValueError, match="conditional=False"):
        plain.inverse_transform(plain.transform(X[:2]), y=[0, 1])
    with pytest.raises(ValueError, match="conditional=False"):
        plain.sample(2, y=0)


def test_marginal_score_is_the_logsumexp_over_classes(data, fitted):
    X, y = data
    X = X[:40]
    log_prior = np.log(fitted._class_counts / fitted._class_counts.sum())
    for k in (1, 3):
        per_class = np.stack([fitted.score_samples(X, c, n_importance_samples=k)
                              for c in fitted.classes_], 1)
        marginal = fitted.score_samples(X, n_importance_samples=k)
        np.testing.assert_allclose(marginal, logsumexp(per_class + log_prior, 1), rtol=1e-10)
    given = fitted.score_samples(X, y[:40])
    np.testing.assert_array_equal(given, per_class_at(fitted, X, y[:40]))
    assert fitted.score(X, y[:40]) == pytest.approx(given.mean())
    # scores do not depend on the rows scored with them
    np.testing.assert_array_equal(fitted.score_samples(X[5:9], y[5:9]), given[5:9])


def per_class_at(est, X, y):
    return np.array([est.score_samples(X[i:i + 1], y[i:i + 1])[0] for i in range(len(X))])


# ------------------------------------------------------------- structure
def test_warm_start_checks_classes_and_flag(data, fitted):
    X, y = data
    est = clone(fitted).set_params(warm_start=True)
    quiet_fit(est, X, y)
    before = pickle.dumps(est)
    with pytest.raises(ValueError, match=r"y holds the classes \[0, 1, 2\]"):
        quiet_fit(est, X[y < 3], y[y < 3])
    est.set_params(conditional=False)
    with pytest.raises(ValueError, match="conditional=False does not describe"):
        quiet_fit(est, X)
    est.set_params(conditional=True)
    assert pickle.dumps(est) == before  # failed calls change nothing


def test_partial_fit_keeps_the_classes(data):
    X, y = data
    est = cvae()
    est.partial_fit(X, y)
    est.partial_fit(X[y < 3], y[y < 3])  # a chunk with some of the classes
    assert list(est.classes_) == list(range(10))
    assert est._class_counts.sum() == len(X) + np.sum(y < 3)
    with pytest.raises(ValueError, match="label 10"):
        est.partial_fit(X[:4], [10, 0, 1, 2])


def test_pickle_and_save_model_round_trip(data, fitted, tmp_path):
    X, y = data
    for twin in (pickle.loads(pickle.dumps(fitted)), load_model(save_model(fitted, tmp_path))):
        np.testing.assert_array_equal(twin.classes_, fitted.classes_)
        assert twin.transform(X[:9]).tobytes() == fitted.transform(X[:9]).tobytes()
        np.testing.assert_array_equal(twin.score_samples(X[:9]), fitted.score_samples(X[:9]))
        np.testing.assert_array_equal(twin.sample(4, random_state=1, y=2),
                                      fitted.sample(4, random_state=1, y=2))


def test_convolutional_conditional(data):
    X, y = data
    est = quiet_fit(cvae(input_shape=(1, 8, 8), conv_channels=(4, 8), max_iter=2), X, y)
    assert est.transform(X[:3]).shape == (3, 4)
    assert est.sample(3, random_state=0, y=[1, 2, 3]).shape == (3, 64)
    assert est.inverse_transform(est.transform(X[:3]), y[:3]).shape == (3, 64)


def test_custom_decoder_reads_code_and_label(data):
    X, y = data
    seen = {}

    def decoder(n_components, n_features):
        seen["width"] = n_components
        return torch.nn.Linear(n_components, n_features)

    quiet_fit(cvae(decoder=decoder, max_iter=1), X, y)
    assert seen["width"] == 4 + 10


# ----------------------------------------------------------------- sampler
def test_mixture_sampler_draws_like_the_training_codes(data):
    X, y = data
    est = quiet_fit(cvae(conditional=False, sampler="mixture", max_iter=20), X)
    x = torch.as_tensor(X - est.net_.input_shift.numpy(), dtype=torch.float32)  # as inference
    with torch.no_grad():
        stats = torch.cat(est.net_.posterior(x), 1)
    # the codes are draws of each row's posterior (the aggregated posterior),
    # several of each on a small table
    rng = np.random.RandomState(est._seed % 2**32)
    n_draws = min(_MAX_DRAWS_PER_ROW, -(-_MIN_MIXTURE_CODES // len(X)))
    codes = np.concatenate([posterior_draws(stats.double().numpy(), rng)
                            for _ in range(n_draws)])
    gen = torch.Generator().manual_seed(0)
    _, z, _ = est._draw(gen, 20000, None, None)
    z = z.numpy()
    np.testing.assert_allclose(z.mean(0), codes.mean(0), atol=0.05)
    np.testing.assert_allclose(np.cov(z.T), np.cov(codes.T), atol=0.05)
    prior = quiet_fit(clone(est).set_params(sampler="prior"), X)
    assert_same_weights(est, prior)  # the sampler does not change training
    assert not np.allclose(est.sample(5, random_state=0), prior.sample(5, random_state=0))
    np.testing.assert_array_equal(est.sample(5, random_state=0), est.sample(5, random_state=0))


def test_mixture_fits_on_one_thread_whatever_the_caller_allows(data, monkeypatch):
    # Many BLAS threads on busy cores make the small products of a mixture fit
    # many times slower; one thread also makes the mixture independent of the
    # caller's thread settings.
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_info, threadpool_limits

    seen, fit = [], GaussianMixture.fit

    def recording_fit(self, X, y=None):
        seen.append({i["user_api"]: i["num_threads"] for i in threadpool_info()})
        return fit(self, X, y)

    monkeypatch.setattr(GaussianMixture, "fit", recording_fit)
    X, _ = data
    samples = []
    for limit in (1, 2):  # BLAS only: torch's threads, and so the network, stay as they are
        with threadpool_limits(limits=limit, user_api="blas"):
            est = quiet_fit(cvae(conditional=False, max_iter=2), X)
        samples.append(est.sample(5, random_state=0))
    assert seen and all(set(threads.values()) == {1} for threads in seen)
    np.testing.assert_array_equal(*samples)


def test_onnx_export_computes_the_label_free_transform(data, fitted):
    pytest.importorskip("skl2onnx")  # the onnx extra
    ort = pytest.importorskip("onnxruntime")
    from skl2onnx import to_onnx

    import skae.onnx  # noqa: F401  (registers the converters)

    X = data[0][:50].astype(np.float32)
    session = ort.InferenceSession(to_onnx(fitted, X[:1]).SerializeToString())
    codes = session.run(None, {session.get_inputs()[0].name: X})[0]
    np.testing.assert_allclose(codes, fitted.transform(X), atol=1e-5)


def test_scores_of_sparse_and_memory_mapped_rows_match_dense(data, fitted, tmp_path):
    X, y = data
    rows = X[:40]
    dense = fitted.score_samples(rows)
    np.testing.assert_array_equal(fitted.score_samples(sp.csr_matrix(rows)), dense)
    path = tmp_path / "rows.npy"
    np.save(path, rows)
    np.testing.assert_array_equal(fitted.score_samples(np.load(path, mmap_mode="r")), dense)
    given = fitted.score_samples(rows, y=y[:40])
    np.testing.assert_array_equal(fitted.score_samples(sp.csr_matrix(rows), y=y[:40]), given)
    # the marginal mixes the per-class scores with the class prior
    per_class = np.stack([fitted.score_samples(rows, y=np.full(40, c))
                          for c in fitted.classes_], 1)
    prior = fitted._class_counts / fitted._class_counts.sum()
    np.testing.assert_allclose(dense, np.log((np.exp(per_class) * prior).sum(1)), rtol=1e-10)
def test_posterior_draws_spread_as_the_posteriors_do():
    rng = np.random.RandomState(0)
    stats = np.hstack([np.full((40000, 1), 2.0), np.full((40000, 1), np.log(0.25))])
    draws = posterior_draws(stats, rng)
    assert draws.shape == (40000, 1)
    assert abs(draws.mean() - 2.0) < 0.01 and abs(draws.std() - 0.5) < 0.01
