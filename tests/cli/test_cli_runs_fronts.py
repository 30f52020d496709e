"""Issue 14, items 1-3: `hwnas runs show`, fronts you can query (`pareto --where/--sort/--top/
--csv`, knee and pick named, repeats counted), `export --dry-run`, and a hypervolume whose
reference is stored with the run, so that a run's number does not depend on its company.

In-process through `run_app` on a synthetic benchmark of every NB201 cell (tabular estimator:
lookups, no training), so each search takes well under a second.
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.tabular_helpers import write_synthetic_nb201

OBJ = "latency:pixel3"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def tabular_search(benchmark, run_dir, budget=12, method="random", seed=0, *extra) -> list:
    return ["search", "--space", "nb201", "--estimator", "tabular", "--estimator-opt",
            f"benchmark={benchmark}", "--objectives", f"accuracy,{OBJ}", "--method", method,
            "--budget", budget, "--seed", seed, "--run-dir", run_dir, "--json", *extra]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs of one benchmark and objectives, differing in strategy and seed."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    root = tmp_path_factory.mktemp("fronts")
    bench = write_synthetic_nb201(root / "synthetic.csv")
    paths = []
    for name, method, seed in (("a", "random", 0), ("b", "random", 1), ("c", "evolution", 2)):
        extra = ("--strategy-opt", "population=4", "--strategy-opt", "sample_size=2") \
            if method == "evolution" else ()
        err = io.StringIO()
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            code = run_app(app, [str(a) for a in tabular_search(bench, root / name, 12, method,
                                                                seed, *extra)])
        assert code == 0, err.getvalue()
        paths.append(root / name)
    return root, bench, paths


# -- item 3: hypervolume that means the same everywhere ---------------------------------------
def test_hypervolume_of_a_run_is_the_same_alone_and_in_a_trio(runs, capsys):
    _, _, (a, b, c) = runs
    code, out, err = run(capsys, "pareto", a, "--json")
    assert code == 0, err
    alone = json.loads(out)["runs"][0]["hypervolume"]
    code, out, err = run(capsys, "pareto", b, a, c, "--json", "--plot", a.parent / "cmp.png")
    assert code == 0, err
    trio = {e["run"]: e["hypervolume"] for e in json.loads(out)["runs"]}
    assert trio[str(a)] == pytest.approx(alone, rel=1e-12)
    assert len(set(trio.values())) == 3  # a real comparison, not three copies


def test_the_reference_is_stored_in_the_run_and_derived_from_the_benchmark(runs):
    _, bench, (a, _, _) = runs
    config = json.loads((a / "config.json").read_text())
    ref = config["hypervolume_reference"]
    assert ref["objectives"] == ["accuracy", OBJ]
    # accuracy spans [0, 1]; the benchmark column's own range bounds the device cost
    from hwnas.tabular.benchmark import BenchmarkTable

    column = BenchmarkTable.load(str(bench)).objective_values(OBJ)
    assert ref["ideal"] == pytest.approx([1.0, float(min(column))])
    assert ref["nadir"] == pytest.approx([0.0, float(max(column))])


def test_pareto_warns_when_estimator_settings_differ(runs, tmp_path, capsys):
    root, bench, (a, _, _) = runs
    other = shutil.copy(bench, tmp_path / "other.csv")
    code, _, err = run(capsys, *tabular_search(other, tmp_path / "d", 6))
    assert code == 0, err
    code, out, err = run(capsys, "pareto", a, tmp_path / "d", "--plot", tmp_path / "x.png")
    assert code == 0, err
    assert "warning" in out and "estimator settings differ" in out


def test_pareto_refuses_runs_with_other_objectives_in_one_line(runs, tmp_path, capsys):
    _, bench, (a, _, _) = runs
    argv = tabular_search(bench, tmp_path / "e", 4)
    argv[argv.index(f"accuracy,{OBJ}")] = "accuracy,energy:fpga"
    code, _, err = run(capsys, *argv)
    assert code == 2 and "energy:fpga" in err  # the synthetic table has no energy column
    code, _, err = run(capsys, *tabular_search(bench, tmp_path / "p", 2)[:-1], "--objectives",
                       "accuracy,params", "--json")
    assert code == 0, err
    code, _, err = run(capsys, "pareto", a, tmp_path / "p")
    assert code == 2 and "\n" not in err and "did not record" in err


# -- item 2: fronts you can query ------------------------------------------------------------
def test_pareto_where_sort_top_and_csv(runs, tmp_path, capsys):
    _, _, (a, _, _) = runs
    code, out, err = run(capsys, "pareto", a, "--json")
    front = json.loads(out)["runs"][0]["front"]
    assert len(front) >= 3, "the fixture's run should have a front of several points"
    bound = sorted(r["result"][OBJ] for r in front)[len(front) // 2]
    csv_path = tmp_path / "front.csv"
    code, out, err = run(capsys, "pareto", a, "--where", f"{OBJ}<={bound} and accuracy>=0",
                         "--sort", f"{OBJ}:desc", "--top", "2", "--csv", csv_path)
    assert code == 0, err
    rows = list(csv.DictReader(csv_path.open()))
    kept = sorted((r for r in front if r["result"][OBJ] <= bound),
                  key=lambda r: -r["result"][OBJ])[:2]
    assert [r["arch_key"] for r in rows] == [r["arch_key"] for r in kept]
    assert float(rows[0][OBJ]) >= float(rows[-1][OBJ])
    assert {"knee", "picked", "accuracy", OBJ}.issubset(rows[0])


def test_pareto_names_the_knee_and_the_pick(runs, capsys):
    _, _, (a, _, _) = runs
    code, out, _ = run(capsys, "pareto", a, "--json")
    front = json.loads(out)["runs"][0]["front"]
    bound = sorted(r["result"][OBJ] for r in front)[1]
    code, out, err = run(capsys, "pareto", a, "--pick", f"{OBJ}<={bound}", "--json")
    assert code == 0, err
    front = json.loads(out)["runs"][0]["front"]
    assert sum(r["knee"] for r in front) == 1 and sum(r["picked"] for r in front) == 1
    picked = next(r for r in front if r["picked"])
    best = max((r for r in front if r["result"][OBJ] <= bound),
               key=lambda r: r["result"]["accuracy"])
    assert picked["arch_key"] == best["arch_key"]
    code, out, _ = run(capsys, "pareto", a, "--pick", f"{OBJ}<={bound}")
    assert "knee" in out and "picked" in out


def test_marked_indices_is_what_the_plots_call(runs):
    from hwnas.analysis.picking import marked_indices

    F = [[0.9, 5.0], [0.8, 1.0], [0.5, 0.2], [0.3, 0.1]]
    marks = marked_indices(F, ["max", "min"], pick=["latency_ms<=1.5"],
                           names=["accuracy", "latency_ms"])
    assert marks == {"knee": 1, "pick": 1}


def test_repeats_are_reported_not_hidden(runs, tmp_path, capsys):
    _, _, (a, _, _) = runs
    copy = tmp_path / "rep"
    shutil.copytree(a, copy)
    with open(copy / "history.jsonl", "a") as fh:  # the same architecture evaluated again
        first = (copy / "history.jsonl").read_text().splitlines()[0]
        fh.write(json.dumps({**json.loads(first), "index": 12, "cached": True}) + "\n")
    code, out, err = run(capsys, "pareto", copy, "--json")
    assert code == 0, err
    assert json.loads(out)["runs"][0]["repeats"] == 1
    code, out, err = run(capsys, "pareto", copy)
    assert "1 repeat" in out


def test_export_dry_run_prints_the_pick_and_writes_nothing(runs, capsys):
    _, _, (a, _, _) = runs
    before = sorted(p.name for p in a.iterdir())
    code, out, err = run(capsys, "export", a, "--pick", f"{OBJ}<=100", "--dry-run", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["dry_run"] is True and "accuracy" in got["objectives"]
    assert sorted(p.name for p in a.iterdir()) == before
    code, out, err = run(capsys, "export", a, "--dry-run")
    assert code == 0 and "would export" in out and "accuracy" in out


def test_export_warns_when_the_measurement_is_off_or_unstable():
    from hwnas.api.export import timing_warnings
    from hwnas.tables.export import ExportReport

    def report(p50, p90, predicted):
        return ExportReport("k", "a", "x.onnx", "trained", 0.0, 1e-4, "ort-cpu",
                            {"p50": p50, "p90": p90, "mean": p50, "std": 0.0, "n": 30},
                            predicted, "ort-cpu")

    assert timing_warnings(report(1.0, 1.02, 1.05)) == []
    off = timing_warnings(report(1.0, 1.02, 1.2))
    assert len(off) == 1 and "+20%" in off[0]
    unstable = timing_warnings(report(1.0, 1.5, 1.0))
    assert len(unstable) == 1 and "unstable" in unstable[0]


# -- item 1: runs show -----------------------------------------------------------------------
def test_runs_show_one_run(runs, capsys):
    _, bench, (a, _, _) = runs
    code, out, err = run(capsys, "runs", "show", a, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["status"] == "done" and shown["candidates"] == shown["budget"] == 12
    assert shown["failed"] == 0 and shown["front_size"] >= 1 and shown["seed"] == 0
    assert shown["estimator"]["name"] == "tabular"
    assert shown["estimator"]["options"]["benchmark"] == str(bench)
    assert shown["strategy"]["name"] == "random" and shown["created"]
    code, out, _ = run(capsys, "pareto", a, "--json")
    assert shown["hypervolume"] == pytest.approx(json.loads(out)["runs"][0]["hypervolume"])
    code, out, err = run(capsys, "runs", "show", a)
    assert code == 0 and "done" in out and "hypervolume" in out


def test_runs_show_an_incomplete_run_and_the_list_status(runs, tmp_path, capsys):
    _, _, (a, _, _) = runs
    copy = tmp_path / "half"
    shutil.copytree(a, copy)
    lines = (copy / "history.jsonl").read_text().splitlines(keepends=True)
    (copy / "history.jsonl").write_text("".join(lines[:5]))
    code, out, err = run(capsys, "runs", "show", copy, "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "incomplete" and json.loads(out)["candidates"] == 5
    code, out, _ = run(capsys, "runs", tmp_path, "--json")
    assert json.loads(out)["runs"][0]["status"] == "incomplete"


def test_runs_show_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    code, _, err = run(capsys, "runs", "show", tmp_path)
    assert code == 2 and "not a run directory" in err and "\n" not in err
