"""Issue 31, item 4, in the loop and the strategies: a warm start's records are told before the
first proposal, cost no evaluation, are looked up (never evaluated) when proposed again, and are
judged again under the new run's limits (hwnas.searching.loop, hwnas.api.warm_start)."""

from __future__ import annotations

import pytest

from hwnas.api.warm_start import check_same_problem, rejudge
from hwnas.core.failure import failed_result
from hwnas.core.feasibility import is_infeasible, ruled_out, usable
from hwnas.errors import BadInputError
from hwnas.objectives import parse_constraint
from hwnas.registry import STRATEGIES
from hwnas.runs import RunDir
from hwnas.searching.constraints import Limits
from hwnas.searching.loop import run_loop
from tests.conformance.test_strategies import OBJECTIVES, SPACE, TOY_COSTS, ToyEvaluator, toy_result
from tests.unit.test_constraint_loop import FAST, LIMIT, SLOW, Scripted

OTHER = SPACE.decode([1] * len(SPACE.bounds()[0]))


class Warmed(Scripted):
    def __init__(self, archs):
        super().__init__(archs)
        self.warm: list = []

    def warm_start(self, archs, results):
        assert not self.told, "told before any proposal's result"
        self.warm += list(zip(archs, results, strict=True))


def test_warm_records_are_told_first_cost_nothing_and_are_looked_up_not_evaluated():
    warm = [(SLOW, toy_result(SLOW)), (FAST, toy_result(FAST))]
    strategy, evaluator, seen = Warmed([SLOW, OTHER]), ToyEvaluator(), []
    n = run_loop(strategy, evaluator, 2, warm=warm, on_candidate=seen.append)
    assert [a for a, _ in strategy.warm] == [SLOW, FAST]
    assert n == 2  # two proposals of the budget: the warm records are none of them
    assert [a.key for a in evaluator.asked] == [OTHER.key]  # SLOW was known: not evaluated
    assert seen[0].cached and seen[0].result == toy_result(SLOW) and not seen[1].cached


def test_without_a_warm_start_the_strategy_is_never_asked_to_take_one():
    strategy = Scripted([FAST])  # no warm_start method at all
    assert run_loop(strategy, ToyEvaluator(), 2) == 2


def test_records_are_judged_again_under_the_new_limits():
    limits = Limits([LIMIT], TOY_COSTS)  # only FAST is within it
    was_fine = toy_result(SLOW)
    now = rejudge(SLOW, was_fine, limits)
    assert ruled_out(now) and "accuracy" not in now  # as this run would record it: untrained
    assert rejudge(FAST, was_fine | toy_result(FAST), limits) == toy_result(FAST)
    # ruled out by the earlier run, within this one's limits: nothing is known of it
    old_out = Limits([parse_constraint("latency_ms<=0.001")], TOY_COSTS).rule_out(FAST)
    assert ruled_out(old_out) and rejudge(FAST, old_out, limits) is None
    # infeasible there by a limit known after evaluation, which this run does not hold
    marked = Limits([parse_constraint("accuracy>=0.999")], TOY_COSTS).judge(toy_result(FAST))
    assert is_infeasible(marked) and usable(rejudge(FAST, marked, Limits(())))
    failed = failed_result("out of memory")
    assert rejudge(SLOW, failed, limits) == failed  # told as failed, whatever the limits


def test_evolution_is_seeded_with_the_best_and_mutates_from_the_first_proposal():
    evo = STRATEGIES.get("evolution")(SPACE, OBJECTIVES, seed=1, population=4, sample_size=2)
    archs = [SPACE.sample(evo.rng) for _ in range(10)]
    evo.warm_start(archs, [toy_result(a) for a in archs])
    assert len(evo._population) == 4 and evo._n_asked == 4
    child = evo.ask(1)[0]  # a mutation of a seed: one label away from one of them
    assert any(sum(child.values[k] != a.values[k] for k in a.values) == 1
               for a, _ in evo._population)


def test_a_run_of_another_problem_is_refused_naming_the_setting_and_both_values(tmp_path):
    base = {"search": {"space": "nb201", "objectives": ["accuracy", "latency_ms"],
                       "estimator": "scratch", "dataset": "digits", "latency_stat": "p10"},
            "space_resolved": {"C": 16}, "estimator_resolved": {"epochs": 2},
            "table": {"hash": "a" * 64}}
    old = RunDir(tmp_path / "old")
    check_same_problem([(old, base)], base)  # the same problem: accepted
    for change, needles in (
            ({"table": {"hash": "b" * 64}}, ("latency table is table aaaaaaaaaaaa",
                                             "this search's is table bbbbbbbbbbbb")),
            ({"estimator_resolved": {"epochs": 3}}, ("estimator option epochs is 2",
                                                     "--estimator-opt epochs=2")),
            ({"space_resolved": {"C": 8}}, ("space option C is 16", "--space-opt C=16")),
            ({"search": {**base["search"], "latency_stat": "p50"}}, ("latency statistic",)),
            ({"search": {**base["search"], "dataset": "cifar10:/d"}}, ("dataset is digits",))):
        with pytest.raises(BadInputError) as exc:
            check_same_problem([(old, base)], {**base, **change})
        text = str(exc.value)
        assert "\n" not in text and f"--warm-start {old.path}" in text
        assert all(n in text for n in needles), text
