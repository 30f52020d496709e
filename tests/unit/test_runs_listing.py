"""`hwnas runs`: one line per run directory, read without writing a byte."""

from __future__ import annotations

import json

import pytest

from hwnas.api.runs import list_runs
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.core.failure import failed_result
from hwnas.errors import BadInputError
from hwnas.runs import RunDir


def make_run(path, strategy, results, budget, front=None):
    run = RunDir.create(path, {"search": {"table": "", "strategy": strategy, "space": "nb201",
                                          "estimator": "tabular", "budget": budget,
                                          "objectives": ["accuracy", "latency_ms"]}})
    for i, result in enumerate(results):
        run.append({"index": i, "arch_key": f"k{i}", "result": result})
    if front is not None:
        run.write_pareto({"front_size": front, "front": []})
    return run


@pytest.fixture
def runs_root(tmp_path):
    root = tmp_path / "runs"
    ok = {"accuracy": 0.9, "latency_ms": 1.0}
    make_run(root / "a-evolution", "evolution", [ok, failed_result("diverged: loss became nan "
                                                                   "at epoch 1 step 2"),
                                                 ok, failed_result("KeyError: 'row 3'")],
             budget=10, front=2)
    live = make_run(root / "b-nsga2", "nsga2", [ok], budget=5)
    with open(live.history_path, "ab") as fh:  # a record being written right now
        fh.write(b'{"index": 1, "arch_key": "k1", "res')
    (root / "c-broken").mkdir()
    (root / "c-broken" / "config.json").write_text("{not json")
    (root / "not-a-run").mkdir()
    make_run(root / "demo-1" / "evolution", "evolution", [ok], budget=1)  # as `hwnas demo`
    (root / "a-evolution" / "strategy").mkdir()  # a run's own folders hold no runs
    (root / "a-evolution" / "strategy" / "config.json").write_text("{}")
    return root


def snapshot(root):
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def test_lists_each_run_with_progress_failures_and_front(runs_root):
    before = snapshot(runs_root)
    a, b, c, demo = list_runs(runs_root)
    assert demo["name"] == "demo-1/evolution" and demo["candidates"] == 1
    assert (a["name"], a["strategy"], a["space"], a["objectives"]) == \
        ("a-evolution", "evolution", "nb201", ["accuracy", "latency_ms"])
    assert (a["candidates"], a["budget"], a["failed"]) == (4, 10, 2)
    assert [(f["kind"], f["count"]) for f in a["failures"]] == [("diverged", 1), ("KeyError", 1)]
    assert (a["front_written"], a["front_size"]) == (True, 2)
    assert (b["candidates"], b["failed"], b["front_written"]) == (1, 0, False)
    assert (a["being_written"], a["unreadable_lines"]) == (False, 0)
    assert b["unreadable_lines"] == 1  # the torn line: no lock is held, so no writer's
    assert c["name"] == "c-broken" and c["error"].startswith("unreadable config.json")
    assert snapshot(runs_root) == before  # the torn line is left for its writer
    with RunDir(runs_root / "b-nsga2").writing():  # a search holds the run: its last line is
        before = snapshot(runs_root)               # a record being written, not a problem
        b = list_runs(runs_root)[1]
        assert (b["being_written"], b["candidates"], b["unreadable_lines"]) == (True, 1, 0)
        assert snapshot(runs_root) == before


def test_the_command_prints_a_table_or_json_and_a_missing_folder_is_bad_input(runs_root,
                                                                             capsys):
    assert run_app(app, ["runs", str(runs_root)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "4/10" in out and "2 points" in out and "1/5" in out
    assert "a-evolution: 2 failed: diverged: loss became nan at epoch 1 step 2 (1), " \
           "KeyError: 'row 3' (1)" in out
    assert run_app(app, ["runs", str(runs_root / "a-evolution"), "--json"]) == 0
    [only] = json.loads(capsys.readouterr().out)["runs"]  # a run directory lists itself
    assert only["name"] == "a-evolution"
    with pytest.raises(BadInputError, match="is not a folder"):
        list_runs(runs_root / "nope")
