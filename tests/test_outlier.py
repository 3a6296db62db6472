"""AutoencoderOutlierDetector: scikit-learn's outlier-detector contract, scores, trimming."""

import pickle

import numpy as np
import pytest
import torch
from conftest import quiet_fit
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import AutoencoderOutlierDetector, AutoencoderTransformer, VAEGenerator
from skae._losses import trimmed_mean

FAST = dict(max_iter=5, batch_size=16, hidden_layer_sizes=(8,), random_state=0)


_DETECTORS = [
    AutoencoderOutlierDetector(AutoencoderTransformer(n_components=2, **FAST)),
    AutoencoderOutlierDetector(VAEGenerator(n_components=2, **FAST), contamination=0.1,
                               trim_fraction=0.1),
]


@parametrize_with_checks(_DETECTORS)
def test_sklearn_compatible_detector(estimator, check):
    check(estimator)


def _blobs(n_normal=240, n_outliers=12, n_features=6, seed=0):
    """Normal rows near a 2-D plane, outliers far off it; the last feature in large units."""
    rng = np.random.RandomState(seed)
    basis = rng.normal(size=(2, n_features))
    normal = rng.normal(size=(n_normal, 2)) @ basis + 0.05 * rng.normal(size=(n_normal, n_features))
    outliers = 3.0 * rng.normal(size=(n_outliers, n_features))
    X = np.vstack([normal, outliers])
    X[:, -1] *= 1000.0
    return X, np.r_[np.zeros(n_normal), np.ones(n_outliers)].astype(bool)


def _detector(**params):
    est = AutoencoderTransformer(n_components=2, hidden_layer_sizes=(16,), max_iter=60,
                                 noise=None, batch_size=32, linear_shortcut=False,
                                 random_state=0)
    return AutoencoderOutlierDetector(est, **params)


@pytest.fixture(scope="module")
def fitted_blobs():
    X, is_outlier = _blobs()
    with torch.random.fork_rng():
        return _detector(contamination=0.05).fit(X), X, is_outlier


def test_follows_isolation_forest_contract(fitted_blobs):
    detector, X, is_outlier = fitted_blobs
    scores = detector.score_samples(X)
    assert roc_auc_score(is_outlier, -scores) > 0.95
    np.testing.assert_allclose(detector.decision_function(X), scores - detector.offset_)
    labels = detector.predict(X)
    np.testing.assert_array_equal(labels, np.where(scores < detector.offset_, -1, 1))
    # the offset is the contamination percentile of the training scores
    assert np.mean(labels == -1) == pytest.approx(0.05, abs=1.0 / len(X))
    assert isinstance(detector.estimator_, AutoencoderTransformer)
    assert detector.estimator_ is not detector.estimator


def test_score_is_computed_in_standardised_units(fitted_blobs):
    detector, X, _ = fitted_blobs
    per_feature = detector.score_samples_per_feature(X)
    np.testing.assert_allclose(per_feature.sum(1), detector.score_samples(X), rtol=1e-10)
    # the last feature is 1000 times larger in its units, not in its share of the score
    share = per_feature.sum(0) / per_feature.sum()
    assert share[-1] < 0.5
    raw_error = -detector.estimator_.score_samples(X)  # data units: the big feature dominates
    raw_last = np.square(X[:, -1] - detector.estimator_.inverse_transform(
        detector.estimator_.transform(X))[:, -1])
    assert np.median(raw_last / raw_error) > 0.9


def test_scores_are_deterministic_and_batch_invariant(fitted_blobs):
    detector, X, _ = fitted_blobs
    full = detector.score_samples(X)
    np.testing.assert_array_equal(detector.score_samples(X), full)
    np.testing.assert_array_equal(detector.score_samples(X[::-1])[::-1], full)
    np.testing.assert_array_equal(detector.score_samples(X[5:6]), full[5:6])


def test_explanations_point_at_the_changed_feature(fitted_blobs):
    detector, X, is_outlier = fitted_blobs
    rows = X[~is_outlier][:20].copy()
    rows[:, 2] += 5 * X[:, 2].std()
    per_feature = detector.score_samples_per_feature(rows)
    assert np.all(np.argmin(per_feature, axis=1) == 2)


def test_auto_contamination_uses_tukeys_fence_of_held_out_scores():
    X, is_outlier = _blobs(seed=1)
    detector = _detector().fit(X)
    held_out = detector.estimator_._validation_rows
    assert len(held_out) == int(np.ceil(0.1 * len(X)))
    q1, q3 = np.percentile(detector.score_samples(X[held_out]), [25, 75])
    assert detector.offset_ == pytest.approx(q1 - 3.0 * (q3 - q1))
    labels = detector.predict(X)
    assert np.mean(labels[is_outlier] == -1) > 0.9
    assert np.mean(labels[~is_outlier] == -1) < 0.1


def test_vae_scores_by_its_likelihood():
    X, is_outlier = _blobs(seed=2)
    vae = VAEGenerator(n_components=2, hidden_layer_sizes=(16,), max_iter=40, batch_size=32,
                       random_state=0)
    detector = AutoencoderOutlierDetector(vae).fit(X)
    scores = detector.score_samples(X)
    np.testing.assert_array_equal(scores, detector.estimator_.score_samples(X))
    np.testing.assert_allclose(detector.score_samples_per_feature(X).sum(1), scores, rtol=1e-9)
    assert roc_auc_score(is_outlier, -scores) > 0.8


def test_trimmed_mean_leaves_out_the_largest_losses():
    losses = torch.tensor([1.0, 2.0, 3.0, 100.0], requires_grad=True)
    value = trimmed_mean(losses, 0.25)
    assert float(value) == pytest.approx(2.0)
    value.backward()
    np.testing.assert_allclose(losses.grad.numpy(), [1 / 3, 1 / 3, 1 / 3, 0.0])
    assert float(trimmed_mean(losses, 0.2)) == pytest.approx(26.5)  # rounds down to no row


def test_trimmed_training_ignores_outliers():
    """Trained on contaminated rows, the trimmed loss reconstructs the outliers worse."""
    X, is_outlier = _blobs(n_outliers=24, seed=3)
    plain = _detector().fit(X)
    trimmed = _detector(trim_fraction=0.1).fit(X)
    auc_plain = roc_auc_score(is_outlier, -plain.score_samples(X))
    auc_trimmed = roc_auc_score(is_outlier, -trimmed.score_samples(X))
    assert auc_trimmed >= auc_plain
    assert np.median(trimmed.score_samples(X[is_outlier])) < np.median(
        plain.score_samples(X[is_outlier]))


def test_trim_fraction_is_validated_by_fit():
    X, _ = _blobs(n_normal=40, n_outliers=0)
    est = AutoencoderTransformer(**FAST)
    with pytest.raises(ValueError, match=r"trim_fraction must be a float in \[0, 0.5\); got 0.5"):
        est.fit(X, trim_fraction=0.5)
    assert not hasattr(est, "net_")
    with pytest.raises(ValueError, match="trim_fraction"):
        AutoencoderOutlierDetector(trim_fraction=-0.1).fit(X)


def test_rejects_an_estimator_that_is_not_skaes():
    with pytest.raises(ValueError, match="estimator"):
        AutoencoderOutlierDetector(StandardScaler()).fit(np.ones((10, 2)))


def test_default_estimator_is_an_autoencoder_without_the_linear_shortcut():
    X, _ = _blobs(n_normal=40, n_outliers=0)
    detector = quiet_fit(AutoencoderOutlierDetector(), X)
    assert type(detector.estimator_) is AutoencoderTransformer
    expected = AutoencoderTransformer(linear_shortcut=False).get_params()
    assert detector.estimator_.get_params() == expected
    assert detector.estimator_.net_.shortcut_in is None


def test_pipeline_grid_search_clone_and_pickle():
    X, is_outlier = _blobs(seed=4)
    y = np.where(is_outlier, -1, 1)
    pipe = make_pipeline(StandardScaler(), _detector(contamination=0.05))
    search = GridSearchCV(
        pipe, {"autoencoderoutlierdetector__estimator__n_components": [1, 2]},
        scoring="roc_auc", cv=StratifiedKFold(2, shuffle=True, random_state=0),
    ).fit(X, y)
    assert search.best_score_ > 0.9
    best = search.best_estimator_
    np.testing.assert_array_equal(best.predict(X), best.fit_predict(X))
    restored = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(restored.decision_function(X), best.decision_function(X))
    unfitted = clone(best[-1])
    assert not hasattr(unfitted, "estimator_")


def _far_out_on_the_plane(seed=5):
    """Normal rows on a 2-D plane; outliers on the same plane, 3 standard deviations out."""
    rng = np.random.RandomState(seed)
    basis = rng.normal(size=(2, 6))
    normal = rng.normal(size=(240, 2)) @ basis + 0.05 * rng.normal(size=(240, 6))
    directions = rng.normal(size=(12, 2))
    far = (3.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)) @ basis
    return np.vstack([normal, far]), np.r_[np.zeros(240), np.ones(12)].astype(bool)


def test_combined_statistic_flags_rows_far_out_on_the_manifold():
    X, is_outlier = _far_out_on_the_plane()
    combined = _detector().fit(X)
    reconstruction = _detector(statistic="reconstruction").fit(X)
    spe, t2 = combined._scorer.statistics(X)
    scorer = combined._scorer
    np.testing.assert_allclose(combined.score_samples(X),
                               -np.maximum(spe / scorer.spe_limit, t2 / scorer.t2_limit))
    np.testing.assert_allclose(reconstruction.score_samples(X),
                               -spe / reconstruction._scorer.spe_limit, rtol=1e-12)
    auc_combined = roc_auc_score(is_outlier, -combined.score_samples(X))
    auc_reconstruction = roc_auc_score(is_outlier, -reconstruction.score_samples(X))
    assert auc_combined > 0.95 > auc_reconstruction
    # the rows set by T2 are explained by the features their reconstruction is extreme in
    parts = combined.score_samples_per_feature(X)
    np.testing.assert_allclose(parts.sum(1), combined.score_samples(X), rtol=1e-10)


def _with_missing(X, fraction, seed, keep=()):
    """A copy of ``X`` with about ``fraction`` of its entries NaN (none in rows ``keep``)."""
    X = X.copy()
    hide = np.random.RandomState(seed).rand(*X.shape) < fraction
    hide[list(keep)] = False
    X[hide] = np.nan
    return X


@pytest.mark.parametrize("model", ["autoencoder", "vae"])
def test_missing_values_are_scored_from_the_observed_entries(model):
    X, is_outlier = _blobs()
    X_missing = _with_missing(X, 0.2, seed=1)
    if model == "vae":
        est = VAEGenerator(n_components=2, hidden_layer_sizes=(16,), max_iter=60,
                           batch_size=32, random_state=0)
        detector = AutoencoderOutlierDetector(est, contamination=0.05)
    else:
        detector = _detector(contamination=0.05)
    with torch.random.fork_rng():
        detector = quiet_fit(detector, X_missing)
    assert detector.__sklearn_tags__().input_tags.allow_nan
    scores = detector.score_samples(X_missing)
    assert np.isfinite(scores).all()
    # measured: 0.95 for the autoencoder, 0.86 for the VAE (0.98 on complete rows)
    assert roc_auc_score(is_outlier, -scores) > (0.9 if model == "autoencoder" else 0.8)
    parts = detector.score_samples_per_feature(X_missing)
    np.testing.assert_allclose(parts.sum(1), scores, rtol=1e-6, atol=1e-9)
    assert (parts[np.isnan(X_missing)] == 0).all()
    # a row is scored the same whatever else is missing in its batch
    np.testing.assert_array_equal(detector.score_samples(X_missing[5:6]), scores[5:6])


def test_outliers_with_missing_entries_stay_outliers_for_a_model_fitted_on_complete_rows():
    X, is_outlier = _blobs()
    with torch.random.fork_rng():
        detector = _detector(statistic="reconstruction").fit(X)
    X_hidden = _with_missing(X, 0.3, seed=2)
    # SPE counts the observed entries times n_features / n_observed: an
    # outlier's SPE does not shrink with the entries it lacks
    assert roc_auc_score(is_outlier, -detector.score_samples(X_hidden)) > 0.95
    assert (detector.predict(X_hidden)[is_outlier] == -1).mean() > 0.8


def test_missing_values_are_refused_where_the_estimator_refuses_them():
    X, _ = _blobs()
    detector = AutoencoderOutlierDetector(
        AutoencoderTransformer(n_components=0.9, max_iter=2, random_state=0))
    assert not detector.__sklearn_tags__().input_tags.allow_nan
    with pytest.raises(ValueError, match="fraction of the variance"):
        detector.fit(_with_missing(X, 0.1, seed=0))
    assert not hasattr(detector, "estimator_")
    with torch.random.fork_rng():
        quiet_fit(detector, X)
    with pytest.raises(ValueError, match="fraction of the variance"):
        detector.score_samples(_with_missing(X, 0.1, seed=0))
