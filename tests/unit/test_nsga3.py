"""NSGA-III strategy: Das-Dennis reference directions kept all run long, survival by niching
around them (pymoo's ReferenceDirectionSurvival), NSGA-II's ask/tell machinery, and a
three-objective `hwnas search` on a tabular benchmark."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.registry import STRATEGIES
from hwnas.runs import RunDir
from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.strategies.nsga3 import default_partitions, n_directions

SPACE = ProxylessSpace()
OBJECTIVES3 = parse_objectives("accuracy,latency_ms,params")


def toy3(arch) -> dict:
    """Three conflicting objectives of the encoding: accuracy saturates with its sum, latency
    grows with the first half of the labels, params with the second half."""
    lo, hi = SPACE.bounds()
    z = SPACE.encode(arch) / np.maximum(hi, 1)
    half = len(z) // 2
    return {"accuracy": float(1 - np.exp(-z.sum() / 3)),
            "latency_ms": float(1 + (z[:half] ** 2).sum()),
            "params": float(1 + (z[half:] ** 2).sum())}


def run(strategy, budget: int, batch: int = 5, every=None):
    asked = []
    while len(asked) < budget:
        archs = strategy.ask(min(batch, budget - len(asked)))
        strategy.tell(archs, [toy3(a) for a in archs])
        asked += archs
        if every is not None:
            every(strategy)
    return asked


@pytest.mark.parametrize("n_obj, partitions, expected", [(3, 6, 28), (3, 4, 15), (4, 3, 20),
                                                         (2, 19, 20), (5, 3, 35)])
def test_das_dennis_count(n_obj, partitions, expected):
    assert n_directions(n_obj, partitions) == expected == comb(partitions + n_obj - 1,
                                                               n_obj - 1)


def test_reference_directions_are_das_dennis_and_kept_across_generations():
    from pymoo.util.ref_dirs import get_reference_directions

    strategy = STRATEGIES.get("nsga3")(SPACE, OBJECTIVES3, seed=0)
    assert strategy.n_partitions == default_partitions(3) == 4
    seen = []

    def snapshot(s):
        if s._algorithm is not None and s._algorithm.is_initialized:
            seen.append((s._algorithm.n_gen, s._algorithm.ref_dirs, s._algorithm.survival.ref_dirs))

    run(strategy, budget=20 * 6, every=snapshot)
    gens = {g for g, _, _ in seen}
    assert len(gens) >= 4  # several generations went by
    first = seen[0][1]
    assert len(first) == comb(4 + 3 - 1, 3 - 1) == 15
    assert strategy.pop_size == 20  # 15 rounded up to a multiple of 4, at least 20
    np.testing.assert_array_equal(first, get_reference_directions("das-dennis", 3,
                                                                  n_partitions=4))
    for _, ref_dirs, survival_dirs in seen:  # the very same array, never rebuilt
        assert ref_dirs is first and survival_dirs is first and strategy.ref_dirs is first
    np.testing.assert_array_equal(first, get_reference_directions("das-dennis", 3,
                                                                  n_partitions=4))


def test_survival_is_reference_direction_niching():
    from pymoo.algorithms.moo.nsga3 import ReferenceDirectionSurvival

    strategy = STRATEGIES.get("nsga3")(SPACE, OBJECTIVES3, seed=0)
    run(strategy, budget=20 * 3)
    algorithm = strategy._algorithm
    assert isinstance(algorithm.survival, ReferenceDirectionSurvival)
    # niching ran: every survivor was associated with a reference direction
    niche = algorithm.pop.get("niche")
    assert niche is not None and len(niche) == len(algorithm.pop)
    assert set(niche.astype(int).tolist()) <= set(range(len(strategy.ref_dirs)))


def _survivors_niches(strategy_name: str, F: np.ndarray, n_survive: int, ref_dirs,
                      **options) -> int:
    """Distinct reference directions the strategy's own survival keeps, given one front."""
    from pymoo.algorithms.moo.nsga3 import associate_to_niches
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.population import Population
    from pymoo.problems.static import StaticProblem

    strategy = STRATEGIES.get(strategy_name)(SPACE, OBJECTIVES3, seed=0, **options)
    strategy.ask(1)  # builds the pymoo algorithm
    pop = Population.new(X=np.zeros((len(F), len(SPACE.choices()))))
    Evaluator().eval(StaticProblem(strategy._problem, F=F, G=np.zeros((len(F), 1))), pop)
    out = strategy._algorithm.survival.do(strategy._problem, pop, n_survive=n_survive,
                                          random_state=np.random.default_rng(1))
    G = out.get("F")
    niches, _, _ = associate_to_niches(G, ref_dirs, F.min(axis=0), F.max(axis=0))
    return len(set(niches.tolist()))


def test_survivors_spread_over_the_directions_where_crowding_does_not():
    """One front on the plane f1 + f2 + f3 = 1: three near-copies of every direction plus a
    crowd near one corner. Cut to one survivor per direction, NSGA-III keeps every direction;
    NSGA-II's crowding distance leaves a third of them empty."""
    from pymoo.util.ref_dirs import get_reference_directions

    dirs = get_reference_directions("das-dennis", 3, n_partitions=6)
    rng = np.random.default_rng(0)
    F = np.clip(np.repeat(dirs, 3, axis=0) + rng.normal(0, 0.01, (3 * len(dirs), 3)), 0, None)
    F = np.vstack([F / F.sum(axis=1, keepdims=True), rng.dirichlet([30, 1, 1], size=30)])
    nsga3 = _survivors_niches("nsga3", F, len(dirs), dirs, n_partitions=6)
    nsga2 = _survivors_niches("nsga2", F, len(dirs), dirs)
    assert nsga3 == len(dirs) == 28
    assert nsga2 <= 24


def test_pop_size_below_the_directions_is_refused_and_defaults_follow_the_objectives():
    with pytest.raises(BadInputError, match="'population' option of strategy 'nsga3'.*28"):
        STRATEGIES.get("nsga3")(SPACE, OBJECTIVES3, seed=0, n_partitions=6, population=20)
    two = STRATEGIES.get("nsga3")(SPACE, parse_objectives("accuracy,latency_ms"), seed=0)
    assert (two.n_partitions, two.pop_size) == (19, 20)
    four = STRATEGIES.get("nsga3")(SPACE, parse_objectives("accuracy,latency_ms,params,flops"),
                                   seed=0)
    assert (four.n_partitions, four.pop_size) == (3, 20)
    wide = STRATEGIES.get("nsga3")(SPACE, OBJECTIVES3, seed=0, n_partitions=6)
    assert wide.pop_size == 28 and len(wide.ref_dirs) == 28
    more = STRATEGIES.get("nsga3")(SPACE, OBJECTIVES3, seed=0, n_partitions=3, population=12)
    assert (more.pop_size, len(more.ref_dirs)) == (12, 10)


def test_deterministic_and_independent_of_the_batch_size():
    def keys(seed, batch):
        strategy = STRATEGIES.get("nsga3")(SPACE, OBJECTIVES3, seed=seed, n_partitions=4)
        return [a.key for a in run(strategy, budget=60, batch=batch)]

    assert keys(1, 1) == keys(1, 7) == keys(1, 60) != keys(2, 7)
    assert len(set(keys(1, 7))) == 60  # dedup=history: no repeats


def write_three_objective_nb201(path):
    """The synthetic NB201 table of tests/tabular_helpers.py plus an EdgeGPU latency column
    that disagrees with Pixel 3 (pooling is dear on it), so three objectives conflict."""
    from tests.tabular_helpers import write_synthetic_nb201

    write_synthetic_nb201(path)
    ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    cost = {"none": 0.0, "skip_connect": 0.4, "nor_conv_1x1": 0.6, "nor_conv_3x3": 0.9,
            "avg_pool_3x3": 2.0}
    lines = path.read_text().splitlines()
    out = [lines[0] + ",hw_c10_edgegpu_latency_ms"]
    for line, choice in zip(lines[1:], itertools.product(ops, repeat=6), strict=True):
        lat = 2.0 + sum(cost[op] * (1 + 0.13 * (5 - k)) for k, op in enumerate(choice))
        out.append(f"{line},{lat!r}")
    path.write_text("\n".join(out) + "\n")
    return path


def test_search_with_three_objectives_on_a_tabular_benchmark(tmp_path):
    csv = write_three_objective_nb201(tmp_path / "bench.csv")
    run_dir = tmp_path / "run"
    objectives = "accuracy,latency:pixel3,latency:edgegpu"
    args = ["search", "--space", "nb201", "--estimator", "tabular",
            "--estimator-opt", f"benchmark={csv}",
            "--estimator-opt", "costs=latency:pixel3,latency:edgegpu",
            "--objectives", objectives, "--method", "nsga3", "--seed", "1",
            "--budget", "40", "--run-dir", str(run_dir)]
    assert run_app(app, args) == 0
    records = RunDir(run_dir).history()
    assert len(records) == 40
    assert len({r["arch_key"] for r in records}) == 40  # two generations of 20, no repeats
    for r in records:
        assert set(objectives.split(",")) <= set(r["result"])
