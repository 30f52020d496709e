"""`hwnas.search(config)` leaves the caller's config as it was given: one SearchConfig drives a
loop over seeds. It used to write the run's resolved values into it, so the second call of such
a loop found the first run's directory there and was refused ("already holds a run")."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import hwnas
from hwnas.searching.config import SearchConfig
from tests.tabular_helpers import write_synthetic_nb201


def test_one_config_runs_a_loop_over_seeds_each_into_its_own_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_synthetic_nb201(tmp_path / "bench.csv")
    # relative, with no run directory and no budget: what a run resolves (an absolute path,
    # runs/<space>-<strategy>-s<seed>-<time>, the costs from the objectives) is its own
    config = SearchConfig(table="", space="nb201", strategy="random", estimator="tabular",
                          estimator_options={"benchmark": "bench.csv"},
                          objectives=["accuracy", "latency:pixel3"])
    given = copy.deepcopy(config)
    runs = []
    for seed in (0, 1):
        config.seed = seed
        runs.append(hwnas.search(config))
        assert config == SearchConfig(**{**given.to_dict(), "seed": seed})
    assert len({run.path for run in runs}) == 2
    for seed, run in enumerate(runs):
        assert run.path.parent == Path("runs")  # the default, relative to the working folder
        saved = json.loads((tmp_path / run.path / "config.json").read_text())["search"]
        assert saved["seed"] == seed and saved["budget"] == 20
        assert saved["estimator_options"] == {"benchmark": str(tmp_path / "bench.csv"),
                                              "costs": ["latency:pixel3"]}
        assert len(run.history()) == 20
    # the seeds searched differently: the loop did run two searches
    assert [r["arch_key"] for r in runs[0].history()] != \
        [r["arch_key"] for r in runs[1].history()]


def test_ctrl_c_of_a_run_in_the_default_directory_names_it(tmp_path, monkeypatch, capsys):
    """The command line names the default run directory itself (api.search resolves a copy of
    the config, so the caller would not learn it): Ctrl-C still prints the command that
    resumes the run it interrupted."""
    from hwnas.cli import app
    from hwnas.cli.errors import run_app
    from hwnas.estimators.tabular import TabularEstimator

    monkeypatch.chdir(tmp_path)
    write_synthetic_nb201(tmp_path / "bench.csv")
    real, calls = TabularEstimator.estimate, []

    def estimate(self, arch):
        calls.append(arch.key)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, arch)

    monkeypatch.setattr(TabularEstimator, "estimate", estimate)
    code = run_app(app, ["search", "--space", "nb201", "--estimator", "tabular",
                         "--estimator-opt", "benchmark=bench.csv", "--objectives",
                         "accuracy,latency:pixel3", "--method", "random", "--budget", "5",
                         "--json"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 130
    [run_dir] = (tmp_path / "runs").iterdir()
    assert last.endswith(f"resume with `hwnas search --resume runs/{run_dir.name}`"), last
