"""scikit-learn's own estimator checks, over every configuration worth checking."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import AutoencoderImputer, AutoencoderTransformer, VAEGenerator

FAST = dict(max_iter=5, batch_size=16, hidden_layer_sizes=(8,), random_state=0)
CONV = dict(max_iter=3, batch_size=16, conv_channels=(4, 8), random_state=0)

ESTIMATORS = [
    AutoencoderTransformer(n_components=2, **FAST),
    AutoencoderTransformer(
        n_components=3, noise="mask", noise_level=0.2, code_penalty="l1",
        early_stopping=False, scaling="feature", **FAST,
    ),
    AutoencoderTransformer(
        n_components=1, hidden_layer_sizes=(), noise=None, code_penalty="l2",
        learning_rate_schedule="onecycle", optimizer="sgd", learning_rate=1e-2,
        scaling="global", max_iter=5, batch_size=16, random_state=0,
    ),
    # Ordered codes, and n_components as a fraction of variance.
    AutoencoderTransformer(n_components=2, ordered=True, **FAST),
    AutoencoderTransformer(n_components=0.8, **FAST),
    # UMAP's neighbour-graph term added to the reconstruction.
    AutoencoderTransformer(n_components=2, embedding="umap", n_neighbors=5, **FAST),
    # Gaussian likelihood with a learned variance (the default).
    VAEGenerator(n_components=2, **FAST),
    # Gaussian with a fixed variance, beta-VAE with KL warm-up, no validation split.
    VAEGenerator(n_components=3, observation_variance=0.5, beta=0.5, kl_warmup=3,
                 early_stopping=False, **FAST),
    # Linear encoder/decoder, importance-weighted score_samples, cosine schedule.
    VAEGenerator(n_components=1, hidden_layer_sizes=(), n_importance_samples=3,
                 learning_rate_schedule="cosine", max_iter=5, batch_size=16, random_state=0),
    # Convolutional nets: input_shape=(1, 1, -1) reads any row as a 1 x n_features
    # image, so the conv path runs on every width the checks feed.
    AutoencoderTransformer(input_shape=(1, 1, -1), **CONV),
    VAEGenerator(input_shape=(1, 1, -1), **CONV),
    # Conditional models need y (the target tags say so: the checks pass class
    # labels, and check_requires_y_none fits with y=None); codes drawn from the
    # per-class mixtures (the default) or from the prior.
    VAEGenerator(n_components=2, conditional=True, **FAST),
    VAEGenerator(input_shape=(1, 1, -1), conditional=True, sampler="prior", **CONV),
    # Imputers: an autoencoder that hides values in training, and multiple
    # imputation with a VAE; missing values as NaN (the checks feed NaN) or -1.
    AutoencoderImputer(AutoencoderTransformer(noise="missing", noise_level=0.2, **FAST)),
    AutoencoderImputer(VAEGenerator(**FAST), sample_posterior=True, n_iter=2, random_state=0),
    AutoencoderImputer(AutoencoderTransformer(**FAST), missing_values=-1, add_indicator=True,
                       keep_empty_features=True),
]
# likelihood="bernoulli" and loss="bce" are left out: the checks feed data
# outside [0, 1], which both reject by design (tested in test_vae.py and
# test_hostile_inputs.py).


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
