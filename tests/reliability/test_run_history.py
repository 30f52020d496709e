"""A run's history: readers never write, unreadable lines are reported and left in place, the
writer never glues a record onto a torn one, one writer per run, and a resume evaluates again
exactly the candidates whose records cannot be read."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hwnas.api.resume import replay_plan
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.errors import RunLockedError
from hwnas.runs import RunDir
from tests.cli.helpers import ROOT
from tests.tabular_helpers import write_synthetic_nb201


def record(i: int, key: str | None = None) -> dict:
    return {"index": i, "arch_key": key or f"a{i}", "result": {"accuracy": i / 10}}


def write_lines(run: RunDir, lines: list[bytes]) -> bytes:
    data = b"".join(lines)
    run.history_path.write_bytes(data)
    return data


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def run(tmp_path):
    return RunDir.create(tmp_path / "r", {"search": {}})


def line(rec: dict) -> bytes:
    return (json.dumps(rec) + "\n").encode()


def test_a_corrupt_line_is_reported_and_left_in_place(run):
    write_lines(run, [line(record(0)), line(record(1)), b'{"index": 2, "arch_k\xff\n',
                      line(record(3))])
    before = digest(run.history_path)
    read = run.read_history()
    assert [r["index"] for r in read.records] == [0, 1, 3]
    assert read.problems == ["history.jsonl line 3 is not a candidate record; left in place"]
    for _ in range(2):  # reading again (as `hwnas pareto` twice did) changes nothing
        run.history()
    assert digest(run.history_path) == before


def test_a_torn_tail_is_reported_kept_and_not_glued_onto(run):
    write_lines(run, [line(record(0)), b'{"index": 1, "arch_key": "a1", "res'])
    read = run.read_history()
    assert [r["index"] for r in read.records] == [0]
    assert read.problems == ["history.jsonl line 2 is incomplete (torn by a crash); left in "
                             "place"]
    run.append(record(1))
    data = run.history_path.read_bytes()
    assert b'"res\n' in data  # the fragment is still there, on a line of its own
    read = RunDir(run.path).read_history()
    assert [r["index"] for r in read.records] == [0, 1]
    assert read.problems == ["history.jsonl line 2 is not a candidate record; left in place"]


def test_a_whole_last_record_without_its_newline_counts(run):
    """The run that lost half its records: the next append started on the same line."""
    write_lines(run, [line(record(0)), line(record(1)).rstrip(b"\n")])
    assert [r["index"] for r in run.history()] == [0, 1]
    RunDir(run.path).append(record(2))
    read = run.read_history()
    assert [r["index"] for r in read.records] == [0, 1, 2] and not read.problems


def test_a_record_being_written_is_skipped_silently_while_the_writer_holds_the_lock(run):
    write_lines(run, [line(record(0)), b'{"index": 1, "arch_'])
    with run.writing():
        read = RunDir(run.path).read_history()
        assert [r["index"] for r in read.records] == [0] and not read.problems
    assert RunDir(run.path).read_history().problems  # writer gone: a torn tail


def test_replay_plan_fills_gaps_and_keeps_the_first_of_a_duplicate(run):
    write_lines(run, [line(record(0)), b"garbage\n", line(record(2)), line(record(1)),
                      line(record(2, "other")), line(record(4))])
    replay, notes = replay_plan(run.read_history())
    assert [r.arch_key if r else None for r in replay] == ["a0", "a1", "a2", None, "a4"]
    text = " | ".join(notes)
    assert "line 2 is not a candidate record" in text
    assert "candidate 2 twice" in text
    assert "candidate(s) 3 will be evaluated again" in text
    assert "resuming after candidate 4" in text


def test_a_second_writer_is_refused_naming_the_holder(run):
    with run.writing():
        with pytest.raises(RunLockedError, match=rf"pid {os.getpid()} on "):
            with RunDir(run.path).writing():
                pass
        assert RunDir(run.path).being_written()
    assert not RunDir(run.path).being_written()
    with RunDir(run.path).writing():  # released: taken again
        pass


def test_the_lock_of_a_killed_process_is_stale(run):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from hwnas.runs import RunDir\n"
         "with RunDir(sys.argv[1]).writing():\n print('held', flush=True); time.sleep(60)",
         str(run.path)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=rf"pid {holder.pid} "):
            with run.writing():
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with run.writing():  # the kernel dropped the dead process's lock
        assert run.lock_path.read_text().startswith(f"pid {os.getpid()} ")


def tabular_args(csv, run_dir, budget: int, method: str = "evolution") -> list[str]:
    return ["search", "--space", "nb201", "--estimator", "tabular",
            "--estimator-opt", f"benchmark={csv}", "--estimator-opt", "costs=latency:pixel3",
            "--objectives", "accuracy,latency:pixel3", "--method", method, "--seed", "3",
            "--budget", str(budget), "--run-dir", str(run_dir)]


def by_index(run_dir) -> dict[int, tuple]:
    out: dict[int, tuple] = {}
    for rec in RunDir(run_dir).history():
        assert rec["index"] not in out, f"candidate {rec['index']} recorded twice"
        result = {k: v for k, v in rec["result"].items() if k != "eval_seconds"}  # a timing
        out[rec["index"]] = (rec["arch_key"], json.dumps(result, sort_keys=True))
    return out


def test_resume_reevaluates_only_the_unreadable_candidate(tmp_path, capsys):
    csv = write_synthetic_nb201(tmp_path / "bench.csv")
    assert run_app(app, tabular_args(csv, tmp_path / "whole", 12)) == 0
    assert run_app(app, tabular_args(csv, tmp_path / "hurt", 12)) == 0
    history = tmp_path / "hurt" / "history.jsonl"
    lines = history.read_bytes().splitlines(keepends=True)
    lines[4] = b'{"index": 4, "arch_key": "#garbled#\n'
    history.write_bytes(b"".join(lines[:9]))  # candidates 9-11 lost, 4 garbled
    capsys.readouterr()
    assert run_app(app, ["search", "--resume", str(tmp_path / "hurt")]) == 0
    err = capsys.readouterr().err
    assert "line 5 is not a candidate record; left in place" in err
    assert "candidate(s) 4 will be evaluated again" in err
    assert by_index(tmp_path / "hurt") == by_index(tmp_path / "whole")
    assert b"#garbled#" in history.read_bytes()  # left in place
    before = digest(history)
    assert run_app(app, ["pareto", str(tmp_path / "hurt")]) == 0  # a reader says so too
    assert "hurt: history.jsonl line 5 is not a candidate record; left in place" in \
        capsys.readouterr().out
    assert digest(history) == before


def test_resume_refused_while_the_run_is_being_written(tmp_path, capsys):
    csv = write_synthetic_nb201(tmp_path / "bench.csv")
    run_dir = tmp_path / "live"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "HWNAS_PLUGINS": "tests.reliability.paced_evaluator"}
    writer = subprocess.Popen([sys.executable, str(ROOT / "cli.py"),
                               *tabular_args(csv, run_dir, 200), "--evaluator", "test-paced",
                               "--evaluator-opt", "pause=0.2"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not RunDir(run_dir).history() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert RunDir(run_dir).being_written()
        capsys.readouterr()
        assert run_app(app, ["search", "--resume", str(run_dir)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"hwnas: error: run {run_dir} is being written by pid "
                              f"{writer.pid} "), err
        assert "\n" not in err
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()


def test_pareto_refuses_runs_of_other_objectives_and_a_bad_plot_in_one_line(tmp_path, capsys):
    csv = write_synthetic_nb201(tmp_path / "bench.csv")
    assert run_app(app, tabular_args(csv, tmp_path / "a", 4)) == 0
    other = tabular_args(csv, tmp_path / "b", 4)
    other[other.index("accuracy,latency:pixel3")] = "accuracy,params"
    assert run_app(app, other) == 0
    history = tmp_path / "b" / "history.jsonl"  # as a run that never measured pixel3 would be
    records = [json.loads(x) for x in history.read_text().splitlines()]
    for rec in records:
        rec["result"].pop("latency:pixel3", None)
    history.write_text("".join(json.dumps(rec) + "\n" for rec in records))
    capsys.readouterr()
    assert run_app(app, ["pareto", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip()
    assert "did not record latency:pixel3 (its objectives: accuracy, params)" in err
    assert "--objectives" in err and "\n" not in err
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert run_app(app, ["pareto", str(tmp_path / "a"), "--plot", str(tmp_path / "x.txt")]) == 2
    assert "--plot" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "config.json").write_text("{not json")
    assert run_app(app, ["pareto", str(tmp_path / "corrupt")]) == 2
    assert "internal error" not in capsys.readouterr().err
