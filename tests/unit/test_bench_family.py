"""`hwnas bench --family`: the family of a benchmark's problems (hwnas.league.family), its
summary (hwnas.league.family_summary), the resumable family run (hwnas.api.family) and the
command line's refusals; the league's infeasible-evaluations column."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from hwnas.api.family import prepare_family, run_family
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.errors import BadInputError
from hwnas.league.family import MULTI, TWO, FamilyProblem, family_problems, select, slug_of
from hwnas.league.family_summary import problem_entry, summarise, summary_rows
from hwnas.tabular.benchmark import BenchmarkTable
from tests.tabular_helpers import FIXTURE_CSV

# nb201_hw.csv's datasets and device costs, as its format names them (the fixture has every
# column of the full table)
DATASETS = ("cifar10", "cifar100", "imagenet16")
COSTS = ("raspi4-latency", "pixel3-latency", "eyeriss-latency", "fpga-latency",
         "edgegpu-latency", "edgetpu-latency", "fpga-energy")


# -- the family ------------------------------------------------------------------------------
def test_the_two_objective_family_of_nb201_hw_is_every_dataset_by_every_device_cost():
    family = family_problems(BenchmarkTable.load(FIXTURE_CSV))
    two = [p for p in family if p.group == TWO]
    assert [p.slug for p in two] == [f"{d}-{c}" for d in DATASETS for c in COSTS]
    assert len(two) == 21
    assert two[1].objectives == ("accuracy:cifar10", "latency:pixel3")
    assert two[6].objectives == ("accuracy:cifar10", "energy:fpga")
    assert family[:21] == two  # two-objective first, then the sample


def test_the_multi_objective_sample_is_seeded_sized_and_one_cost_per_device():
    table = BenchmarkTable.load(FIXTURE_CSV)
    first = [p for p in family_problems(table, sample_seed=0) if p.group == MULTI]
    again = [p for p in family_problems(table, sample_seed=0) if p.group == MULTI]
    other = [p for p in family_problems(table, sample_seed=1) if p.group == MULTI]
    assert first == again and [p.slug for p in other] != [p.slug for p in first]
    for sample in (first, other):
        assert [len(p.objectives) for p in sample] == [3, 3, 3, 4, 4, 4]
        for p in sample:
            accuracy, *costs = p.objectives
            assert accuracy.startswith("accuracy:") and accuracy != "accuracy"
            devices = [c.partition(":")[2] for c in costs]
            assert len(set(devices)) == len(devices)  # never latency:fpga with energy:fpga
            assert all(c.partition(":")[0] in ("latency", "energy") for c in costs)
            assert p.slug == slug_of(p.objectives)
    assert len(family_problems(table, sample_size=1)) == 21 + 2


def test_select_keeps_the_family_order_and_refuses_unknown_or_repeated_slugs():
    family = family_problems(BenchmarkTable.load(FIXTURE_CSV))
    chosen = select(family, "imagenet16-fpga-energy,cifar10-pixel3-latency", "LIST")
    assert [p.slug for p in chosen] == ["cifar10-pixel3-latency", "imagenet16-fpga-energy"]
    with pytest.raises(BadInputError, match="closest: 'cifar10-pixel3-latency'; list them: LIST"):
        select(family, "cifar10-pixel3-latncy", "LIST")
    with pytest.raises(BadInputError, match="twice"):
        select(family, "cifar10-pixel3-latency,cifar10-pixel3-latency", "LIST")


# -- the summary, on hand-made results ---------------------------------------------------------
def _results(hv: dict, vs: dict, infeasible: dict, wall: dict, front: int = 10) -> dict:
    methods = {}
    for m, value in hv.items():
        methods[m] = {"hv_ratio": {"mean": value}, "infeasible_evals": {"mean": infeasible[m]},
                      "wall_s": {"mean": wall[m]}}
        if m in vs:
            methods[m]["vs_random"] = {"delta": vs[m][0], "p_greater": vs[m][1]}
    return {"methods": methods, "true_front": {"size": front, "rows_available": 100}}


def _entries() -> list[dict]:
    p1 = FamilyProblem("p1", ("accuracy:x", "latency:d1"), TWO)
    p2 = FamilyProblem("p2", ("accuracy:x", "latency:d2"), TWO)
    p3 = FamilyProblem("p3", ("accuracy:x", "latency:d1", "latency:d2"), MULTI)
    zero = {"random": 0.0, "a": 0.0, "b": 0.0}
    return [
        problem_entry(p1, _results({"random": 0.90, "a": 0.95, "b": 0.95},
                                   {"a": (0.05, 0.01), "b": (0.05, 0.20)},
                                   {"random": 0.0, "a": 2.0, "b": 1.0},
                                   {"random": 0.1, "a": 0.5, "b": 2.0})),
        problem_entry(p2, _results({"random": 0.80, "a": 0.70, "b": 0.85},
                                   {"a": (-0.10, 0.90), "b": (0.05, 0.03)},
                                   {"random": 2.0, "a": 4.0, "b": 3.0},
                                   {"random": 0.3, "a": 1.5, "b": 4.0})),
        problem_entry(p3, _results({"random": 0.60, "a": 0.60, "b": 0.50},
                                   {"a": (0.0, 0.50), "b": (-0.1, 0.99)}, zero,
                                   {"random": 1.0, "a": 1.0, "b": 1.0}), reused=True),
    ]


def test_ranks_are_by_mean_hv_ratio_with_ties_averaged():
    p1, p2, p3 = _entries()
    assert {m: v["rank"] for m, v in p1["methods"].items()} == {"random": 3, "a": 1.5, "b": 1.5}
    assert {m: v["rank"] for m, v in p2["methods"].items()} == {"random": 2, "a": 3, "b": 1}
    assert p1["methods"]["a"]["beats_random"] is True        # ΔHV > 0, p < 0.05
    assert p1["methods"]["b"]["beats_random"] is False       # p = 0.20
    assert p2["methods"]["a"]["beats_random"] is False       # ΔHV < 0
    assert p1["methods"]["random"]["beats_random"] is None   # the baseline is not tested
    assert p3["reused"] is True and p1["reused"] is False


def test_summary_means_worst_ranks_and_wins_worked_out_by_hand():
    summary = summarise(_entries())
    two, multi = summary[TWO], summary[MULTI]
    assert two["problems"] == ["p1", "p2"] and multi["problems"] == ["p3"]
    a, b, r = (two["methods"][m] for m in ("a", "b", "random"))
    # a: HV (0.95 + 0.70) / 2, ranks (1.5 + 3) / 2, beats random on p1 only
    assert a["hv_ratio"] == pytest.approx(0.825) and a["mean_rank"] == pytest.approx(2.25)
    assert a["worst"] == {"slug": "p2", "hv_ratio": 0.70}
    assert a["beats_random"] == {"count": 1, "of": 2}
    assert a["infeasible_evals"] == pytest.approx(3.0) and a["wall_s"] == pytest.approx(1.0)
    # b: HV (0.95 + 0.85) / 2, ranks (1.5 + 1) / 2, beats random on p2 only
    assert b["hv_ratio"] == pytest.approx(0.90) and b["mean_rank"] == pytest.approx(1.25)
    assert b["worst"] == {"slug": "p2", "hv_ratio": 0.85}
    assert b["beats_random"] == {"count": 1, "of": 2}
    assert r["hv_ratio"] == pytest.approx(0.85) and r["mean_rank"] == pytest.approx(2.5)
    assert r["beats_random"] is None and r["infeasible_evals"] == pytest.approx(1.0)
    assert two["order"] == ["b", "a", "random"]
    # p3 alone: a and random tie (rank 1.5, HV 0.60), told apart by name; b third
    assert multi["order"] == ["a", "random", "b"]
    assert multi["methods"]["b"]["mean_rank"] == 3.0
    assert multi["methods"]["b"]["beats_random"] == {"count": 0, "of": 1}
    rows = summary_rows(two)
    assert rows[0] == ["1", "b", "0.9000", "p2 (0.8500)", "1.25", "1/2", "2.0", "3.00"]
    assert rows[2][5] == "baseline"


# -- running it: resume, outputs, the league's infeasible column --------------------------------
@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> Path:
    """Every NB201 cell with made-up values in nb201-hw's columns for two datasets and two
    devices; CIFAR-100's accuracy is missing for every third cell (an evaluation of one is
    infeasible) and the edge GPU's latency for every other."""
    ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    gain = {"none": 0.0, "skip_connect": 1.0, "nor_conv_1x1": 3.0, "nor_conv_3x3": 5.0,
            "avg_pool_3x3": 0.5}
    edges = [(i, j) for j in (1, 2, 3) for i in range(j)]
    lines = ["index,arch_str,nats_c10_test_acc_200ep,nats_c100_test_acc_200ep,"
             "hw_c10_pixel3_latency_ms,hw_c10_edgegpu_latency_ms\n"]
    for index, choice in enumerate(itertools.product(ops, repeat=6)):
        by_edge = dict(zip(edges, choice, strict=True))
        text = "+".join("|" + "|".join(f"{by_edge[i, j]}~{i}" for i in range(j)) + "|"
                        for j in (1, 2, 3))
        score = sum(gain[op] * (1 + 0.07 * k) for k, op in enumerate(choice))
        c100 = "" if index % 3 == 0 else f"{20 + score * 0.9 + (index % 7) * 0.1:.3f}"
        gpu = "" if index % 2 else f"{2 + score * 0.3:.3f}"
        pixel3 = f"{1 + score * 0.2 + (index % 5) * 0.01:.3f}"
        lines.append(f"{index},{text},{40 + score:.3f},{c100},{pixel3},{gpu}\n")
    path = tmp_path_factory.mktemp("family") / "bench.csv"
    path.write_text("".join(lines))
    return path


SETTING = {"methods": "random,nsga2", "strategy_opts": ["nsga2:population=10"], "budget": 20,
           "seeds": 2}
PAIR = "cifar10-pixel3-latency,cifar100-pixel3-latency"


def _run(benchmark: Path, out: Path, problems: str, **over) -> tuple[dict, list[dict]]:
    events: list[dict] = []
    plan = prepare_family(benchmark, out=out, problems=problems, **{**SETTING, **over})
    return run_family(plan, progress=events.append), events


def test_the_family_of_a_table_follows_its_columns(benchmark):
    family = family_problems(BenchmarkTable.load(benchmark))
    assert [p.slug for p in family] == [
        "cifar10-pixel3-latency", "cifar10-edgegpu-latency", "cifar100-pixel3-latency",
        "cifar100-edgegpu-latency",  # every pair; then both 3-objective ones (fewer than 3)
        "cifar10-pixel3-latency-edgegpu-latency", "cifar100-pixel3-latency-edgegpu-latency"]


def test_a_family_run_resumes_and_reruns_nothing_it_has(benchmark, tmp_path):
    out = tmp_path / "fam"
    first, events = _run(benchmark, out, "cifar100-pixel3-latency")
    assert [e["slug"] for e in events if e["event"] == "start"] == ["cifar100-pixel3-latency"]
    stored = (out / "cifar100-pixel3-latency" / "results.json").read_bytes()
    second, events = _run(benchmark, out, PAIR)  # continues: runs only the one it lacks
    assert [e["slug"] for e in events if e["event"] == "start"] == ["cifar10-pixel3-latency"]
    assert second["reused"] == ["cifar100-pixel3-latency"]
    (out / "cifar10-pixel3-latency" / "league.md").unlink()  # as if stopped between files
    third, events = _run(benchmark, out, PAIR)
    assert not [e for e in events if e["event"] in ("start", "evaluation")]
    assert third["reused"] == ["cifar10-pixel3-latency", "cifar100-pixel3-latency"]
    assert (out / "cifar100-pixel3-latency" / "results.json").read_bytes() == stored
    assert third["summary"] == second["summary"]  # read back, the same numbers
    written = json.loads((out / "family.json").read_text())
    assert written["summary"][TWO]["problems"] == ["cifar10-pixel3-latency",
                                                   "cifar100-pixel3-latency"]
    assert written["family_size"] == 6 and written["budget"] == 20
    page = (out / "family.md").read_text()
    assert "| 1 | " in page and "mean rank" in page and "cifar100-pixel3-latency |" in page
    for slug in ("cifar10-pixel3-latency", "cifar100-pixel3-latency"):
        assert {f.name for f in (out / slug).iterdir()} == {"results.json", "league.md",
                                                            "hv.png"}
    # the league's infeasible column: CIFAR-100 lacks a third of its accuracies
    results = json.loads((out / "cifar100-pixel3-latency" / "results.json").read_text())
    random = results["methods"]["random"]
    assert random["infeasible_evals"]["mean"] > 0
    league = (out / "cifar100-pixel3-latency" / "league.md").read_text()
    assert "| infeasible evals/run |" in league
    row = next(line for line in league.splitlines() if "| random |" in line)
    stat = random["infeasible_evals"]
    assert f"| {stat['mean']:.1f} ± {stat['std']:.1f} |" in row
    entry = next(e for e in third["problems"] if e["slug"] == "cifar100-pixel3-latency")
    assert entry["methods"]["random"]["infeasible_evals"] == stat["mean"]


def test_a_league_of_another_setting_in_out_is_refused_not_overwritten(benchmark, tmp_path):
    out = tmp_path / "fam"
    _run(benchmark, out, "cifar10-pixel3-latency")
    before = (out / "cifar10-pixel3-latency" / "results.json").read_bytes()
    with pytest.raises(BadInputError, match=r"seeds 2 there, 3 now"):
        prepare_family(benchmark, out=out, problems="cifar10-pixel3-latency",
                       **{**SETTING, "seeds": 3})
    assert (out / "cifar10-pixel3-latency" / "results.json").read_bytes() == before


# -- the command line --------------------------------------------------------------------------
@pytest.mark.parametrize("extra, needles", [
    (["--family", "--objectives", "accuracy:cifar10,latency:pixel3"],
     ["--objectives and --family together"]),
    (["--family", "--problems", "cifar10-pixel3-latncy"],
     ["closest: 'cifar10-pixel3-latency'", "hwnas bench --family --list-problems"]),
    (["--problems", "cifar10-pixel3-latency"], ["add --family"]),
    (["--family", "--constraint", "latency:pixel3<=5"], ["--constraint and --family"]),
    (["--family", "--methods", "random,nsga"], ["unknown strategy 'nsga'"]),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(benchmark, tmp_path, capsys, extra,
                                                         needles):
    out = tmp_path / "o"
    code = run_app(app, ["bench", "--benchmark", str(benchmark), "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and err.startswith("hwnas: error:"), err
    for needle in needles:
        assert needle in err, err
    assert not out.exists()


def test_the_command_runs_lists_and_summarises(benchmark, tmp_path, capsys):
    assert run_app(app, ["bench", "--benchmark", str(benchmark), "--family",
                         "--list-problems"]) == 0
    listed = capsys.readouterr().out.split()
    assert "cifar100-edgegpu-latency" in listed and "accuracy:cifar100,latency:edgegpu" in listed
    argv = ["bench", "--benchmark", str(benchmark), "--family", "--problems",
            "cifar10-pixel3-latency", "--budget", "10", "--seeds", "1", "--methods", "random",
            "--out", str(tmp_path / "o")]
    assert run_app(app, argv) == 0
    first = capsys.readouterr()
    assert "Two-objective problems (1;" in first.out and "baseline" in first.out
    assert "[1/1] cifar10-pixel3-latency: done in" in first.err
    assert run_app(app, argv) == 0
    again = capsys.readouterr()
    assert "read from" in again.err and "not re-run" in again.err
    assert "1 of 1 problems read from earlier runs" in again.out
