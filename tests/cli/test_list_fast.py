"""Issue 38: `hwnas list` took 2.5-7 s because it probed every backend (importing torch and
running an onnxruntime session). Only `hwnas list backends` probes now; `hwnas list` and
`hwnas list KIND` import neither runtime. Checked by the modules a fresh process loaded, not
by a wall-clock time, which a loaded machine would make flaky (benchmarks/startup.py times
them)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.helpers import ROOT, hwnas

RUNTIMES = ("torch", "onnxruntime")
# The command in a fresh process, then which runtimes it left in sys.modules (on stderr).
PROBE = ("import sys\nfrom hwnas.cli import app\nfrom hwnas.cli.errors import run_app\n"
         "code = run_app(app, sys.argv[1:])\n"
         f"print(sorted(m for m in {RUNTIMES!r} if m in sys.modules), file=sys.stderr)\n"
         "sys.exit(code)")


def runtimes_loaded(*argv: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
                                          "PATH": "/usr/bin:/bin"}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1].replace("'", '"'))


@pytest.mark.parametrize("argv", [("list",), ("list", "strategies"), ("list", "spaces"),
                                  ("list", "--json")])
def test_list_imports_no_runtime(argv):
    assert runtimes_loaded(*argv) == []


def test_list_names_the_backends_and_where_to_probe_them():
    proc = hwnas("list")
    assert proc.returncode == 0, proc.stderr
    assert "torch-cpu" in proc.stdout and "ort-cpu" in proc.stdout
    assert "hwnas list backends" in proc.stdout
    listed = json.loads(hwnas("list", "--json").stdout)["backends"]
    assert listed["torch-cpu"]["summary"].startswith("Eager PyTorch")
    assert "available" not in listed["torch-cpu"]  # not probed


def test_list_backends_probes_them():
    assert "torch" in runtimes_loaded("list", "backends")
    listed = json.loads(hwnas("list", "backends", "--json").stdout)["backends"]
    # torch is installed here, so torch-cpu runs; a GPU backend says why it does or not
    assert listed["torch-cpu"] == {"summary": "available", "available": True}
    assert isinstance(listed["torch-cuda"]["available"], bool)
