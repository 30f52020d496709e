"""`--method auto` (hwnas.searching.auto): the choice on hand-made rule data, the rule's
derivation and its leave-one-problem-out check on hand-made family results (hwnas.league.
auto_rule, golden numbers computed by hand below), and the rule shipped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hwnas.errors import BadInputError
from hwnas.league.auto_rule import derive, leave_one_out, read_run, verdicts
from hwnas.league.family import MULTI, TWO
from hwnas.registry import STRATEGIES
from hwnas.searching.auto import (
    RULE_PATH,
    check_no_options,
    choose,
    costs_known,
    load_rule,
    reads_known_costs,
)

ROOT = Path(__file__).resolve().parents[2]


def _cell(group, budget, objectives, order):
    # evidence numbers only have to be well-formed here: the order is what choose() reads
    return {"group": group, "budget": budget, "objectives": objectives, "problems": 3,
            "order": order,
            "methods": {m: {"mean_rank": i + 1.0, "hv_ratio": 0.99 - i / 100, "first_on": 3 - i,
                            "worst": {"slug": "p", "hv_ratio": 0.9}, "wall_s": 1.0}
                        for i, m in enumerate(order)}}


RULE = {"format": 1, "created": "2026-01-01T00:00:00",
        "sources": [{"budget": 100, "seeds": 2}, {"budget": 500, "seeds": 1}],
        "ceilings": {"mobo": {"budget": 400, "source": "hand-made"}},
        "cells": [_cell(TWO, 100, [2], ["mobo", "nsga2", "dppnet", "random"]),
                  _cell(TWO, 500, [2], ["mobo", "reinforce", "dppnet", "random"]),
                  _cell(MULTI, 100, [3, 4], ["nsga3", "mobo", "random"])]}


def pick(budget=100, objectives=2, known=True, space=None, constraints=(), warm=False):
    return choose(budget, objectives, known, space, constraints, warm_start=warm, rule=RULE)


# -- choose() ---------------------------------------------------------------------------------
def test_the_cell_first_method_is_picked_and_said_with_its_evidence():
    c = pick()
    assert c.method == "mobo" and c.measured and c.options == {}
    assert c.why.startswith("--method auto: mobo (2 objectives, budget 100, costs known before "
                            "evaluation; picked mobo: first by mean rank (1.00) of 4 methods "
                            "on the 3 two-objective problems of the family league at 100 "
                            "evaluations x 2 seed(s)")
    assert "mean HV ratio 0.9900" in c.why and "\n" not in c.why
    assert c.inputs == {"budget": 100, "objectives": 2, "known_costs": True,
                        "space_size": None, "constraints": [], "warm_start": False}


def test_the_budget_band_switches_at_the_midpoint_of_the_measured_budgets():
    # both cells put mobo first: the band shows in the evidence's budget
    assert "at 100 evaluations" in pick(budget=300).why
    assert "at 500 evaluations" in pick(budget=301).why
    assert pick(budget=301).measured and pick(budget=300).measured


def test_a_method_above_its_cost_ceiling_gives_way_to_the_next():
    c = pick(budget=450)  # the 500 cell; mobo's ceiling is 400
    assert c.method == "reinforce" and c.measured
    assert "passing over mobo (its time per proposal is measured up to 400 evaluations)" \
        in c.why


def test_costs_not_known_pick_a_method_that_does_not_read_them_and_say_not_measured():
    assert reads_known_costs(STRATEGIES.get("mobo")) and reads_known_costs(
        STRATEGIES.get("dppnet")) and not reads_known_costs(STRATEGIES.get("nsga2"))
    c = pick(known=False)
    assert c.method == "nsga2" and not c.measured
    assert "costs known only after evaluation" in c.why
    assert "not measured: the league knew every cost before evaluation" in c.why
    assert "passing over mobo (reads known costs)" in c.why


def test_warm_start_picks_among_the_methods_that_take_it():
    assert not STRATEGIES.get("reinforce").takes_warm_start
    c = pick(budget=450, warm=True)  # mobo past its ceiling, reinforce takes no warm start
    assert c.method == "dppnet"
    assert "reinforce (takes no --warm-start)" in c.why


def test_the_objective_count_picks_the_group_and_an_unmeasured_count_says_so():
    assert pick(objectives=3).method == pick(objectives=4).method == "nsga3"
    assert pick(objectives=3).measured
    five = pick(objectives=5)
    assert five.method == "nsga3" and not five.measured
    assert "not measured: 5 objective(s), the league ran 2, 3 and 4: the 4-objective cell" \
        in five.why
    one = pick(objectives=1)
    assert one.method == "mobo" and "1 objective, budget 100" in one.why
    assert "not measured: 1 objective(s)" in one.why


def test_budgets_outside_the_measured_ones_say_so():
    low = pick(budget=20)
    assert low.method == "mobo" and not low.measured
    assert "budget 20 is below 100, the smallest the league ran on 2 objectives" in low.why
    high = pick(budget=3000)
    assert high.method == "reinforce" and not high.measured
    assert "budget 3000 is above 500, the largest the league ran on 2 objectives" in high.why
    # the multi-objective group was run at 100 only: 500 is beyond it
    assert "budget 500 is above 100, the largest the league ran on 3 and 4 objectives" in \
        pick(budget=500, objectives=3).why


def test_a_space_no_larger_than_the_budget_is_left_to_random_search():
    c = pick(budget=100, space=64)
    assert c.method == "random" and c.measured
    assert "the space has 64 architecture(s), no more than the budget" in c.why
    assert pick(budget=100, space=101).method == "mobo"


def test_hard_limits_keep_the_pick_and_are_said_as_not_measured():
    c = pick(constraints=["latency_ms<=3"])
    assert c.method == "mobo" and not c.measured
    assert "1 hard limit(s), the league ran without any" in c.why


def test_no_method_left_is_one_line():
    with pytest.raises(BadInputError, match="none of the methods the family league measured"):
        choose(100, 2, True, rule=RULE, candidates=["evolution"])


def test_costs_known_reads_every_objective_but_accuracy():
    assert costs_known(["accuracy", "latency_ms"], {"latency_ms", "params"})
    assert not costs_known(["accuracy:cifar10", "latency:pixel3"], {"latency_ms"})
    assert costs_known(["accuracy"], set())


def test_options_with_auto_are_refused_in_one_line():
    check_no_options([])
    with pytest.raises(BadInputError) as info:
        check_no_options([("--strategy-opt", "population=20"), ("--sweep", "lambda=0,1")])
    text = str(info.value)
    assert text.startswith("--strategy-opt population=20 --sweep lambda=0,1 with --method auto")
    assert "--method METHOD --strategy-opt population=20" in text and "\n" not in text


# -- derivation and leave one problem out -----------------------------------------------------
# HV ratio per problem and method (mean over seeds), made up so that every step is checked by
# hand. At 100 evaluations:
#   p1: mobo .99  nsga2 .97  random .95   ranks 1 2 3
#   p2: mobo .90  nsga2 .96  random .94   ranks 3 1 2
#   p3: mobo .995 nsga2 .985 random .96   ranks 1 2 3
#   mean ranks: mobo 5/3, nsga2 5/3, random 8/3; the tie goes to the larger mean HV ratio:
#   nsga2 .971667 over mobo .961667, so the order is nsga2, mobo, random.
#   Left out: p1 -> p2,p3: nsga2 1.5, mobo 2.0 -> nsga2 (.97 on p1; best mobo .99)
#             p2 -> p1,p3: mobo 1.0 -> mobo (.90 on p2; best nsga2 .96)
#             p3 -> p1,p2: nsga2 1.5, mobo 2.0 -> nsga2 (.985 on p3; best mobo .995)
#   m1 (3 objectives): alone in its group, so no rule is left without it.
# At 500 evaluations (p1, p2): mobo first on both; left out, the other picks mobo:
#   p1 .999, p2 .9995: worst .999 >= .998 (bar) and >= .999 (goal).
HV100 = {"p1": (0.99, 0.97, 0.95), "p2": (0.90, 0.96, 0.94), "p3": (0.995, 0.985, 0.96),
         "m1": (0.9, 0.8, 0.7)}
HV500 = {"p1": (0.999, 0.998, 0.99), "p2": (0.9995, 0.999, 0.997)}
METHODS = ("mobo", "nsga2", "random")


def _write_family(folder: Path, budget: int, seeds: int, hv: dict) -> Path:
    problems = []
    for slug, values in hv.items():
        # m...: three objectives, q...: four, else two
        extra = {"m": ["latency:e"], "q": ["latency:e", "latency:f"]}.get(slug[0], [])
        objectives = ["accuracy:c", "latency:d", *extra]
        problems.append({"slug": slug, "objectives": objectives,
                         "group": MULTI if extra else TWO})
        results = {"true_front": {"size": 5, "rows_available": 100},
                   "methods": {m: {"hv_ratio": {"mean": v, "std": 0.0},
                                   "infeasible_evals": {"mean": 0.0},
                                   "wall_s": {"mean": 0.5}}
                               for m, v in zip(METHODS, values, strict=True)}}
        (folder / slug).mkdir(parents=True)
        (folder / slug / "results.json").write_text(json.dumps(results))
    family = {"budget": budget, "seeds": seeds, "methods": list(METHODS),
              "command": f"family_league.py --budget {budget}", "created": "2026-01-02",
              "machine": {"processor": "cpu", "cpus": 2}, "benchmark_name": "b.csv",
              "problems": problems}
    (folder / "family.json").write_text(json.dumps(family))
    return folder


@pytest.fixture
def runs(tmp_path):
    return [read_run(_write_family(tmp_path / "f100", 100, 2, HV100)),
            read_run(_write_family(tmp_path / "f500", 500, 1, HV500))]


def test_the_rule_orders_each_cell_by_mean_rank_then_mean_hv_ratio(runs):
    rule = derive(runs, created="2026-01-03")
    cells = {(c["group"], c["budget"]): c for c in rule["cells"]}
    assert set(cells) == {(TWO, 100), (MULTI, 100), (TWO, 500)}
    two = cells[(TWO, 100)]
    assert two["order"] == ["nsga2", "mobo", "random"]
    assert two["problems"] == 3 and two["objectives"] == [2]
    assert two["methods"]["mobo"]["mean_rank"] == pytest.approx(5 / 3)
    assert two["methods"]["nsga2"]["mean_rank"] == pytest.approx(5 / 3)
    assert two["methods"]["nsga2"]["hv_ratio"] == pytest.approx(0.971667, abs=1e-6)
    assert two["methods"]["mobo"]["worst"] == {"slug": "p2", "hv_ratio": 0.90}
    assert [two["methods"][m]["first_on"] for m in METHODS] == [2, 1, 0]
    assert cells[(MULTI, 100)]["order"] == ["mobo", "nsga2", "random"]
    assert cells[(MULTI, 100)]["objectives"] == [3]
    assert cells[(TWO, 500)]["order"] == ["mobo", "nsga2", "random"]
    assert [s["command"] for s in rule["sources"]] == ["family_league.py --budget 100",
                                                       "family_league.py --budget 500"]
    assert choose(100, 2, True, rule=rule).method == "nsga2"


def test_leave_one_problem_out_picks_without_the_problem(runs):
    rows = {(r["budget"], r["slug"]): r for r in leave_one_out(runs)}
    assert {k: (r["pick"], r["hv"]) for k, r in rows.items()} == {
        (100, "p1"): ("nsga2", 0.97), (100, "p2"): ("mobo", 0.90),
        (100, "p3"): ("nsga2", 0.985), (100, "m1"): (None, None),
        (500, "p1"): ("mobo", 0.999), (500, "p2"): ("mobo", 0.9995)}
    assert (rows[(100, "p2")]["best"], rows[(100, "p2")]["best_hv"]) == ("nsga2", 0.96)
    checks = {c["budget"]: c for c in verdicts(list(rows.values()))}
    assert checks[100]["worst"] == 0.90 and checks[100]["worst_slug"] == "p2"
    assert not checks[100]["holds"] and checks[100]["below_bar"] == 2
    assert checks[500]["worst"] == 0.999 and checks[500]["holds"] and checks[500]["goal_met"]


def test_a_budget_may_take_one_folder_per_group_of_problems(tmp_path):
    two = {k: v for k, v in HV100.items() if not k.startswith("m")}
    multi = {"m1": (0.7, 0.8, 0.9)}  # random first, with other methods' settings
    runs = [read_run(_write_family(tmp_path / "two", 100, 2, two)),
            read_run(_write_family(tmp_path / "multi", 100, 5, multi))]
    cells = {(c["group"], c["budget"]): c for c in derive(runs)["cells"]}
    assert cells[(TWO, 100)]["order"] == ["nsga2", "mobo", "random"]
    assert cells[(MULTI, 100)]["order"] == ["random", "nsga2", "mobo"]
    assert choose(100, 3, True, rule=derive(runs)).method == "random"
    again = read_run(_write_family(tmp_path / "again", 100, 2, {"p9": (0.9, 0.9, 0.9)}))
    with pytest.raises(BadInputError, match="both hold two-objective problems at 100"):
        derive(runs + [again])


def test_three_and_four_objectives_get_a_cell_each(tmp_path):
    """One folder of 3- and 4-objective problems: a cell per objective count, each ordered by
    its own problems; a problem left out is picked for by the other problems of its count."""
    hv = {"m1": (0.99, 0.90, 0.80), "m2": (0.98, 0.95, 0.80),
          "q1": (0.80, 0.95, 0.90), "q2": (0.85, 0.99, 0.70)}
    (run,) = runs = [read_run(_write_family(tmp_path / "multi", 500, 3, hv))]
    rule = derive(runs)
    cells = {tuple(c["objectives"]): c for c in rule["cells"]}
    assert set(cells) == {(3,), (4,)}
    assert cells[(3,)]["order"][0] == "mobo" and cells[(4,)]["order"][0] == "nsga2"
    assert cells[(3,)]["problems"] == 2 and cells[(3,)]["seeds"] == 3
    assert cells[(3,)]["source"] == run["command"]
    assert choose(500, 3, True, rule=rule).method == "mobo"
    assert choose(500, 4, True, rule=rule).method == "nsga2"
    assert "on the 2 four-objective problems" in choose(500, 4, True, rule=rule).why
    picks = {r["slug"]: r["pick"] for r in leave_one_out(runs)}
    assert picks == {"m1": "mobo", "m2": "mobo", "q1": "nsga2", "q2": "nsga2"}


def test_cells_no_folder_holds_are_kept_from_an_earlier_rule(runs, tmp_path):
    """Re-running the 3-objective problems at 100 replaces that cell only: the earlier rule's
    two-objective cells stay as they were, marked kept, with the sources they came from."""
    earlier = derive(runs)
    again = [read_run(_write_family(tmp_path / "m100", 100, 4, {"m1": (0.5, 0.6, 0.9),
                                                                 "m2": (0.5, 0.7, 0.8)}))]
    rule = derive(again, keep=earlier)
    cells = {(c["budget"], tuple(c["objectives"])): c for c in rule["cells"]}
    assert set(cells) == {(100, (2,)), (100, (3,)), (500, (2,))}
    assert cells[(100, (3,))]["order"] == ["random", "nsga2", "mobo"]
    assert "kept" not in cells[(100, (3,))] and cells[(100, (3,))]["seeds"] == 4
    for key in ((100, (2,)), (500, (2,))):
        old = next(c for c in earlier["cells"]
                   if (c["budget"], tuple(c["objectives"])) == key)
        assert cells[key]["kept"] and cells[key]["order"] == old["order"]
        assert cells[key]["methods"] == old["methods"]
    assert [(s["command"], s.get("kept", False)) for s in rule["sources"]] == [
        (again[0]["command"], False), ("family_league.py --budget 100", True),
        ("family_league.py --budget 500", True)]
    assert choose(100, 2, True, rule=rule).method == "nsga2"  # the kept cell's first
    assert choose(100, 3, True, rule=rule).method == "random"


def test_the_script_ships_the_rule_it_checks(runs, tmp_path):
    out = tmp_path / "rule.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "auto_rule.py"), "--runs",
                           str(tmp_path / "f100"), str(tmp_path / "f500"), "--write", "--out",
                           str(out), "--note", "hand-made"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "| 100 | p2 | mobo | 0.9000 | nsga2 | 0.9600 | 0.0600 |" in proc.stdout
    assert "bar NOT held (2 problem(s) below it)" in proc.stdout
    shipped = json.loads(out.read_text())
    assert shipped["note"] == "hand-made" and shipped["ceilings"]["mobo"]["budget"] == 500
    assert [c["order"] for c in shipped["cells"]] == [c["order"] for c in derive(runs)["cells"]]
    assert choose(100, 2, True, rule=load_rule(out)).method == "nsga2"


def test_the_script_keeps_an_earlier_rules_cells_and_verdicts(runs, tmp_path):
    script = str(ROOT / "benchmarks" / "auto_rule.py")
    first, second = tmp_path / "rule.json", tmp_path / "rule2.json"
    subprocess.run([sys.executable, script, "--runs", str(tmp_path / "f100"),
                    str(tmp_path / "f500"), "--write", "--out", str(first)],
                   capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    m100 = _write_family(tmp_path / "m100", 100, 4, {"m1": (0.5, 0.6, 0.9),
                                                      "m2": (0.5, 0.7, 0.8)})
    proc = subprocess.run([sys.executable, script, "--runs", str(m100), "--keep", str(first),
                           "--write", "--out", str(second)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "#### Two-objective problems (3), 100 evaluations: auto's order (kept from the " \
        "earlier rule)" in proc.stdout
    assert "#### Three-objective problems (2), 100 evaluations: auto's order\n" in proc.stdout
    rule = json.loads(second.read_text())
    earlier = json.loads(first.read_text())
    assert [c["budget"] for c in rule["leave_one_out"]] == [100, 500]
    assert all(c["kept"] for c in rule["leave_one_out"])
    assert [{k: v for k, v in c.items() if k != "kept"} for c in rule["leave_one_out"]] == \
        earlier["leave_one_out"]
    assert choose(100, 3, True, rule=load_rule(second)).method == "random"


def test_the_shipped_rule_names_registered_sample_based_methods():
    rule = load_rule(RULE_PATH)
    assert {c["group"] for c in rule["cells"]} == {TWO, MULTI}
    for cell in rule["cells"]:
        assert cell["order"] and all(STRATEGIES.get(m).sample_based for m in cell["order"])
    assert all(s["command"] and s["created"] for s in rule["sources"])
    c = choose(100, 2, True)
    assert c.method == next(c2["order"][0] for c2 in rule["cells"]
                            if c2["group"] == TWO and c2["budget"] == 100)
