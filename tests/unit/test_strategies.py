import pytest

from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.strategies.evolution import AgingEvolution
from hwnas.strategies.random_search import RandomSearch

SPACE = ProxylessSpace()
OBJ = parse_objectives("accuracy,latency_ms")


def test_random_search_does_not_repeat():
    keys = [a.key for a in RandomSearch(SPACE, OBJ, seed=0).ask(200)]
    assert len(set(keys)) == 200


def test_evolution_starts_random_then_mutates_one_label_of_a_member():
    evo = AgingEvolution(SPACE, OBJ, seed=0, population=6, sample_size=3)
    init = evo.ask(6)
    evo.tell(init, [{"accuracy": i / 10, "latency_ms": 1.0} for i in range(6)])
    children = evo.ask(10)
    parents = {a.key: a for a in init}
    for child in children:
        diffs = [min(sum(child.values[k] != p.values[k] for k in child.values)
                     for p in parents.values())]
        assert diffs[0] == 1  # exactly one label differs from some population member


def test_evolution_removes_the_oldest_not_the_worst():
    evo = AgingEvolution(SPACE, OBJ, seed=0, population=3, sample_size=3)
    archs = evo.ask(3)
    best_first = [{"accuracy": 0.99, "latency_ms": 0.1}] + [{"accuracy": 0.1, "latency_ms": 9}] * 2
    evo.tell(archs, best_first)
    child = evo.ask(1)
    evo.tell(child, [{"accuracy": 0.0, "latency_ms": 99.0}])
    alive = [a.key for a, _ in evo._population]
    assert archs[0].key not in alive and child[0].key in alive and len(alive) == 3


def test_pareto_tournament_picks_a_non_dominated_member():
    evo = AgingEvolution(SPACE, OBJ, seed=0)
    results = [{"accuracy": 0.5, "latency_ms": 2.0}, {"accuracy": 0.9, "latency_ms": 1.0},
               {"accuracy": 0.4, "latency_ms": 3.0}]
    assert {evo.best_index(results) for _ in range(20)} == {1}


def test_mnasnet_fitness_needs_target_and_uses_reward():
    with pytest.raises(BadInputError, match="target_ms"):
        AgingEvolution(SPACE, OBJ, fitness="mnasnet")
    evo = AgingEvolution(SPACE, OBJ, fitness="mnasnet", target_ms=1.0, reward_w=-1.0)
    # hard-ish penalty: 0.9 at 3 ms scores 0.3, 0.8 at 1 ms scores 0.8
    assert evo.best_index([{"accuracy": 0.9, "latency_ms": 3.0},
                           {"accuracy": 0.8, "latency_ms": 1.0}]) == 1


def test_mnasnet_fitness_reads_the_runs_own_objectives():
    """Benchmark objectives (no `accuracy`, no `latency_ms`): the reward reads them by role."""
    objectives = parse_objectives(["params", "accuracy:cifar10", "latency:pixel3"])
    evo = AgingEvolution(SPACE, objectives, fitness="mnasnet", target_ms=1.0, reward_w=-1.0)
    results = [{"params": 1.0, "accuracy:cifar10": 0.9, "latency:pixel3": 3.0},
               {"params": 9.0, "accuracy:cifar10": 0.8, "latency:pixel3": 1.0}]
    assert evo.best_index(results) == 1  # 0.3 vs 0.8: latency:pixel3, not params, is read
    named = AgingEvolution(SPACE, objectives, fitness="mnasnet", target_ms=1.0, reward_w=-1.0,
                           cost="params")
    assert named.best_index(results) == 0  # 0.9 * 1 vs 0.8 / 9
    with pytest.raises(BadInputError, match="cost=NAME"):
        AgingEvolution(SPACE, objectives, fitness="mnasnet", target_ms=1.0,
                       cost="latency_ms").best_index(results)


def test_bad_population_is_one_line():
    with pytest.raises(BadInputError, match="population"):
        AgingEvolution(SPACE, OBJ, population=1)
