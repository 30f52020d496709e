"""The league under hard limits (`hwnas bench --constraint`), on the toy table of test_bench:
the true front is that of the rows within the limits, a run scores only its evaluated rows
within them, proposals ruled out on a known cost are neither evaluations nor rows, and the
report says so."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import BadInputError
from hwnas.league.limits import percentile_limit
from hwnas.league.metrics import (
    aggregate,
    checkpoints,
    evals_to,
    hv_trajectory,
    league_markdown,
    run_metrics,
)
from hwnas.league.runner import BenchProblem, bench, run_recorded
from hwnas.objectives import parse_constraint
from hwnas.strategies.base import Strategy
from hwnas.strategies.random_search import RandomSearch
from tests.unit.test_bench import OBJECTIVES, SPACE, brute_front, make_table

LIMIT = parse_constraint("latency:dev<=5")  # about 4 rows in 10 of the toy table


def limited(constraints=(LIMIT,), seed: int = 0) -> BenchProblem:
    return BenchProblem.build(SPACE, make_table(seed), OBJECTIVES, list(constraints))


def test_true_front_is_the_front_of_the_rows_within_the_limits():
    problem, free = limited(), BenchProblem.build(SPACE, make_table(), OBJECTIVES)
    lat = problem.table.objective_values("latency:dev")
    within = np.isfinite(lat) & (lat <= 5)
    F = free.truth.F.copy()
    F[~within] = np.nan
    assert sorted(problem.truth.rows.tolist()) == brute_front(F)
    assert all(lat[r] <= 5 for r in problem.truth.rows)
    # the limit changes the problem: the unconstrained front has rows past it
    assert any(lat[r] > 5 for r in free.truth.rows)
    # a strategy is still told a row's objectives (the loop, not the lookup, judges limits)
    past = int(np.flatnonzero(np.isfinite(lat) & (lat > 5))[0])
    assert problem.result(past)["latency:dev"] == pytest.approx(lat[past])


def test_the_true_feasible_front_scores_one_and_rows_past_the_limit_add_nothing():
    truth = limited().truth
    lat = make_table().objective_values("latency:dev")
    front = truth.rows.tolist()
    assert run_metrics(truth, front, every=5)["hv_ratio"] == pytest.approx(1.0)
    assert run_metrics(truth, front, every=5)["found_share"] == 1.0
    # rows past the limit, better on accuracy than any feasible row, are not in a run's front
    past = [r for r in range(len(lat)) if np.isfinite(lat[r]) and lat[r] > 5]
    m = run_metrics(truth, past + front[:2], every=5)
    assert m["hv_ratio"] == pytest.approx(run_metrics(truth, front[:2], every=5)["hv_ratio"])
    assert m["infeasible_evals"] == len(past)
    assert run_metrics(truth, past + front, every=5)["hv_ratio"] == pytest.approx(1.0)
    assert run_metrics(truth, past, every=5)["hv_ratio"] == 0.0


def test_evaluations_to_a_share_count_evaluations_and_a_short_run_keeps_its_curve():
    truth = limited().truth
    front = truth.rows.tolist()
    m = run_metrics(truth, front, every=3)
    assert m["evals_to_99"] == evals_to(hv_trajectory(truth, front), 0.99) <= len(front)
    assert m["curve"]["hv_ratio"][-1] == pytest.approx(1.0)
    # a run that stopped short (too many proposals ruled out) is sampled to the budget,
    # holding its last values, so it aggregates with full runs
    short = run_metrics(truth, front[:3], every=5, budget=20)
    assert short["curve"]["evals"] == checkpoints(20, 5)
    assert short["curve"]["hv_ratio"][-1] == short["hv_ratio"] == pytest.approx(
        run_metrics(truth, front[:3], every=5)["hv_ratio"])
    assert short["evaluations"] == 3
    full = run_metrics(truth, front * 10, every=5, budget=20)
    agg = aggregate([{**short, "wall_s": 0.0}, {**full, "wall_s": 0.0}])
    assert agg["curve"]["evals"] == checkpoints(20, 5)
    assert run_metrics(truth, [], every=5, budget=10)["curve"]["hv_ratio"] == [0.0, 0.0]


def test_proposals_past_a_known_limit_are_ruled_out_not_evaluated(monkeypatch):
    """Random search without its rejection: the loop rules out what breaks the limit."""
    problem = limited()
    lat = problem.table.objective_values("latency:dev")
    proposed: list = []
    ask = RandomSearch.ask

    def recording(self, n=1):
        archs = ask(self, n)
        proposed.extend(archs)
        return archs

    monkeypatch.setattr(Strategy, "draw_feasible", lambda self, draw, tries=200: draw())
    monkeypatch.setattr(RandomSearch, "ask", recording)
    record = run_recorded(problem, "random", seed=1, budget=30)
    past = [a for a in proposed if not lat[problem.table.row_of(a)] <= 5]
    assert len(record.rows) == 30 and record.ruled_out == len(past) > 0
    assert all(lat[r] <= 5 for r in record.rows)
    assert len(proposed) == 30 + len(past)
    m = run_metrics(problem.truth, record.rows, every=10, budget=30)
    assert m["evaluations"] == 30 and m["infeasible_evals"] == 0
    assert m["evals_to_95"] is None or m["evals_to_95"] <= 30


def test_a_limit_known_after_evaluation_costs_an_evaluation_and_scores_nothing():
    acc = parse_constraint("accuracy:toy>=0.8")
    problem = limited((acc,))
    values = problem.table.objective_values("accuracy:toy")
    lacking = ~np.isfinite(problem.table.objective_values("latency:dev"))  # row 5: no latency
    record = run_recorded(problem, "random", seed=0, budget=40)
    assert record.ruled_out == 0 and len(record.rows) == 40
    m = run_metrics(problem.truth, record.rows, every=10)
    below = sum(1 for r in record.rows if values[r] < 0.8 and not lacking[r])
    assert below > 0 and m["infeasible_evals"] == below + sum(lacking[r] for r in record.rows)
    assert all(values[r] >= 0.8 for r in problem.truth.rows)


def test_constrained_league_reports_limits_and_random_with_rejection():
    problem = limited()
    results = bench(problem, ["random", "evolution"], seeds=2, budget=20, every=10)
    random = results["methods"]["random"]
    assert results["constraints"] == ["latency:dev<=5"] and "constraints_policy" in results
    # the baseline is random with rejection: draws past the limit are never proposed
    assert all(r["ruled_out"] == 0 and r["discarded"] > 0 for r in random["per_seed"])
    assert random["ruled_out"]["mean"] == 0.0 and random["stopped"] == 0
    assert all(p["values"][1] <= 5 for p in results["true_front"]["points"])
    page = league_markdown({**results, "constraint_notes": {"latency:dev<=5": "by hand"}})
    assert "hard limits: latency:dev<=5 (by hand); true feasible front" in page
    assert "proposals ruled out/run" in page and "vs random with rejection" in page
    assert "Hard limits (latency:dev<=5): the true front is that of the rows within" in page
    row = next(line for line in page.splitlines() if "| random |" in line)
    assert "| 0.0 ± 0.0 |" in row and "| baseline |" in row


def test_an_unconstrained_league_keeps_its_table_and_counts_what_was_ruled_out():
    results = bench(BenchProblem.build(SPACE, make_table(), OBJECTIVES), ["random"], seeds=1,
                    budget=10)
    run = results["methods"]["random"]["per_seed"][0]
    # always recorded: a row lacking a device cost is ruled out without any --constraint
    assert run["ruled_out"] == run["ruled_out_missing"] == 0 and run["stopped"] is None
    assert "constraints_policy" not in results
    page = league_markdown(results)
    assert "ruled out/run" not in page and "rejection" not in page and "true front: " in page


def test_a_percentile_limit_is_read_from_the_table():
    table = make_table()
    lat = table.objective_values("latency:dev")
    ok = lat[np.isfinite(lat)]
    limit = percentile_limit(table, "accuracy:toy,latency:dev", 10)
    assert limit.text == f"latency:dev<={np.percentile(ok, 10):.6g}"
    bound = parse_constraint(limit.text).bound
    assert limit.note == (f"the 10th percentile of latency:dev over the {ok.size} rows that "
                          f"have it; {int(np.sum(ok <= bound))} rows within")
    assert percentile_limit(table, "accuracy:toy,latency:dev", 50).note.startswith(
        "the median of latency:dev")
    for bad in (0, 100):
        with pytest.raises(BadInputError, match="between 0 and 100"):
            percentile_limit(table, "accuracy:toy,latency:dev", bad)
