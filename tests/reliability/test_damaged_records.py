"""A damaged record or file in a run is reported in one line and the rest is read (issue 29,
class 2). A history record with a text where an objective's number belongs, or an `arch` that
is no architecture, failed pareto, runs show, export, report and resume with "internal
error"; now each reader names the line, leaves it out (and in place), and goes on. A history
that is a folder no longer aborts the whole `hwnas runs` listing, and a validation report with
a text for a number is named in the report instead of failing it.

In-process through `run_app`: the hostile-file test (test_hostile_files.py) covers FIFOs and
the like, which need a time limit.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.tabular_helpers import write_synthetic_nb201

VALIDATION = Path(__file__).resolve().parents[2] / "latency_tables" / "amd-epyc-2c" / \
    "proxyless-ort-cpu-b1-fp32-i3-n10-r32-w1.validation.json"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A 6-candidate tabular run on the synthetic NB201 benchmark."""
    root = tmp_path_factory.mktemp("damaged")
    bench = write_synthetic_nb201(root / "b.csv")
    assert run_app(app, ["search", "--space", "nb201", "--estimator", "tabular",
                         "--estimator-opt", f"benchmark={bench}", "--estimator-opt",
                         "costs=latency:pixel3", "--objectives", "accuracy,latency:pixel3",
                         "--method", "random", "--budget", "6", "--run-dir",
                         str(root / "runs" / "r"), "--json"]) == 0
    return root / "runs" / "r"


@pytest.fixture
def damaged(made, tmp_path) -> Path:
    """A copy of the run whose lines 1 and 2 are damaged: a text accuracy, an arch whose
    values are a text."""
    run_dir = tmp_path / "runs" / "r"
    shutil.copytree(made, run_dir)
    lines = (run_dir / "history.jsonl").read_text().splitlines()
    first, second = json.loads(lines[0]), json.loads(lines[1])
    first["result"]["accuracy"] = "high"
    second["arch"]["values"] = "x"
    lines[:2] = [json.dumps(first), json.dumps(second)]
    (run_dir / "history.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir


def _lines_named(text: str) -> bool:
    return "history.jsonl line 1" in text and "history.jsonl line 2" in text


READERS = {  # name -> (argv after the run, how its output names the damaged lines)
    "pareto": (["pareto", "{run}", "--json", "--plot", "{tmp}/p.png"],
               lambda out, err, tmp: _lines_named(
                   " ".join(json.loads(out)["runs"][0]["unreadable_lines"]))
               and json.loads(out)["runs"][0]["front_size"] >= 1),
    "runs show": (["runs", "show", "{run}", "--json"],
                  lambda out, err, tmp: json.loads(out)["unreadable_lines"] == 2
                  and json.loads(out)["candidates"] == 4),
    "runs": (["runs", "{tmp}/runs", "--json"],
             lambda out, err, tmp: json.loads(out)["runs"][0]["unreadable_lines"] == 2),
    "report": (["report", "{run}", "-o", "{tmp}/r.html"],
               lambda out, err, tmp: _lines_named((tmp / "r.html").read_text())),
    "export --dry-run": (["export", "{run}", "--dry-run", "--json"],
                         lambda out, err, tmp: json.loads(out)["chosen_by"] == "the knee"),
    "search --resume": (["search", "--resume", "{run}", "--budget", "8", "--json"],
                        lambda out, err, tmp: _lines_named(err)
                        and "candidate(s) 0, 1 will be evaluated again" in err),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_a_damaged_record_is_named_and_the_rest_is_read(damaged, tmp_path, capsys, reader):
    argv, named = READERS[reader]
    argv = [a.format(run=damaged, tmp=tmp_path) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "internal error" not in err, err
    assert named(out, err, tmp_path), (out[-2000:], err)


def test_the_damaged_line_says_what_is_wrong_and_stays_in_place(damaged, capsys):
    before = (damaged / "history.jsonl").read_bytes()
    code, out, _ = run(capsys, "pareto", damaged, "--json", "--plot", damaged.parent / "p.png")
    assert code == 0
    problems = json.loads(out)["runs"][0]["unreadable_lines"]
    assert any("line 1" in p and "'accuracy' is 'high', not a finite number" in p
               for p in problems), problems
    assert any("line 2" in p and "its arch is not an architecture" in p for p in problems)
    assert (damaged / "history.jsonl").read_bytes() == before


@pytest.mark.parametrize("value", ["1e999", "NaN", '"high"', "[0.5]", "null"])
def test_an_objective_that_is_no_finite_number_is_a_damaged_record(tmp_path, value):
    from hwnas.runs import RunDir

    run = RunDir(tmp_path)
    good = {"arch_key": "a", "result": {"accuracy": 0.5}}
    (tmp_path / "history.jsonl").write_text(
        json.dumps(good) + "\n" + json.dumps(good).replace("0.5", value) + "\n")
    read = run.read_history()
    assert len(read.records) == 1 and len(read.problems) == 1, read
    assert read.problems[0].startswith("history.jsonl line 2 is not a candidate record")


def test_an_estimators_flag_beside_the_numbers_is_kept(tmp_path):
    """The curve estimator records `stopped_early: true` beside its numbers: a flag, not a
    damaged objective."""
    from hwnas.runs import RunDir

    record = {"arch_key": "a", "result": {"accuracy": 0.5, "stopped_early": True,
                                          "epochs_trained": 1}}
    (tmp_path / "history.jsonl").write_text(json.dumps(record) + "\n")
    read = RunDir(tmp_path).read_history()
    assert len(read.records) == 1 and not read.problems


def test_an_arch_key_that_would_name_a_file_elsewhere_is_a_damaged_record(tmp_path):
    """A key names files (weights/<key>.pt, trained/<key>/): `../x` would be outside the run."""
    from hwnas.runs import RunDir

    (tmp_path / "history.jsonl").write_text(
        json.dumps({"arch_key": "../../x", "result": {"accuracy": 0.5}}) + "\n")
    read = RunDir(tmp_path).read_history()
    assert not read.records and "is not an architecture key" in read.problems[0], read


def test_a_run_whose_history_is_a_folder_does_not_stop_the_listing(made, tmp_path, capsys):
    for name in ("a", "b"):
        shutil.copytree(made, tmp_path / "runs" / name)
    history = tmp_path / "runs" / "a" / "history.jsonl"
    history.unlink()
    history.mkdir()
    code, out, err = run(capsys, "runs", tmp_path / "runs", "--json")
    assert code == 0, err
    entries = {e["name"]: e for e in json.loads(out)["runs"]}
    assert "history.jsonl" in entries["a"]["error"] and "folder" in entries["a"]["error"]
    assert entries["b"]["candidates"] == 6
    code, out, err = run(capsys, "runs", tmp_path / "runs")  # the table too
    assert code == 0 and "folder" in out and "b" in out, (out, err)
    code, _, err = run(capsys, "runs", "show", tmp_path / "runs" / "a")
    assert code == 2 and err.count("\n") == 1 and "history.jsonl" in err, err


def test_a_validation_report_with_a_text_for_a_number_is_named_in_the_report(
        made, tmp_path, capsys):
    from tests.cli.test_bad_input_catalogue import table

    run_dir = tmp_path / "r"
    shutil.copytree(made, run_dir)
    table()(tmp_path)
    report = json.loads(VALIDATION.read_text())
    report["metrics"]["mape"] = "low"
    (tmp_path / "t.validation.json").write_text(json.dumps(report))
    config = json.loads((run_dir / "config.json").read_text())
    config["table"] = {"path": str(tmp_path / "t.json"), "backend": "ort-cpu", "batch": 1,
                       "dtype": "fp32", "device": {"cpu": "test-cpu"}}
    (run_dir / "config.json").write_text(json.dumps(config))
    code, _, err = run(capsys, "report", run_dir, "-o", tmp_path / "r.html")
    assert code == 0, err
    assert "the report is damaged: metrics.mape is &#x27;low&#x27;, not a number" in \
        (tmp_path / "r.html").read_text()


@pytest.mark.parametrize(("field", "value", "named"), [
    ("table", "x", "'table' is 'x', not an object"),
    ("hypervolume_reference", {"objectives": ["accuracy"], "ideal": "x", "nadir": [1]},
     "hypervolume_reference 'ideal'"),
    ("space_resolved", [1], "'space_resolved' is [1], not an object"),
    ("created", 5, "'created' is 5, not a text")])
@pytest.mark.parametrize("command", ["pareto", "runs show", "report", "export", "resume"])
def test_a_config_field_of_the_wrong_type_is_one_line(made, tmp_path, capsys, command, field,
                                                      value, named):
    run_dir = tmp_path / "r"
    shutil.copytree(made, run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    config[field] = value
    (run_dir / "config.json").write_text(json.dumps(config))
    argv = {"pareto": ["pareto", run_dir], "runs show": ["runs", "show", run_dir],
            "report": ["report", run_dir, "-o", tmp_path / "r.html"],
            "export": ["export", run_dir, "--dry-run"],
            "resume": ["search", "--resume", run_dir, "--budget", "8"]}[command]
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1, err
    assert "is damaged" in err and named in err, err
