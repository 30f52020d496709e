"""Derivation: argmax, and with a target the most probable architecture whose table cost is at
most T — never one above it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hwnas.errors import HwnasRuntimeError
from hwnas.oneshot.derive import _knapsack, derive
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.spaces.nb201 import Nb201Space
from hwnas.spaces.proxyless import ProxylessSpace
from tests.unit.test_oneshot_supernet import synthetic_table


def random_probs(cost, seed):
    gen = torch.Generator().manual_seed(seed)
    return [torch.softmax(3 * torch.randn(len(p.options), generator=gen, dtype=torch.float64), 0)
            for p in cost.positions]


@pytest.mark.parametrize("seed", range(20))
def test_knapsack_is_the_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    logp = [np.log(rng.dirichlet(np.ones(3))) for _ in range(4)]
    costs = [rng.uniform(0, 1, 3) for _ in range(4)]
    budget = rng.uniform(sum(c.min() for c in costs), sum(c.max() for c in costs))
    best_value = -np.inf
    for combo in itertools.product(range(3), repeat=4):
        if sum(c[j] for c, j in zip(costs, combo, strict=True)) <= budget:
            value = sum(lp[j] for lp, j in zip(logp, combo, strict=True))
            best_value = max(best_value, value)
    got = _knapsack(logp, costs, budget)
    assert sum(c[j] for c, j in zip(costs, got, strict=True)) <= budget + 1e-12
    # optimal up to the grid's rounding of costs (1/4000 of the room above the cheapest)
    got_value = sum(lp[j] for lp, j in zip(logp, got, strict=True))
    assert got_value >= best_value - 1e-9


def test_infeasible_budget_is_none():
    assert _knapsack([np.log([0.5, 0.5])], [np.array([1.0, 2.0])], 0.5) is None


@pytest.mark.parametrize("space", [ProxylessSpace(resolution=16, width_mult=0.25),
                                   Nb201Space(C=4, N=1, resolution=8)], ids=["chain", "cell"])
def test_a_target_is_never_exceeded_and_the_argmax_kept_when_it_fits(space):
    cost = ExpectedCost(space, synthetic_table(space))
    low, high = cost.range()
    for seed in range(4):
        probs = random_probs(cost, seed)
        free = derive(probs, cost.positions, space, cost)
        assert free.arch == free.argmax and not free.changed
        for fraction in (0.05, 0.3, 0.6, 0.95):
            target = low + fraction * (high - low)
            got = derive(probs, cost.positions, space, cost, target)
            assert got.cost <= target * (1 + 1e-9)
            assert got.cost == pytest.approx(cost.of_arch(got.arch))
            if free.cost <= target:
                assert got.arch == free.arch and not got.changed
            else:
                assert got.changed and all(got.arch.values[k] == new and
                                           got.argmax.values[k] == old
                                           for k, (old, new) in got.changed.items())


def test_cell_space_repair_is_the_most_probable_feasible_architecture():
    space = Nb201Space(C=4, N=1, resolution=8)
    cost = ExpectedCost(space, synthetic_table(space))
    probs = random_probs(cost, 9)
    low, high = cost.range()
    target = low + 0.2 * (high - low)
    got = derive(probs, cost.positions, space, cost, target)
    logp = [np.log(p.numpy()) for p in probs]
    grid = cost.grid.numpy()
    best = -np.inf
    for combo in itertools.product(range(5), repeat=6):
        if grid[combo] <= target:
            best = max(best, sum(lp[j] for lp, j in zip(logp, combo, strict=True)))
    chosen = [p.options.index(got.arch.values[p.label]) for p in cost.positions]
    assert sum(lp[j] for lp, j in zip(logp, chosen, strict=True)) == pytest.approx(best)


def test_a_target_below_every_architecture_is_refused_in_one_line():
    space = ProxylessSpace(resolution=16, width_mult=0.25)
    cost = ExpectedCost(space, synthetic_table(space))
    low, _ = cost.range()
    with pytest.raises(HwnasRuntimeError, match="raise --target-ms"):
        derive(random_probs(cost, 0), cost.positions, space, cost, low * 0.5)
