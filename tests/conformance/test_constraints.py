"""Issue 31: every registered strategy honours a hard limit on a cost known before training.

Each runs through the one loop with `latency_ms<=T`, T the space's 30th percentile of the cost
model's latency, and may propose a candidate that breaks it (which the loop then rules out,
untrained) at most once per 100 proposals after its first 10% of the budget. One-shot methods
derive against a latency table: their limit is their target, and what they derive meets it by
that table. A strategy registered without being run here fails
`test_every_registered_strategy_is_covered`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwnas.core.context import SearchContext
from hwnas.core.costs import CostModel
from hwnas.core.feasibility import is_infeasible, ruled_out
from hwnas.objectives import Constraint
from hwnas.registry import STRATEGIES
from hwnas.searching.constraints import Limits
from hwnas.searching.loop import run_loop
from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.strategies.oneshot import OneShotStrategy
from tests.conformance.test_failed_candidates import SMALL
from tests.conformance.test_strategies import OBJECTIVES, SPACE, TOY_COSTS, ToyEvaluator
from tests.conformance.test_strategies import toy_result as _toy_result

BUDGET = 60
ONE_SHOT = [n for n in STRATEGIES.names() if issubclass(STRATEGIES.get(n), OneShotStrategy)]
LOOPED = [n for n in STRATEGIES.names() if n not in ONE_SHOT]


def percentile_latency(latency, space, q: float = 30, n: int = 2000) -> float:
    rng = np.random.default_rng(12345)
    return float(np.percentile([latency(space.sample(rng)) for _ in range(n)], q))


T = percentile_latency(lambda a: _toy_result(a)["latency_ms"], SPACE)
LIMIT = Constraint("latency_ms", "<=", T)


def allowed_breaks(proposals: int) -> int:
    """'at most once per 100 proposals'."""
    return math.ceil(proposals / 100)


def test_every_registered_strategy_is_covered():
    assert set(LOOPED) | set(ONE_SHOT) == set(STRATEGIES.names())
    assert {"random", "evolution", "nsga2", "nsga3", "mobo", "pnas", "dppnet", "reinforce",
            "metaqnn", "enas", "spos"} <= set(LOOPED)
    assert {"proxyless", "fbnet", "darts", "snas"} <= set(ONE_SHOT)


@pytest.mark.parametrize("name", LOOPED)
def test_proposals_stay_within_a_table_known_limit(name):
    kwargs = dict(SMALL.get(name, {}))
    if "top" in kwargs:  # weight-sharing searches propose `top`: as many as the budget
        kwargs["top"] = BUDGET
    if name == "enas":
        kwargs["final_samples"] = BUDGET
    strategy = STRATEGIES.get(name)(SPACE, OBJECTIVES, seed=0, costs=TOY_COSTS,
                                    constraints=[LIMIT], **kwargs)
    evaluator = ToyEvaluator()
    limits = Limits([LIMIT], TOY_COSTS)
    candidates = []
    run_loop(strategy, evaluator, BUDGET, batch=3, name=name, limits=limits,
             on_candidate=candidates.append)
    after = candidates[BUDGET // 10:]  # its first 10% of the budget may explore
    broke = [c for c in after if ruled_out(c.result)]
    assert len(broke) <= allowed_breaks(len(after)), (name, len(broke), len(after))
    # nothing past the limit was evaluated: the loop ruled out what the strategy proposed
    assert all(_toy_result(a)["latency_ms"] <= T for a in evaluator.asked)
    assert sum(not ruled_out(c.result) for c in candidates) == BUDGET
    assert not limits.stopped


# One epoch of weights, then one with architecture steps, on 96 digits at 8x8
# (tests/conformance/test_oneshot.py).
TINY = {"epochs": 2, "warmup_epochs": 1, "resolution": 8, "train_subset": 96, "batch_size": 8,
        "threads": 1}


@pytest.mark.parametrize("name", ONE_SHOT)
def test_one_shot_derives_within_the_limit_by_the_table(name, tmp_path):
    from tests.unit.test_oneshot_supernet import synthetic_table

    space = ProxylessSpace(**ProxylessSpace.small_options)
    table = synthetic_table(space)
    context = SearchContext(dataset="digits", table=table, latency_stat="p50",
                            workdir=tmp_path)
    cls = STRATEGIES.get(name)
    probe = cls(space, OBJECTIVES, seed=0, context=context, **TINY)
    cost = probe.expected_cost()
    limit_ms = percentile_latency(cost.of_arch, space)
    limit = Constraint("latency_ms", "<=", limit_ms)
    costs = CostModel(["latency_ms"], lambda a: {"latency_ms": cost.of_arch(a)})
    strategy = cls(space, OBJECTIVES, seed=0, costs=costs, context=context,
                   constraints=[limit], sweep="lambda=0,0.5", **TINY)
    assert strategy.options["target_ms"] == limit_ms  # the limit is its target
    candidates = []
    evaluator = ToyOneShotEvaluator(space)
    run_loop(strategy, evaluator, 2, name=name, limits=Limits([limit], costs),
             on_candidate=candidates.append)
    assert len(candidates) == 2 and not any(is_infeasible(c.result) for c in candidates)
    assert all(cost.of_arch(c.arch) <= limit_ms for c in candidates)


class ToyOneShotEvaluator:
    def __init__(self, space):
        self.space = space

    def map(self, archs):
        from hwnas.core.outcome import Outcome

        for arch in archs:
            self.space.check(arch)
        return [Outcome({"accuracy": 0.5, "latency_ms": 1.0}) for _ in archs]
