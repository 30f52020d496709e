"""Issue 31, item 3: the loop's check of hard limits (hwnas.searching.loop, .constraints).

A proposal breaking a limit on a cost known before training is recorded infeasible, with the
cost and the limit, never evaluated, told to the strategy, and not one of the budget's
evaluations; a strategy proposing little else is stopped at RULED_OUT_PER_EVALUATION x budget;
a limit known only after evaluation marks the evaluated result; a constrained run replays.
"""

from __future__ import annotations

import pytest

from hwnas.core.feasibility import (
    VIOLATION,
    is_infeasible,
    ruled_out,
    summarize_infeasible,
    usable,
    violation,
)
from hwnas.errors import BadInputError
from hwnas.objectives import parse_constraint
from hwnas.registry import STRATEGIES
from hwnas.searching.constraints import Limits, parse_constraints
from hwnas.searching.loop import RULED_OUT_PER_EVALUATION, Recorded, run_loop
from tests.conformance.test_strategies import OBJECTIVES, SPACE, TOY_COSTS, ToyEvaluator, toy_result

FAST, SLOW = SPACE.decode(SPACE.bounds()[0].tolist()), SPACE.decode(SPACE.bounds()[1].tolist())
LIMIT = parse_constraint(f"latency_ms<={(toy_result(FAST)['latency_ms'] + 0.01):g}")


class Scripted:
    """Proposes `archs` in turn, for ever; records what it is told."""

    def __init__(self, archs):
        self.archs, self.i, self.told = list(archs), 0, []

    def ask(self, n=1):
        out = [self.archs[(self.i + k) % len(self.archs)] for k in range(n)]
        self.i += n
        return out

    def tell(self, archs, results):
        self.told += list(results)


def test_a_known_breaker_is_recorded_untrained_and_does_not_count_against_the_budget():
    strategy, evaluator = Scripted([SLOW, FAST]), ToyEvaluator()
    limits = Limits([LIMIT], TOY_COSTS)
    candidates = []
    n = run_loop(strategy, evaluator, 3, limits=limits, on_candidate=candidates.append)
    assert n == 6 and limits.ruled_out == 3  # 3 evaluations, 3 more proposals ruled out
    assert [a.key for a in evaluator.asked] == [FAST.key]  # evaluated once, then a repeat
    out = candidates[0].result
    assert ruled_out(out) and "accuracy" not in out and out["evaluated"] is False
    assert out["latency_ms"] == pytest.approx(toy_result(SLOW)["latency_ms"])
    assert out["infeasible"].startswith(f"{LIMIT} by the table: latency_ms=")
    assert out[VIOLATION] > 0 and violation(out) == out[VIOLATION]
    assert strategy.told[0] == out  # the strategy is told
    assert usable(strategy.told[1]) and not is_infeasible(strategy.told[1])


def test_a_strategy_proposing_only_breakers_is_stopped_at_the_cap():
    strategy, evaluator = Scripted([SLOW]), ToyEvaluator()
    limits = Limits([LIMIT], TOY_COSTS)
    n = run_loop(strategy, evaluator, 2, limits=limits)
    assert evaluator.asked == []
    assert n == limits.ruled_out == RULED_OUT_PER_EVALUATION * 2 + 1
    assert limits.stopped and "0 of 2 evaluated" in limits.stopped


def test_a_limit_known_only_after_evaluation_marks_the_result_and_counts():
    limit = parse_constraint("accuracy>=0.99")  # toy accuracies stay below it
    limits = Limits([limit], TOY_COSTS)
    assert limits.after == (limit,) and limits.before == ()
    candidates = []
    run_loop(Scripted([SLOW, FAST]), ToyEvaluator(), 4, limits=limits,
             on_candidate=candidates.append)
    assert len(candidates) == 4
    assert all(is_infeasible(c.result) and not ruled_out(c.result) for c in candidates)
    assert "accuracy" in candidates[0].result  # evaluated: every objective kept
    summary = summarize_infeasible(c.result for c in candidates)
    assert summary["infeasible"] == 4 and summary["ruled_out"] == 0
    assert summary["limits"] == [{"limit": "accuracy>=0.99 by the evaluation", "count": 4}]


def test_a_constraint_written_twice_or_badly_is_refused():
    with pytest.raises(BadInputError, match="given twice"):
        parse_constraints(["latency_ms<=3", "latency_ms<=3"])
    with pytest.raises(BadInputError, match="cannot read constraint"):
        parse_constraints(["latency_ms<=fast"])


@pytest.mark.parametrize("name", ["evolution", "nsga2", "reinforce"])
def test_a_constrained_run_replays_identically(name):
    """Resume: the recorded results, ruled-out ones included, told again give the same
    proposals, and the run goes on as the uninterrupted one did."""
    options = {"evolution": {"population": 6, "sample_size": 3},
               "nsga2": {"population": 6}}.get(name, {})

    def run(budget, replay=()):
        strategy = STRATEGIES.get(name)(SPACE, OBJECTIVES, seed=4, costs=TOY_COSTS,
                                        constraints=[LIMIT_30], **options)
        got = []
        run_loop(strategy, ToyEvaluator(), budget, replay=replay, limits=Limits([LIMIT_30],
                                                                                TOY_COSTS),
                 on_candidate=got.append)
        return got

    whole = run(30)
    first = run(15)
    replay = [Recorded(c.arch.key, c.result) for c in first]
    resumed = run(30, replay)
    assert [c.arch.key for c in resumed] == [c.arch.key for c in whole]
    assert [c.result for c in resumed] == [c.result for c in whole]
    assert all(c.replayed for c in resumed[:len(first)])


def _percentile_30() -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    return float(np.percentile([toy_result(SPACE.sample(rng))["latency_ms"]
                                for _ in range(500)], 30))


LIMIT_30 = parse_constraint(f"latency_ms<={_percentile_30():.6g}")
