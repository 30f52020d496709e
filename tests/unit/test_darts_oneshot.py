"""The one-shot methods on the DARTS cell space: a derived genotype repaired to a latency target
(a knapsack over nodes, each node's options its pairs of kept edges with their ops), and
DARTS, SNAS, ProxylessNAS and FBNet training its edge supernet to a genotype."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.errors import HwnasRuntimeError
from hwnas.oneshot.derive import derive
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.trainer import OneShotConfig, train_supernet
from hwnas.registry import STRATEGIES
from hwnas.spaces.darts import EDGE_LABELS, DartsSpace
from tests.unit.test_oneshot_supernet import synthetic_table

SPACE = DartsSpace(**DartsSpace.small_options)


def random_probs(seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.softmax(2 * torch.randn(8, generator=gen, dtype=torch.float64), 0)
            for _ in EDGE_LABELS]


def log_probability(arch, probs) -> float:
    """What the repair maximises: Σ over kept edges of log p(their op)."""
    values = SPACE.position_values(arch)
    positions = SPACE.positions()
    return sum(float(torch.log(p[pos.options.index(v)]))
               for pos, p, v in zip(positions, probs, values, strict=True) if v != "none")


def genotype_range(cost: ExpectedCost) -> tuple[float, float]:
    """The cheapest and dearest genotype's cost: per node, its cheapest / dearest option."""
    costs = [c.numpy() for c in cost.option_costs]
    lows, highs = [], []
    for options in SPACE.position_groups():
        sums = [sum(costs[p][j] for p, j in kept) for kept in options]
        lows.append(min(sums))
        highs.append(max(sums))
    return cost.constant + sum(lows), cost.constant + sum(highs)


def test_groups_are_the_nodes_genotypes():
    groups = SPACE.position_groups()
    # per cell type, nodes 0..3: C(j+2, 2) input pairs x 7 x 7 ops
    assert [len(g) for g in groups] == [49, 147, 294, 490] * 2
    positions = SPACE.positions()
    for g, options in enumerate(groups):
        t, j = ("normal", "reduce")[g // 4], g % 4
        for kept in options:
            (pa, a), (pb, b) = kept
            assert positions[pa].label.startswith(f"{t}.n{j}.") and pa < pb
            assert positions[pb].label.startswith(f"{t}.n{j}.") and a and b  # never `none`


@pytest.mark.parametrize("seed", range(2))
def test_repair_meets_the_target_with_the_most_probable_genotype(seed):
    cost = ExpectedCost(SPACE, synthetic_table(SPACE, seed=seed))
    probs = random_probs(seed)
    low, high = genotype_range(cost)
    argmax = derive(probs, cost.positions, SPACE, cost)
    assert argmax.arch == argmax.argmax and low <= argmax.cost <= high
    rng = np.random.default_rng(seed)
    sampled = [SPACE.sample(rng) for _ in range(1000)]
    # a target a tenth of random genotypes meet, and the argmax does not
    target = min(float(np.quantile([cost.of_arch(a) for a in sampled], 0.1)),
                 0.97 * argmax.cost)
    got = derive(probs, cost.positions, SPACE, cost, target)
    assert got.cost <= target * (1 + 1e-9) and got.changed
    assert got.cost == pytest.approx(cost.of_arch(got.arch))
    SPACE.check(got.arch)
    best = log_probability(got.arch, probs)
    # no feasible genotype is more probable: none of the sampled ones (with a margin for the
    # knapsack's grid), nor any one-label change of the answer that stays under the target
    margin = target - 0.01 * (target - low)
    feasible = [a for a in sampled if cost.of_arch(a) <= margin]
    assert len(feasible) > 20
    assert all(log_probability(a, probs) <= best + 1e-9 for a in feasible)
    for label, options in SPACE.choices():
        for option in options:
            near = SPACE.check(type(got.arch)(SPACE.name, {**got.arch.values, label: option}))
            if cost.of_arch(near) <= margin:
                assert log_probability(near, probs) <= best + 1e-9
    # a target the argmax meets keeps it
    kept = derive(probs, cost.positions, SPACE, cost, argmax.cost * 1.001)
    assert kept.arch == argmax.arch and not kept.changed


def test_a_target_below_the_cheapest_genotype_is_refused_in_one_line():
    cost = ExpectedCost(SPACE, synthetic_table(SPACE))
    low, _ = genotype_range(cost)
    with pytest.raises(HwnasRuntimeError, match=f"smallest predicted is {low:.4g}.*raise"):
        derive(random_probs(0), cost.positions, SPACE, cost, low * 0.99)


@pytest.mark.parametrize("method", ["darts", "snas", "proxyless", "fbnet"])
def test_each_one_shot_method_trains_the_edge_supernet_to_a_genotype(method):
    space = DartsSpace(C=2, layers=3, resolution=4, num_classes=3)
    cost = ExpectedCost(space, synthetic_table(space))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, 4, 4, generator=gen)
    y = torch.arange(40) % 3
    cls = STRATEGIES.get(method)
    options = cls.resolve_options({"arch_lr": 0.05} if method == "darts" else {})
    # 30 weight images in batches of 6: 5 weight steps per epoch, so ProxylessNAS (one
    # architecture step per 5) steps α once in its search epoch
    config = OneShotConfig(epochs=2, warmup_epochs=1, batch_size=6, lr=0.05,
                           weight_decay=0.0, arch_split=0.25)
    low, high = genotype_range(cost)
    target = low + 0.5 * (high - low)
    result = train_supernet(space, cls.method_class(), options, config, x, y, seed=0,
                            cost=cost, target=target, lam=0.5, hard_target=True)
    assert result.diverged is None and result.alpha_moved > 0
    derived = result.derived
    space.check(derived.arch)
    assert derived.cost <= target * (1 + 1e-9)
    last = result.trajectory[-1]
    assert last["phase"] == "search" and last["expected_cost"] > 0
    assert len(last["probs"]) == len(EDGE_LABELS)
    # the architecture logged at the last epoch is the one derived (before any repair), a
    # genotype of the paper's rule: two real edges per node
    assert last["argmax"] == dict(derived.argmax.values)
    values = space.position_values(derived.argmax)
    assert sum(v != "none" for v in values) == 16


def test_the_cost_range_is_the_genotypes_not_every_edge_none_or_dearest():
    """A target is checked against the range before training: "every edge none" is no
    genotype, so the range runs from the cheapest to the dearest genotype, which sampled
    genotypes stay within."""
    cost = ExpectedCost(SPACE, synthetic_table(SPACE))
    low, high = cost.range()
    assert (low, high) == pytest.approx(genotype_range(cost))
    per_edge_low = cost.constant + sum(float(c.min()) for c in cost.option_costs)
    assert per_edge_low < low  # what a per-position range would have said
    rng = np.random.default_rng(0)
    values = [cost.of_arch(SPACE.sample(rng)) for _ in range(100)]
    assert low - 1e-9 <= min(values) and max(values) <= high + 1e-9
