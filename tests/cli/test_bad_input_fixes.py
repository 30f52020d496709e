"""What the bad-input catalogue cannot show by a refusal alone: that allowed values work
(`--noise-samples 0`, `--resume` with `--budget`, `--allow-mismatch`), that outputs are
checked before any work starts, and the permission case a root test process cannot produce.

In-process through `run_app`, as the catalogue: a subprocess costs seconds of imports.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.cli.test_bad_input_catalogue import TINY_ARGS, assert_refused, snapshot, table
from tests.tabular_helpers import write_synthetic_nb201


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return write_synthetic_nb201(tmp_path_factory.mktemp("bench") / "synthetic.csv")


def tabular_search(benchmark: Path, run_dir: Path, budget: int) -> list[str]:
    return ["search", "--space", "nb201", "--estimator", "tabular", "--estimator-opt",
            f"benchmark={benchmark}", "--objectives", "accuracy,latency:pixel3",
            "--estimator-opt", "costs=latency:pixel3", "--method", "random",
            "--budget", str(budget), "--run-dir", str(run_dir), "--json"]


def history(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def test_a_complete_benchmark_is_searched_and_resumed_with_a_larger_budget(
        synthetic, tmp_path, capsys):
    """The up-front coverage check passes a benchmark with every architecture, and --resume
    takes --budget (the one option that may change) without refusing it."""
    run_dir = tmp_path / "run"
    code, _, err = run(capsys, *tabular_search(synthetic, run_dir, 2))
    assert code == 0, err
    code, _, err = run(capsys, "search", "--resume", run_dir, "--budget", "4", "--json")
    assert code == 0, err
    assert len(history(run_dir)) == 4
    assert_refused(capsys, ["export", str(run_dir), "--arch", history(run_dir)[0]["arch_key"],
                            "--pick", "latency:pixel3<=3"], "--arch and --pick")


def test_validate_with_no_noise_samples_works(tmp_path, monkeypatch, capsys):
    """--noise-samples 0 is in the option's range: the report says the noise floor was not
    measured (null in JSON) instead of failing on a NaN."""
    monkeypatch.chdir(tmp_path)
    table()(tmp_path)
    code, out, err = run(capsys, "tables", "validate", "t.json", "--samples", "2",
                         "--noise-samples", "0", "--allow-mismatch")
    assert code == 0, err
    assert "noise floor: not measured (--noise-samples 0)" in out
    report = json.loads((tmp_path / "t.validation.json").read_text())
    assert report["metrics"]["noise_floor"] == {"n": 0, "median": None, "p90": None}
    assert report["remeasured_ms"] == [] and len(report["measured_ms"]) == 2


def test_search_with_a_batch_8_table_needs_allow_mismatch_and_then_warns(
        tmp_path, monkeypatch, capsys):
    """The table `hwnas export` would refuse is refused by search too, for the same reason;
    with --allow-mismatch the search runs and says what it risks."""
    monkeypatch.chdir(tmp_path)
    table(batch=8)(tmp_path)
    args = ["search", "--table", "t.json", *TINY_ARGS, "--method", "random", "--budget", "1",
            "--estimator-opt", "epochs=1", "--estimator-opt", "train_subset=64",
            "--estimator-opt", "resolution=8", "--run-dir", "run"]
    assert_refused(capsys, args, "batch=8, not 1", "hwnas export", "--allow-mismatch")
    assert not (tmp_path / "run").exists()
    notices = []
    monkeypatch.setattr("hwnas.cli.search_cmd.api.search", _recording_search(notices))
    code, _, err = run(capsys, *args, "--allow-mismatch")
    assert code == 0, err
    assert any("batch=8, not 1" in n for n in notices), notices
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["search"]
    assert saved["allow_mismatch"] is True  # a resume keeps it


def _recording_search(notices: list[str]):
    from hwnas import api

    real = api.search

    def search(config, *, resume=None, progress=None):
        def on_event(event):
            if event.get("event") == "notice":
                notices.append(event["summary"])
            if progress:
                progress(event)

        return real(config, resume=resume, progress=on_event)

    return search


@pytest.mark.parametrize("argv", [
    ("profile", *TINY_ARGS, "--out", "f/t.json"),
    ("demo", "--out", "f/demo"),
], ids=["profile", "demo"])
def test_outputs_are_checked_before_anything_is_measured(argv, tmp_path, monkeypatch, capsys):
    def must_not_run(*args, **kwargs):
        raise AssertionError("measured before the output path was checked")

    monkeypatch.setattr("hwnas.tables.profile.profile_ops", must_not_run)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").write_text("a file where a folder is needed")
    assert_refused(capsys, list(argv), "--out", "is a file, not a folder")


def test_a_read_only_working_directory_is_refused_before_the_run(tmp_path, monkeypatch,
                                                                   capsys):
    """What a user without write permission sees (root passes every permission check, so
    the test answers os.access as the kernel would answer that user)."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False
                        if Path(path) == tmp_path else real_access(path, mode, **kw))
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    assert_refused(capsys, ["search", "--objectives", "accuracy,params", "--budget", "1"],
                   "--run-dir", "no permission to create files in", str(tmp_path))
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_working_directory_for_real(tmp_path, monkeypatch, capsys):
    os.chmod(tmp_path, stat.S_IRUSR | stat.S_IXUSR)
    try:
        monkeypatch.chdir(tmp_path)
        assert_refused(capsys, ["search", "--objectives", "accuracy,params", "--budget", "1"],
                       "--run-dir", "no permission")
    finally:
        os.chmod(tmp_path, stat.S_IRWXU)
