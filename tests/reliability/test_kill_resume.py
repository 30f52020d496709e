"""SIGKILL a search at a random point of every sample-based strategy while readers (`pareto`,
the history reader) run beside it; the resumed run must equal the uninterrupted one: no
candidate lost, none duplicated, none re-evaluated, and no reader ever changed a byte."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest

from hwnas.api import pareto
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.errors import HwnasError
from hwnas.league.runner import sample_based_methods
from hwnas.runs import RunDir
from tests.cli.helpers import ROOT
from tests.reliability.test_run_history import by_index, tabular_args
from tests.tabular_helpers import write_synthetic_nb201

BUDGET = 14
# Seconds before each candidate. The whole run must outlast the test's polling when both cores
# are busy (make test runs two workers): at 0.08 s (1.1 s a run) the writer once finished all
# 14 candidates before the kill came.
PAUSE = 0.2


@pytest.fixture(scope="module")
def bench_csv(tmp_path_factory):
    return write_synthetic_nb201(tmp_path_factory.mktemp("bench") / "bench.csv")


class Readers(threading.Thread):
    """Reads the live run over and over as users would: the front, and the raw bytes (each
    snapshot must be a prefix of what the writer ends with: nothing rewritten)."""

    def __init__(self, run_dir):
        super().__init__(daemon=True)
        self.run_dir, self.stop, self.snapshots, self.reads = run_dir, threading.Event(), [], 0

    def run(self):
        history = self.run_dir / "history.jsonl"
        while not self.stop.is_set():
            if history.is_file():
                self.snapshots.append(history.read_bytes())
                RunDir(self.run_dir).read_history()
                try:
                    pareto([self.run_dir])
                    self.reads += 1
                except HwnasError:
                    pass  # no candidate yet
            time.sleep(0.01)


@pytest.mark.parametrize("method", sample_based_methods())
def test_killed_search_resumes_to_the_uninterrupted_history(tmp_path, bench_csv, method):
    rng = np.random.default_rng(zlib.crc32(method.encode()))  # kill points fixed per method
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert run_app(app, tabular_args(bench_csv, whole, BUDGET, method)) == 0

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "HWNAS_PLUGINS": "tests.reliability.paced_evaluator"}
    env.pop("HWNAS_DEBUG", None)
    writer = subprocess.Popen([sys.executable, str(ROOT / "cli.py"),
                               *tabular_args(bench_csv, killed, BUDGET, method),
                               "--evaluator", "test-paced", "--evaluator-opt", f"pause={PAUSE}"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    readers = Readers(killed)
    readers.start()
    kill_after = int(rng.integers(2, BUDGET - 2))  # records on disk when the kill comes
    try:
        deadline = time.monotonic() + 120
        while len(RunDir(killed).history()) < kill_after and writer.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0, PAUSE)))  # mid-candidate, or mid-append
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        readers.stop.set()
        readers.join()
    written = len(RunDir(killed).history())
    assert 0 < written < BUDGET, (written, writer.stderr.read().decode())
    assert readers.reads > 0  # the front was read while the search ran

    final_before_resume = (killed / "history.jsonl").read_bytes()
    assert all(final_before_resume.startswith(s) for s in readers.snapshots)

    import tests.reliability.paced_evaluator  # noqa: F401 - the resumed run's evaluator
    assert run_app(app, ["search", "--resume", str(killed)]) == 0
    assert (killed / "history.jsonl").read_bytes().startswith(final_before_resume)
    assert by_index(killed) == by_index(whole)  # raises on a duplicated index
    records = RunDir(killed).history()
    assert len(records) == BUDGET
    # the resume appended exactly the missing candidates, in order: none evaluated twice
    assert [r["index"] for r in records[written:]] == list(range(written, BUDGET))
