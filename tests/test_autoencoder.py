"""Behaviour of AutoencoderTransformer: API, data types, training, randomness."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from conftest import assert_rng_untouched
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer, TrainingDivergedError


def test_fit_transform_shapes_and_reconstruction_beats_pca(digits):
    X, _ = digits
    ae = AutoencoderTransformer(n_components=10, max_iter=60, random_state=0).fit(X)
    Z = ae.transform(X)
    assert Z.shape == (len(X), 10) and Z.dtype == np.float64
    R = ae.inverse_transform(Z)
    assert R.shape == X.shape and np.isfinite(R).all()
    ae_err = ((R - X) ** 2).sum(1).mean()
    pca = PCA(10).fit(X)
    pca_err = ((pca.inverse_transform(pca.transform(X)) - X) ** 2).sum(1).mean()
    assert ae_err < pca_err
    np.testing.assert_allclose(ae.score_samples(X), -((R - X) ** 2).sum(1), rtol=1e-5)
    assert ae.score(X) == pytest.approx(ae.score_samples(X).mean())
    assert ae.n_iter_ == len(ae.loss_curve_) == len(ae.validation_loss_curve_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(small_digits, fast_params, dtype):
    X = small_digits[0].astype(dtype)
    ae = AutoencoderTransformer(**fast_params).fit(X)
    assert ae.transform(X).dtype == dtype
    assert ae.inverse_transform(ae.transform(X)).dtype == dtype
    assert ae.score_samples(X).dtype == np.float64


def test_float32_and_float64_inputs_train_identically(small_digits, fast_params):
    X = small_digits[0]
    a = AutoencoderTransformer(**fast_params).fit(X)
    b = AutoencoderTransformer(**fast_params).fit(X.astype(np.float32))
    np.testing.assert_allclose(a.transform(X), b.transform(X), atol=1e-6)


def test_pandas_feature_names_and_set_output(small_digits, fast_params):
    X = small_digits[0]
    df = pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])])
    ae = AutoencoderTransformer(n_components=3, **fast_params).set_output(transform="pandas")
    out = ae.fit_transform(df)
    assert list(ae.feature_names_in_) == list(df.columns)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"autoencodertransformer{i}" for i in range(3)]
    with pytest.warns(UserWarning, match="feature names"):
        ae.transform(X)


def test_overcomplete_code_warns_and_ordered_one_is_refused(small_digits, fast_params):
    X = small_digits[0][:, :6]
    with pytest.warns(UserWarning, match=r"n_components=8 is larger than n_features=6: an "
                                         "overcomplete code"):
        ae = AutoencoderTransformer(n_components=8, **fast_params).fit(X)
    assert ae.transform(X).shape == (len(X), 8)  # legitimate: trained as asked
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AutoencoderTransformer(n_components=6, **fast_params).fit(X)
    assert not [w for w in caught if "overcomplete" in str(w.message)]
    ordered = AutoencoderTransformer(n_components=8, ordered=True, **fast_params)
    with pytest.raises(ValueError, match=r"n_components=8 is larger than n_features=6.*"
                                         "ordered=False"):
        ordered.fit(X)
    assert not hasattr(ordered, "net_")


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_matches_dense(small_digits, fast_params, fmt):
    X = small_digits[0]
    dense = AutoencoderTransformer(**fast_params).fit(X)
    sparse = AutoencoderTransformer(**fast_params).fit(sp.csr_matrix(X).asformat(fmt))
    np.testing.assert_array_equal(dense.transform(X), sparse.transform(sp.csr_matrix(X)))
    assert np.array_equal(dense.score_samples(X), sparse.score_samples(sp.csr_matrix(X)))


def test_memmap_is_streamed_not_copied(tmp_path, small_digits, fast_params, monkeypatch):
    X = small_digits[0].astype(np.float32)
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    from skae import _data

    whole_copies = []
    original = np.ascontiguousarray

    def spy(a, *args, **kwargs):
        if getattr(a, "shape", (0,))[0] == X.shape[0]:
            whole_copies.append(a.shape)
        return original(a, *args, **kwargs)

    monkeypatch.setattr(_data.np, "ascontiguousarray", spy)
    ae = AutoencoderTransformer(**fast_params).fit(mm)
    assert whole_copies == []
    ref = AutoencoderTransformer(**fast_params).fit(X)
    np.testing.assert_array_equal(ae.transform(mm), ref.transform(X))


def test_pipeline_grid_search_and_cross_val(digits):
    X, y = digits
    params = dict(max_iter=15, hidden_layer_sizes=(64,), random_state=0)
    pipe = make_pipeline(
        StandardScaler(), AutoencoderTransformer(n_components=10, **params),
        LogisticRegression(max_iter=1000),
    )
    scores = cross_val_score(pipe, X[:900], y[:900], cv=3)
    assert scores.mean() > 0.7  # 0.76 to 0.81 over random_state 0 to 3; chance is 0.1
    search = GridSearchCV(
        AutoencoderTransformer(**params),
        {"n_components": [2, 12], "hidden_layer_sizes": [(64,), (32, 16)]},
        cv=2, n_jobs=2,
    ).fit(X[:600])
    assert search.best_params_["n_components"] == 12  # more components reconstruct better
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_clone_is_untrained_and_keeps_params(small_digits, fast_params):
    ae = AutoencoderTransformer(n_components=4, **fast_params).fit(small_digits[0])
    c = clone(ae)
    assert c.get_params() == ae.get_params()
    with pytest.raises(NotFittedError):
        c.transform(small_digits[0])


def test_same_random_state_is_bitwise_reproducible_and_rng_untouched(small_digits, fast_params):
    X = small_digits[0]
    a = assert_rng_untouched(lambda: AutoencoderTransformer(**fast_params).fit(X))
    b = AutoencoderTransformer(**fast_params).fit(X)
    assert a.transform(X).tobytes() == b.transform(X).tobytes()
    assert assert_rng_untouched(lambda: a.transform(X)).tobytes() == a.transform(X).tobytes()
    c = AutoencoderTransformer(**{**fast_params, "random_state": 1}).fit(X)
    assert not np.array_equal(a.transform(X), c.transform(X))


def test_torch_global_settings_unchanged(small_digits, fast_params):
    threads, grad = torch.get_num_threads(), torch.is_grad_enabled()
    ae = AutoencoderTransformer(**fast_params).fit(small_digits[0])
    ae.transform(small_digits[0])
    assert torch.get_num_threads() == threads and torch.is_grad_enabled() == grad


@pytest.mark.parametrize("extra", [
    {}, {"input_shape": (1, 8, 8), "conv_channels": (4, 8)},
    {"linear_shortcut": True},
    {"input_shape": (1, 8, 8), "conv_channels": (4, 8), "linear_shortcut": True},
], ids=["mlp", "conv", "mlp-shortcut", "conv-shortcut"])
def test_outputs_are_batch_invariant(digits, fast_params, extra):
    X = digits[0]
    ae = AutoencoderTransformer(**{**fast_params, "max_iter": 2, **extra}).fit(X[:300])
    full, scores = ae.transform(X), ae.score_samples(X)
    decoded = ae.inverse_transform(full)
    # chunks of every size, short ones padded less than full ones
    for rows in (slice(0, 1), slice(3, 5), slice(7, 10), slice(5, 37), slice(9, 17),
                 slice(100, 611), slice(100, 700), slice(1, 1025)):
        assert np.array_equal(ae.transform(X[rows]), full[rows]), rows
        assert np.array_equal(ae.inverse_transform(full[rows]), decoded[rows]), rows
        assert np.array_equal(ae.score_samples(X[rows]), scores[rows]), rows
    perm = np.random.RandomState(0).permutation(len(X))
    assert np.array_equal(ae.transform(X[perm]), full[perm])


def test_convergence_warning_when_max_iter_ends_first(small_digits):
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        AutoencoderTransformer(max_iter=2, random_state=0).fit(small_digits[0])


def test_divergence_is_reported_and_leaves_estimator_unfitted(small_digits):
    ae = AutoencoderTransformer(learning_rate=1e8, optimizer="sgd", random_state=0)
    with pytest.raises(TrainingDivergedError, match="lower learning_rate"):
        ae.fit(small_digits[0] * 1e3)
    assert not hasattr(ae, "net_")
    with pytest.raises(NotFittedError):
        ae.transform(small_digits[0])


class _InterruptAfter(torch.nn.Module):
    """A decoder that raises KeyboardInterrupt on its n-th training call."""

    def __init__(self, n_components, n_features, calls=30):
        super().__init__()
        self.lin = torch.nn.Linear(n_components, n_features)
        self.calls = calls

    def forward(self, z):
        if self.training:
            self.calls -= 1
            if self.calls == 0:
                raise KeyboardInterrupt
        return self.lin(z)


def test_keyboard_interrupt_keeps_best_weights(small_digits, fast_params):
    X = small_digits[0]
    ae = AutoencoderTransformer(**{**fast_params, "max_iter": 100}, decoder=_InterruptAfter)
    with pytest.warns(UserWarning, match="interrupted"):
        ae.fit(X)
    assert 0 < ae.n_iter_ < 100
    assert np.isfinite(ae.transform(X)).all()


class _Broken(torch.nn.Linear):
    """Fails in training mode only (the shape dry run is in eval mode)."""

    def forward(self, z):
        if self.training:
            raise RuntimeError("boom inside the user's module")
        return super().forward(z)


def test_user_module_errors_surface_and_leave_unfitted(small_digits, fast_params):
    X = small_digits[0]
    ae = AutoencoderTransformer(**fast_params, decoder=_Broken(2, 64))
    with pytest.raises(RuntimeError, match="boom inside") as info:
        ae.fit(X)
    assert info.traceback[-1].name == "forward"  # the user's own frame
    assert not hasattr(ae, "net_") and not hasattr(ae, "n_features_in_")
    bad_shape = AutoencoderTransformer(**fast_params, decoder=torch.nn.Linear(5, 64))
    with pytest.raises(ValueError, match="decoder failed on an input of shape"):
        bad_shape.fit(X)


def test_custom_modules_class_factory_and_instance(small_digits, fast_params):
    X = small_digits[0]
    enc = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Tanh())
    before = [p.detach().clone() for p in enc.parameters()]
    ae = AutoencoderTransformer(n_components=3, **fast_params, encoder=enc,
                                decoder=lambda n_components, n_features: torch.nn.Linear(n_components, n_features))
    ae.fit(X)
    assert all(torch.equal(a, b) for a, b in zip(before, enc.parameters(), strict=True))
    assert ae.net_.encoder is not enc
    assert ae.transform(X).shape == (len(X), 3)
    with pytest.raises(TypeError, match="decoder factory must return"):
        AutoencoderTransformer(**fast_params, decoder=lambda: "nope").fit(X)
    with pytest.raises(ValueError, match="returns 10 values per sample, but X has 64"):
        AutoencoderTransformer(**fast_params, decoder=lambda n_components: torch.nn.Linear(n_components, 10)).fit(X)


def test_partial_fit_and_warm_start_continue_training(small_digits, fast_params):
    X = small_digits[0]
    ae = AutoencoderTransformer(**fast_params)
    errors = []
    for _ in range(5):
        ae.partial_fit(X)
        errors.append(-ae.score(X))
    assert ae.n_iter_ == 5 and errors[-1] < errors[0]
    warm = AutoencoderTransformer(**{**fast_params, "warm_start": True}).fit(X)
    first = warm.n_iter_
    warm.fit(X)
    assert warm.n_iter_ > first and len(warm.loss_curve_) == warm.n_iter_


def test_pickle_and_joblib_round_trip(small_digits, fast_params):
    X = small_digits[0]
    ae = AutoencoderTransformer(**fast_params).fit(X)
    for loaded in (pickle.loads(pickle.dumps(ae)), _joblib_round_trip(ae)):
        assert loaded.transform(X).tobytes() == ae.transform(X).tobytes()
        assert np.array_equal(loaded.inverse_transform(ae.transform(X)), ae.inverse_transform(ae.transform(X)))


def _joblib_round_trip(est):
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    return joblib.load(buf)


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without CUDA")
def test_cuda_fitted_model_loads_on_cpu_with_warning(small_digits, fast_params):
    ae = AutoencoderTransformer(**fast_params).fit(small_digits[0])
    ae.device_ = "cuda:0"  # as if it had been fitted on a GPU
    with pytest.warns(UserWarning, match="not available here"):
        loaded = pickle.loads(pickle.dumps(ae))
    assert loaded.device_ == "cpu"
    assert np.isfinite(loaded.transform(small_digits[0])).all()


def test_verbose_prints_one_line_per_epoch(small_digits, fast_params, capsys):
    AutoencoderTransformer(**{**fast_params, "max_iter": 3, "verbose": 1}).fit(small_digits[0])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 3 and "validation_loss" in lines[0]


def test_bce_outputs_lie_in_unit_interval(small_digits, fast_params):
    X = small_digits[0]
    ae = AutoencoderTransformer(loss="bce", **fast_params).fit(X)
    R = ae.inverse_transform(ae.transform(X))
    assert R.min() >= 0 and R.max() <= 1


def test_l1_code_penalty_gives_smaller_codes(small_digits, fast_params):
    X = small_digits[0]
    plain = AutoencoderTransformer(n_components=8, **fast_params).fit(X)
    sparse = AutoencoderTransformer(n_components=8, code_penalty="l1", code_penalty_weight=5.0,
                                    **fast_params).fit(X)
    assert np.abs(sparse.transform(X)).mean() < 0.5 * np.abs(plain.transform(X)).mean()


@pytest.mark.parametrize(
    "params, X_fn, match",
    [
        ({"n_components": 0.5}, lambda X: np.where(X > 0.9, np.nan, X),
         "without missing values"),
        ({}, lambda X: np.where(X > 0.9, np.inf, X), "infinity"),
        ({"loss": "bce"}, lambda X: X * 2, r"loss='bce' requires X to lie in \[0, 1\]"),
        ({"n_components": 0}, lambda X: X, "n_components"),
        ({"activation": "swish"}, lambda X: X, "activation"),
        ({"hidden_layer_sizes": (10, -1)}, lambda X: X, "hidden_layer_sizes"),
        ({"noise": "mask", "noise_level": 1.0}, lambda X: X, "noise_level must be < 1"),
        ({"device": "cuda:7" if not torch.cuda.is_available() else "nope"}, lambda X: X, "device"),
        ({}, lambda X: X[:1], "n_samples=1"),
        ({"input_shape": (1, 7, 7)}, lambda X: X, r"input_shape=\(1, 7, 7\) describes 49"),
    ],
)
def test_bad_input_raises_clear_errors(small_digits, params, X_fn, match):
    with pytest.raises(ValueError, match=match):
        AutoencoderTransformer(max_iter=2, **params).fit(X_fn(small_digits[0]))


def test_wrong_widths_at_transform_and_inverse_transform(small_digits, fast_params):
    X = small_digits[0]
    ae = AutoencoderTransformer(n_components=3, **fast_params).fit(X)
    with pytest.raises(ValueError, match="X has 10 features, but AutoencoderTransformer is expecting 64"):
        ae.transform(X[:, :10])
    with pytest.raises(ValueError, match="X has 5 features, but AutoencoderTransformer expects 3 components"):
        ae.inverse_transform(np.zeros((2, 5)))
    with pytest.raises(NotFittedError):
        AutoencoderTransformer().transform(X)
