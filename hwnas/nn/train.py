"""The training loop shared by every trainer: the `scratch` estimator and supernet trainers.

Data stays in memory as tensors and is batched by hand (on a 2-core CPU a DataLoader's workers
and per-sample collation cost more than the small nets do). The recipe, the same everywhere so
that numbers compare: SGD with Nesterov momentum 0.9, the learning rate decayed to 0 by a
cosine stepped per batch, cross-entropy with label smoothing, then BatchNorm statistics
re-estimated with the final weights.

`train` is the whole loop for one network. A trainer with its own step (a supernet that
samples a path per batch, an architecture-parameter update between weight updates) reuses the
parts instead, so its batches, schedule and statistics match `scratch` exactly::

    steps = list(batches(len(y), cfg.batch_size))
    optimizer = sgd(weights, cfg)
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(y), generator=gen).to(x.device)
        for i, idx in enumerate(steps):
            set_lr(optimizer, cosine_lr(cfg.lr, epoch * len(steps) + i, cfg.epochs * len(steps)))
            ...  # its own forward/backward on x[order[idx]], y[order[idx]]
    recalibrate_bn(model, x, cfg.batch_size)

Wrap the whole in `torch_threads`, `forked_rng` and `deterministic_cudnn` for a result that
repeats bit for bit and leaves no global state behind.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hwnas.nn.batchnorm import recalibrate_batchnorm

EVAL_BATCH = 512  # inference only: as large as memory allows, the result does not depend on it
MOMENTUM = 0.9


@dataclass(frozen=True)
class TrainConfig:
    """How to train: `epochs` over the data in batches of `batch_size`, base learning rate `lr`
    (cosine-decayed to 0), L2 `weight_decay`, cross-entropy `label_smoothing` in [0, 1)."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1


CHECK_EVERY = 16  # steps between finiteness checks: one device sync each, not one per step
# A training that stays finite can still have diverged: with a learning rate far too large the
# weights grow without bound (7.8e33 seen) and the network guesses. Measured on a proxyless
# network, 2 epochs, weight decay 5e-4: lr 0.2 leaves its largest weight near 3; lr 10 leaves
# 7e3 and a training loss of 5.2, above a uniform guess's log(10) = 2.3; lr 100 leaves 2e7.
WEIGHT_LIMIT = 1e6  # a weight beyond this is a divergence, whatever the loss says
CHANCE_FACTOR = 2.0  # a last epoch's loss above this many times a uniform guess's, too


@dataclass(frozen=True)
class TrainResult:
    """`loss`: mean training loss of the last epoch run, or, when `diverged`, the first loss
    that was not finite (NaN or inf), at 1-based `epoch` and `step` of that epoch: training
    stopped there, since NaN weights cannot recover."""

    loss: float
    diverged: bool
    epoch: int | None = None
    step: int | None = None
    reason: str | None = None  # a finite divergence (`blown_up`)

    def divergence(self) -> str:
        """The reason a diverged training is recorded with."""
        if self.reason:
            return f"diverged: {self.reason}"
        return f"diverged: loss became {self.loss} at epoch {self.epoch} step {self.step}"


def blown_up(model, loss: float, classes: int) -> str | None:
    """Why a finished, finite training counts as diverged (module constants), or None."""
    peak = max((float(p.detach().abs().max()) for p in model.parameters() if p.numel()),
               default=0.0)
    if peak > WEIGHT_LIMIT:
        return f"a weight reached {peak:.3g} (a lower lr may help)"
    chance = math.log(max(classes, 2))
    if loss > CHANCE_FACTOR * chance:
        return (f"the last epoch's training loss {loss:.4g} is over {CHANCE_FACTOR:g}x a "
                f"uniform guess's ({chance:.3f}; a lower lr may help)")
    return None


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Slices covering range(n) in order, `batch_size` at a time. A last batch of a single
    sample is dropped (unless it is the only one): BatchNorm in train mode needs 2 samples."""
    for start in range(0, n, batch_size):
        if n - start >= 2 or start == 0:
            yield slice(start, min(start + batch_size, n))


def cosine_lr(base: float, step: int, total: int) -> float:
    """Learning rate at `step` of `total`: `base` at step 0, decayed by half a cosine to 0."""
    return base * 0.5 * (1 + math.cos(math.pi * step / total))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def sgd(params, config: TrainConfig) -> torch.optim.SGD:
    """The recipe's optimizer: SGD, Nesterov momentum 0.9, `config`'s lr and weight decay."""
    return torch.optim.SGD(params, lr=config.lr, momentum=MOMENTUM, nesterov=True,
                           weight_decay=config.weight_decay)


def train(model, x: torch.Tensor, y: torch.Tensor, config: TrainConfig,
          generator: torch.Generator, on_epoch=None, on_step=None) -> TrainResult:
    """Train `model` in place on (x, y); `generator` shuffles each epoch (on the CPU, so the
    order is the same on every device). Stops within `CHECK_EVERY` steps of the first loss
    that is not finite (NaN weights cannot recover), and says where it was (`TrainResult`).

    `on_epoch(epoch, model) -> bool`, when given, is called after each finished epoch (1-based)
    and stops the training when it answers True (the learning rate schedule still spans
    `config.epochs`, so a stopped run is a prefix of the full one); it may evaluate the model
    but must leave its weights alone and consume no RNG (the `curve` estimator).

    `on_step(step, total)`, when given, is called before each step (0-based, of `total` over
    all epochs), e.g. to set a drop-path rate (hwnas.nn.drop_path.DropPathSchedule)."""
    steps = list(batches(len(y), config.batch_size))
    total = config.epochs * len(steps)
    optimizer = sgd(model.parameters(), config)
    model.train()
    step, epoch_loss = 0, float("nan")
    for epoch in range(config.epochs):
        order = torch.randperm(len(y), generator=generator).to(x.device)
        losses = torch.zeros((), device=x.device)
        per_step = torch.empty(len(steps), device=x.device)  # to name the first bad step
        for i, part in enumerate(steps):
            set_lr(optimizer, cosine_lr(config.lr, step, total))
            if on_step is not None:
                on_step(step, total)
            idx = order[part]
            logits = model(x[idx])
            loss = F.cross_entropy(logits, y[idx], label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses += loss.detach()
            per_step[i] = loss.detach()
            step += 1
            # A non-finite loss keeps the running sum non-finite (losses are >= 0), so one
            # check of the sum now and then sees it; a sync per step would slow a GPU down.
            if (i + 1) % CHECK_EVERY == 0 and not bool(torch.isfinite(losses)):
                return _diverged(per_step[: i + 1], epoch)
        epoch_loss = float(losses) / len(steps)  # one device sync per epoch, not per batch
        if not math.isfinite(epoch_loss):
            return _diverged(per_step, epoch)
        if on_epoch is not None:
            stop = on_epoch(epoch + 1, model)
            model.train()
            if stop:
                break
    reason = blown_up(model, epoch_loss, logits.shape[-1])
    if reason:
        return TrainResult(epoch_loss, True, epoch + 1, None, reason)
    return TrainResult(epoch_loss, False)


def _diverged(per_step: torch.Tensor, epoch: int) -> TrainResult:
    """Where the loss first stopped being finite; finite but huge losses whose float32 sum
    overflowed are an inf loss at the last step seen."""
    bad = torch.nonzero(~torch.isfinite(per_step))
    if not len(bad):
        return TrainResult(float("inf"), True, epoch + 1, len(per_step))
    first = int(bad[0, 0])
    return TrainResult(float(per_step[first]), True, epoch + 1, first + 1)


def non_finite_tensors(tensors: dict) -> list[str]:
    """Names of the floating-point tensors of a state_dict holding a NaN or an infinity."""
    return [name for name, t in tensors.items()
            if torch.is_tensor(t) and t.is_floating_point() and not bool(torch.isfinite(t).all())]


def recalibrate_bn(model, x: torch.Tensor, batch_size: int) -> None:
    """Re-estimate BatchNorm statistics with the final weights over `x` (running statistics
    from training mix early and late weights; see hwnas.nn.batchnorm)."""
    step = max(batch_size, 2)  # BN needs 2 samples per batch in train mode
    recalibrate_batchnorm(model, (x[part] for part in batches(len(x), step)))


def evaluate_accuracy(model, x: torch.Tensor, y: torch.Tensor,
                      batch_size: int = EVAL_BATCH) -> float:
    """Share of `x` whose top-1 prediction is `y`, in eval mode, as an exact ratio."""
    model.eval()
    correct = 0
    with torch.inference_mode():
        for s in range(0, len(y), batch_size):
            correct += int((model(x[s:s + batch_size]).argmax(1) == y[s:s + batch_size]).sum())
    return correct / len(y)


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Use `threads` intra-op threads inside the block (None: leave them), then restore."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def deterministic_cudnn(device: torch.device):
    """cuDNN picks non-deterministic conv kernels by default; force deterministic ones, then
    restore the user's flags. (No-op on CPU, whose kernels are deterministic per thread count.)"""
    if device.type != "cuda":
        yield
        return
    before = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before


def forked_rng(device: torch.device):
    """Seed torch's global RNGs freely inside the block (weight init); the CPU RNG and the
    device's CUDA RNG are restored after it, so callers' random streams are untouched."""
    cuda = [device.index or 0] if device.type == "cuda" else []
    return torch.random.fork_rng(devices=cuda)
