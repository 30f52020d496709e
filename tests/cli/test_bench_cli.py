"""`hwnas bench` through the real entry point: bad input is one line (exit 2); a small league."""

import json
from pathlib import Path

import pytest

from tests.cli.helpers import assert_one_line_error, hwnas
from tests.fixtures.make_nb201_fixture import FRONT, read_lines, read_records, true_front
from tests.tabular_helpers import FIXTURE_CSV, FULL_CSV, needs_full_table, write_synthetic_nb201


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, int]:
    """A made-up benchmark of every NB201 cell (a league may propose any) and the size of its
    CIFAR-10 x Pixel 3 front, counted independently of hwnas by the fixture script's sweep."""
    path = write_synthetic_nb201(tmp_path_factory.mktemp("bench") / "synthetic.csv")
    return path, len(true_front(read_records(read_lines(path))[1], *FRONT))


def test_missing_benchmark(tmp_path):
    proc = hwnas("bench", "--benchmark", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, 2, "none.csv", "does not exist")
    assert not (tmp_path / "o").exists()


def test_unknown_method_and_objective_kind_name_the_closest(tmp_path):
    proc = hwnas("bench", "--benchmark", str(tmp_path / "x.csv"), "--methods", "random,nsga")
    assert_one_line_error(proc, 2, "unknown strategy 'nsga'", "'nsga3'")
    proc = hwnas("bench", "--benchmark", str(tmp_path / "x.csv"), "--objectives",
                 "acuracy,latency:pixel3")
    assert_one_line_error(proc, 2, "unknown objective 'acuracy'", "'accuracy'")


def test_objective_the_table_lacks(tmp_path):
    proc = hwnas("bench", "--benchmark", str(FIXTURE_CSV), "--objectives",
                 "accuracy:cifar10,latency:pixel4", "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, 2, "'latency:pixel4'", "'latency:pixel3'")
    assert not (tmp_path / "o").exists()


def test_a_file_of_no_known_format_is_one_line(tmp_path):
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    proc = hwnas("bench", "--benchmark", str(tmp_path / "other.csv"), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, 2, "matches no known benchmark format", "nb201-hw")
    assert not (tmp_path / "o").exists()


def _league(benchmark: Path, out: Path) -> dict:
    proc = hwnas("bench", "--benchmark", str(benchmark), "--budget", "30", "--seeds", "2",
                 "--methods", "random,nsga2", "--strategy-opt", "nsga2:population=10",
                 "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_small_league_writes_results_plot_and_table(tmp_path, synthetic):
    benchmark, front_size = synthetic
    out = tmp_path / "league"
    results = _league(benchmark, out)
    assert results["true_front"]["size"] == front_size == 196
    assert results["true_front"]["rows_available"] == 15_625
    assert results["space"] == "nb201" and results["command"].startswith("hwnas bench ")
    assert set(results["league"]) == {"random", "nsga2"}
    nsga2 = results["methods"]["nsga2"]
    assert nsga2["options"] == {"population": 10} and len(nsga2["per_seed"]) == 2
    assert nsga2["curve"]["evals"] == [10, 20, 30]
    assert 0 < nsga2["hv_ratio"]["mean"] <= 1
    written = json.loads(Path(results["outputs"]["results"]).read_text())
    assert written == results and written["budget"] == 30
    assert (out / "hv.png").is_file() and "| 1 |" in (out / "league.md").read_text()


def test_small_league_renders_the_table(tmp_path, synthetic):
    benchmark, front_size = synthetic
    proc = hwnas("bench", "--benchmark", str(benchmark), "--budget", "10", "--seeds", "1",
                 "--methods", "random", "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert f"true front {front_size} of 15625 rows" in proc.stdout
    assert "written:" in proc.stdout and (tmp_path / "o" / "results.json").is_file()


@needs_full_table
def test_small_league_on_the_full_table(tmp_path):
    results = _league(FULL_CSV, tmp_path / "league")
    assert results["true_front"]["size"] == 44  # CIFAR-10 x Pixel 3, as the issue counts
    assert results["true_front"]["rows_available"] == 15_625
    assert 0 < results["methods"]["nsga2"]["hv_ratio"]["mean"] <= 1
