"""Supernets and the expected cost: a derived architecture is exactly `space.build(arch)`, and
E[cost] is the table's (calibrated) prediction for a one-hot distribution, with the gradient
finite differences give."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.latency.table import LatencyTable
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.supernet import Supernet
from hwnas.spaces.fbnet import FBNetSpace
from hwnas.spaces.nb201 import Nb201Space
from hwnas.spaces.proxyless import ProxylessSpace

SPACES = {
    "proxyless": lambda: ProxylessSpace(resolution=16, width_mult=0.25, num_classes=5),
    "fbnet": lambda: FBNetSpace(num_classes=5),
    "nb201": lambda: Nb201Space(C=4, N=1, resolution=8, num_classes=5),
}


def synthetic_table(space, seed=0, calibrated=True, columns=()) -> LatencyTable:
    """Every op of the space priced at random, optionally with a calibration and cost columns:
    the expectation's algebra does not depend on the numbers being measured."""
    rng = np.random.default_rng(seed)
    entries = {}
    for sig in space.all_ops():
        p50 = float(rng.uniform(0.05, 2.0))
        entry = {"p50": p50, "p90": 1.1 * p50, "mean": p50, "std": 0.01}
        for column in columns:
            entry[column] = float(rng.uniform(0.1, 5.0))
        entries[sig.key] = entry
    calibration = None
    if calibrated:
        types = sorted({sig.op for sig in space.all_ops()})
        calibration = {"kind": "affine-per-op-type", "stat": "p50", "intercept_ms": 0.37,
                       "per_op_ms": 0.011,
                       "scales": {t: float(rng.uniform(0.5, 1.5)) for t in types},
                       "fitted_on": {"networks": 0}}
    return LatencyTable(backend="ort-cpu", device={"cpu": "test"}, entries=entries,
                        calibration=calibration)


@pytest.mark.parametrize("name", SPACES)
def test_a_path_of_the_supernet_is_the_derived_network(name):
    space = SPACES[name]()
    torch.manual_seed(0)
    supernet = Supernet(space).eval()
    x = torch.randn(2, *space.input_shape)
    rng = np.random.default_rng(1)
    for _ in range(3):
        arch = space.sample(rng)
        supernet.set_arch(arch)
        child = supernet.child(arch).eval()
        with torch.no_grad():
            assert torch.allclose(supernet(x), child(x), atol=1e-5)
        # one-hot mixing weights run every candidate and give the same network
        supernet.set_weights([torch.nn.functional.one_hot(torch.tensor(j), len(p.options))
                              .float() for j, p in zip(supernet.indices(arch),
                                                       supernet.positions, strict=True)])
        with torch.no_grad():
            assert torch.allclose(supernet(x), child(x), atol=1e-5)


def test_every_option_is_a_candidate_and_instances_share_alpha():
    space = Nb201Space(C=4, N=2, resolution=8)
    supernet = Supernet(space)
    assert len(supernet.alphas) == 6
    assert all(len(ops) == 3 * 2 for ops in supernet.mixed)  # one per cell
    assert all(len(op.candidates) == 5 for ops in supernet.mixed for op in ops)
    proxyless = Supernet(ProxylessSpace(resolution=16, width_mult=0.25))
    zero = [p for p, pos in enumerate(proxyless.positions) if "zero" in pos.options]
    assert zero and all(isinstance(proxyless.mixed[p][0].candidates[-1], torch.nn.Identity)
                        for p in zero)  # `zero` keeps the input
    weights = {id(p) for p in proxyless.weight_parameters()}
    assert not weights & {id(a) for a in proxyless.arch_parameters()}


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("calibrated", [True, False])
def test_expected_latency_of_one_hot_is_the_tables_prediction(name, calibrated):
    space = SPACES[name]()
    table = synthetic_table(space, calibrated=calibrated)
    cost = ExpectedCost(space, table)
    rng = np.random.default_rng(2)
    for _ in range(10):
        arch = space.sample(rng)
        expected = float(cost(cost.one_hot(arch)))
        assert expected == pytest.approx(table.predict_ops(space.ops(arch)), rel=1e-10)
        assert cost.of_arch(arch) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("name", SPACES)
def test_expected_latency_is_the_mean_over_sampled_architectures(name):
    """Under independent positions E[lat] is the average of the table's predictions."""
    space = SPACES[name]()
    cost = ExpectedCost(space, synthetic_table(space))
    gen = torch.Generator().manual_seed(3)
    probs = [torch.softmax(torch.randn(len(p.options), generator=gen, dtype=torch.float64), 0)
             for p in cost.positions]
    rng = np.random.default_rng(4)
    draws = [cost.of_arch(cost_arch(cost, probs, rng)) for _ in range(3000)]
    spread = np.std(draws) / np.sqrt(len(draws))
    assert abs(np.mean(draws) - float(cost(probs))) < 5 * spread


def cost_arch(cost, probs, rng):
    from hwnas.arch import Arch

    return Arch(cost.space.name, {p.label: p.options[rng.choice(len(p.options),
                                                                 p=pr.numpy())]
                                  for p, pr in zip(cost.positions, probs, strict=True)})


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("objective", ["latency_ms", "energy_mj"])
def test_gradient_matches_finite_differences(name, objective):
    space = SPACES[name]()
    cost = ExpectedCost(space, synthetic_table(space, columns=("energy_mj",)), objective)
    gen = torch.Generator().manual_seed(5)
    alphas = [torch.randn(len(p.options), generator=gen, dtype=torch.float64,
                          requires_grad=True) for p in cost.positions]

    def f(al):
        return cost([torch.softmax(a, 0) for a in al])

    assert torch.autograd.gradcheck(lambda *al: f(al), tuple(alphas), eps=1e-6, atol=1e-6)


def test_peak_memory_is_exact_for_one_hot_and_a_max_of_expectations():
    space = SPACES["proxyless"]()
    table = synthetic_table(space, calibrated=False, columns=("peak_mem_mb",))
    cost = ExpectedCost(space, table, "peak_mem_mb")
    rng = np.random.default_rng(6)
    for _ in range(5):
        arch = space.sample(rng)
        assert float(cost(cost.one_hot(arch))) == pytest.approx(cost.of_arch(arch))
    low, high = cost.range()
    assert low <= high


def test_range_spans_the_space():
    space = SPACES["proxyless"]()
    cost = ExpectedCost(space, synthetic_table(space))
    low, high = cost.range()
    rng = np.random.default_rng(7)
    values = [cost.of_arch(space.sample(rng)) for _ in range(200)]
    assert low <= min(values) and max(values) <= high
