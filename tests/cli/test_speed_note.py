"""Issue 38: the machine-speed note of a search is said once per run, at its start, only when
the run holds a latency limit the speed change moves, with advice a drifting machine can follow
(the limit that means ms at this speed), never `hwnas tables calibrate`.

In-process through `run_app`: a made-up NB201 table with a reference workload timed "on this
machine" (the device fingerprint of its ort-cpu backend), looked-up accuracies from a
synthetic benchmark, and the reference's time now set by hand (40% faster): no timing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwnas.cli import app
from hwnas.cli.errors import run_app
from tests.tabular_helpers import write_synthetic_nb201

REFERENCE_MS = 0.2


def run(capsys, *argv) -> tuple[int, str, str]:
    code = run_app(app, [str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    from hwnas.registry import SPACES
    from hwnas.tables.profile import make_backend

    root = tmp_path_factory.mktemp("speed")
    space = SPACES.get("nb201")(num_classes=10)
    ops = space.all_ops()
    stats = {"p50": 0.1, "p90": 0.12, "mean": 0.11, "std": 0.01, "n": 30}
    raw = {"schema": 1, "units": "ms", "backend": "ort-cpu",
           "device": make_backend("ort-cpu", threads=1).fingerprint(), "batch": 1,
           "dtype": "fp32", "threads": 1, "space": {"name": "nb201", "config": space.config()},
           "entries": {s.key: {**stats, "p50": 0.05 + 0.01 * i} for i, s in enumerate(ops)},
           "reference": {"key": ops[0].key, "op": ops[0].to_dict(), "ms": REFERENCE_MS}}
    (root / "t.json").write_text(json.dumps(raw))
    return root / "t.json", write_synthetic_nb201(root / "synthetic.csv")


@pytest.fixture
def timed(monkeypatch) -> list:
    """The reference workload's time now: 40% faster than when the table was measured."""
    from hwnas.tables import reference

    calls = []
    monkeypatch.setattr(reference, "quick_reference_ms",
                        lambda *a, **k: calls.append(1) or REFERENCE_MS * 0.6)
    return calls


def search(setup, run_dir, *strategy) -> list:
    table, benchmark = setup
    return ["search", "--space", "nb201", "--table", table, "--estimator", "tabular",
            "--estimator-opt", f"benchmark={benchmark}", "--objectives", "accuracy,latency_ms",
            "--budget", "2", "--run-dir", run_dir, "--json", *strategy]


def speed_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "the machine runs" in line]


def test_a_limit_gets_the_note_once_with_the_limit_that_means_ms_now(setup, timed, tmp_path,
                                                                    capsys):
    limit = ("--method", "evolution", "--strategy-opt", "fitness=mnasnet", "--target-ms", "3")
    code, _, err = run(capsys, *search(setup, tmp_path / "r", *limit))
    assert code == 0, err
    [line] = speed_lines(err)
    assert line.startswith("hwnas: note: the machine runs 40% faster than when ")
    assert "--target-ms 3 is held against the table's predictions" in line
    assert "a network at 3 ms takes about 1.8 ms here now" in line
    assert "pass --target-ms 5 instead" in line
    assert "calibrate" not in line and "warning" not in line
    # the resume goes on with the same limit at the same table speed: nothing new to say
    code, _, err = run(capsys, "search", "--resume", tmp_path / "r", "--budget", "3", "--json")
    assert code == 0, err
    assert speed_lines(err) == [] and len(timed) == 1


def test_no_limit_no_note_and_nothing_timed(setup, timed, tmp_path, capsys):
    code, _, err = run(capsys, *search(setup, tmp_path / "r", "--method", "random"))
    assert code == 0, err
    assert speed_lines(err) == [] and timed == []
