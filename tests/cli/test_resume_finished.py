"""Issue 38: resuming a finished run, or with a lower --budget, says so in one line and leaves
the run as it is; a larger --budget extends it and becomes the run's budget.

In-process through `run_app`, tabular searches on a synthetic benchmark: seconds in all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.tabular_helpers import write_synthetic_nb201


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return write_synthetic_nb201(tmp_path_factory.mktemp("bench") / "synthetic.csv")


@pytest.fixture
def finished(synthetic, tmp_path, capsys) -> Path:
    run_dir = tmp_path / "r"
    code, _, err = run(capsys, "search", "--space", "nb201", "--estimator", "tabular",
                       "--estimator-opt", f"benchmark={synthetic}", "--objectives",
                       "accuracy,latency:pixel3", "--method", "random", "--budget", "3",
                       "--run-dir", run_dir, "--json")
    assert code == 0, err
    return run_dir


def files(run_dir: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of the run, with its content and mtime: what "nothing rewritten" means."""
    return {p.relative_to(run_dir).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name != "lock"}


@pytest.mark.parametrize("budget", [(), ("--budget", "3"), ("--budget", "2")])
def test_a_finished_run_is_said_finished_and_left_alone(finished, capsys, budget):
    before = files(finished)
    code, out, err = run(capsys, "search", "--resume", finished, *budget)
    assert code == 0 and "\n" not in err, err
    assert err.startswith(f"hwnas: note: run {finished} is finished: all 3 candidates")
    assert f"hwnas search --resume {finished} --budget 4" in err  # how to extend it
    if budget == ("--budget", "2"):
        assert "--budget 2 is below its budget of 3" in err
    assert out == ""  # no front printed again as if something had run
    assert files(finished) == before


def test_an_extension_becomes_the_runs_budget(finished, capsys):
    code, _, err = run(capsys, "search", "--resume", finished, "--budget", "5", "--json")
    assert code == 0, err
    config = json.loads((finished / "config.json").read_text())
    assert config["search"]["budget"] == 5
    assert len((finished / "history.jsonl").read_text().splitlines()) == 5
    code, _, err = run(capsys, "search", "--resume", finished)
    assert code == 0 and "is finished: all 5 candidates" in err


def test_a_lower_budget_on_an_unfinished_run_is_refused(finished, capsys):
    history = finished / "history.jsonl"
    history.write_text("".join(history.read_text().splitlines(keepends=True)[:1]))
    before = files(finished)
    code, _, err = run(capsys, "search", "--resume", finished, "--budget", "2")
    assert code == 2 and "\n" not in err, err
    assert "--budget 2 is below its budget of 3" in err and "has 1 of its 3 candidates" in err
    assert files(finished) == before
    # without it the run is finished as it was meant to be, front included
    code, _, err = run(capsys, "search", "--resume", finished, "--json")
    assert code == 0, err
    assert len(history.read_text().splitlines()) == 3
    assert json.loads((finished / "pareto.json").read_text())["n_points"] == 3


def test_a_run_killed_before_its_front_is_not_finished(finished, capsys):
    (finished / "pareto.json").unlink()
    code, _, err = run(capsys, "search", "--resume", finished, "--json")
    assert code == 0 and "is finished" not in err, err
    assert (finished / "pareto.json").is_file()
