"""Once-for-all's elastic supernet and its progressive shrinking (Cai et al., 2020).

The elastic view of a chain space (`ElasticLayout`): stages of layers, every layer an inverted
residual of kernel k and expansion e, every layer of a stage but the first skippable (`zero`;
a first layer whose shapes allow `zero`, as at small widths, is never skipped: depth >= 1).
Once-for-all's elastic depth keeps the FIRST d layers of a stage; in the space that is `zero`
on the stage's trailing layers. A sub-network is a genome as once-for-all's code writes it:
`{"ks": [k per layer], "e": [e per layer], "d": [depth per stage]}`; the genes of a layer past
its stage's depth are carried but do not matter. The architectures it defines are the space's
architectures whose zeros trail within each stage (`ElasticLayout.genome` says None for any
other); an architecture with a zero between two layers builds the same network as the one with
the zero moved last (`zero` removes the layer), so nothing buildable is lost.

Progressive shrinking (`schedule`, `train_progressive`), in the paper's order:

1. `full`: the full network alone (largest kernel and expansion, every layer), cross-entropy.
2. `kernel`: each layer's kernel sampled among all kernels; depth and expansion still full.
3. `depth-1`, `depth-2`, ...: each stage's depth sampled, one smaller depth unlocked per
   phase (once-for-all: {4} -> {3,4} -> {2,3,4}); kernels as in 2.
4. `expand-1`, ...: each layer's expansion sampled, one smaller expansion unlocked per phase
   (once-for-all: {6} -> {4,6} -> {3,4,6}; here {6} -> {3,6}, one phase).

Each phase samples uniformly, per layer (kernel, expansion) and per stage (depth), among the
choices unlocked so far, and only those. After phase 1 the full network is frozen as the
teacher (a copy, run in training mode under no_grad, as the reference code does) and every
loss is cross-entropy with label smoothing + `kd_ratio` x the cross-entropy between the
student's logits and the teacher's softmax (once-for-all's `kd_type=ce`, `kd_ratio=1`). A step
runs `subnets` sub-networks on the same minibatch, their gradients added before one SGD step
(the reference code's dynamic batch size: 1 for kernel, 2 for depth, 4 for expansion).

Budget: the phases share `epochs x steps per epoch` steps in proportion to the epochs of the
reference code (180 full network, 120 kernel, 25 + 120 depth, 25 + 120 expansion; a last
unlocking phase 120, an earlier one 25), at least one step each. Each phase restarts SGD
(momentum) and a cosine learning rate from its own initial rate, relative to the full
network's `lr` as in the paper (2.6 full, 0.96 kernel, 0.08 / 0.24 depth and expansion, at
batch 2048; the reference code's 3e-2, 2.5e-3, 7.5e-3 keep the same ratios). Scaled down: no
warm-up epochs and no elastic resolution (the search resolution is fixed).

Weights: the supernet is hwnas.oneshot.supernet's with `weights="entangled"` (the nested
kernels and expansions of once-for-all, with its kernel transformation matrices as an
option). Unlike once-for-all's dynamic BatchNorm, each kernel/expansion candidate keeps its
own BatchNorm (hwnas.oneshot.entangled); a skipped layer is the `zero` candidate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import BadInputError

MB_OPTION = re.compile(r"^mb_k(\d+)_e(\d+)$")
ZERO = "zero"
Genome = dict[str, list[int]]

# The reference code's epochs and the paper's initial learning rates per phase kind.
FULL_EPOCHS, KERNEL_EPOCHS, FIRST_EPOCHS, LAST_EPOCHS = 180, 120, 25, 120
FULL_LR, KERNEL_LR, FIRST_LR, LAST_LR = 2.6, 0.96, 0.08, 0.24
KERNEL_SUBNETS, DEPTH_SUBNETS, EXPAND_SUBNETS = 1, 2, 4


@dataclass(frozen=True)
class ElasticLayout:
    """Once-for-all's view of a chain space: stages of layers with elastic kernel, expansion
    and depth."""

    space_name: str
    labels: tuple[str, ...]  # every position's label, in order
    options: tuple[tuple[str, ...], ...]  # every position's options
    stages: tuple[tuple[int, ...], ...]  # the layers (position indices) of each stage
    kernels: tuple[int, ...]  # ascending
    expansions: tuple[int, ...]  # ascending

    @classmethod
    def of(cls, space, who: str = "ofa") -> ElasticLayout:
        """The layout of `space`, or a one-line refusal saying what it lacks."""
        space.check_supernet(who)  # a space without positions: its own one-line refusal
        positions = space.positions()

        def refuse(why: str) -> BadInputError:
            return BadInputError(f"{who} needs a chain space of stages whose layers choose "
                                 "mb_k<K>_e<E> and may be skipped (zero) after each stage's "
                                 f"first, as --space proxyless; space {space.name!r}: {why}")

        if not positions:
            raise refuse("it has no positions")
        stages: list[list[int]] = []
        kernels: set[int] = set()
        expansions: set[int] = set()
        combos = None
        previous = None
        for i, position in enumerate(positions):
            stage = position.label.rsplit(".", 1)[0]
            mb = [MB_OPTION.match(o) for o in position.options if o != ZERO]
            if not all(mb):
                raise refuse(f"position {position.label} has options other than mb_k*_e* "
                             "and zero")
            pairs = {(int(m.group(1)), int(m.group(2))) for m in mb if m}
            if combos is None:
                combos = pairs
            elif pairs != combos:
                raise refuse(f"position {position.label} has other kernels or expansions")
            kernels |= {k for k, _ in pairs}
            expansions |= {e for _, e in pairs}
            first = stage != previous
            if first:
                stages.append([])
            if not first and ZERO not in position.options:
                raise refuse(f"position {position.label} cannot be skipped (zero), and it is "
                             "not its stage's first")
            stages[-1].append(i)
            previous = stage
        assert combos is not None
        if combos != {(k, e) for k in kernels for e in expansions}:
            raise refuse("not every kernel goes with every expansion")
        return cls(space.name, tuple(p.label for p in positions),
                   tuple(tuple(p.options) for p in positions),
                   tuple(tuple(s) for s in stages), tuple(sorted(kernels)),
                   tuple(sorted(expansions)))

    # -- genomes ----------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.labels)

    def max_depths(self) -> list[int]:
        return [len(s) for s in self.stages]

    def full(self) -> Genome:
        """The full network: largest kernel and expansion, every layer."""
        return {"ks": [self.kernels[-1]] * self.n_layers, "e": [self.expansions[-1]] *
                self.n_layers, "d": self.max_depths()}

    def smallest(self) -> Genome:
        return {"ks": [self.kernels[0]] * self.n_layers, "e": [self.expansions[0]] *
                self.n_layers, "d": [1] * len(self.stages)}

    def option_of(self, genome: Genome, layer: int) -> str:
        """The option `genome` runs at position `layer`."""
        for s, stage in enumerate(self.stages):
            if layer in stage:
                if stage.index(layer) >= genome["d"][s]:
                    return ZERO
                return f"mb_k{genome['ks'][layer]}_e{genome['e'][layer]}"
        raise IndexError(layer)

    def indices(self, genome: Genome) -> list[int]:
        """The option index per position (a supernet's path)."""
        return [self.options[i].index(self.option_of(genome, i)) for i in range(self.n_layers)]

    def arch(self, genome: Genome) -> Arch:
        return Arch(self.space_name, {label: self.option_of(genome, i)
                                      for i, label in enumerate(self.labels)})

    def genome(self, arch: Arch) -> Genome | None:
        """The genome of `arch`, or None when a zero is followed by a layer in its stage
        (outside the sub-space once-for-all's depth defines). Skipped layers' genes: the
        largest kernel and expansion."""
        ks, es, ds = [], [], []
        for stage in self.stages:
            depth = len(stage)
            for j, layer in enumerate(stage):
                option = arch.values[self.labels[layer]]
                if option == ZERO:
                    depth = min(depth, j)
                    ks.append(self.kernels[-1])
                    es.append(self.expansions[-1])
                    continue
                if j > depth:  # a layer after a skipped one
                    return None
                m = MB_OPTION.match(option)
                assert m is not None
                ks.append(int(m.group(1)))
                es.append(int(m.group(2)))
            ds.append(depth)
        return {"ks": ks, "e": es, "d": ds}

    def canonical(self, genome: Genome) -> Genome:
        """`genome` with the genes of skipped layers set as `genome(arch(...))` sets them: one
        genome per architecture."""
        out = self.genome(self.arch(genome))
        assert out is not None
        return out

    # -- sampling (once-for-all's sample_active_subnet, over the unlocked choices) -------------
    def sample(self, rng: np.random.Generator, kernels: Sequence[int] | None = None,
               expansions: Sequence[int] | None = None,
               depths: Sequence[Sequence[int]] | None = None) -> Genome:
        """Uniform per layer (kernel, expansion) and per stage (depth) over the given choices
        (default: all of them)."""
        kernels = list(kernels or self.kernels)
        expansions = list(expansions or self.expansions)
        depths = depths or [list(range(1, n + 1)) for n in self.max_depths()]
        return {"ks": [int(kernels[rng.integers(len(kernels))]) for _ in self.labels],
                "e": [int(expansions[rng.integers(len(expansions))]) for _ in self.labels],
                "d": [int(d[rng.integers(len(d))]) for d in depths]}


@dataclass(frozen=True)
class Phase:
    """One phase of progressive shrinking: what it samples among, how."""

    name: str
    kernels: tuple[int, ...]
    expansions: tuple[int, ...]
    depth_drop: int  # layers per stage that may be skipped (0: full depth)
    subnets: int  # sub-networks per step, gradients added (the dynamic batch size)
    epochs: int  # the reference code's epochs: the phase's share of the budget
    lr: float  # the paper's initial rate relative to the full network's
    distill: bool  # knowledge distillation from the full network

    def depths(self, layout: ElasticLayout) -> list[list[int]]:
        return [list(range(max(1, n - self.depth_drop), n + 1)) for n in layout.max_depths()]

    def describe(self) -> dict:
        return {"name": self.name, "kernels": list(self.kernels),
                "expansions": list(self.expansions), "depth_drop": self.depth_drop,
                "subnets": self.subnets, "paper_epochs": self.epochs, "lr_ratio": self.lr,
                "distill": self.distill}


def schedule(layout: ElasticLayout) -> list[Phase]:
    """Progressive shrinking's phases for `layout`, in order (module docstring); a dimension
    with a single choice adds no phase."""
    ks, es = layout.kernels, layout.expansions
    full = (ks[-1],), (es[-1],)
    phases = [Phase("full", *full, 0, 1, FULL_EPOCHS, 1.0, False)]
    if len(ks) > 1:
        phases.append(Phase("kernel", ks, full[1], 0, KERNEL_SUBNETS, KERNEL_EPOCHS,
                            KERNEL_LR / FULL_LR, True))
    drops = max(layout.max_depths()) - 1
    for i in range(1, drops + 1):
        last = i == drops
        phases.append(Phase(f"depth-{i}", ks, full[1], i, DEPTH_SUBNETS,
                            LAST_EPOCHS if last else FIRST_EPOCHS,
                            (LAST_LR if last else FIRST_LR) / FULL_LR, True))
    for i in range(1, len(es)):
        last = i == len(es) - 1
        phases.append(Phase(f"expand-{i}", ks, tuple(es[-1 - i:]), drops, EXPAND_SUBNETS,
                            LAST_EPOCHS if last else FIRST_EPOCHS,
                            (LAST_LR if last else FIRST_LR) / FULL_LR, True))
    return phases


def phase_steps(phases: Sequence[Phase], total: int) -> list[int]:
    """`total` steps shared in proportion to the phases' epochs, at least one each."""
    weights = np.array([p.epochs for p in phases], dtype=float)
    raw = weights / weights.sum() * max(total, len(phases))
    steps = np.maximum(1, np.floor(raw)).astype(int)
    # the steps lost to rounding go to the phases that lost most, in order
    for i in np.argsort(-(raw - np.floor(raw)), kind="stable"):
        if steps.sum() >= max(total, len(phases)):
            break
        steps[i] += 1
    return [int(s) for s in steps]


@dataclass
class PhaseLog:
    name: str
    steps: int
    lr: float
    loss: float = 0.0  # mean over the phase's sub-network losses
    ce: float = 0.0
    kd: float = 0.0
    seconds: float = 0.0
    genomes: list[Genome] = field(default_factory=list)  # every sub-network trained, in order

    def record(self) -> dict:
        return {"name": self.name, "steps": self.steps, "lr": self.lr, "loss": self.loss,
                "ce": self.ce, "kd": self.kd, "subnets_trained": len(self.genomes),
                "seconds": self.seconds}


def soft_cross_entropy(logits, target_probs):
    """Cross-entropy of `logits` against soft targets (once-for-all's kd_type=ce)."""
    import torch

    return torch.mean(torch.sum(-target_probs * torch.log_softmax(logits, dim=1), dim=1))


def frozen_copy(supernet):
    """A copy of `supernet` (a new one of the same kind holding its state)."""
    from hwnas.oneshot.entangled import SharedBlockWeights
    from hwnas.oneshot.supernet import Supernet

    transforms = any(len(m.transforms) for m in supernet.modules()
                     if isinstance(m, SharedBlockWeights))
    device = next(supernet.parameters()).device
    copy_ = Supernet(supernet.space, supernet.weights_mode, transforms).to(device)
    copy_.load_state_dict(supernet.state_dict())
    return copy_


def train_progressive(supernet, layout: ElasticLayout, x, y, config, *, seed: int,
                      kd_ratio: float = 1.0,
                      on_phase: Callable[[PhaseLog], None] | None = None) -> list[PhaseLog]:
    """Progressive shrinking of `supernet` (weights as they are) on (x, y): `config` is an
    hwnas.nn.train.TrainConfig whose epochs x steps per epoch the phases share and whose lr is
    the full network's. Returns one log per phase. Call inside `nt.torch_threads` /
    `nt.forked_rng`."""
    import time

    import torch
    import torch.nn.functional as F

    from hwnas.nn import train as nt
    from hwnas.oneshot.single_path import Minibatches

    phases = schedule(layout)
    per_epoch = len(list(nt.batches(len(y), config.batch_size)))
    steps = phase_steps(phases, config.epochs * per_epoch)
    generator = torch.Generator().manual_seed(seed)
    minibatches = Minibatches(len(y), config.batch_size, generator)
    rng = np.random.default_rng([seed, 2020])
    teacher = None
    logs = []
    for phase, n_steps in zip(phases, steps, strict=True):
        start = time.perf_counter()
        log = PhaseLog(phase.name, n_steps, config.lr * phase.lr)
        if phase.distill and teacher is None:
            teacher = frozen_copy(supernet)  # the full network as phase `full` left it
            teacher.set_paths([[j] for j in layout.indices(layout.full())])
            for p in teacher.parameters():
                p.requires_grad_(False)
        optimizer = nt.sgd(supernet.weight_parameters(), config)
        depths = phase.depths(layout)
        supernet.train()
        sums = {"loss": 0.0, "ce": 0.0, "kd": 0.0}
        for step in range(n_steps):
            nt.set_lr(optimizer, nt.cosine_lr(log.lr, step, n_steps))
            idx = minibatches.next().to(x.device)
            xb, yb = x[idx], y[idx]
            soft = None
            if phase.distill and kd_ratio > 0:
                assert teacher is not None
                teacher.train()  # the reference code's teacher: batch statistics
                with torch.no_grad():
                    soft = F.softmax(teacher(xb), dim=1)
            optimizer.zero_grad(set_to_none=True)  # off-path gradients stay None
            for _ in range(phase.subnets):
                genome = (layout.full() if phase.name == "full" else
                          layout.sample(rng, phase.kernels, phase.expansions, depths))
                log.genomes.append(genome)
                supernet.set_paths([[j] for j in layout.indices(genome)])
                logits = supernet(xb)
                ce = F.cross_entropy(logits, yb, label_smoothing=config.label_smoothing)
                kd = soft_cross_entropy(logits, soft) if soft is not None else None
                loss = ce if kd is None else ce + kd_ratio * kd
                loss.backward()
                sums["loss"] += float(loss.detach())
                sums["ce"] += float(ce.detach())
                sums["kd"] += float(kd.detach()) if kd is not None else 0.0
            optimizer.step()
            if not math.isfinite(sums["loss"]):
                break
        n = max(1, len(log.genomes))
        log.loss, log.ce, log.kd = sums["loss"] / n, sums["ce"] / n, sums["kd"] / n
        log.seconds = time.perf_counter() - start
        logs.append(log)
        if on_phase is not None:
            on_phase(log)
        if not math.isfinite(log.loss):
            break
    return logs
