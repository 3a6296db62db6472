"""The training loop as users meet it: stopping rules, interruption, batches, warnings."""

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch
from conftest import assert_same_weights
from sklearn.exceptions import ConvergenceWarning
from torch import nn

import skae._training
from skae import AutoencoderTransformer, VAEGenerator, load_model, save_model
from skae._data import BatchReader
from skae._training import LoopConfig, _Monitor, batch_bounds, check_points, train

FAST = dict(hidden_layer_sizes=(16,), batch_size=32, random_state=0)


def test_batch_bounds_never_leave_a_single_row():
    for n in range(1, 300):
        for size in (1, 2, 7, 32, 128):
            bounds = batch_bounds(n, size)
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
            if n > 1 and size > 1:
                assert min(hi - lo for lo, hi in bounds) >= 2


def test_batchnorm_encoder_trains_when_the_last_batch_has_one_row(digits):
    X = digits[0][:144]  # 129 training rows with the default split: 128 + 1

    def encoder(n_features):
        return nn.Sequential(nn.Linear(n_features, 16), nn.BatchNorm1d(16), nn.ReLU())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = AutoencoderTransformer(2, encoder=encoder, batch_size=128, max_iter=3).fit(X)
    assert est.n_iter_ == 3


def test_best_weights_by_training_loss_without_a_validation_split(small_digits):
    X = small_digits[0]
    params = dict(n_components=3, early_stopping=True, validation_fraction=0.0,
                  learning_rate=5e-2, learning_rate_schedule="constant", n_iter_no_change=4,
                  **FAST)
    full = AutoencoderTransformer(max_iter=30, **params).fit(X)
    best = int(np.argmin(full.loss_curve_)) + 1
    assert best < full.n_iter_  # the last epoch is not the best one
    assert full.best_loss_ == min(full.loss_curve_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        short = AutoencoderTransformer(max_iter=best, **params).fit(X)
    assert_same_weights(full, short)


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_annealed_schedule_without_early_stopping_runs_to_its_end(schedule, small_digits):
    est = AutoencoderTransformer(3, early_stopping=False, learning_rate_schedule=schedule,
                                 n_iter_no_change=1, tol=10.0, max_iter=8, **FAST)
    est.fit(small_digits[0])
    assert est.n_iter_ == 8


def test_plateau_of_training_loss_stops_without_early_stopping(small_digits):
    # as scikit-learn's MLP: early_stopping=False still stops on a training-loss plateau
    est = AutoencoderTransformer(3, early_stopping=False, n_iter_no_change=2, tol=10.0,
                                 max_iter=20, **FAST).fit(small_digits[0])
    assert est.n_iter_ == 3


def test_check_points_one_per_epoch_on_small_data_evenly_spaced_on_large():
    assert check_points(1_000, 8, 100) == {7}
    assert check_points(39_999, 313, 1_000) == {312}  # fewer rows than two periods
    points = sorted(check_points(90_000, 704, 10_000))  # about every 20,000 samples
    assert points == [175, 351, 527, 703]
    # a large validation split spaces the checks further apart: 2 * 100,000 samples
    assert len(check_points(900_000, 7_032, 100_000)) == 4


def test_early_stopping_counts_checks_within_an_epoch(small_digits, monkeypatch):
    # with checks every 54 samples (twice the 27 validation rows), an epoch of 270
    # training rows holds 5 checks; tol=1.0 makes every check after the first one
    # count towards the patience, so the fit stops at its third check (the
    # validation loss is also evaluated once before training, for the window rule)
    monkeypatch.setattr(skae._training, "CHECK_SAMPLES", 1)
    calls = []
    evaluate = skae._training.evaluate
    monkeypatch.setattr(skae._training, "evaluate", lambda *a: calls.append(1) or evaluate(*a))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = AutoencoderTransformer(3, n_iter_no_change=2, tol=1.0, max_iter=5, **FAST)
        est.fit(small_digits[0])
    assert len(calls) == 1 + 3 and est.n_iter_ == 1 and len(est.history_) == 1
    assert est.history_[0]["validation_loss"] >= est.best_loss_


def _checks_until_stop(start_loss, shrink, n_checks=60, samples=20_000, first_lr=1.0,
                       halve_at=None):
    """Checks a monitor takes of a loss falling by ``shrink`` (relative) per check.

    The rate is 0.1 against a first rate of ``first_lr``, and is halved at
    check ``halve_at``.
    """
    net = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    monitor = _Monitor(LoopConfig(batch_size=8, max_epochs=1), start_loss=start_loss,
                       first_lr=first_lr)
    for i in range(n_checks):
        if i == halve_at:
            optimizer.param_groups[0]["lr"] /= 2
        if monitor.check((1 - shrink) ** i, samples, net, optimizer):
            return i + 1
    return None


def test_window_rule_stops_a_loss_creeping_negligibly_at_a_lowered_rate():
    # every check improves by 0.02 % relative, more than tol=1e-4, so the patience
    # never runs out; against a loss of 100 before training the gains over the window
    # of n_iter_no_change * WINDOW_SAMPLES = 100,000 samples (five checks) are
    # negligible: the fit stops at the first check whose window has passed
    window = 10 * skae._training.WINDOW_SAMPLES // 20_000
    assert _checks_until_stop(100.0, 2e-4) == window + 1
    # a halving (at the fifth check) starts the window again
    assert _checks_until_stop(100.0, 2e-4, halve_at=4) == 5 + window
    # substantial gains against the start, no start loss (no validation split),
    # the first rate not yet lowered, or a window that has not yet passed: it trains on
    assert _checks_until_stop(1.0, 2e-4) is None
    assert _checks_until_stop(None, 2e-4) is None
    assert _checks_until_stop(100.0, 2e-4, first_lr=0.1) is None
    assert _checks_until_stop(100.0, 2e-4, samples=1_000, n_checks=100) is None
    # a loss that never improves after its first check is left to the patience (ten checks)
    assert _checks_until_stop(100.0, 0.0) == 1 + 10


def test_window_rule_ends_a_fit_whose_gains_became_negligible(small_digits, monkeypatch):
    # with tol=1e-2 the "plateau" schedule halves this short fit's rate after about
    # 40 epochs; with a window of 10 * 20 samples (within one epoch) the window
    # rule then ends it as converged, at the first epoch at the halved rate that
    # gains less than 1 % of the loss before training
    X = small_digits[0]
    params = dict(n_components=3, tol=1e-2, max_iter=60, **FAST)
    monkeypatch.setattr(skae._training, "WINDOW_SAMPLES", 10 ** 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = AutoencoderTransformer(**params).fit(X)
    monkeypatch.setattr(skae._training, "WINDOW_SAMPLES", 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        short = AutoencoderTransformer(**params).fit(X)
    assert short.n_iter_ < full.n_iter_
    assert short.history_[-1]["lr"] < short.history_[0]["lr"]  # ended at a halved rate
    # the same weights until it stopped
    assert short.loss_curve_ == full.loss_curve_[: short.n_iter_]


class _Interrupting(nn.Module):
    """Raises KeyboardInterrupt on its fifth training call (as a Ctrl-C would)."""

    def __init__(self, n_features):
        super().__init__()
        self.body = nn.Linear(n_features, 16)
        self.calls = 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.calls == 5:
                raise KeyboardInterrupt
        return self.body(x)


def test_first_ctrl_c_stops_the_fit_a_second_one_propagates(small_digits, monkeypatch):
    monkeypatch.setattr(skae._training, "_last_interrupt", -np.inf)
    X = small_digits[0]
    est = AutoencoderTransformer(2, encoder=_Interrupting, max_iter=50, **FAST)
    with pytest.warns(UserWarning, match="interrupted by the user"):
        est.fit(X)
    assert est.interrupted_ and est.transform(X).shape == (len(X), 2)
    with pytest.raises(KeyboardInterrupt):  # pressed again at once: a search would stop
        AutoencoderTransformer(2, encoder=_Interrupting, max_iter=50, **FAST).fit(X)
    monkeypatch.setattr(skae._training, "_last_interrupt", -np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert not AutoencoderTransformer(2, max_iter=2, **FAST).fit(X).interrupted_


def test_convergence_warning_points_at_the_callers_line(small_digits):
    with pytest.warns(ConvergenceWarning) as record:
        AutoencoderTransformer(2, max_iter=1, **FAST).fit(small_digits[0])
    assert record[0].filename == __file__


def test_verbose_does_not_repeat_the_loss(small_digits):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        AutoencoderTransformer(2, max_iter=2, verbose=1, **FAST).fit(small_digits[0])
        AutoencoderTransformer(2, max_iter=2, verbose=1, code_penalty="l1",
                               **FAST).fit(small_digits[0])
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert all("loss=" in line for line in lines)
    assert "reconstruction=" not in lines[0] and "reconstruction=" in lines[2]


def test_device_accepts_torch_device(small_digits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = VAEGenerator(2, device=torch.device("cpu"), max_iter=2, **FAST).fit(small_digits[0])
    assert est.device_ == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without CUDA")
def test_load_model_on_missing_cuda_raises_like_the_constructor(small_digits, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = AutoencoderTransformer(2, max_iter=2, **FAST).fit(small_digits[0])
    save_model(est, tmp_path / "m")
    with pytest.raises(ValueError, match="CUDA is not available"):
        AutoencoderTransformer(2, device="cuda", max_iter=2, **FAST).fit(small_digits[0])
    with pytest.raises(ValueError, match="CUDA is not available"):
        load_model(tmp_path / "m", device="cuda")


def test_fitted_network_holds_no_gradients(small_digits):
    X, _ = small_digits
    ae = AutoencoderTransformer(2, hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X)
    assert all(p.grad is None for p in ae.net_.parameters())


def _subnormal(t):
    return (t != 0) & (t.abs() < torch.finfo(t.dtype).tiny)


@pytest.mark.parametrize("n_steps", [1_000, 40])
def test_optimizer_moments_of_a_weight_without_gradient_do_not_stay_subnormal(n_steps, monkeypatch):
    # A weight with a gradient at its first step only (as a ReLU unit that dies):
    # Adam's first moment, 1e-37 after that step, decays by 0.9 a step into the
    # subnormal range and would stay there (rounding keeps 0.9 x a few ulps at a
    # few ulps), a slow path for x86 vector units at every step.  The loop zeroes
    # subnormal state every FLUSH_STEPS steps and at the end of training.
    monkeypatch.setattr(skae._training, "FLUSH_STEPS", 100)
    net = nn.Linear(1, 1, bias=False)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    moments = []

    def loss_fn(net, x, generator, epoch):
        if optimizer.state:
            moments.append(optimizer.state[net.weight]["exp_avg"].item())
        return (0.0 if optimizer.state else 1e-36) * net(x).sum(), {}

    cfg = LoopConfig(batch_size=1, max_epochs=1, monitor_validation=False,
                     stop_on_plateau=False, keep_best=False)
    train(net, optimizer, BatchReader(np.ones((n_steps, 1), np.float32), "cpu"),
          torch.arange(n_steps), torch.arange(0), loss_fn, None, torch.Generator(), cfg)
    moments = torch.tensor(moments)
    subnormal = torch.nonzero(_subnormal(moments)).ravel()
    assert len(subnormal) > 0  # it went subnormal within the fit
    if n_steps > 100:  # ... and the first flush, after step 100, zeroed it for good
        assert subnormal[-1] < 100 and (moments[100:] == 0).all()
    state = optimizer.state[net.weight]
    assert state["exp_avg"].item() == 0.0
    assert not any(_subnormal(v).any() for v in state.values() if v.dim() > 0)


class _FakeClock:
    """A clock for ``skae._training`` that each training batch moves on by one second."""

    def __init__(self):
        self.now, self.batches = 0.0, 0

    def perf_counter(self):
        return self.now

    def monotonic(self):
        return self.now

    def wrap(self, train_loss):
        def timed(net, x, generator, epoch):
            self.now += 1.0
            self.batches += 1
            return train_loss(net, x, generator, epoch)

        return timed


def _fit_on_fake_clock(est, X, monkeypatch):
    clock = _FakeClock()
    monkeypatch.setattr(skae._training, "time", clock)
    est._train_loss = clock.wrap(est._train_loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "Posterior collapse")
        est.fit(X)
    return clock


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAEGenerator])
def test_max_time_stops_at_the_first_batch_past_the_budget(Estimator, small_digits, monkeypatch):
    X = small_digits[0][:200]  # 180 training rows: 6 batches of 32 (the last merged)
    n_batches = len(batch_bounds(180, 32))
    est = Estimator(3, max_iter=1000, max_time=2.5 * n_batches, early_stopping=False,
                    learning_rate_schedule="constant", n_iter_no_change=1000, **FAST)
    clock = _fit_on_fake_clock(est, X, monkeypatch)
    # batches start at 0, 1, ... s; the first one to start at the budget does not run
    assert clock.batches == int(np.ceil(2.5 * n_batches))
    assert est.n_iter_ == 3  # two whole epochs and half of a third
    assert np.isfinite(est.loss_curve_).all()


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_annealed_schedule_spans_max_time(schedule, small_digits, monkeypatch):
    X = small_digits[0][:200]
    n_batches = len(batch_bounds(180, 32))
    params = dict(max_iter=1000, early_stopping=False, learning_rate_schedule=schedule,
                  learning_rate=1e-2, **FAST)
    est = AutoencoderTransformer(3, max_time=4 * n_batches, **params)
    _fit_on_fake_clock(est, X, monkeypatch)
    lrs = [r["lr"] for r in est.history_]
    assert len(lrs) == 4
    # the budget, not the 1,000 epochs, sets the pace: the rate has annealed to near zero
    assert lrs[-1] < 0.05 * 1e-2
    assert max(lrs) > 0.5 * 1e-2


def test_annealed_schedule_under_an_ample_budget_does_not_follow_the_clock(small_digits):
    # the budget never binds: the first steps, when the elapsed time runs ahead of the
    # epoch count, must not take their rate from the clock (the one-cycle warm-up is
    # where a rate moves fastest with its progress)
    X = small_digits[0][:200]
    fits = [AutoencoderTransformer(3, max_iter=3, max_time=1000.0, early_stopping=False,
                                   learning_rate_schedule="onecycle", **FAST).fit(X)
            for _ in range(2)]
    assert_same_weights(*fits)


def test_max_time_reached_before_a_plateau_warns_naming_it(small_digits, monkeypatch):
    X = small_digits[0][:200]
    est = AutoencoderTransformer(3, max_iter=1000, max_time=20, **FAST)
    monkeypatch.setattr(skae._training, "time", _FakeClock())
    clock = skae._training.time
    est._train_loss = clock.wrap(est._train_loss)
    with pytest.warns(ConvergenceWarning, match=r"max_time=20 s"):
        est.fit(X)


def test_first_batch_runs_whatever_the_budget(small_digits, monkeypatch):
    est = AutoencoderTransformer(3, max_iter=50, max_time=1e-9, **FAST)
    clock = _fit_on_fake_clock(est, small_digits[0], monkeypatch)
    assert clock.batches == 1 and est.n_iter_ == 1
    assert np.isfinite(est.loss_curve_[0])


def test_partial_fit_ignores_max_time(small_digits):
    X = small_digits[0]
    timed = AutoencoderTransformer(3, max_time=1e-9, **FAST).partial_fit(X)
    plain = AutoencoderTransformer(3, **FAST).partial_fit(X)
    assert_same_weights(timed, plain)


@pytest.mark.parametrize("value", [0, -1.0, "10"])
def test_max_time_must_be_a_positive_number(value, small_digits):
    est = AutoencoderTransformer(3, max_time=value, **FAST)
    with pytest.raises((ValueError, TypeError), match="max_time"):
        est.fit(small_digits[0])
