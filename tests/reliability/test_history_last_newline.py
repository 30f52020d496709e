"""A history whose last record is whole but lacks its newline (a crash between the two, an
editor that drops a file's last newline). The resume read that line as a record still being
written, because its own lock was held, and skipped it: the candidate was evaluated again and
the file ended with two records of one index (41 lines for a budget of 40). The writer now ends
that line as it takes the lock, and every reader counts the record."""

from __future__ import annotations

import json

from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.estimators.tabular import TabularEstimator
from hwnas.runs import RunDir
from tests.reliability.test_run_history import by_index, tabular_args
from tests.tabular_helpers import write_synthetic_nb201


def drop_last_newline(run_dir) -> bytes:
    history = run_dir / "history.jsonl"
    data = history.read_bytes()
    assert data.endswith(b"}\n")
    history.write_bytes(data[:-1])
    return data[:-1]


def test_the_writer_reads_a_whole_unended_record_and_ends_its_line(tmp_path):
    run = RunDir.create(tmp_path / "r", {"search": {}})
    record = {"index": 0, "arch_key": "a0", "result": {"accuracy": 0.5}}
    run.history_path.write_bytes(json.dumps(record).encode())
    with run.writing():
        assert [r["index"] for r in run.read_history().records] == [0]
        assert [r["index"] for r in RunDir(run.path).history()] == [0]  # another reader too
    assert run.history_path.read_bytes() == json.dumps(record).encode() + b"\n"


def test_a_torn_fragment_is_not_ended_by_taking_the_lock(tmp_path):
    run = RunDir.create(tmp_path / "r", {"search": {}})
    run.history_path.write_bytes(b'{"index": 0, "arch_key": "a0"}\n{"index": 1, "arch')
    with run.writing():
        pass
    assert run.history_path.read_bytes().endswith(b'"arch')  # left for `append` to step over


def test_resume_does_not_evaluate_the_unended_record_again(tmp_path, monkeypatch, capsys):
    csv = write_synthetic_nb201(tmp_path / "bench.csv")
    assert run_app(app, tabular_args(csv, tmp_path / "whole", 12)) == 0
    assert run_app(app, tabular_args(csv, tmp_path / "cut", 8)) == 0
    kept = drop_last_newline(tmp_path / "cut")
    evaluated = []
    real = TabularEstimator.estimate
    monkeypatch.setattr(TabularEstimator, "estimate",
                        lambda self, arch: evaluated.append(arch.key) or real(self, arch))
    assert run_app(app, ["search", "--resume", str(tmp_path / "cut"), "--budget", "12"]) == 0
    assert "will be evaluated again" not in capsys.readouterr().err
    history = (tmp_path / "cut" / "history.jsonl").read_bytes()
    assert history.startswith(kept + b"\n")  # nothing on disk changed but the one newline
    assert history.count(b"\n") == 12  # not 13: candidate 7 is recorded once
    assert by_index(tmp_path / "cut") == by_index(tmp_path / "whole")
    assert len(evaluated) <= 4  # candidates 8-11 only (a repeated architecture is looked up)


def test_a_resume_that_appends_nothing_keeps_the_record_on_the_front(tmp_path, capsys):
    """The same budget again: no append would end the line, and the front written under the
    lock once left the unended record out."""
    csv = write_synthetic_nb201(tmp_path / "bench.csv")
    assert run_app(app, tabular_args(csv, tmp_path / "cut", 6)) == 0
    drop_last_newline(tmp_path / "cut")
    assert run_app(app, ["search", "--resume", str(tmp_path / "cut")]) == 0
    assert json.loads((tmp_path / "cut" / "pareto.json").read_text())["n_points"] == 6
    assert len(RunDir(tmp_path / "cut").history()) == 6
