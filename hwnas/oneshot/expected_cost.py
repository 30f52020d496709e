"""The device's expected cost of a distribution over architectures, differentiable in it.

ProxylessNAS's latency term: with independent per-position distributions p_l over options,

    E[lat] = C_fixed + Σ_l Σ_j p_lj · F(o_lj)

where F is what the latency table predicts for the ops option j runs at position l, with the
table's calibration applied (each op's `scale[type] · entry + per_op`, the intercept once, in
C_fixed with the fixed layers). Computed as `table.predict_ops` differences, so the expectation
under a one-hot p is exactly the prediction a search records for that architecture. The same
for `energy_mj` (a sum over ops). `peak_mem_mb` is a maximum over ops, not a sum: its
expectation here is the maximum over positions of each position's expected peak (and the fixed
ops'), which equals the prediction for a one-hot p and is a lower bound of E[max] otherwise.

A space whose positions do not add up (NB201's cell: node sums, and edges whose output cannot
reach the cell's output, depend on several edges at once) is handled exactly by enumeration
when it is small enough: E = Σ_a Π_l p_l(a_l) · F(a) over every architecture a (15,625 for
NB201), as one tensor contraction.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.latency.columns import NETWORK_OBJECTIVES, predict_network
from hwnas.latency.table import LatencyTable
from hwnas.spaces.base import SearchSpace

MAX_ENUMERATE = 200_000  # architectures; above this a non-additive space is refused


class ExpectedCost:
    """`cost(probs)`: E[objective] as a 0-d tensor for a list of per-position probability
    vectors (in `space.positions()` order); `of_arch(arch)`: the table's prediction."""

    def __init__(self, space: SearchSpace, table: LatencyTable, objective: str = "latency_ms",
                 stat: str | None = None):
        if objective not in NETWORK_OBJECTIVES:
            raise BadInputError(f"an expected cost is one of {', '.join(NETWORK_OBJECTIVES)}; "
                                f"got {objective!r}")
        self.space, self.table, self.objective, self.stat = space, table, objective, stat
        self.positions = space.positions()
        self.additive = space.positions_add_up
        self.is_max = objective == "peak_mem_mb"
        if self.additive:
            self._init_additive()
        else:
            self._init_enumerated()

    # -- construction -----------------------------------------------------------------------
    def _predict(self, sigs) -> float:
        # The table's learned whole-network residual and floor are left out: they are not
        # sums over positions, so E[cost] stays linear in p; derive applies them to the
        # concrete network. A calibration keeps every network's affine prediction above its
        # floor (hwnas.latency.calibration), so E[cost], an average of those, is above zero.
        return predict_network(self.table, list(sigs), self.objective, self.stat,
                               residual=False, floor=False)

    def _init_additive(self) -> None:
        fixed = self.space.fixed_ops()
        self.constant = self._predict(fixed)
        # Each option's share: the prediction with its ops minus the prediction without them,
        # so calibration's intercept counts once (in the constant) and per-op terms per op.
        base = 0.0 if self.is_max else self._predict([])
        self.option_costs = [
            torch.tensor([self._predict(p.ops[o]) - base if p.ops[o] else 0.0
                          for o in p.options], dtype=torch.float64)
            for p in self.positions]

    def _init_enumerated(self) -> None:
        if not self.space.positions_are_choices:
            # its positions' combinations are not its architectures (a DARTS supernet's edges)
            raise BadInputError(f"space {self.space.name}: its positions neither add up nor "
                                "are its choices, so it has no expected cost to enumerate")
        sizes = [len(p.options) for p in self.positions]
        total = math.prod(sizes)  # a Python int: 7**46 does not wrap
        if total > MAX_ENUMERATE:
            raise BadInputError(
                f"space {self.space.name}: its positions do not add up and it has {total:,} "
                f"architectures, more than {MAX_ENUMERATE:,} to enumerate for an exact "
                "expected cost")
        grid = np.empty(total)
        for n, combo in enumerate(itertools.product(*(p.options for p in self.positions))):
            arch = Arch(self.space.name, {p.label: o for p, o in
                                          zip(self.positions, combo, strict=True)})
            grid[n] = self._predict(self.space.ops(arch))
        self.grid = torch.tensor(grid.reshape(sizes), dtype=torch.float64)

    # -- use --------------------------------------------------------------------------------
    def __call__(self, probs: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(probs) != len(self.positions):
            raise ValueError(f"expected {len(self.positions)} probability vectors, "
                             f"got {len(probs)}")
        if not self.additive:
            out = self.grid.to(probs[0].device)
            for p in probs:  # contract the leading axis with each position's probabilities
                out = torch.tensordot(p.to(out.dtype), out, dims=([0], [0]))
            return out.to(probs[0].dtype)
        terms = [torch.dot(p.to(torch.float64), c.to(p.device))
                 for p, c in zip(probs, self.option_costs, strict=True)]
        if self.is_max:
            # the largest expected peak; the fixed ops' peak as a floor
            const = torch.tensor(self.constant, dtype=torch.float64, device=probs[0].device)
            total = torch.stack([const, *terms]).max()
        else:
            total = self.constant + torch.stack(terms).sum()
        return total.to(probs[0].dtype)

    def of_arch(self, arch: Arch) -> float:
        """The table's prediction for `arch` (equal to the expectation under its one-hot p)."""
        return self._predict(self.space.ops(arch))

    def one_hot(self, arch: Arch, dtype=torch.float64) -> list[torch.Tensor]:
        """The one-hot per-position probabilities of `arch`."""
        out = []
        values = self.space.position_values(arch, self.positions)
        for p, value in zip(self.positions, values, strict=True):
            v = torch.zeros(len(p.options), dtype=dtype)
            v[p.options.index(value)] = 1.0
            out.append(v)
        return out

    def _group_range(self, groups) -> tuple[float, float]:
        """`range()` over one option per group (a DARTS node's two kept edges), the positions
        an option leaves at `none` costing nothing: "every edge none" is no architecture."""
        costs = [c.numpy() for c in self.option_costs]
        combine = max if self.is_max else sum
        per_group = [[combine(float(costs[p][j]) for p, j in kept) for kept in options]
                     for options in groups]
        if self.is_max:
            return (max([self.constant, *(min(g) for g in per_group)]),
                    max([self.constant, *(max(g) for g in per_group)]))
        return (self.constant + sum(min(g) for g in per_group),
                self.constant + sum(max(g) for g in per_group))

    def range(self) -> tuple[float, float]:
        """The smallest and largest cost of any architecture of the space."""
        if not self.additive:
            return float(self.grid.min()), float(self.grid.max())
        groups = None if self.space.positions_are_choices else self.space.position_groups()
        if groups is not None:  # the architectures are one option per group, not per position
            return self._group_range(groups)
        if self.is_max:
            lows = [float(c.min()) for c in self.option_costs]
            highs = [float(c.max()) for c in self.option_costs]
            return max([self.constant, *lows]), max([self.constant, *highs])
        return (self.constant + sum(float(c.min()) for c in self.option_costs),
                self.constant + sum(float(c.max()) for c in self.option_costs))
