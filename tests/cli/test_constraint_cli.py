"""Issue 31, items 1 and 3 on the command line: `--constraint` on `hwnas search` and `hwnas
bench`, stored with the run; refused in one line (exit 2, nothing written) when it cannot be
read or names a cost the run cannot compute; infeasible candidates counted apart from failed
ones by `runs show` and `pareto`, fronts over feasible candidates only; a constrained run
resumed replays as if never stopped.

In-process through `run_app` on a synthetic benchmark of every NB201 cell (lookups, no
training).
"""

from __future__ import annotations

import json

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.core.feasibility import is_infeasible, ruled_out, usable
from tests.cli.test_cli_runs_fronts import OBJ, run, tabular_search
from tests.tabular_helpers import write_synthetic_nb201

ACC_LIMIT = "accuracy>=0.5"  # known only after evaluation: about half the cells break it
COST_LIMIT = f"{OBJ}<=6"  # a benchmark cost, known before: never looked up past it


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return write_synthetic_nb201(tmp_path_factory.mktemp("constraint") / "synthetic.csv")


@pytest.fixture(scope="module")
def constrained(bench, tmp_path_factory):
    import io
    from contextlib import redirect_stderr, redirect_stdout

    run_dir = tmp_path_factory.mktemp("constrained") / "r"
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = run_app(app, [str(a) for a in tabular_search(
            bench, run_dir, 16, "random", 0, "--constraint", ACC_LIMIT,
            "--constraint", COST_LIMIT)])
    assert code == 0, err.getvalue()
    return run_dir


def history(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def one_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and "\n" not in err and err.startswith("hwnas: error:"), err
    for needle in needles:
        assert needle in err, (needle, err)


def test_constraints_are_stored_and_honoured(constrained):
    config = json.loads((constrained / "config.json").read_text())
    assert config["search"]["constraints"] == [ACC_LIMIT, COST_LIMIT]
    results = [r["result"] for r in history(constrained)]
    assert sum(not ruled_out(r) for r in results) == 16  # the budget's evaluations
    assert all(r[OBJ] <= 6 for r in results if not ruled_out(r))  # random: by rejection
    bad = [r for r in results if is_infeasible(r)]
    assert bad and all(r["accuracy"] < 0.5 for r in bad)
    assert all(r["accuracy"] >= 0.5 for r in results if usable(r))


def test_runs_show_counts_infeasible_apart_from_failed(constrained, capsys):
    n = sum(is_infeasible(r["result"]) for r in history(constrained))
    code, out, err = run(capsys, "runs", "show", constrained, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["infeasible"] == n and shown["failed"] == 0
    assert shown["constraints"] == [ACC_LIMIT, COST_LIMIT] and shown["candidates"] == 16
    code, out, err = run(capsys, "runs", "show", constrained)
    assert code == 0, err
    text = " ".join(out.split())
    assert f"infeasible {n} (broke {ACC_LIMIT} by the evaluation)" in text
    assert "failed 0" in text
    # random rejects draws past the known cost's limit: never proposed, never trained, and
    # still counted where a user looks afterwards (each record holds the count so far)
    counts = [r["discarded"] for r in history(constrained)]
    assert counts == sorted(counts) and counts[-1] > 0 and shown["discarded"] == counts[-1]
    assert f"; {counts[-1]} more draw(s) discarded by the strategy before proposing" in text


def test_pareto_fronts_are_feasible_and_count_infeasible_apart(constrained, capsys):
    n = sum(is_infeasible(r["result"]) for r in history(constrained))
    code, out, err = run(capsys, "pareto", constrained, "--json")
    assert code == 0, err
    entry = json.loads(out)["runs"][0]
    assert entry["infeasible"] == n and entry["failed"] == 0
    assert entry["front"] and all(r["result"]["accuracy"] >= 0.5 for r in entry["front"])
    code, out, err = run(capsys, "pareto", constrained, "--plot", constrained / "p.png")
    assert code == 0, err
    assert f"({n} more infeasible)" in out and "feasible candidates" in out


def test_a_constraint_that_cannot_be_read_is_one_line_and_writes_nothing(bench, tmp_path,
                                                                         capsys):
    code, _, err = run(capsys, *tabular_search(bench, tmp_path / "r", 4, "random", 0,
                                               "--constraint", f"{OBJ}<=fast"))
    one_line(code, err, "cannot read constraint", "NAME OP NUMBER")
    assert not (tmp_path / "r").exists()


def test_a_cost_the_run_cannot_compute_is_one_line_with_the_closest(bench, tmp_path, capsys):
    code, _, err = run(capsys, *tabular_search(bench, tmp_path / "r", 4, "random", 0,
                                               "--constraint", "latency_ms<=3"))
    one_line(code, err, "constraint 'latency_ms' needs a latency table",
             "provides accuracy", "closest: 'latency:pixel3'")
    assert not (tmp_path / "r").exists()
    code, _, err = run(capsys, *tabular_search(bench, tmp_path / "s", 4, "random", 0,
                                               "--constraint", "latency:pixl3<=3"))
    one_line(code, err, "'latency:pixl3'", "closest: 'latency:pixel3'")
    assert not (tmp_path / "s").exists()


def test_constraint_is_refused_beside_resume(constrained, capsys):
    code, _, err = run(capsys, "search", "--resume", constrained, "--constraint", ACC_LIMIT)
    one_line(code, err, "--constraint does not apply with --resume")


def test_a_resumed_constrained_run_replays_as_the_whole_one(bench, tmp_path, capsys):
    extra = ("--constraint", COST_LIMIT, "--strategy-opt", "population=4",
             "--strategy-opt", "sample_size=2")
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert run(capsys, *tabular_search(bench, whole, 14, "evolution", 3, *extra))[0] == 0
    assert run(capsys, *tabular_search(bench, part, 7, "evolution", 3, *extra))[0] == 0
    code, _, err = run(capsys, "search", "--resume", part, "--budget", 14, "--json")
    assert code == 0, err

    def keys(run_dir):
        return [(r["arch_key"], r["result"].get("accuracy")) for r in history(run_dir)]

    assert keys(part) == keys(whole)


def test_bench_takes_constraints_scores_the_feasible_front_and_stores_them(bench, tmp_path,
                                                                          capsys):
    out = tmp_path / "league"
    code, _, err = run(capsys, "bench", "--benchmark", bench, "--objectives",
                       f"accuracy:cifar10,{OBJ}", "--methods", "random,evolution",
                       "--budget", 20, "--seeds", 1, "--constraint", COST_LIMIT,
                       "--out", out, "--json")
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    assert results["constraints"] == [COST_LIMIT]
    assert all(m["per_seed"][0]["evaluations"] == 20 for m in results["methods"].values())
    assert all(p["values"][1] <= 6 for p in results["true_front"]["points"])
    code, _, err = run(capsys, "bench", "--benchmark", bench, "--methods", "random",
                       "--budget", 2, "--seeds", 1, "--constraint", "latency:pixl3<=6",
                       "--out", tmp_path / "bad")
    one_line(code, err, "--constraint latency:pixl3<=6", "closest: 'latency:pixel3'")
    assert not (tmp_path / "bad").exists()


def test_the_report_names_the_limits_and_counts_infeasible_apart(constrained, capsys):
    n = sum(is_infeasible(r["result"]) for r in history(constrained))
    page = constrained.parent / "report.html"
    code, _, err = run(capsys, "report", constrained, "-o", page)
    assert code == 0, err
    from html import escape

    html = page.read_text()
    assert escape(f"constraints: {ACC_LIMIT}, {COST_LIMIT}") in html
    assert escape(f"{n} infeasible (broke {ACC_LIMIT} by the evaluation), 0 failed") in html
