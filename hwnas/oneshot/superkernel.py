"""Single-Path NAS's superkernel (Stamoulis et al., 2019), on the entangled storage.

One searchable layer of a chain space is one inverted residual whose weights are those of its
largest kernel and expansion: the position's `SharedBlockWeights` (hwnas.oneshot.entangled,
`supernet_weights=entangled`). Which kernel and expansion the layer uses is not a choice among
candidates but a function of those weights and of trainable thresholds t:

- kernel: w_k = w_3 + 1(‖w_5\\3‖ > t_k5) · (w_5\\3 + 1(‖w_7\\5‖ > t_k7) · w_7\\5), where w_3 is
  the depthwise superkernel's centre 3x3 and w_5\\3, w_7\\5 its outer rings (norms over every
  hidden channel). The paper has kernels 3 and 5; the proxyless space has 7 too, one more ring
  nested the same way. Kernels in general: one ring and one threshold per kernel above the
  smallest;
- expansion: the hidden channels in groups (the first cin·e3, the next up to cin·e6, ...) and
  1(‖w_e3‖ > t_e3) · (w_e3 + 1(‖w_e6\\e3‖ > t_e6) · w_e6\\e3), the norms taken over the
  kernel-masked depthwise weights of each group. Failing the first threshold skips the layer
  (the space's `zero`), only where `zero` is an option; elsewhere the first group is always on.

The indicators are the reference code's straight-through ones: 1(x ≥ 0) in the forward pass
(so a norm equal to its threshold counts as on), the gradient of σ(x) in the backward pass
(x = ‖w‖ − t; the paper relaxes the indicator to a sigmoid for the gradients). Norms are the
L2 norm, as the reference computes them (the paper writes the squared norm; either way t = 0
starts every indicator on).

BatchNorm: one per layer, the largest block's (per channel, so the first channels' statistics
are those of any smaller expansion), as the reference has one per layer; `share_batchnorm`
copies it into the layer's other blocks, whose own BatchNorm never runs here.

Where the masks act (a deliberate difference from the reference): the reference multiplies
the depthwise kernel by the expansion indicators and lets the following BatchNorm's shift and
the projection through, so a masked channel still adds a constant and a "skipped" layer is not
the identity. Here the channel mask multiplies the projection's input channels and the skip
indicator gates the block's residual branch (out = x + 1(·)·(block(x) − x)), so with the
indicators' hard values the supernet computes exactly the decided network: `space.build(arch)`
with `Supernet.child(arch)`'s weights (after `share_batchnorm`). The gradient reaching each
indicator is that of its part of the block's output.

The latency is the paper's nested runtime with the table's entries: per layer
R = R(k3,e) + 1(k5)·(R(k5,e) − R(k3,e) + 1(k7)·(R(k7,e) − R(k5,e))) per expansion e, nested over
the expansions the same way, times the skip indicator: multilinear in the indicators, equal to
the table's cost of the decided network when they are 0/1 (the paper factorises the kernel's
share as a ratio r3x3/r5x5 of its runtime model; a table prices every (k, e) pair, so the
nesting uses each pair's own entry, which is the paper's form when the table factorises).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn as nn

from hwnas.oneshot.entangled import NESTABLE_OPS, EntangledCandidate, block_convs
from hwnas.spaces.base import Position

if TYPE_CHECKING:
    from hwnas.oneshot.supernet import MixedOp

ZERO = "zero"  # the option that removes the layer (hwnas.spaces.proxyless)


@dataclass(frozen=True)
class Layout:
    """One searchable layer's decisions: its kernels and expansions (ascending), the option of
    each (kernel, expansion) pair and of `zero` (None where the layer cannot be skipped)."""

    label: str
    kernels: tuple[int, ...]
    expansions: tuple[int, ...]
    grid: tuple[tuple[int, ...], ...]  # grid[i][j]: option index of (kernels[i], expansions[j])
    zero: int | None

    @property
    def names(self) -> tuple[str, ...]:
        """Its thresholds in order: one per kernel above the smallest (k5, k7), one per
        expansion above the smallest (e6), then e3 (the first channel group: the layer kept)
        where the layer can be skipped."""
        keep = (f"e{self.expansions[0]}",) if self.zero is not None else ()
        return (*(f"k{k}" for k in self.kernels[1:]),
                *(f"e{e}" for e in self.expansions[1:]), *keep)

    def option(self, kernel_level: int, expansion_level: int, keep: bool = True) -> int:
        """The option index of a decision (levels count the leading indicators that are on)."""
        if not keep and self.zero is not None:
            return self.zero
        return self.grid[kernel_level][expansion_level]


def layout_of(position: Position) -> Layout:
    """The Layout of `position`, or ValueError saying why it has none: its options must be
    every (kernel, expansion) pair of one inverted-residual op at one place, plus `zero`."""
    pairs: dict[tuple[int, int], int] = {}
    zero, places = None, set()
    for j, option in enumerate(position.options):
        sigs = position.ops[option]
        if option == ZERO and not sigs:
            zero = j
            continue
        if len(sigs) != 1 or sigs[0].op not in NESTABLE_OPS:
            raise ValueError(f"option {option!r} is not one inverted-residual block")
        sig = sigs[0]
        places.add((sig.op, sig.cin, sig.cout, sig.h, sig.w, sig.stride, sig.extra))
        if (sig.kernel, sig.expand) in pairs:
            raise ValueError(f"two options are kernel {sig.kernel}, expansion {sig.expand}")
        pairs[sig.kernel, sig.expand] = j
    kernels = tuple(sorted({k for k, _ in pairs}))
    expansions = tuple(sorted({e for _, e in pairs}))
    if len(places) != 1:
        raise ValueError("its blocks differ in more than kernel and expansion")
    if len(pairs) < 2 or len(pairs) != len(kernels) * len(expansions):
        raise ValueError("its blocks are not every pair of its kernels and expansions")
    grid = tuple(tuple(pairs[k, e] for e in expansions) for k in kernels)
    return Layout(position.label, kernels, expansions, grid, zero)


def indicator(x: torch.Tensor) -> torch.Tensor:
    """1(x ≥ 0) forward, dσ(x)/dx backward: the reference's straight-through indicator."""
    soft = torch.sigmoid(x)
    return soft + ((x >= 0).to(soft.dtype) - soft).detach()


class Indicators(NamedTuple):
    """One layer's indicators (0-d tensors): per kernel above the smallest, per expansion above
    the smallest, and the layer kept (None where it cannot be skipped)."""

    kernel: list[torch.Tensor]
    expansion: list[torch.Tensor]
    keep: torch.Tensor | None


class Relaxed(NamedTuple):
    """A layer's indicators and the weights they make: the masked depthwise superkernel and the
    mask of the hidden channels entering the projection."""

    indicators: Indicators
    depthwise: torch.Tensor
    channels: torch.Tensor
    margins: tuple[torch.Tensor, ...] = ()  # ‖w‖ − t of each indicator (`Layout.names` order)


def nested(base: torch.Tensor, steps: Sequence[torch.Tensor],
           gates: Sequence[torch.Tensor]) -> torch.Tensor:
    """base + g1·(s1 + g2·(s2 + ...)): the paper's nesting of increments under indicators."""
    inner: torch.Tensor | None = None
    for step, gate in zip(reversed(steps), reversed(gates), strict=True):
        inner = gate * (step if inner is None else step + inner)
    return base if inner is None else base + inner


class SuperkernelLayer:
    """One layer's superkernel: installed as its MixedOp's `gate_hook` (with the layer's
    thresholds as the op's `gates`), so the op runs its largest candidate with the masked
    weights. Not a Module: the weights stay the MixedOp's, the thresholds the supernet's."""

    def __init__(self, op: MixedOp, layout: Layout, thresholds: nn.Parameter):
        self.layout, self.thresholds = layout, thresholds
        blocks = [op.candidates[j] for row in layout.grid for j in row]
        flat = [c for c in blocks if isinstance(c, EntangledCandidate)]
        if len(flat) != len(blocks):
            raise ValueError(f"layer {layout.label}: its blocks do not share one superkernel "
                             "(supernet_weights=entangled builds one)")
        self.store = flat[0].shared
        if any(c.shared is not self.store for c in flat) or self.store.transforms:
            raise ValueError(f"layer {layout.label}: its blocks are not one plain superkernel "
                             "(one shared tensor, no kernel transform)")
        if self.store.groups != 1:
            raise ValueError(f"layer {layout.label}: a grouped projection does not nest")
        self.members = flat  # row by row: kernels ascending, expansions ascending in a row
        self.largest = flat[-1]
        convs = block_convs(self.largest.module)
        if convs is None:
            raise ValueError(f"layer {layout.label}: its largest block is not a block")
        self.convs = [c for c in convs if c is not None]
        self.hidden = [flat[j].hidden for j in range(len(layout.expansions))]
        size = self.store.depthwise.shape[-1]
        if self.largest.kernel != size or self.largest.hidden != self.store.depthwise.shape[0]:
            raise ValueError(f"layer {layout.label}: its largest block is not the superkernel")
        centres = []
        for k in layout.kernels:
            mask = torch.zeros(size, size)
            start = (size - k) // 2
            mask[start:start + k, start:start + k] = 1.0
            centres.append(mask)
        device, dtype = self.store.depthwise.device, self.store.depthwise.dtype
        self.centre = centres[0].to(device, dtype)
        self.rings = [(b - a).to(device, dtype) for a, b in pairwise(centres)]
        self.keep_prob: float | None = None  # set during the warm-up: indicator dropout
        self.generator: torch.Generator | None = None
        self.last: Relaxed | None = None  # the relaxation the last forward used

    # -- the indicators and the weights they make ------------------------------------------
    def _gate(self, margin: torch.Tensor) -> torch.Tensor:
        gate = indicator(margin)
        if self.keep_prob is not None and self.keep_prob < 1:  # the reference's dropout
            kept = torch.bernoulli(torch.tensor(self.keep_prob), generator=self.generator)
            gate = gate * (kept.to(gate.device, gate.dtype) / self.keep_prob)
        return gate

    def relax(self) -> Relaxed:
        """The indicators of the current weights and thresholds, and the masked weights."""
        layout, t = self.layout, self.thresholds
        nk, ne = len(layout.kernels) - 1, len(layout.expansions) - 1
        w = self.store.depthwise
        rings = [w * r for r in self.rings]
        margins = [ring.norm() - t[i] for i, ring in enumerate(rings)]
        kernel = [self._gate(m) for m in margins]
        depthwise = nested(w * self.centre, rings, kernel)
        bounds = [0, *self.hidden]
        groups = [depthwise[a:b].norm() for a, b in pairwise(bounds)]
        margins += [groups[j + 1] - t[nk + j] for j in range(ne)]
        expansion = [self._gate(m) for m in margins[nk:]]
        keep = None
        if layout.zero is not None:
            margins.append(groups[0] - t[nk + ne])
            keep = self._gate(margins[-1])
        pieces, gate = [depthwise.new_ones(self.hidden[0])], None
        for j, d in enumerate(expansion):  # group j+1 is on while every group before it is
            gate = d if gate is None else gate * d
            pieces.append(gate.expand(self.hidden[j + 1] - self.hidden[j]))
        return Relaxed(Indicators(kernel, expansion, keep), depthwise, torch.cat(pieces),
                       tuple(margins))

    def __call__(self, op: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The MixedOp's forward: its largest block with the relaxed weights."""
        relaxed = self.last = self.relax()
        convs = self.convs
        expand = [] if self.store.expand is None else [self.store.expand]
        project = self.store.project * relaxed.channels.view(1, -1, 1, 1)
        for conv, weight in zip(convs, [*expand, relaxed.depthwise, project], strict=True):
            conv.weight = weight  # a plain attribute nn.Conv2d reads (as EntangledCandidate)
        try:
            y = self.largest.module(x)
        finally:
            for conv in convs:
                del conv.weight
        keep = relaxed.indicators.keep
        return y if keep is None else x + keep * (y - x)

    # -- the hard rule and what it decides ---------------------------------------------------
    def margins(self) -> list[float]:
        """‖w‖ − t of each indicator, in the order of `layout.names`."""
        with torch.no_grad():
            saved, self.keep_prob = self.keep_prob, None
            try:
                relaxed = self.relax()
            finally:
                self.keep_prob = saved
        return [float(m) for m in relaxed.margins]

    def decision(self) -> int:
        """The option the paper's rule picks: each indicator on where ‖w‖ ≥ t, nested."""
        margins = self.margins()
        nk, ne = len(self.rings), len(self.hidden) - 1
        on = [m >= 0 for m in margins]
        kernel_level = _leading(on[:nk])
        expansion_level = _leading(on[nk:nk + ne])
        keep = True if self.layout.zero is None else on[nk + ne]
        return self.layout.option(kernel_level, expansion_level, keep)

    def max_marginals(self, n_options: int) -> torch.Tensor:
        """Per option, the probability of the most probable setting of every indicator that
        picks it, each indicator on with probability σ(‖w‖ − t), normalised over the options:
        its argmax is `decision()`, and log of it is what the target repair maximises."""
        s = torch.sigmoid(torch.tensor(self.margins(), dtype=torch.float64))
        nk, ne = len(self.rings), len(self.hidden) - 1
        kernel = _levels(s[:nk])
        expansion = _levels(s[nk:nk + ne])
        out = torch.zeros(n_options, dtype=torch.float64)
        keep = s[nk + ne] if self.layout.zero is not None else torch.tensor(1.0,
                                                                            dtype=torch.float64)
        for i, row in enumerate(self.layout.grid):
            for j, option in enumerate(row):
                out[option] = keep * kernel[i] * expansion[j]
        if self.layout.zero is not None:
            out[self.layout.zero] = (1 - keep) * kernel.max() * expansion.max()
        return out / out.sum()

    # -- latency ------------------------------------------------------------------------------
    def runtime(self, indicators: Indicators, costs: torch.Tensor) -> torch.Tensor:
        """The layer's nested runtime (module docstring) from the table's per-option costs."""
        g = [d.to(costs.dtype) for d in indicators.kernel]
        per_expansion = []
        for j in range(len(self.layout.expansions)):
            c = [costs[row[j]] for row in self.layout.grid]
            per_expansion.append(nested(c[0], [b - a for a, b in pairwise(c)], g))
        e = [d.to(costs.dtype) for d in indicators.expansion]
        value = nested(per_expansion[0],
                       [b - a for a, b in pairwise(per_expansion)], e)
        if indicators.keep is None:
            return value
        skipped = costs[self.layout.zero]
        return skipped + indicators.keep.to(costs.dtype) * (value - skipped)

    # -- the decided network's weights --------------------------------------------------------
    def share_batchnorm(self) -> None:
        """Copy the largest block's BatchNorm (the one the superkernel trains) into every other
        block of the layer, sliced to its channels, so `Supernet.child(arch)` holds the weights
        the supernet computes the decided network with."""
        big = self.largest.module.state_dict()
        with torch.no_grad():
            for member in self.members:
                if member is self.largest:
                    continue
                for key, value in member.module.state_dict().items():
                    value.copy_(big[key][tuple(slice(0, n) for n in value.shape)])


def _leading(on: Sequence[bool]) -> int:
    """How many indicators are on before the first that is off (the nesting)."""
    level = 0
    for bit in on:
        if not bit:
            break
        level += 1
    return level


def _levels(s: torch.Tensor) -> torch.Tensor:
    """Per level 0..len(s): the largest probability of any setting of the indicators whose
    leading run of ons has that length (the others at their more probable value)."""
    best = torch.maximum(s, 1 - s)
    out = []
    for level in range(len(s) + 1):
        p = torch.prod(s[:level]) if level else torch.tensor(1.0, dtype=s.dtype)
        if level < len(s):
            p = p * (1 - s[level]) * torch.prod(best[level + 1:])
        out.append(p)
    return torch.stack(out)


class TFRMSProp:
    """The update of tf.train.RMSPropOptimizer, the reference's optimiser of every variable:
    ms ← ρ·ms + (1 − ρ)·g², mom ← μ·mom + lr·g / √(ms + ε), θ ← θ − mom, with ms starting at 1
    (TF 1's initial mean square) and the reference's ρ 0.9, μ 0.9, ε 1e-3."""

    def __init__(self, params: Sequence[torch.Tensor], lr: float, decay: float = 0.9,
                 momentum: float = 0.9, eps: float = 1e-3):
        self.params = list(params)
        self.lr, self.decay, self.momentum, self.eps = lr, decay, momentum, eps
        self.ms = [torch.ones_like(p) for p in self.params]
        self.mom = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p, ms, mom in zip(self.params, self.ms, self.mom, strict=True):
            if p.grad is None:
                continue
            g = p.grad
            ms.mul_(self.decay).add_((1 - self.decay) * g * g)
            mom.mul_(self.momentum).add_(self.lr * g / torch.sqrt(ms + self.eps))
            p.sub_(mom)
