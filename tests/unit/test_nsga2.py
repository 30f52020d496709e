"""NSGA-II strategy: buffering pymoo generations behind ask(n)/tell, determinism, progress."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.analysis.pareto import Normaliser, hypervolume, to_min
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.registry import STRATEGIES
from hwnas.spaces.proxyless import ProxylessSpace
from tests.unit.test_bench import ToySpace

SPACE = ProxylessSpace()
OBJECTIVES = parse_objectives("accuracy,latency_ms")
DIRS = ["max", "min"]


def toy(space, arch) -> dict:
    """Accuracy saturates with the encoding's sum, latency grows with its square: a trade-off
    whose front is far from a random population."""
    lo, hi = space.bounds()
    z = space.encode(arch) / np.maximum(hi, 1)
    return {"accuracy": float(1 - np.exp(-z.sum() / 3)), "latency_ms": float(1 + (z ** 2).sum())}


def run(seed=0, budget=200, batch=7, space=SPACE, **options):
    strategy = STRATEGIES.get("nsga2")(space, OBJECTIVES, seed=seed, **options)
    archs, results = [], []
    while len(archs) < budget:
        asked = strategy.ask(min(batch, budget - len(archs)))
        told = [toy(space, a) for a in asked]
        strategy.tell(asked, told)
        archs += asked
        results += told
    return strategy, archs, results


@pytest.mark.parametrize("dedup", ["history", "population"])
def test_same_seed_same_run_other_seed_other_run(dedup):
    _, a, _ = run(seed=3, budget=60, dedup=dedup)
    _, b, _ = run(seed=3, budget=60, dedup=dedup)
    _, c, _ = run(seed=4, budget=60, dedup=dedup)
    assert [x.key for x in a] == [x.key for x in b] != [x.key for x in c]


def test_batch_size_does_not_change_the_search():
    # Generations are buffered: asking 1, 7 or 50 at a time hands out the same sequence.
    keys = {n: [a.key for a in run(seed=1, budget=80, batch=n)[1]] for n in (1, 7, 50)}
    assert keys[1] == keys[7] == keys[50]


def test_pymoo_is_told_only_complete_generations():
    strategy = STRATEGIES.get("nsga2")(SPACE, OBJECTIVES, seed=0, population=10)
    first = strategy.ask(6)
    strategy.tell(first[:3], [toy(SPACE, a) for a in first[:3]])
    more = strategy.ask(10)  # only the 4 left of generation 1: 3 results are outstanding
    assert len(more) == 4 and not strategy._algorithm.is_initialized
    with pytest.raises(RuntimeError, match="tell"):
        strategy.ask(1)
    rest = first[3:] + more
    strategy.tell(rest, [toy(SPACE, a) for a in rest])
    assert len(strategy.ask(3)) == 3 and strategy._algorithm.is_initialized


def _F(results):
    return np.array([[r["accuracy"], r["latency_ms"]] for r in results])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hypervolume_improves_over_the_initial_population_and_beats_random(seed):
    _, _, results = run(seed=seed, budget=300, population=20)
    rand = STRATEGIES.get("random")(SPACE, OBJECTIVES, seed=seed).ask(300)
    F, R = _F(results), _F([toy(SPACE, a) for a in rand])
    norm = Normaliser.from_points(to_min(np.vstack([F, R]), DIRS))
    hv = lambda X: hypervolume(X, DIRS, normaliser=norm).value  # noqa: E731
    assert hv(F[-20:]) > hv(F[:20]) + 0.05  # the last generation vs the random initial one
    assert hv(F) > hv(R) + 0.02  # the same budget spent by random search


def test_history_dedup_never_repeats_until_the_space_is_exhausted():
    _, archs, _ = run(seed=0, budget=150, dedup="history")
    assert len({a.key for a in archs}) == 150
    space = ToySpace()  # 64 architectures: the strategy must keep going past them
    _, archs, _ = run(seed=0, budget=100, space=space, dedup="history", population=8)
    assert len(archs) == 100 and len({a.key for a in archs[:64]}) == 64


def test_non_finite_results_are_ranked_last_not_crashing():
    strategy = STRATEGIES.get("nsga2")(SPACE, OBJECTIVES, seed=0, population=6)
    for _ in range(3):
        asked = strategy.ask(6)
        told = [toy(SPACE, a) for a in asked]
        told[0] = {"accuracy": float("nan"), "latency_ms": float("inf")}
        strategy.tell(asked, told)
    assert len(strategy.ask(6)) == 6


@pytest.mark.parametrize("options", [{"population": 1}, {"eta_c": 0}, {"prob_m": 2},
                                     {"dedup": "all"}])
def test_bad_options_are_bad_input(options):
    with pytest.raises(BadInputError, match="nsga2"):
        STRATEGIES.get("nsga2")(SPACE, OBJECTIVES, seed=0, **options)
