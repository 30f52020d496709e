"""The one-shot training loop: a supernet, a method's hooks, the data split in two.

The dataset's training images are split once (stratified, fixed seed): `1 - arch_split` of
them train the supernet's weights, the rest (held out) the architecture parameters, as in
ProxylessNAS, DARTS and FBNet. The run's validation images are never seen here: the derived
architecture is scored on them by the run's estimator, like any candidate.

The weight recipe is the scratch estimator's (hwnas.nn.train: SGD with Nesterov momentum, a
cosine learning rate stepped per batch, the same batches): `warmup_epochs` of weight steps
only, then `arch_every` weight steps per architecture step. Per epoch the trainer logs the
losses, training accuracy (of the paths the weight steps ran), accuracy of the current argmax
architecture on the held-out split (its weights taken from the supernet, BatchNorm statistics
re-estimated), E[cost] of the current distribution against the target, the distribution's mean
entropy and every probability: the trajectory saved beside the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from hwnas.nn import train as nt
from hwnas.oneshot.derive import Derived, derive
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.method import OneShotMethod
from hwnas.oneshot.supernet import Supernet

ARCH_SPLIT_SEED = 1  # the weights/architecture split of the training images


@dataclass(frozen=True)
class OneShotConfig:
    epochs: int
    warmup_epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    arch_split: float
    device: str = "cpu"
    threads: int | None = None
    # how the supernet's candidates hold their weights (hwnas.oneshot.weight_options)
    weights: str = "separate"
    kernel_transform: bool = False


@dataclass
class OneShotResult:
    derived: Derived
    trajectory: list[dict]
    seconds: float
    target: float | None
    diverged: str | None = None  # "loss became nan at epoch E step S"; α of the last good epoch
    # how far the architecture distribution moved from where it started: the largest change of
    # any option's probability, and the mean entropy before and after (hwnas.oneshot.stillness)
    alpha_moved: float = 0.0
    entropy: tuple[float, float] = (0.0, 0.0)
    # the accuracy signal the architecture steps had: the best held-out accuracy of the argmax
    # network with the supernet's weights over the epochs, beside guessing's and the number of
    # held-out images it was measured on (hwnas.oneshot.stillness)
    signal: dict | None = None


def split_for_arch(x: torch.Tensor, y: torch.Tensor, share: float):
    """(weight_x, weight_y, arch_x, arch_y): a stratified split of the training images."""
    from hwnas.data import stratified_split

    n_arch = max(2, int(round(share * len(y))))
    weight_idx, arch_idx = stratified_split(y.cpu().numpy(), len(y) - n_arch,
                                            seed=ARCH_SPLIT_SEED)
    weight_idx, arch_idx = torch.as_tensor(weight_idx), torch.as_tensor(arch_idx)
    return x[weight_idx], y[weight_idx], x[arch_idx], y[arch_idx]


def entropy(probs: list[torch.Tensor]) -> float:
    """Mean entropy per position, in nats (log K for uniform over K options, 0 for one-hot)."""
    values = [float(-(p * torch.log(p.clamp_min(1e-12))).sum()) for p in probs]
    return sum(values) / len(values)


def train_supernet(space, method_cls, method_options: dict, config: OneShotConfig,
                   train_x: torch.Tensor, train_y: torch.Tensor, *, seed: int,
                   cost: ExpectedCost | None, target: float | None, lam: float,
                   hard_target: bool = False,
                   progress: Callable[[dict], None] | None = None) -> OneShotResult:
    """Train a supernet of `space` with `method_cls` and derive one architecture.

    `target` is the loss's T; with `hard_target` it is also a limit on the derived
    architecture's table cost (hwnas.oneshot.derive)."""
    device = torch.device(config.device)
    start = time.perf_counter()
    with nt.torch_threads(config.threads), nt.forked_rng(device), nt.deterministic_cudnn(device):
        torch.manual_seed(seed)
        supernet = Supernet(space, config.weights, config.kernel_transform).to(device)
        wx, wy, ax, ay = split_for_arch(train_x.to(device), train_y.to(device),
                                        config.arch_split)
        recipe = nt.TrainConfig(config.epochs, config.batch_size, config.lr, config.weight_decay)
        optimizer = nt.sgd(supernet.weight_parameters(), recipe)
        generator = torch.Generator().manual_seed(seed)
        method = method_cls(supernet, optimizer, cost, target, lam, method_options, generator)
        method.warmup_epochs = config.warmup_epochs
        steps = list(nt.batches(len(wy), config.batch_size))
        arch_steps = list(nt.batches(len(ay), config.batch_size))
        total, step, arch_cursor = config.epochs * len(steps), 0, 0
        trajectory: list[dict[str, Any]] = []
        diverged: str | None = None
        good_alpha = _snapshot(supernet)  # α to derive from if the training diverges
        start_probs = [p.detach().clone() for p in method.distribution()]

        def arch_step(arch_order, sums: dict, where: str) -> str | None:
            """One architecture step on the next held-out batch; why it diverged, or None."""
            nonlocal arch_cursor
            a_idx = arch_order[arch_steps[arch_cursor % len(arch_steps)]]
            arch_cursor += 1
            arch_out = method.arch_step(ax[a_idx], ay[a_idx])
            if not _finite(supernet):  # the next weight step would sample from NaN
                return f"architecture parameters became non-finite at {where}"
            sums["arch_loss"] += arch_out["loss"]
            sums["arch_steps"] += 1
            return None

        for epoch in range(config.epochs):
            method.start_epoch(epoch, config.epochs)
            supernet.train()
            order = torch.randperm(len(wy), generator=generator).to(device)
            arch_order = torch.randperm(len(ay), generator=generator).to(device)
            sums = {"loss": 0.0, "steps": 0, "correct": 0, "seen": 0, "arch_loss": 0.0,
                    "arch_steps": 0}
            for i, part in enumerate(steps):
                nt.set_lr(optimizer, nt.cosine_lr(config.lr, step, total))
                idx = order[part]
                where = f"epoch {epoch + 1} step {i + 1}"
                bx, by = wx[idx], wy[idx]
                method.train_batch = (bx, by)
                searching = epoch >= config.warmup_epochs and (i + 1) % method.arch_every == 0
                if searching and method.arch_first:  # DARTS: α steps before the weights do
                    diverged = arch_step(arch_order, sums, where)
                    if diverged is not None:
                        break
                out = method.weight_step(bx, by)
                if not math.isfinite(out["loss"]):
                    diverged = f"loss became {out['loss']} at {where}"
                    break  # NaN weights cannot recover
                sums["loss"] += out["loss"]
                sums["correct"] += out["correct"]
                sums["seen"] += len(idx)
                sums["steps"] += 1
                step += 1
                if searching and not method.arch_first:
                    diverged = arch_step(arch_order, sums, where)
                    if diverged is not None:
                        break
            if diverged is not None:
                _restore(supernet, good_alpha)  # derive from the last epoch that ended well
                trajectory.append({"epoch": epoch, "epochs": config.epochs,
                                   "diverged": diverged})
                if progress is not None:
                    progress({"event": "notice", "summary": f"training diverged ({diverged}); "
                              "deriving from the architecture parameters of the last good "
                              "epoch (a lower lr or lambda may help)"})
                break
            good_alpha = _snapshot(supernet)
            entry = _epoch_entry(epoch, config, method, supernet, sums, ax, ay, cost, target)
            trajectory.append(entry)
            if progress is not None:
                progress({"event": "epoch", **{k: v for k, v in entry.items() if k != "probs"},
                          "summary": _summary(entry, config)})
        probs = method.distribution()
        derived = derive(probs, supernet.positions, space, cost,
                         target if hard_target else None)
        moved = max(float((p.detach() - p0).abs().max()) for p, p0 in zip(probs, start_probs,
                                                                           strict=True))
    accs = [e["argmax_val_acc"] for e in trajectory if "argmax_val_acc" in e]
    signal = None if not accs else {"best_argmax_acc": max(accs), "held_out": len(ay),
                                    "chance": 1.0 / max(1, len(torch.unique(ay)))}
    return OneShotResult(derived, trajectory, time.perf_counter() - start, target, diverged,
                         moved, (entropy(start_probs), entropy(probs)), signal)


def _snapshot(supernet: Supernet) -> list[torch.Tensor]:
    return [p.detach().clone() for p in supernet.arch_parameters()]


def _finite(supernet: Supernet) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in supernet.arch_parameters())


def _restore(supernet: Supernet, alpha: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for p, saved in zip(supernet.arch_parameters(), alpha, strict=True):
            p.copy_(saved)


def _epoch_entry(epoch, config, method, supernet, sums, ax, ay, cost, target) -> dict:
    probs = method.distribution()
    arch = supernet.space.arch_from_positions(probs, supernet.positions)
    expected = method.expected_cost(probs)
    return {
        "epoch": epoch, "epochs": config.epochs,
        "phase": "warmup" if epoch < config.warmup_epochs else "search",
        "train_loss": sums["loss"] / max(1, sums["steps"]),
        "train_acc": sums["correct"] / max(1, sums["seen"]),
        "arch_loss": (sums["arch_loss"] / sums["arch_steps"]) if sums["arch_steps"] else None,
        "argmax_val_acc": _argmax_accuracy(method, supernet, arch, ax, ay, config.batch_size),
        "expected_cost": None if expected is None else float(expected),
        "argmax_cost": None if cost is None else cost.of_arch(arch),
        "target": target,
        "entropy": entropy(probs),
        "argmax": dict(arch.values),
        "probs": [[round(float(v), 6) for v in p] for p in probs],
        **method.log(),
    }


def _argmax_accuracy(method: OneShotMethod, supernet: Supernet, arch, x, y,
                     batch_size: int) -> float:
    """The argmax architecture on the held-out split, with the supernet's weights of that path
    and BatchNorm statistics re-estimated for it (shared statistics mix every path's)."""
    method.before_child()
    child = supernet.child(arch).to(x.device)
    nt.recalibrate_bn(child, x, batch_size)
    return nt.evaluate_accuracy(child, x, y)


def _summary(entry: dict, config: OneShotConfig) -> str:
    cost = entry["expected_cost"]
    lat = "" if cost is None else f"  E[cost] {cost:.4g}"
    target = "" if entry["target"] is None or cost is None else f" (T {entry['target']:.4g})"
    return (f"epoch {entry['epoch'] + 1}/{config.epochs} {entry['phase']}: loss "
            f"{entry['train_loss']:.3f} train acc {entry['train_acc']:.3f} argmax val acc "
            f"{entry['argmax_val_acc']:.3f}{lat}{target}  entropy {entry['entropy']:.3f}")
