"""Single-path weight sharing: one supernet whose weights are trained one sampled path at a time,
and candidates scored with the weights they inherit from it.

Shared by the `shared` estimator (weight-sharing random search, Li & Talwalkar 2019), SPOS
(Guo et al., 2019: uniform sampling) and ENAS (Pham et al., 2018: paths sampled by the
controller), so all three train and score exactly the same way:

* `SinglePathTrainer.epoch(x, y, sample)`: one pass over (x, y); for each minibatch `sample()`
  gives one option index per position, the supernet runs only that path
  (`Supernet.set_paths`), and one SGD step follows. Candidates off the path are not in the
  graph, so their gradients stay None and torch's SGD leaves them (momentum and weight decay
  included) untouched; entangled candidates' shared tensors (hwnas.oneshot.entangled) are in
  the graph whenever one of their family runs, and step as a whole. The recipe (SGD with
  Nesterov momentum, cosine learning rate per step, label smoothing) is hwnas.nn.train's, so
  a supernet compares with `scratch`.
* `uniform_sampler(supernet, generator)`: SPOS's sampler, each position's option uniform.
* `inherited_accuracy(supernet, arch, calib, x, y)`: the path `arch` with the supernet's
  weights, BatchNorm statistics re-estimated on the calibration minibatches (the shared
  running statistics mix every path's, so without this an inherited-weight accuracy says
  little: SPOS recalibrates per candidate), then top-1 accuracy on (x, y). It runs in the
  supernet itself (cheaper than building the child); the child `space.build(arch)` with
  `supernet.child_state_dict(arch)` gives the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from hwnas.arch import Arch
from hwnas.nn import train as nt
from hwnas.nn.batchnorm import recalibrate_batchnorm
from hwnas.oneshot.supernet import Supernet

Sampler = Callable[[], Sequence[int]]


def uniform_sampler(supernet: Supernet, generator: torch.Generator) -> Sampler:
    """Each call: one option index per position, uniform and independent (SPOS); where the
    space's positions are not its choices (an edge supernet: nasnet, darts), the positions of
    a uniformly sampled architecture, so every trained path is a network (independent edges
    would give a node several inputs or none: such a supernet scored at chance)."""
    space = supernet.space
    if not space.positions_are_choices:
        def sample_arch() -> list[int]:
            seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
            return supernet.indices(space.sample(np.random.default_rng(seed)))

        return sample_arch
    sizes = [len(p.options) for p in supernet.positions]

    def sample() -> list[int]:
        return [int(torch.randint(n, (1,), generator=generator)) for n in sizes]

    return sample


@dataclass
class EpochStats:
    loss: float  # mean training loss over the epoch's steps (inf/NaN once diverged)
    accuracy: float  # training accuracy of the paths that ran
    steps: int
    paths: list[list[int]]  # the path of every step, in order

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.loss)


class SinglePathTrainer:
    """SGD on a supernet's weights, one path per minibatch; the learning rate follows one
    cosine over `total_epochs` epochs of `steps_per_epoch` steps, however the epochs are
    interleaved with other work (ENAS's controller phases)."""

    def __init__(self, supernet: Supernet, config: nt.TrainConfig, n_train: int,
                 generator: torch.Generator):
        self.supernet = supernet
        self.config = config
        self.generator = generator  # shuffles each epoch (CPU: the same order on any device)
        self.steps = list(nt.batches(n_train, config.batch_size))
        self.total = config.epochs * len(self.steps)
        self.step = 0
        self.optimizer = nt.sgd(supernet.weight_parameters(), config)

    def epoch(self, x: torch.Tensor, y: torch.Tensor, sample: Sampler) -> EpochStats:
        self.supernet.train()
        order = torch.randperm(len(y), generator=self.generator).to(x.device)
        loss_sum, correct, seen, paths = 0.0, 0, 0, []
        for part in self.steps:
            path = [int(j) for j in sample()]
            paths.append(path)
            self.supernet.set_paths([[j] for j in path])
            nt.set_lr(self.optimizer, nt.cosine_lr(self.config.lr, min(self.step, self.total),
                                                   self.total))
            idx = order[part]
            logits = self.supernet(x[idx])
            loss = F.cross_entropy(logits, y[idx], label_smoothing=self.config.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)  # off-path grads stay None
            loss.backward()
            self.optimizer.step()
            self.step += 1
            value = float(loss.detach())
            loss_sum += value
            correct += int((logits.detach().argmax(1) == y[idx]).sum())
            seen += len(idx)
            if not math.isfinite(value):  # NaN weights cannot recover: stop here
                return EpochStats(value, correct / max(1, seen), len(paths), paths)
        return EpochStats(loss_sum / max(1, len(paths)), correct / max(1, seen), len(paths),
                          paths)


def calibration_batches(x: torch.Tensor, batch_size: int, n_batches: int,
                        seed: int) -> list[torch.Tensor]:
    """`n_batches` training minibatches, drawn once (fixed seed), so that every candidate's
    BatchNorm statistics are re-estimated on the same images."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(x.device)
    parts = list(nt.batches(len(x), max(2, batch_size)))[:n_batches]
    return [x[order[p]] for p in parts]


def recalibrate_path(supernet: Supernet, arch: Arch, calib: Sequence[torch.Tensor]) -> None:
    """Run `arch`'s path and re-estimate its BatchNorm statistics on `calib` (exact average);
    the weights are not touched."""
    supernet.set_arch(arch)
    recalibrate_batchnorm(supernet, calib)


def inherited_accuracy(supernet: Supernet, arch: Arch, calib: Sequence[torch.Tensor],
                       x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of `arch` on (x, y) with the weights it inherits from `supernet`, its
    BatchNorm statistics re-estimated on `calib` first."""
    recalibrate_path(supernet, arch, calib)
    return nt.evaluate_accuracy(supernet, x, y)


def train_uniform(space, x: torch.Tensor, y: torch.Tensor, config: nt.TrainConfig, *,
                  seed: int, device: torch.device,
                  on_epoch: Callable[[int, EpochStats], None] | None = None,
                  weights: str = "separate", kernel_transform: bool = False
                  ) -> tuple[Supernet, list[EpochStats]]:
    """A supernet of `space` (weights initialised from `seed`; `weights` and
    `kernel_transform` as hwnas.oneshot.weight_options) trained for `config.epochs` epochs
    with one uniformly sampled path per minibatch: the `shared` estimator's and SPOS's
    supernet. Stops after an epoch whose loss is not finite (the caller decides what a
    diverged supernet means). Call it inside `nt.torch_threads` / `nt.forked_rng`."""
    torch.manual_seed(seed)  # weight init (the caller forks the global RNG)
    supernet = Supernet(space, weights, kernel_transform).to(device)
    generator = torch.Generator().manual_seed(seed)
    trainer = SinglePathTrainer(supernet, config, len(y), generator)
    sample = uniform_sampler(supernet, generator)
    log = []
    for epoch in range(config.epochs):
        stats = trainer.epoch(x, y, sample)
        log.append(stats)
        if on_epoch is not None:
            on_epoch(epoch, stats)
        if stats.diverged:
            break
    return supernet, log


def minibatch_accuracy(supernet: Supernet, arch: Arch, x: torch.Tensor,
                       y: torch.Tensor) -> float:
    """ENAS's controller reward: top-1 accuracy of the path `arch` on one minibatch with the
    shared weights, BatchNorm normalising with the minibatch's own statistics (training mode,
    as ENAS's code computes it: no recalibration pass per controller step). The running
    statistics are left as they were (momentum 0 for the pass)."""
    supernet.set_arch(arch)
    norms = [m for m in supernet.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0
    supernet.train()
    try:
        with torch.no_grad():
            correct = int((supernet(x).argmax(1) == y).sum())
    finally:
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum
    return correct / len(y)


class Minibatches:
    """Endless minibatches of range(n): a fresh seeded permutation per pass (ENAS's controller
    steps walk the validation split one minibatch at a time)."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator):
        self.n, self.generator = n, generator
        self.parts = list(nt.batches(n, batch_size))
        self.order: torch.Tensor | None = None
        self.cursor = 0

    def next(self) -> torch.Tensor:
        if self.order is None or self.cursor == len(self.parts):
            self.order = torch.randperm(self.n, generator=self.generator)
            self.cursor = 0
        part = self.parts[self.cursor]
        self.cursor += 1
        return self.order[part]
