"""scikit-learn's own estimator checks, over several configurations."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import AutoencoderTransformer

FAST = dict(max_iter=5, batch_size=16, hidden_layer_sizes=(8,), random_state=0)

ESTIMATORS = [
    AutoencoderTransformer(n_components=2, **FAST),
    AutoencoderTransformer(
        n_components=3, noise="mask", noise_level=0.2, code_penalty="l1",
        early_stopping=False, **FAST,
    ),
    AutoencoderTransformer(
        n_components=1, hidden_layer_sizes=(), noise=None, code_penalty="l2",
        learning_rate_schedule="onecycle", optimizer="sgd", learning_rate=1e-2,
        max_iter=5, batch_size=16, random_state=0,
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
