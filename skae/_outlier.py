"""AutoencoderOutlierDetector: scikit-learn's outlier-detector API around a skae estimator."""

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone

from ._autoencoder import AutoencoderTransformer
from ._base import BaseAutoencoder
from ._inference import _DTYPES
from ._outlier_scores import make_scorer
from ._validation import Interval, Real, StrOptions, _fit_context, check_is_fitted, validate_data

# contamination="auto" reads the threshold off the scores of the rows the
# network did not train on when there are at least this many of them (the
# training rows otherwise).
_MIN_HELD_OUT_ROWS = 20
# Tukey's outer ("far out") fence: a score below the first quartile by more
# than this many interquartile ranges is an outlier.
_TUKEY_FACTOR = 3.0


class AutoencoderOutlierDetector(OutlierMixin, BaseEstimator):
    """Outlier and novelty detection with an autoencoder's reconstruction or likelihood.

    A skae estimator is trained on the data; rows it reconstructs badly (or,
    for a :class:`~skae.VAEGenerator`, finds unlikely) are outliers.  The
    detector follows the contract of scikit-learn's
    :class:`~sklearn.ensemble.IsolationForest`: :meth:`score_samples` is
    higher for more normal rows, ``decision_function(X) = score_samples(X) -
    offset_`` is negative for outliers and :meth:`predict` returns -1 for
    outliers and +1 for inliers.

    The score is computed where the network works, in its standardised
    units (see the estimators' ``scaling``), so no feature dominates by its
    units, and it is deterministic.  For an
    :class:`~skae.AutoencoderTransformer` it uses the two statistics of
    principal-component process monitoring, with the autoencoder in place
    of the PCA: ``SPE = sum_j ((x_j - x_hat_j) / s_j)^2``, the squared
    reconstruction error with each feature divided by its scale ``s_j``
    (rows off the model's manifold), and ``T2``, the Mahalanobis distance
    of the row's code to the training codes (rows the network reconstructs
    but whose code is unusual).  Each is divided by its control limit,
    Tukey's upper fence ``Q3 + 1.5 IQR`` of its values over held-out rows,
    and the score is ``-max(SPE / SPE_limit, T2 / T2_limit)``, or
    ``-SPE / SPE_limit`` with ``statistic="reconstruction"``.  For a
    :class:`~skae.VAEGenerator` the score is its estimated log-likelihood
    ``log p(x)`` (its ``score_samples``), whose prior term plays the part
    of ``T2``.  :meth:`score_samples_per_feature` splits each row's score
    over its features, to show which columns made a row an outlier.

    Missing values (NaN) are accepted wherever the estimator accepts them
    (see its ``allow_nan`` tag), in :meth:`fit` and in scoring: the network
    trains on the observed entries, ``SPE`` sums the squared errors of a
    row's observed entries times ``n_features / n_observed`` (an estimate
    of the complete row's, which does not shrink as entries go missing),
    ``T2`` uses the code of the row with its missing values, and a VAE's
    score is the log-likelihood of the observed entries, times the same
    factor.  A missing entry's part in :meth:`score_samples_per_feature`
    is 0.

    Read more in the :doc:`user guide </user_guide/outliers>`.

    Parameters
    ----------
    estimator : AutoencoderTransformer, VAEGenerator or None, default=None
        The model, cloned at :meth:`fit` (the fitted clone is
        ``estimator_``).  None is an :class:`~skae.AutoencoderTransformer`
        with its default parameters but ``linear_shortcut=False``: a linear
        path reconstructs a row along the data's main directions however far
        out it lies, which lowered the detector's ROC-AUC on ``load_wine``
        (``benchmarks/bench_outliers.py``).  Its parameters are set and searched as
        ``estimator__<name>``, e.g. in a grid search.
    statistic : {"combined", "reconstruction"}, default="combined"
        What an :class:`~skae.AutoencoderTransformer` scores by:
        ``"combined"`` takes the larger of ``SPE`` and ``T2``, each over its
        control limit (for tables, whose outliers are often reconstructed
        well but extreme); ``"reconstruction"`` takes ``SPE`` alone (for
        images, whose novelties are not reconstructed, and whose normal
        rows vary too much in code space for ``T2`` to help).  Ignored by a
        :class:`~skae.VAEGenerator`.
    contamination : "auto" or float, default="auto"
        The proportion of outliers expected in the data, which sets the
        threshold ``offset_``.  A float in (0, 0.5] puts ``offset_`` at that
        percentile of the scores of the training data, as
        :class:`~sklearn.ensemble.IsolationForest` does.  ``"auto"`` uses
        Tukey's outer fence ``Q1 - 3 * IQR`` of the scores of the rows the
        network did not train on (its early-stopping validation split, when
        it holds at least 20 rows; the training rows otherwise), quartiles
        that a minority of outliers barely moves: a row is an outlier when
        it scores "far out" below the typical held-out row, whatever the
        outlier fraction.  For reconstruction errors, whose right tail is
        about exponential, that flags about 1 % of normal rows.
    trim_fraction : float in [0, 0.5), default=0.0
        For training data that contains outliers: the fraction of each
        mini-batch's rows with the largest loss that are left out of the
        training loss (``estimator.fit(X, trim_fraction=...)``), so that the
        network does not learn to reconstruct the outliers it should flag.
        Set it to about the expected outlier fraction; 0 trains on every row
        (novelty detection, on clean data).

    Attributes
    ----------
    estimator_ : AutoencoderTransformer or VAEGenerator
        The fitted clone of ``estimator``.
    offset_ : float
        The threshold: ``decision_function = score_samples - offset_``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit` (string column names only).

    See Also
    --------
    sklearn.ensemble.IsolationForest : The tree-based detector with the same API.
    AutoencoderTransformer.score_samples : The reconstruction error in data units.
    VAEGenerator.score_samples : The log-likelihood the VAE scores by.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skae import AutoencoderOutlierDetector, AutoencoderTransformer
    >>> X, _ = load_breast_cancer(return_X_y=True)
    >>> detector = AutoencoderOutlierDetector(
    ...     AutoencoderTransformer(max_iter=5, random_state=0), contamination=0.05)
    >>> labels = detector.fit_predict(X)
    >>> sorted(set(labels.tolist()))
    [-1, 1]
    >>> detector.score_samples_per_feature(X[:2]).shape
    (2, 30)
    """

    _parameter_constraints: dict = {
        "estimator": [None, BaseAutoencoder],
        "statistic": [StrOptions({"combined", "reconstruction"})],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "trim_fraction": [Interval(Real, 0, 0.5, closed="left")],
    }

    def __init__(self, estimator=None, *, statistic="combined", contamination="auto",
                 trim_fraction=0.0):
        self.estimator = estimator
        self.statistic = statistic
        self.contamination = contamination
        self.trim_fraction = trim_fraction

    @_fit_context(prefer_skip_nested_validation=False)  # the estimator validates its own
    def fit(self, X, y=None):
        """Fit the estimator to ``X`` and set the threshold ``offset_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; it may contain outliers (see ``trim_fraction``).
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted detector.
        """
        X = validate_data(self, X, accept_sparse="csr", dtype=_DTYPES,
                          ensure_all_finite="allow-nan")
        estimator = self._make_estimator()
        estimator.fit(X, trim_fraction=self.trim_fraction)
        held_out = estimator._validation_rows
        rows = X[held_out] if len(held_out) >= _MIN_HELD_OUT_ROWS else X
        scorer = make_scorer(estimator, X, rows, self.statistic)
        if self.contamination == "auto":
            q1, q3 = np.percentile(scorer.row_scores(rows), [25.0, 75.0])
            offset = q1 - _TUKEY_FACTOR * (q3 - q1)
        else:
            offset = np.percentile(scorer.row_scores(X), 100.0 * self.contamination)
        self.estimator_ = estimator
        self._scorer = scorer
        self.offset_ = float(offset)
        return self

    def _make_estimator(self):
        if self.estimator is None:
            return AutoencoderTransformer(linear_shortcut=False)
        return clone(self.estimator)

    def _validate_scored(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=_DTYPES, reset=False,
                          ensure_all_finite="allow-nan")
        self.estimator_._check_missing_allowed(X)
        return X

    def score_samples(self, X):
        """Score of each row: higher is more normal.

        ``-max(SPE / SPE_limit, T2 / T2_limit)`` for an autoencoder, or
        ``-SPE / SPE_limit`` with ``statistic="reconstruction"`` (see the
        class description); the estimated log-likelihood for a
        :class:`~skae.VAEGenerator`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            The scores, as float64; the same for a row whatever it is
            scored with.
        """
        X = self._validate_scored(X)
        return self._scorer.row_scores(X)

    def score_samples_per_feature(self, X):
        """Each row's score split over its features: which columns make it an outlier.

        For an autoencoder, where ``SPE`` sets a row's score, feature ``j``
        gets its squared reconstruction error ``-((x_j - x_hat_j) / s_j)^2 /
        SPE_limit``; where ``T2`` sets it, the share of ``-T2 / T2_limit``
        that its reconstructed value's squared distance to the feature's
        mean, in standardised units, takes of the reconstruction's.  For a
        :class:`~skae.VAEGenerator`, it gets the part of the log-likelihood
        of the reconstruction at the posterior mean that depends on ``x_j``,
        plus an equal share of the rest of the row's score.  A missing
        entry (NaN) gets 0.  The most negative entries of a row are the
        features that make it unusual.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to explain.

        Returns
        -------
        contributions : ndarray of shape (n_samples, n_features_in_)
            Float64 contributions; each row sums to :meth:`score_samples`
            of that row (up to rounding).
        """
        X = self._validate_scored(X)
        return self._scorer.feature_scores(X)

    def decision_function(self, X):
        """Shifted score: ``score_samples(X) - offset_``, negative for outliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Negative for outliers, positive for inliers.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Whether each row is an inlier (+1) or an outlier (-1).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to label.

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,)
            -1 where :meth:`decision_function` is negative, +1 elsewhere.
        """
        decision = self.decision_function(X)
        is_inlier = np.ones(decision.shape[0], dtype=int)
        is_inlier[decision < 0] = -1
        return is_inlier

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = self._make_estimator()._allows_missing()
        return tags
