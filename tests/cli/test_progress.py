"""Progress that tells the truth (issue 14, "Progress"): in a pipe, plain lines with done/total,
elapsed and ETA while the work runs (not one line at the end); the bench counts evaluations;
a refused input prints its one line and no bar, on a real terminal too."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import ROOT, hwnas
from tests.tabular_helpers import write_synthetic_nb201

LINE = re.compile(r"(\d+)/(\d+) \(\d+%\) elapsed \d+:\d\d:\d\d ETA (\d+:\d\d:\d\d|done|\?)")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return write_synthetic_nb201(tmp_path_factory.mktemp("progress") / "synthetic.csv")


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "OMP_NUM_THREADS": "1",
           **extra}
    env.pop("HWNAS_DEBUG", None)
    return env


def test_a_search_in_a_pipe_reports_every_candidate_with_an_eta(synthetic, tmp_path):
    budget = 4
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "search", "--space", "nb201", "--estimator",
         "tabular", "--estimator-opt", f"benchmark={synthetic}", "--estimator-opt",
         "costs=latency:pixel3", "--objectives", "accuracy,latency:pixel3", "--method",
         "random", "--budget", str(budget), "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env=_env(HWNAS_PROGRESS_SECONDS="0"))  # every candidate: the test's loop is fast
    assert proc.returncode == 0, proc.stderr
    lines = [m for m in map(LINE.search, proc.stderr.splitlines()) if m]
    assert [int(m.group(1)) for m in lines] == list(range(1, budget + 1)), proc.stderr
    assert all(int(m.group(2)) == budget for m in lines)
    assert re.fullmatch(r"\d+:\d\d:\d\d", lines[1].group(3))  # a time once a rate is known
    assert lines[-1].group(3) == "done"
    bars = [x for x in (proc.stdout + proc.stderr).splitlines()
            if x.startswith("search (random)") and "━" in x]
    assert not bars, bars  # no rich bar drawn into the log


def test_plain_lines_are_at_most_one_per_interval_and_the_last_always():
    from hwnas.cli.progress import ProgressDisplay

    out = io.StringIO()
    with ProgressDisplay(console=None, plain=True, stream=out, interval=3600) as bar:
        task = bar.add_task("work", total=50, info="")
        for _ in range(50):
            bar.update(task, advance=1)
    lines = out.getvalue().splitlines()
    assert [LINE.search(x).group(1) for x in lines] == ["1", "50"]
    # a step that is not the last, after the interval, prints; a field-only update does not
    out = io.StringIO()
    with ProgressDisplay(console=None, plain=True, stream=out, interval=0) as bar:
        task = bar.add_task("work", total=3, info="")
        bar.update(task, info="a note from the strategy")
        bar.update(task, advance=1)
        bar.update(task, advance=1)
    assert [LINE.search(x).group(1) for x in out.getvalue().splitlines()] == ["1", "2"]


def test_the_bench_counts_evaluations_not_runs(synthetic, tmp_path):
    """2 runs of 3 evaluations: the bar goes 1/6 ... 6/6, one line per evaluation in a pipe
    (it went 1/2, 2/2: runs, whatever each one cost)."""
    env = _env(HWNAS_PROGRESS_SECONDS="0")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "bench", "--benchmark", str(synthetic),
         "--methods", "random", "--budget", "3", "--seeds", "2", "--out",
         str(tmp_path / "cli")], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    counts = [(int(m.group(1)), int(m.group(2)))
              for m in map(LINE.search, proc.stderr.splitlines()) if m]
    assert counts == [(n, 6) for n in range(1, 7)], proc.stderr


def _on_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run the command with stdout and stderr on a pseudo-terminal, as a user's shell does:
    the case where rich draws its bar at once."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *args], cwd=cwd,
                            stdout=follower, stderr=follower, stdin=subprocess.DEVNULL,
                            env=_env(TERM="xterm-256color"))
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("args", [
    ("search", "--table", "missing.json", "--budget", "2", "--run-dir", "run"),
    ("tables", "validate", "missing.json", "--samples", "2"),
])
def test_a_refused_input_prints_no_bar_on_a_terminal(tmp_path, args):
    code, output = _on_a_terminal(*args, cwd=tmp_path)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output).strip()  # terminal control codes
    assert code == 2, output
    assert "missing.json" in text and "hwnas: error:" in text, text
    assert "━" not in text and not re.search(r"\b0/(\?|\d)", text), text  # no bar above
    assert not (tmp_path / "run").exists()


def test_bad_input_in_a_pipe_is_one_line_too(tmp_path):
    proc = hwnas("search", "--table", str(tmp_path / "missing.json"), "--budget", "2",
                 "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stdout == ""
