"""Issue 38: what the commands print fits 80 columns in a pipe and never splits a word
(`evolutio n` in `hwnas runs | cat`), an NB201 architecture takes one short line of a front's
table, and the plain-output contracts: `hwnas pareto --csv -` writes only CSV to standard
output, the compare plot of several runs is not written into the first run's folder, and
`hwnas export` names its JSON report.

The commands run as a user runs them (a subprocess, stdout a pipe, COLUMNS=80) on runs of a
synthetic NB201 benchmark (tabular estimator: lookups, so each search takes a second)."""

from __future__ import annotations

import csv
import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout

import pytest

from hwnas import api
from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.cli.helpers import ROOT, hwnas
from tests.tabular_helpers import write_synthetic_nb201

OBJ = "latency:pixel3"
# a default run directory's name (api.search), and a run one folder down (as `hwnas demo`)
LONG = "nb201-evolution-s0-20261207-023030"
NESTED = "demo-1/random"
TABLE = ROOT / "latency_tables/amd-epyc-2c/fbnet-torch-cpu-b1-fp32-n100-scifar100.json"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fits")
    bench = write_synthetic_nb201(root / "synthetic.csv")
    for name, method, extra in ((LONG, "evolution", ("--strategy-opt", "population=4",
                                                     "--strategy-opt", "sample_size=2")),
                                (NESTED, "random", ())):
        argv = ["search", "--space", "nb201", "--estimator", "tabular", "--estimator-opt",
                f"benchmark={bench}", "--objectives", f"accuracy,{OBJ}", "--method", method,
                "--budget", "12", "--seed", "0", "--run-dir", str(root / "runs" / name),
                "--json", *extra]
        err = io.StringIO()
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            assert run_app(app, argv) == 0, err.getvalue()
    return root


def words_of(*texts: str) -> set[str]:
    """The words a correct output must hold whole: the runs of letters and digits of names
    that may only break at their punctuation (`nb201-evolution-s0` at a '-')."""
    return {w for t in texts for w in re.findall(r"[A-Za-z0-9_.]+", t)}


def assert_fits(text: str, words: set[str], columns: int = 80) -> None:
    long = [line for line in text.splitlines() if len(line) > columns]
    assert not long, f"lines wider than {columns} columns: {long}"
    printed = set(re.findall(r"[A-Za-z0-9_.]+", text))
    split = sorted(words - printed)
    assert not split, f"words split or missing: {split}\n{text}"


def test_runs_and_runs_show_fit_80_columns(runs):
    proc = hwnas("runs", str(runs / "runs"), columns=80)
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout, words_of(LONG, NESTED, "evolution random nb201 done accuracy "
                                      f"{OBJ} candidates 12/12"))
    proc = hwnas("runs", "show", str(runs / "runs" / LONG), columns=80)
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout, words_of(LONG, "status done candidates hypervolume estimator "
                                      "tabular strategy evolution population"))


def test_a_front_of_nb201_fits_with_one_line_per_member(runs):
    a, b = runs / "runs" / LONG, runs / "runs" / NESTED
    proc = hwnas("pareto", str(a), str(b), "--plot", str(runs / "cmp.png"), columns=80)
    assert proc.returncode == 0, proc.stderr
    shown = api.pareto([a, b], draw=False)
    keys = [r["arch_key"] for e in shown["runs"] for r in e["front"]]
    assert_fits(proc.stdout, words_of(*keys, "knee accuracy", OBJ))
    rows = [line for line in proc.stdout.splitlines() if any(k in line for k in keys)]
    assert len(rows) == len(keys)  # a member's row is one line: its arch is compact
    for entry in shown["runs"]:
        for r in entry["front"]:
            assert re.fullmatch(r"[-sp13]\|[-sp13] [-sp13]\|[-sp13] [-sp13] [-sp13]",
                                r["arch_short"]), r["arch_short"]
    assert "arch legend (nb201)" in proc.stdout


def test_list_and_tables_show_and_diff_fit_80_columns():
    proc = hwnas("list", columns=80)
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout, words_of("evolution nsga2 proxyless nb201 tabular scratch "
                                      "torch-cpu ort-cpu population"))
    proc = hwnas("list", "strategies", "evolution", columns=80)
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout, words_of("population sample_size fitness"))
    proc = hwnas("tables", "show", str(TABLE), columns=80)
    assert proc.returncode == 0, proc.stderr
    keys = json.loads(TABLE.read_text())["entries"]
    assert_fits(proc.stdout, words_of(*keys, "p50 p90 std"))
    other = TABLE.with_name(TABLE.name.replace("torch-cpu", "ort-cpu"))
    proc = hwnas("tables", "diff", str(TABLE), str(other), columns=80)
    assert proc.returncode == 0, proc.stderr
    different = json.loads(hwnas("tables", "diff", str(TABLE), str(other), "--json").stdout)
    assert_fits(proc.stdout, words_of(*(d["key"] for d in different["most_different"])))


def test_the_bench_league_fits_80_columns(runs, tmp_path):
    """Eleven columns do not fit 80: each method becomes a block, one line per measure."""
    proc = hwnas("bench", "--benchmark", str(runs / "synthetic.csv"), "--budget", "20",
                 "--seeds", "2", "--methods", "random,evolution", "--out",
                 str(tmp_path / "league"), columns=80)
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout, words_of("random evolution baseline HV ratio IGD unique evals"))
    wide = hwnas("bench", "--benchmark", str(runs / "synthetic.csv"), "--budget", "20",
                 "--seeds", "2", "--methods", "random,evolution", "--out",
                 str(tmp_path / "league"), columns=200)
    rows = [line for line in wide.stdout.splitlines() if line.startswith("1  random")]
    assert len(rows) == 1 and "baseline" in rows[0]  # a wide terminal keeps the table


def test_pareto_csv_to_standard_output_is_only_csv(runs, tmp_path):
    a = runs / "runs" / LONG
    proc = hwnas("pareto", str(a), "--csv", "-", "--plot", str(tmp_path / "p.png"))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    front = api.pareto([a], draw=False)["runs"][0]["front"]
    assert [r["arch_key"] for r in rows] == [r["arch_key"] for r in front]
    assert all(r["arch_str"].startswith("nb201[") for r in rows)
    assert "p.png" in proc.stderr  # the plot is still named, apart from the CSV
    proc = hwnas("pareto", str(a), "--csv", "-", "--json")
    assert proc.returncode == 2 and "standard output" in proc.stderr


def test_the_compare_plot_is_not_written_into_the_first_run(runs, tmp_path):
    a, b = runs / "runs" / LONG, runs / "runs" / NESTED
    before = sorted(p.name for p in (a / "plots").iterdir())
    proc = hwnas("pareto", str(a), str(b), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (a / "plots").iterdir()) == before
    assert (tmp_path / "pareto_compare.png").is_file()
    assert "plot: pareto_compare.png" in proc.stdout


def test_export_names_its_json_report(capsys):
    from hwnas.cli.export_cmd import render_export
    from hwnas.tables.export import ExportReport

    report = ExportReport("3f2a", "3|3 3|s 3 1", "exports/3f2a.onnx", "trained", 1e-6, 1e-4,
                          "ort-cpu", {"p50": 1.0, "p90": 1.1, "mean": 1.0, "std": 0.01,
                                      "n": 30}, 1.05, "ort-cpu")
    render_export(report)
    assert "report: exports/3f2a.json" in capsys.readouterr().out
