"""Issue 14, items 4 and 5: resume that cannot surprise (saved budget, run-defining flags
refused, paths that work from another working directory, Ctrl-C prints the resume command) and
defaults that respect time (a fast preset, a duration estimate, degenerate options warned).

In-process through `run_app`; one tiny scratch run (a latency table, real training of a
width-0.25 network for one epoch on 256 images), the rest on a synthetic benchmark.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.estimators.tabular import TabularEstimator
from tests.cli.test_bad_input_catalogue import TINY_ARGS, table
from tests.tabular_helpers import write_synthetic_nb201

OBJ = "latency:pixel3"
FAST_OVERRIDES = ("--estimator-opt", "epochs=1", "--estimator-opt", "resolution=8",
                  "--estimator-opt", "train_subset=256", "--estimator-opt", "threads=1")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def history(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return write_synthetic_nb201(tmp_path_factory.mktemp("bench") / "synthetic.csv")


def tabular_search(benchmark, run_dir, budget, *extra) -> list:
    return ["search", "--space", "nb201", "--estimator", "tabular", "--estimator-opt",
            f"benchmark={benchmark}", "--objectives", f"accuracy,{OBJ}", "--method", "random",
            "--budget", budget, "--run-dir", run_dir, "--json", *extra]


# -- item 4 -----------------------------------------------------------------------------------
def test_resume_without_budget_keeps_the_saved_budget(synthetic, tmp_path, capsys):
    code, _, err = run(capsys, *tabular_search(synthetic, tmp_path / "r", 3))
    assert code == 0, err
    code, _, err = run(capsys, "search", "--resume", tmp_path / "r", "--json")
    assert code == 0, err
    assert len(history(tmp_path / "r")) == 3


def test_resume_refuses_a_method_that_contradicts_the_run(synthetic, tmp_path, capsys):
    code, _, err = run(capsys, *tabular_search(synthetic, tmp_path / "r", 2))
    assert code == 0, err
    code, _, err = run(capsys, "search", "--resume", tmp_path / "r", "--method", "nsga2")
    assert code == 2 and "--method" in err and "--resume" in err and "\n" not in err


def test_a_relative_benchmark_path_resumes_and_exports_from_another_directory(
        synthetic, tmp_path, monkeypatch, capsys):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "b.csv").write_bytes(synthetic.read_bytes())
    monkeypatch.chdir(work)
    code, _, err = run(capsys, *tabular_search("b.csv", "run", 2))
    assert code == 0, err
    monkeypatch.chdir(elsewhere)
    code, _, err = run(capsys, "search", "--resume", work / "run", "--budget", "3", "--json")
    assert code == 0, err
    assert len(history(work / "run")) == 3
    code, out, err = run(capsys, "export", work / "run", "--dry-run", "--json")
    assert code == 0, err


def test_ctrl_c_prints_the_command_that_resumes(synthetic, tmp_path, monkeypatch, capsys):
    real, calls = TabularEstimator.estimate, []

    def estimate(self, arch):
        calls.append(arch.key)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, arch)

    monkeypatch.setattr(TabularEstimator, "estimate", estimate)
    run_dir = tmp_path / "r"
    code, _, err = run(capsys, *tabular_search(synthetic, run_dir, 5))
    assert code == 130
    last = err.splitlines()[-1]
    assert last.startswith("hwnas: error: interrupted")
    assert f"hwnas search --resume {run_dir}`" in last
    assert len(history(run_dir)) == 2


def test_a_scratch_run_with_a_relative_table_resumes_elsewhere_with_fast_preset_and_estimate(
        tmp_path, monkeypatch, capsys):
    """The table path is stored absolute; `--preset fast` fills the estimator's options
    (explicit ones win); the duration estimate is printed after the second candidate (the
    first carries the start-up: hwnas.api.duration)."""
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    table()(work)
    monkeypatch.chdir(work)
    code, _, err = run(capsys, "search", "--table", "t.json", *TINY_ARGS, "--method", "random",
                       "--preset", "fast", *FAST_OVERRIDES, "--budget", "3", "--run-dir",
                       "run", "--keep-weights", "none", "--json")
    assert code == 0, err
    config = json.loads((work / "run" / "config.json").read_text())
    assert config["search"]["table"] == str(work / "t.json")
    from hwnas.api.presets import preset_values
    from hwnas.registry import ESTIMATORS

    options = config["search"]["estimator_options"]
    assert options["epochs"] == 1 and options["resolution"] == 8  # given: they win
    fast = preset_values(ESTIMATORS.get("scratch"), "fast")
    assert {k: v for k, v in options.items() if k not in ("epochs", "resolution",
                                                           "train_subset", "threads")} \
        == {k: v for k, v in fast.items() if k not in ("epochs", "resolution", "train_subset")}
    assert "each (after the first" in err and "the 1 left should take about" in err, err
    from hwnas.latency.table import LatencyTable

    used = LatencyTable.load(work / "t.json")
    assert config["table"]["hash"] == used.content_hash()
    # the table changes under the run (re-profiled, calibrated): the resume says so, goes on
    raw = json.loads((work / "t.json").read_text())
    raw["entries"][sorted(raw["entries"])[0]]["p50"] = 0.5
    (work / "t.json").write_text(json.dumps(raw))
    monkeypatch.chdir(elsewhere)
    code, _, err = run(capsys, "search", "--resume", work / "run", "--budget", "4", "--json")
    assert code == 0, err
    assert len(history(work / "run")) == 4
    now = LatencyTable.load(work / "t.json").short_hash()
    notes = [line for line in err.splitlines() if "changed since this run used it" in line]
    assert len(notes) == 1 and f"hash {used.short_hash()} then, {now} now" in notes[0], err


def test_the_duration_estimate():
    from hwnas.api.duration import duration_estimate

    line = duration_estimate(12.0, 9)
    assert "12 s" in line and "108 s" in line or "1.8 min" in line


def test_preset_of_an_estimator_without_presets_is_refused(synthetic, tmp_path, capsys):
    code, _, err = run(capsys, *tabular_search(synthetic, tmp_path / "r", 2), "--preset",
                       "fast")
    assert code == 2 and "--preset" in err and "scratch" in err
    assert not (tmp_path / "r").exists()


# -- item 5: degenerate options ---------------------------------------------------------------
def test_evolution_whose_population_covers_the_budget_is_said_to_be_random_sampling(
        synthetic, tmp_path, capsys):
    argv = tabular_search(synthetic, tmp_path / "r", 5)
    argv[argv.index("random")] = "evolution"
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert "warning" in err and "population 50" in err and "random sampling" in err
    code, _, err = run(capsys, *tabular_search(synthetic, tmp_path / "s", 5)[:-1],
                       "--method", "evolution", "--strategy-opt", "population=2",
                       "--strategy-opt", "sample_size=2", "--json")
    assert code == 0 and "random sampling" not in err


def test_strategies_declare_degenerate_options():
    from hwnas.registry import STRATEGIES

    evolution = STRATEGIES.get("evolution")
    assert evolution.degenerate_warning({"population": 50, "sample_size": 50}, 20)
    assert evolution.degenerate_warning({"population": 10, "sample_size": 5}, 20) is None
    assert STRATEGIES.get("random").degenerate_warning({}, 20) is None
