"""A device cost the benchmark lacks for a network (NaN: the device could not run it) is known
before evaluation: the loop rules a proposal of it out, unevaluated and not one of the budget's
evaluations, tells the strategy it is infeasible, and counts it; strategies that check known
limits before proposing never propose it. A complete cost model changes nothing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import hwnas
from hwnas.arch import Arch
from hwnas.core.costs import CostModel
from hwnas.core.feasibility import (
    KnownCost,
    missing_cost,
    required_limits,
    ruled_out,
    summarize_infeasible,
)
from hwnas.league.runner import BenchProblem, ProblemEvaluator, bench, run_recorded
from hwnas.objectives import parse_constraint, parse_objectives
from hwnas.registry import SPACES
from hwnas.searching.config import SearchConfig
from hwnas.searching.constraints import Limits
from hwnas.searching.loop import RULED_OUT_PER_EVALUATION, ruled_out_cap, run_loop
from hwnas.strategies.base import Strategy
from hwnas.strategies.random_search import RandomSearch
from hwnas.tabular.benchmark import BenchmarkTable
from tests.tabular_helpers import write_synthetic_nb201

OBJECTIVES = parse_objectives("accuracy:cifar10,latency:pixel3")


def gapped_benchmark(path, keep_every: int):
    """The synthetic NB201 benchmark with Pixel 3 latency kept in one row of `keep_every`
    only (the others empty, as HW-NAS-Bench's edge GPU/TPU columns are for most cells)."""
    write_synthetic_nb201(path)
    lines = path.read_text().splitlines(keepends=True)
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        out.append(line if i % keep_every == 0 else line.rsplit(",", 1)[0] + ",\n")
    path.write_text("".join(out))
    return path


@pytest.fixture(scope="module")
def gapped(tmp_path_factory) -> BenchProblem:
    csv = gapped_benchmark(tmp_path_factory.mktemp("gapped") / "bench.csv", keep_every=3)
    table = BenchmarkTable.load(csv)
    return BenchProblem.build(SPACES.get("nb201")(), table, OBJECTIVES)


def lacking(problem: BenchProblem) -> np.ndarray:
    return ~np.isfinite(problem.table.objective_values("latency:pixel3"))


def test_the_cost_model_declares_its_gaps_and_a_complete_one_none(gapped, tmp_path):
    costs = ProblemEvaluator(gapped, {}).cost_model()
    assert costs.gaps == {"latency:pixel3"}
    assert costs.known_share == pytest.approx(1 - lacking(gapped).mean())
    assert required_limits(costs) == (KnownCost("latency:pixel3", "<=", math.inf),)
    row = int(np.flatnonzero(lacking(gapped))[0])
    assert math.isnan(costs.costs(gapped.table.arch_of(row))["latency:pixel3"])
    complete = BenchProblem.build(SPACES.get("nb201")(), BenchmarkTable.load(
        write_synthetic_nb201(tmp_path / "full.csv")), OBJECTIVES)
    full = ProblemEvaluator(complete, {}).cost_model()
    assert full.gaps == frozenset() and full.known_share == 1.0
    assert required_limits(full) == ()
    # no implicit limit: a strategy on a complete problem holds exactly the user's limits
    assert RandomSearch(complete.space, OBJECTIVES, costs=full).known_limits == ()


def test_a_missing_known_cost_is_ruled_out_with_its_reason(gapped):
    costs = ProblemEvaluator(gapped, {}).cost_model()
    limits = Limits((), costs)
    row = int(np.flatnonzero(lacking(gapped))[0])
    result = limits.rule_out(gapped.table.arch_of(row))
    assert ruled_out(result) and missing_cost(result)
    assert result["infeasible"] == "latency:pixel3 missing from the benchmark"
    assert result["missing"] == ["latency:pixel3"] and result["violation"] == 1e6
    assert "latency:pixel3" not in result  # a NaN is never recorded as a cost
    assert summarize_infeasible([result])["limits"] == [
        {"limit": "latency:pixel3 missing from the benchmark", "count": 1}]
    have = int(np.flatnonzero(~lacking(gapped))[0])
    assert limits.rule_out(gapped.table.arch_of(have)) is None
    # a user's limit on the same cost: the gap is the reason, not a comparison with NaN
    both = Limits((parse_constraint("latency:pixel3<=2"),), costs)
    assert both.rule_out(gapped.table.arch_of(row))["missing"] == ["latency:pixel3"]


@pytest.mark.parametrize("method", ["random", "evolution", "nsga2", "pnas"])
def test_strategies_spend_no_evaluation_on_a_row_missing_its_device_cost(gapped, method):
    record = run_recorded(gapped, method, seed=0, budget=40)
    assert len(record.rows) == 40 and record.stopped is None
    assert not any(lacking(gapped)[r] for r in record.rows)
    # they avoid them before proposing, as they avoid a known limit
    assert record.discarded > 0 and record.missing == record.ruled_out


def test_a_strategy_that_does_not_check_has_them_ruled_out_counted_and_told(gapped,
                                                                               monkeypatch):
    told: list[dict] = []
    real_tell = RandomSearch.tell

    def tell(self, archs, results):
        told.extend(results)
        real_tell(self, archs, results)

    monkeypatch.setattr(Strategy, "draw_feasible", lambda self, draw, tries=200: draw())
    monkeypatch.setattr(RandomSearch, "tell", tell)
    record = run_recorded(gapped, "random", seed=2, budget=30)
    assert len(record.rows) == 30 and not any(lacking(gapped)[r] for r in record.rows)
    assert record.ruled_out == record.missing == sum(map(missing_cost, told)) > 0
    assert len(told) == 30 + record.ruled_out  # each ruled-out one was told, none evaluated


def test_the_cap_on_ruled_out_proposals_follows_the_share_of_the_space_with_costs(tmp_path,
                                                                                 monkeypatch):
    """One row in 20 has a cost: uniform draws are ruled out 19 times per evaluation, past the
    10 of a complete space, and the run still gets its whole budget."""
    table = BenchmarkTable.load(gapped_benchmark(tmp_path / "sparse.csv", keep_every=20))
    problem = BenchProblem.build(SPACES.get("nb201")(), table, OBJECTIVES)
    costs = ProblemEvaluator(problem, {}).cost_model()
    assert ruled_out_cap(Limits((), costs), 10) == pytest.approx(
        RULED_OUT_PER_EVALUATION * 10 / costs.known_share)
    assert ruled_out_cap(Limits(()), 10) == RULED_OUT_PER_EVALUATION * 10
    monkeypatch.setattr(Strategy, "draw_feasible", lambda self, draw, tries=200: draw())
    record = run_recorded(problem, "random", seed=0, budget=20)
    assert record.stopped is None and len(record.rows) == 20
    assert record.ruled_out > RULED_OUT_PER_EVALUATION * 20  # the former cap would have stopped


class OnlyMissing(Strategy):
    """Proposes the same architecture, which lacks its cost, for ever."""

    def __init__(self, space, objectives, arch: Arch, **kw):
        super().__init__(space, objectives, **kw)
        self.arch = arch

    def ask(self, n=1):
        return [self.arch] * n


def test_a_strategy_proposing_only_missing_rows_is_still_stopped(gapped):
    costs = ProblemEvaluator(gapped, {}).cost_model()
    arch = gapped.table.arch_of(int(np.flatnonzero(lacking(gapped))[0]))
    limits = Limits((), costs)
    evaluator = ProblemEvaluator(gapped, {})
    n = run_loop(OnlyMissing(gapped.space, OBJECTIVES, arch, costs=costs), evaluator, 5,
                 limits=limits)
    assert limits.stopped and n == limits.ruled_out == limits.missing
    assert n == math.floor(ruled_out_cap(limits, 5)) + 1


def test_the_league_reports_the_counts_without_any_constraint(gapped):
    results = bench(gapped, ["random"], seeds=2, budget=10)
    for run in results["methods"]["random"]["per_seed"]:
        assert run["ruled_out"] == run["ruled_out_missing"] == 0 and run["discarded"] > 0
        assert run["infeasible_evals"] == 0 and run["stopped"] is None


def test_search_with_a_tabular_estimator_rules_out_rows_missing_a_cost(tmp_path,
                                                                         monkeypatch):
    """`hwnas search` used to refuse a benchmark with gaps in a cost column; the cost is
    known before evaluation, so the run goes on and rules those rows out."""
    monkeypatch.chdir(tmp_path)
    gapped_benchmark(tmp_path / "bench.csv", keep_every=3)
    monkeypatch.setattr(Strategy, "draw_feasible", lambda self, draw, tries=200: draw())
    config = SearchConfig(table="", space="nb201", strategy="random", estimator="tabular",
                          estimator_options={"benchmark": "bench.csv"}, budget=12,
                          objectives=["accuracy:cifar10", "latency:pixel3"])
    run = hwnas.search(config)
    lines = (tmp_path / run.path / "history.jsonl").read_text().splitlines()
    history = [json.loads(line)["result"] for line in lines]  # ruled-out records included
    out = [r for r in history if ruled_out(r)]
    evaluated = [r for r in history if not ruled_out(r)]
    assert len(evaluated) == 12 and out and all(missing_cost(r) for r in out)
    assert all(math.isfinite(r["latency:pixel3"]) for r in evaluated)


def test_a_cost_model_without_gaps_keeps_its_share():
    model = CostModel(["latency:x"], lambda arch: {"latency:x": 1.0}, known_share=0.5)
    assert model.gaps == frozenset() and model.known_share == 1.0
