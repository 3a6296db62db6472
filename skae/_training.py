"""The one training loop shared by every skae estimator.

The estimators differ only in the loss they hand to :func:`train`; batching,
optimisation, learning-rate schedules, early stopping, divergence detection,
interruption and progress reporting all live here.
"""

import copy
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field

import torch
from sklearn.exceptions import ConvergenceWarning

from .exceptions import TrainingDivergedError


def _adamw(params, lr, wd):
    """Adam with decoupled weight decay, using torch's fused kernel where it exists."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, fused=True)
    except (RuntimeError, TypeError, ValueError):  # device or torch without a fused kernel
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)


OPTIMIZERS = {
    # Adam with decoupled weight decay (identical to Adam when weight_decay=0).
    "adam": _adamw,
    "sgd": lambda params, lr, wd: torch.optim.SGD(
        params, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd
    ),
    "rmsprop": lambda params, lr, wd: torch.optim.RMSprop(params, lr=lr, weight_decay=wd),
}


def make_optimizer(name_or_class, params, learning_rate, weight_decay, state=None):
    """Build the optimizer named ``name_or_class`` (or call the class given).

    ``state``, a ``state_dict`` of the same kind of optimizer, is loaded
    (its moments and step counts) with ``learning_rate`` as the rate.
    """
    if isinstance(name_or_class, str):
        optimizer = OPTIMIZERS[name_or_class](params, learning_rate, weight_decay)
    else:
        optimizer = name_or_class(params, lr=learning_rate, weight_decay=weight_decay)
    if state is not None:
        optimizer.load_state_dict(state)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
    return optimizer


def flush_subnormal_state(optimizer):
    """Set the subnormal entries of ``optimizer``'s state tensors on the CPU to zero.

    A subnormal moment (below ``torch.finfo(dtype).tiny``, about 1e-38 in
    float32) moves a weight by far less than a unit in its last place, so
    zero does what it did; but it costs the CPU's vector units a slow path
    at every step.  Scalars (step counts) and tensors on other devices are
    left as they are.
    """
    for state in optimizer.state.values():
        for value in state.values():
            if (isinstance(value, torch.Tensor) and value.dim() > 0
                    and value.is_floating_point() and value.device.type == "cpu"):
                value.masked_fill_(value.abs() < torch.finfo(value.dtype).tiny, 0.0)


def schedule_factor(schedule, progress):
    """Learning-rate multiplier at ``progress`` in [0, 1] of the epoch budget."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    if schedule == "onecycle":
        warm = 0.3
        if progress < warm:
            return 0.04 + 0.96 * progress / warm
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (progress - warm) / (1 - warm))))
    return 1.0


# Early stopping evaluates the validation loss with this fixed noise seed, so
# that every check measures the validation loss with the same draws.
_VALIDATION_NOISE_SEED = 12345
# The monitored loss is checked at the end of each epoch and, on large data,
# about every this many training samples within it (see check_points): a
# large data set stops once it has converged, not after whole passes.
CHECK_SAMPLES = 20_000
# Early stopping also ends a fit whose best validation loss still falls at a
# lowered learning rate, but by less than ``tol`` times the loss before
# training over the last ``n_iter_no_change`` times this many training
# samples (see _Monitor.stalled).
WINDOW_SAMPLES = 10_000
# The moments an optimizer keeps for weights whose gradient stays zero (the
# weights of a dead ReLU unit, of a pixel that never varies) decay
# geometrically into the subnormal range and stay there: rounding keeps 0.9
# times a few units in the last place at a few units.  x86 CPUs compute with
# subnormal floats in microcode, many times slower than with normal ones, so
# such moments made the optimizer step of a long fit several times slower.
# Every this many steps, and at the end of training, the subnormal entries of
# the optimizer's state on the CPU are set to zero (see flush_subnormal_state).
FLUSH_STEPS = 50
# A second Ctrl-C within this many seconds of one that stopped a fit is
# passed on (e.g. out of a grid search) instead of stopping one more fit.
_REPEAT_INTERRUPT_SECONDS = 10.0
_last_interrupt = -math.inf


@dataclass
class LoopConfig:
    """Settings of one call to :func:`train` (taken from the estimator).

    ``stop_on_plateau``: stop when the monitored loss has not improved by
    ``tol`` for ``n_iter_no_change`` epochs.  ``keep_best``: end with the
    weights of the best monitored epoch rather than the last.
    ``epoch_offset`` counts the epochs of earlier calls (the loss sees the
    total count, e.g. for a KL warm-up); the learning-rate schedule spans
    this call's ``max_epochs``.  ``max_time``: a wall-clock budget in
    seconds; training stops at the first batch that would start after it
    (the last epoch may then be partial), and an annealed schedule follows
    whichever of the epoch count and the elapsed time is further along, the
    time only from the second epoch on (so that a fit whose budget does not
    bind gives the same model whatever the clock).
    """

    batch_size: int
    max_epochs: int
    schedule: str = "constant"
    n_iter_no_change: int = 10
    tol: float = 1e-4
    monitor_validation: bool = True
    stop_on_plateau: bool = True
    keep_best: bool = True
    max_grad_norm: float | None = None
    verbose: int = 0
    epoch_offset: int = 0
    max_time: float | None = None


@dataclass
class LoopResult:
    """What :func:`train` reports back to the estimator."""

    history: list = field(default_factory=list)
    best_loss: float = math.inf
    stopped_early: bool = False
    interrupted: bool = False
    timed_out: bool = False


def batch_bounds(n, batch_size):
    """``(start, stop)`` of each mini-batch over ``n`` rows.

    A last batch of a single row is merged into the one before it: layers
    such as ``BatchNorm1d`` cannot train on one row.
    """
    bounds = [(lo, min(lo + batch_size, n)) for lo in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def _elapsed_fraction(cfg, start):
    """Fraction of ``cfg.max_time`` spent since ``start`` (0 without a budget)."""
    if cfg.max_time is None:
        return 0.0
    return (time.perf_counter() - start) / cfg.max_time


def check_points(n_rows, n_batches, n_val):
    """Indices of the batches of an epoch after which the monitored loss is checked.

    One check at the end of the epoch; an epoch of ``n_rows`` training rows
    is cut into ``n_rows // period`` evenly spaced checks, where ``period``
    is the larger of :data:`CHECK_SAMPLES` and ``2 * n_val`` (so that
    validating costs a small fraction of training).  The last batch always
    ends a check.
    """
    n_checks = max(1, n_rows // max(CHECK_SAMPLES, 2 * n_val))
    return {math.ceil((i + 1) * n_batches / n_checks) - 1 for i in range(n_checks)}


def _run_epoch(net, optimizer, reader, train_idx, loss_fn, generator, cfg, local, base_lrs, bar,
               start, n_val, steps):
    """One pass over the training rows, pausing at each check point.

    Yields ``(loss, parts, n)`` at each of :func:`check_points`: the sums
    of the loss and of its parts over the ``n`` rows since the previous
    check.  When the time budget runs out the pass ends early, with a last
    yield for the batches it ran (none if it ran no batch).
    """
    net.train()
    order = train_idx[torch.randperm(len(train_idx), generator=generator)]
    bounds = batch_bounds(len(order), cfg.batch_size)
    checks = check_points(len(order), len(bounds), n_val)
    epoch = cfg.epoch_offset + local
    annealed = cfg.schedule in ("cosine", "onecycle")
    total, parts, seen, factor = 0.0, {}, 0, 1.0
    for b, (lo, hi) in enumerate(bounds):
        spent = _elapsed_fraction(cfg, start)
        if spent >= 1.0 and (b or local):  # the first batch of a fit always runs
            break
        x = reader.take(order[lo:hi])
        if annealed:
            # the clock drives the schedule only from the second epoch on: the first
            # epoch's steps (start-up costs included) follow the epoch count alone, so
            # that a fit whose budget does not bind never depends on the clock
            progress = max((local + b / len(bounds)) / cfg.max_epochs, spent if local else 0.0)
            factor = schedule_factor(cfg.schedule, progress)
            for group, lr in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = lr * factor
        loss, terms = loss_fn(net, x, generator, epoch)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"Training diverged: the loss became {value} at epoch {epoch + 1}, "
                f"batch {b + 1}. Try a lower learning_rate (it is "
                f"{base_lrs[0] * factor:.3g}), set max_grad_norm, or scale X."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
        optimizer.step()
        steps[0] += 1
        if steps[0] % FLUSH_STEPS == 0:
            flush_subnormal_state(optimizer)
        n = x.shape[0]
        total += value * n
        seen += n
        for key, val in terms.items():
            parts[key] = parts.get(key, 0.0) + val.detach() * n
        if bar is not None:
            bar.update(1)
        if b in checks:
            yield total, parts, seen
            net.train()  # the check evaluated the network in eval mode
            total, parts, seen = 0.0, {}, 0
    if seen:
        yield total, parts, seen


def evaluate(net, reader, indices, loss_fn, generator, batch_size):
    """Mean of ``loss_fn`` (per-sample losses) over ``indices``, in eval mode."""
    net.eval()
    total, seen = 0.0, 0
    with torch.inference_mode():
        for x in reader.batches(indices, batch_size):
            total += float(loss_fn(net, x, generator).sum())
            seen += x.shape[0]
    return total / max(seen, 1)


def user_stacklevel():
    """``stacklevel`` for a warning that should point at the caller of skae.

    Skips the frames of skae itself and of scikit-learn's ``_fit_context``
    wrapper, so the warning names the user's line (or the scikit-learn
    meta-estimator that called ``fit``).
    """
    import sklearn.base

    own = os.path.dirname(os.path.abspath(__file__))  # the skae package
    wrapper = sklearn.base.__file__
    frame, level = sys._getframe(1), 1
    while frame is not None and (
        frame.f_code.co_filename.startswith(own) or frame.f_code.co_filename == wrapper
    ):
        frame, level = frame.f_back, level + 1
    return level


@dataclass
class _Monitor:
    """Early stopping's state: the best monitored loss and the checks since it improved."""

    cfg: LoopConfig
    best: float = math.inf
    best_state: dict | None = None
    no_improve: int = 0
    # The validation loss before training (None: the window rule is off),
    # the learning rate at the start, the training samples seen so far and,
    # per check, (samples, best loss, learning rate).
    start_loss: float | None = None
    first_lr: float = math.inf
    seen: int = 0
    trail: list = field(default_factory=list)

    def check(self, monitored, n, net, optimizer):
        """Take one check of the monitored loss after ``n`` more samples; whether to stop.

        A check that does not improve on the best by ``tol`` (relative)
        counts towards the patience, ``n_iter_no_change``; a new best's
        weights are kept (``keep_best``); the ``"plateau"`` schedule halves
        the rate every ``n_iter_no_change // 2`` checks without progress.
        Training also stops when the fit has :meth:`stalled`.
        """
        cfg = self.cfg
        threshold = self.best - cfg.tol * abs(self.best)
        if monitored < threshold or not math.isfinite(self.best):
            self.no_improve = 0
        else:
            self.no_improve += 1
        if monitored < self.best:
            self.best = monitored
            if cfg.keep_best:
                self.best_state = copy.deepcopy(net.state_dict())
        if cfg.schedule == "plateau" and self.no_improve > 0 and self.no_improve % max(
            1, cfg.n_iter_no_change // 2
        ) == 0:
            for group in optimizer.param_groups:
                group["lr"] *= 0.5
        self.seen += n
        self.trail.append((self.seen, self.best, optimizer.param_groups[0]["lr"]))
        return cfg.stop_on_plateau and (self.no_improve >= cfg.n_iter_no_change or self.stalled())

    def stalled(self):
        """Whether the loss still creeps down at a lowered rate, by negligible amounts.

        True when, over the last ``n_iter_no_change * WINDOW_SAMPLES``
        training samples, the learning rate stayed the same, below the
        fit's first rate, and the best loss improved, but by less than
        ``tol * |start_loss|`` (measured from the best at the last check
        before the window).  Such a loss keeps improving by more than
        ``tol`` relative to itself, so neither the patience nor the
        ``"plateau"`` schedule's halvings end it, long after its gains have
        become negligible against what training has gained (a fraction of
        a percent of R²).  A window without any improvement is left to the
        patience, and one that lowered the rate (or before the first
        lowering) to the schedule: the loss often drops again after a
        halving.  On small data the window spans many epochs, and the
        patience ends the fit first; under the other schedules the rate
        never stays below its start, and this never fires.
        """
        if self.start_loss is None:
            return False
        seen, best, lr = self.trail[-1]
        since = seen - self.cfg.n_iter_no_change * WINDOW_SAMPLES
        past = next((entry for entry in reversed(self.trail) if entry[0] <= since), None)
        return (past is not None and lr == past[2] < self.first_lr
                and 0 < past[1] - best < self.cfg.tol * abs(self.start_loss))


def _validation_loss(net, reader, val_idx, val_fn, generator, batch_size):
    """The validation loss, with the same noise draws at every call."""
    val_gen = torch.Generator(device=generator.device)
    val_gen.manual_seed(_VALIDATION_NOISE_SEED)
    return evaluate(net, reader, val_idx, val_fn, val_gen, batch_size)


def _validate(net, reader, val_idx, val_fn, generator, batch_size, epoch):
    """The validation loss of a check; a non-finite one raises ``TrainingDivergedError``."""
    value = _validation_loss(net, reader, val_idx, val_fn, generator, batch_size)
    if not math.isfinite(value):
        raise TrainingDivergedError(
            f"Training diverged: the validation loss became {value} at epoch "
            f"{epoch + 1}. Try a lower learning_rate or set max_grad_norm."
        )
    return value


def train(net, optimizer, reader, train_idx, val_idx, loss_fn, val_fn, generator, cfg):
    """Train ``net`` in place and return a :class:`LoopResult`.

    Parameters
    ----------
    net : torch.nn.Module
        The network; left in eval mode holding the best weights seen when
        ``cfg.keep_best``, else the last ones.
    optimizer : torch.optim.Optimizer
    reader : skae._data.BatchReader
    train_idx, val_idx : 1-D int64 tensors
        Rows used for gradient steps and for validation (may be empty).
    loss_fn : callable ``(net, x, generator, epoch) -> (loss, parts)``
        Mean training loss of a batch and a dict of its parts (tensors).
    val_fn : callable ``(net, x, generator) -> per-sample losses``
    generator : torch.Generator
        Drives shuffling and every random draw of ``loss_fn``.
    cfg : LoopConfig

    A first ``KeyboardInterrupt`` ends training with a warning (the result
    says so); a second one within ``_REPEAT_INTERRUPT_SECONDS`` of it is
    raised, so that a search over many fits can be stopped.
    """
    global _last_interrupt
    result = LoopResult()
    use_val = cfg.monitor_validation and len(val_idx) > 0
    eval_batch = max(cfg.batch_size, 1024)
    monitor = _Monitor(cfg)
    if use_val and cfg.stop_on_plateau:
        before = _validation_loss(net, reader, val_idx, val_fn, generator, eval_batch)
        monitor.start_loss = before if math.isfinite(before) else None
        monitor.first_lr = optimizer.param_groups[0]["lr"]
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    bar, began, steps = None, time.perf_counter(), [0]
    if cfg.verbose >= 2:
        from tqdm.auto import tqdm

        n_batches = len(batch_bounds(len(train_idx), cfg.batch_size))
        bar = tqdm(total=cfg.max_epochs * n_batches, unit="batch", leave=False)
    try:
        for local in range(cfg.max_epochs):
            epoch = cfg.epoch_offset + local
            start = time.perf_counter()
            total, parts, seen, stop = 0.0, {}, 0, False
            for part_total, part_terms, n in _run_epoch(
                net, optimizer, reader, train_idx, loss_fn, generator, cfg, local, base_lrs, bar,
                began, len(val_idx) if use_val else 0, steps,
            ):
                total, seen = total + part_total, seen + n
                for key, val in part_terms.items():
                    parts[key] = parts.get(key, 0.0) + val
                monitored = part_total / n
                if use_val:
                    monitored = validation = _validate(net, reader, val_idx, val_fn, generator,
                                                       eval_batch, epoch)
                lr = optimizer.param_groups[0]["lr"]
                stop = monitor.check(monitored, n, net, optimizer)
                if stop:
                    break
            if seen == 0:  # the time budget ran out before this epoch's first batch
                result.timed_out = True
                break
            record = {"epoch": epoch + 1, "loss": total / seen,
                      **{k: float(v) / seen for k, v in parts.items()}}
            if use_val:
                record["validation_loss"] = validation
            record["lr"] = lr
            record["time"] = time.perf_counter() - start
            result.history.append(record)
            if cfg.verbose >= 1:
                _report(record, bar)
            if stop:
                result.stopped_early = True
                break
            if _elapsed_fraction(cfg, began) >= 1.0:
                result.timed_out = True
                break
    except KeyboardInterrupt:
        now = time.monotonic()
        if now - _last_interrupt < _REPEAT_INTERRUPT_SECONDS:
            _last_interrupt = -math.inf
            raise
        _last_interrupt = now
        result.interrupted = True
        warnings.warn(
            f"Training interrupted by the user after {len(result.history)} epochs; "
            "keeping the " + ("best weights found so far" if cfg.keep_best else "last weights")
            + f". Press Ctrl-C again within {_REPEAT_INTERRUPT_SECONDS:.0f} s to stop "
            "what called fit as well.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    finally:
        if bar is not None:
            bar.close()
    result.best_loss = monitor.best
    if monitor.best_state is not None:
        net.load_state_dict(monitor.best_state)
    optimizer.zero_grad(set_to_none=True)  # a fitted network holds no gradients
    flush_subnormal_state(optimizer)  # the state kept for a later fit
    net.eval()
    if not result.stopped_early and not result.interrupted and cfg.stop_on_plateau:
        limit = (f"at max_time={cfg.max_time:g} s after {len(result.history)} epochs"
                 if result.timed_out else f"after max_iter={cfg.max_epochs} epochs")
        remedy = "max_time" if result.timed_out else "max_iter"
        warnings.warn(
            f"Training stopped {limit} before the monitored loss stopped "
            f"improving; increase {remedy} or tol.",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return result


def _report(record, bar):
    fixed = ("epoch", "loss", "validation_loss", "lr", "time")
    terms = [k for k in record if k not in fixed]
    shown = ["loss", *(terms if len(terms) > 1 else []), "validation_loss"]
    # a loss of one term is not printed twice
    parts = "  ".join(f"{k}={record[k]:.5g}" for k in shown if k in record)
    line = f"epoch {record['epoch']:4d}  {parts}  lr={record['lr']:.3g}  ({record['time']:.2f}s)"
    if bar is not None:
        bar.write(line)
    else:
        print(line, flush=True)
