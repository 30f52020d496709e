"""From a learned distribution to one architecture the user can deploy.

`derive` takes the most probable option at each position (ProxylessNAS, DARTS and NB201's
DARTS baseline derive by argmax, `none` included). With a latency target T it then makes sure
the table's prediction for the result is at most T: when the argmax is above T, it returns the
most probable architecture under p whose cost is at most T instead, and says which positions
changed. "Most probable" is max Σ_l log p_l(a_l) subject to cost(a) <= T:

- spaces whose positions add up (chains): a multiple-choice knapsack, solved exactly by dynamic
  programming over costs rounded *up* to a grid (so a solution of the grid problem is feasible
  for the real costs) and checked against the table;
- other spaces small enough to enumerate (NB201): exactly, over every architecture;
- a space whose positions add up but are not its choices (DARTS's candidate edges) and that
  groups them (`position_groups()`: per DARTS node, its pairs of kept edges with their ops):
  the same knapsack over the groups, an option's log-probability the sum of its kept edges'
  log p of their ops and its cost the sum of their costs.

The repair optimises the expected cost's per-op (affine) latency, a sum over positions. A
calibrated table may also carry a learned whole-network residual (hwnas.latency.residual),
which is not a sum and so is left out of the expected cost; the final check, and the cost
reported, use the table's full prediction. When the residual puts the repaired architecture
above T, the affine budget is tightened by the residual's factor and the repair re-run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from hwnas.arch import Arch
from hwnas.errors import HwnasRuntimeError
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.spaces.base import SearchSpace

GRID = 4000  # cost steps of the knapsack; finer only matters within 1/GRID of T
RESIDUAL_ROUNDS = 8  # tightenings of the affine budget when the residual exceeds the target


@dataclass(frozen=True)
class Derived:
    arch: Arch
    cost: float | None  # the table's prediction, when there is a table
    argmax: Arch
    changed: dict = field(default_factory=dict)  # label -> (argmax option, chosen option)

    def to_dict(self) -> dict:
        return {"arch": self.arch.to_dict(), "cost": self.cost,
                "changed_for_target": {k: list(v) for k, v in self.changed.items()}}


def derive(probs: list[torch.Tensor], positions, space: SearchSpace,
           cost: ExpectedCost | None = None, target: float | None = None) -> Derived:
    """The space's derivation from `probs` (the argmax at each position, or a cell space's
    own rule: `SearchSpace.arch_from_positions`), repaired to meet `target` (table units)
    when it misses it."""
    argmax = space.arch_from_positions(probs, positions)
    if cost is None:
        return Derived(argmax, None, argmax)
    value = _full(cost, argmax)
    if target is None or value <= target:
        return Derived(argmax, value, argmax)
    groups = None if space.positions_are_choices else _groups(space, cost)
    if not space.positions_are_choices and groups is None:
        raise HwnasRuntimeError(
            f"the derived architecture of {space.name} is predicted at {value:.4g}, above the "
            f"target {target:g}, and a derivation of this space cannot yet be repaired to a "
            "target: raise --target-ms, or raise the latency weight so the search itself "
            "meets it")
    logp = [torch.log(p.detach().double().clamp_min(1e-300)).cpu().numpy() for p in probs]
    budget = target
    for _ in range(RESIDUAL_ROUNDS):
        if groups is None:
            arch = _repair(logp, cost, budget, space.name, positions, target)
        else:
            arch = _repair_groups(logp, cost, budget, space, positions, groups, target)
        value = _full(cost, arch)
        if value <= target * (1 + 1e-9):
            break
        # the residual made the whole network dearer than its affine cost: ask for less
        budget = cost.of_arch(arch) * target / value * (1 - 1e-6)
    else:
        raise HwnasRuntimeError(f"no architecture of {space.name} found whose full prediction "
                                f"meets the target {target:g} (the last tried is {value:.4g}); "
                                "raise --target-ms")
    changed = {label: (argmax.values[label], option) for label, option in arch.values.items()
               if argmax.values[label] != option}
    return Derived(arch, value, argmax, changed)


def _full(cost: ExpectedCost, arch: Arch) -> float:
    """The table's whole prediction for `arch` (the learned residual included for latency),
    which may differ from the expected cost's per-op sum under a one-hot distribution."""
    if cost.objective == "latency_ms":
        return cost.table.predict_ops(cost.space.ops(arch), cost.stat)
    return cost.of_arch(arch)


def _repair(logp, cost: ExpectedCost, budget: float, space_name: str, positions,
            target: float) -> Arch:
    """The most probable architecture whose expected-cost value is at most `budget`."""
    if cost.additive and not cost.is_max:
        idx = _knapsack(logp, [c.numpy() for c in cost.option_costs], budget - cost.constant)
    elif cost.additive:  # peak memory: a max over positions, so filter options per position
        idx = _under_max(logp, [c.numpy() for c in cost.option_costs], budget, cost.constant)
    else:
        idx = _enumerated(logp, cost.grid.numpy(), budget)
    if idx is None:
        low, _ = cost.range()
        raise HwnasRuntimeError(f"no architecture of {space_name} meets the target {target:g} "
                                f"(the smallest predicted is {low:.4g}); raise --target-ms")
    arch = _arch(space_name, positions, idx)
    value = cost.of_arch(arch)
    if value > budget * (1 + 1e-9):  # the grid rounds up, so this cannot happen; say if it does
        raise HwnasRuntimeError(f"target repair returned {value:.4g} > {budget:g}")
    return arch


def _groups(space: SearchSpace, cost: ExpectedCost):
    """The space's groups of positions (`position_groups()`), where its costs add up; None
    where it has none or they do not."""
    return space.position_groups() if cost.additive else None


def _repair_groups(logp, cost: ExpectedCost, budget: float, space: SearchSpace, positions,
                   groups, target: float) -> Arch:
    """`_repair` with one option per group of positions (a DARTS node's kept edges and ops);
    the positions an option does not keep take their first option (`none`), which costs 0."""
    costs = [c.numpy() for c in cost.option_costs]
    group_logp = [np.array([sum(logp[p][j] for p, j in kept) for kept in options])
                  for options in groups]
    if cost.is_max:  # peak memory: the largest of the kept edges'
        group_costs = [np.array([max(costs[p][j] for p, j in kept) for kept in options])
                       for options in groups]
        chosen = _under_max(group_logp, group_costs, budget, cost.constant)
    else:
        group_costs = [np.array([sum(costs[p][j] for p, j in kept) for kept in options])
                       for options in groups]
        chosen = _knapsack(group_logp, group_costs, budget - cost.constant)
    if chosen is None:
        lows = [float(c.min()) for c in group_costs]
        low = max([cost.constant, *lows]) if cost.is_max else cost.constant + sum(lows)
        raise HwnasRuntimeError(f"no architecture of {space.name} meets the target {target:g} "
                                f"(the smallest predicted is {low:.4g}); raise --target-ms")
    one_hot = [np.eye(len(p.options))[0] for p in positions]
    for options, k in zip(groups, chosen, strict=True):
        for p, j in options[k]:
            one_hot[p] = np.eye(len(positions[p].options))[j]
    arch = space.arch_from_positions(one_hot, positions)
    value = cost.of_arch(arch)
    if value > budget * (1 + 1e-9):  # the grid rounds up, so this cannot happen; say if it does
        raise HwnasRuntimeError(f"target repair returned {value:.4g} > {budget:g}")
    return arch


def _arch(space_name: str, positions, idx) -> Arch:
    return Arch(space_name, {p.label: p.options[int(j)]
                             for p, j in zip(positions, idx, strict=True)})


def _knapsack(logp: list[np.ndarray], costs: list[np.ndarray], budget: float):
    """argmax Σ logp[l][j_l] s.t. Σ costs[l][j_l] <= budget; None if infeasible."""
    if budget < sum(float(c.min()) for c in costs) - 1e-12:
        return None
    low = sum(float(c.min()) for c in costs)
    # costs relative to each position's cheapest, on a grid of the budget above the cheapest
    room = budget - low
    step = max(room, 1e-12) / GRID
    units = [np.ceil((c - c.min()) / step - 1e-9).astype(int) for c in costs]
    width = GRID + 1
    best = np.full(width, -np.inf)
    best[0] = 0.0
    choice = []
    for lp, u in zip(logp, units, strict=True):
        new = np.full(width, -np.inf)
        arg = np.zeros(width, dtype=int)
        for j, (value, w) in enumerate(zip(lp, u, strict=True)):
            if w >= width:
                continue
            shifted = np.full(width, -np.inf)
            shifted[w:] = best[:width - w] + value
            better = shifted > new
            new[better], arg[better] = shifted[better], j
        best = new
        choice.append(arg)
    if not np.isfinite(best).any():
        return None
    pos = int(np.argmax(best))
    idx = []
    for u, arg in zip(reversed(units), reversed(choice), strict=True):
        j = int(arg[pos])
        idx.append(j)
        pos -= int(u[j])
    return idx[::-1]


def _under_max(logp, costs, target: float, constant: float):
    if constant > target:
        return None
    idx = []
    for lp, c in zip(logp, costs, strict=True):
        ok = np.flatnonzero(c <= target)
        if not len(ok):
            return None
        idx.append(int(ok[np.argmax(lp[ok])]))
    return idx


def _enumerated(logp, grid: np.ndarray, target: float):
    total = np.zeros(grid.shape)
    for axis, lp in enumerate(logp):
        shape = [1] * grid.ndim
        shape[axis] = len(lp)
        total = total + lp.reshape(shape)
    total[grid > target] = -np.inf
    if not np.isfinite(total).any():
        return None
    return list(np.unravel_index(int(np.argmax(total)), grid.shape))
