"""`hwnas bench` through the real entry point: bad input is one line (exit 2); a small league."""

import json
from pathlib import Path

import pytest

from tests.cli.helpers import ROOT, assert_one_line_error, hwnas

NB201 = ROOT.parent / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv"
needs_nb201 = pytest.mark.skipif(not NB201.is_file(), reason=f"{NB201} not present")


def test_missing_benchmark(tmp_path):
    proc = hwnas("bench", "--benchmark", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, 2, "none.csv", "does not exist")
    assert not (tmp_path / "o").exists()


def test_unknown_method_and_objective_kind_name_the_closest(tmp_path):
    proc = hwnas("bench", "--benchmark", str(tmp_path / "x.csv"), "--methods", "random,nsga")
    assert_one_line_error(proc, 2, "unknown strategy 'nsga'", "'nsga2'")
    proc = hwnas("bench", "--benchmark", str(tmp_path / "x.csv"), "--objectives",
                 "acuracy,latency:pixel3")
    assert_one_line_error(proc, 2, "unknown objective 'acuracy'", "'accuracy'")


@needs_nb201
def test_objective_the_table_lacks(tmp_path):
    proc = hwnas("bench", "--benchmark", str(NB201), "--objectives",
                 "accuracy:cifar10,latency:pixel4", "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, 2, "'latency:pixel4'", "'latency:pixel3'")
    assert not (tmp_path / "o").exists()


@needs_nb201
def test_small_league_writes_results_plot_and_table(tmp_path):
    out = tmp_path / "league"
    proc = hwnas("bench", "--benchmark", str(NB201), "--budget", "30", "--seeds", "2",
                 "--methods", "random,nsga2", "--strategy-opt", "nsga2:pop_size=10",
                 "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results["true_front"]["size"] == 44  # CIFAR-10 x Pixel 3, as the issue counts
    assert set(results["league"]) == {"random", "nsga2"}
    nsga2 = results["methods"]["nsga2"]
    assert nsga2["options"] == {"pop_size": 10} and len(nsga2["per_seed"]) == 2
    assert nsga2["curve"]["evals"] == [10, 20, 30]
    assert 0 < nsga2["hv_ratio"]["mean"] <= 1
    assert json.loads(Path(results["outputs"]["results"]).read_text())["budget"] == 30
    assert (out / "hv.png").is_file() and "| 1 |" in (out / "league.md").read_text()
