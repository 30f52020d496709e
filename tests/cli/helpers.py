"""Run the real entry point (`python cli.py ...`) in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def hwnas(*args: str, cwd: Path | None = None, timeout: float = 600,
          columns: int = 200) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": str(columns), "OMP_NUM_THREADS": "1"}
    env.pop("HWNAS_DEBUG", None)
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=env, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr and "\n" not in err, proc.stderr
    assert err.startswith("hwnas: error:"), err
    for needle in needles:
        assert needle in err, (needle, err)
    return err
