"""Run the CLI in a forked child with a time limit.

A command that hangs (reading a FIFO blocks for ever) cannot be stopped in-process, and a
subprocess pays a second of imports per run: hundreds of hostile cases would take minutes. A
fork of the test process starts in milliseconds with hwnas, torch and numpy already imported,
and is killed when it runs past its limit.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HANG = -1  # the exit code reported for a child killed at its time limit


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    seconds: float


def run_forked(argv: list[str], cwd: Path, timeout: float = 60.0) -> Outcome:
    """`hwnas ARGV` run in `cwd` by `run_app` in a forked child; its exit code, stdout and
    stderr. A child still running after `timeout` seconds is killed: code HANG."""
    from hwnas.cli import app
    from hwnas.cli.errors import run_app

    out_path, err_path = cwd.parent / f".{cwd.name}.out", cwd.parent / f".{cwd.name}.err"
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.chdir(cwd)
            sys.stdout = open(out_path, "w", encoding="utf-8")  # noqa: SIM115 - until _exit
            sys.stderr = open(err_path, "w", encoding="utf-8")  # noqa: SIM115
            os.environ.pop("HWNAS_DEBUG", None)
            code = run_app(app, [str(a) for a in argv])
        except BaseException as exc:  # noqa: BLE001 - what escaped run_app is the finding
            print(f"escaped run_app: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 70)
    code = HANG
    while time.monotonic() - start < timeout:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    seconds = time.monotonic() - start
    out = out_path.read_text(errors="replace") if out_path.exists() else ""
    err = err_path.read_text(errors="replace") if err_path.exists() else ""
    out_path.unlink(missing_ok=True)
    err_path.unlink(missing_ok=True)
    return Outcome(code, out, err, seconds)
