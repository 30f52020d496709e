"""Final training of one network: many epochs, augmentation, a checkpoint after every epoch.

The search's estimator trains proxies (a few epochs, maybe a subset, maybe a lower resolution);
what a user ships is trained once more, here, with the full recipe at the resolution it is
deployed and timed at. The recipe is hwnas.nn.train's (SGD with Nesterov momentum, cosine
decay per step to 0, label smoothing, BatchNorm re-estimated at the end) plus augmentation and
many more epochs.

A training is a pure function of (network, data, recipe): seeded weight init, a seeded shuffle
generator and a seeded augmentation generator, a fixed thread count. After every epoch the
weights, the optimizer's momentum, both generators' states and the curve so far are written
atomically to one checkpoint, so a training killed at any point and resumed from its last
checkpoint ends with the same weights, bit for bit, as one never interrupted.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from hwnas.errors import BadInputError, HwnasRuntimeError
from hwnas.fileio import atomic_write_bytes
from hwnas.nn import train as nt
from hwnas.nn.augment import Augment

CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class Recipe:
    """How the final network is trained; stored with it, and a resume must match it."""

    epochs: int
    batch_size: int = 64
    lr: float = 0.1
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    augment: bool = True
    threads: int = 1
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def config(self) -> nt.TrainConfig:
        return nt.TrainConfig(self.epochs, self.batch_size, self.lr, self.weight_decay,
                              self.label_smoothing)


def train_final(build: Callable[[], torch.nn.Module], train: tuple, val: tuple, recipe: Recipe,
                augment: Augment | None, checkpoint: Path,
                progress: Callable[[dict], None] | None = None) -> tuple[torch.nn.Module, list]:
    """Train the network `build()` makes on `train` = (x, y), evaluating on `val` after each
    epoch (reported, never used to choose anything); resumes from `checkpoint` when it exists
    (the caller checks it belongs to this training). Returns the trained model (BatchNorm
    re-estimated on the unaugmented training images) and the per-epoch curve.

    Raises HwnasRuntimeError when the loss stops being finite."""
    x, y = train
    config = recipe.config()
    device = x.device
    with nt.torch_threads(recipe.threads), nt.forked_rng(device), nt.deterministic_cudnn(device):
        torch.manual_seed(recipe.seed)  # weight init
        model = build().to(device)
        shuffle = torch.Generator().manual_seed(recipe.seed)
        draws = torch.Generator().manual_seed(recipe.seed + 1)  # augmentation's own stream
        optimizer = nt.sgd(model.parameters(), config)
        start, curve = 0, []
        state = load_checkpoint(checkpoint)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            shuffle.set_state(state["shuffle"])
            draws.set_state(state["augment"])
            start, curve = int(state["epoch"]), list(state["curve"])
        steps = list(nt.batches(len(y), config.batch_size))
        total = config.epochs * len(steps)
        if progress:  # the clock starts here, so the time left is known after one epoch
            progress({"event": "start", "epoch": start, "epochs": config.epochs})
        for epoch in range(start, config.epochs):
            began = time.perf_counter()
            loss = _epoch(model, optimizer, x, y, steps, epoch, total, config, shuffle,
                          augment if recipe.augment else None, draws)
            if not math.isfinite(loss):
                raise HwnasRuntimeError(f"final training diverged: the loss became {loss} in "
                                        f"epoch {epoch + 1}; train again with a lower --lr "
                                        f"(was {recipe.lr:g})")
            accuracy = nt.evaluate_accuracy(model, *val)
            curve.append({"epoch": epoch + 1, "train_loss": loss, "val_accuracy": accuracy,
                          "lr_end": nt.cosine_lr(config.lr, (epoch + 1) * len(steps), total),
                          "seconds": time.perf_counter() - began})
            save_checkpoint(checkpoint, {"format": CHECKPOINT_FORMAT, "epoch": epoch + 1,
                                         "model": model.state_dict(),
                                         "optimizer": optimizer.state_dict(),
                                         "shuffle": shuffle.get_state(),
                                         "augment": draws.get_state(), "curve": curve})
            if progress:
                progress({"event": "epoch", **curve[-1], "epochs": config.epochs,
                          "resumed_from": start, "curve": list(curve)})
        if curve:  # a finite divergence (hwnas.nn.train.blown_up) ships no better
            classes = int(y.max()) + 1  # the labels' classes: no forward pass to change BN
            reason = nt.blown_up(model, curve[-1]["train_loss"], classes)
            if reason:
                raise HwnasRuntimeError(f"final training diverged: {reason.split(' (')[0]}; "
                                        f"train again with a lower --lr (was {recipe.lr:g})")
        nt.recalibrate_bn(model, x, config.batch_size)
        if nt.non_finite_tensors(model.state_dict()):
            raise HwnasRuntimeError("final training left non-finite weights (NaN or inf); "
                                    f"train again with a lower --lr (was {recipe.lr:g})")
    return model, curve


def _epoch(model, optimizer, x, y, steps, epoch, total, config, shuffle, augment, draws) -> float:
    """One pass over the data; the mean training loss (one device sync, at the end)."""
    model.train()
    order = torch.randperm(len(y), generator=shuffle).to(x.device)
    losses = torch.zeros((), device=x.device)
    for i, part in enumerate(steps):
        nt.set_lr(optimizer, nt.cosine_lr(config.lr, epoch * len(steps) + i, total))
        idx = order[part]
        batch = x[idx] if augment is None else augment(x[idx], draws)
        loss = F.cross_entropy(model(batch), y[idx], label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses += loss.detach()
    return float(losses) / len(steps)


def save_checkpoint(path: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())  # a kill mid-write leaves the previous epoch's


def load_checkpoint(path: Path) -> dict | None:
    """The checkpoint's state, or None when there is none. A file that is not one (damaged,
    another format) is an error naming it: silently restarting would hide lost epochs."""
    from hwnas.fileio import may_exist
    from hwnas.weights_file import load_tensors

    if not may_exist(path):
        return None
    try:  # as tensors only, and only from a regular file (hwnas.weights_file)
        state = load_tensors(path, "checkpoint", "delete it, or train again with --force")
    except BadInputError as exc:  # a damaged checkpoint is a failure of this training
        raise HwnasRuntimeError(str(exc)) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise HwnasRuntimeError(f"checkpoint {path} is not a hwnas final-training checkpoint; "
                                "delete it, or train again with --force")
    return state
