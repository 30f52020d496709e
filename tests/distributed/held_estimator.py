"""A test plug-in: the tabular estimator, with hooks a test uses to lose a Ray worker
mid-candidate or to fail a candidate on purpose. Registered when imported; Ray workers import
it through HWNAS_PLUGINS=tests.distributed.held_estimator (the fixture's job environment).

Every attempt appends "ARCH_KEY PID" to `marker_dir`/attempts.log. The first architecture any
process is given becomes the target (`marker_dir`/target, created exclusively): with
`hold_first`, each attempt at it writes `marker_dir`/held-PID and waits until the test creates
`marker_dir`/release (the test kills that pid meanwhile); with `fail_first` it raises.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from hwnas.estimators.tabular import TabularEstimator
from hwnas.options import Option
from hwnas.registry import ESTIMATORS

NAME = "test-held"
# A test that never releases fails on its assertions, it does not hang; longer than the tests
# wait for a worker to be held or killed (test_ray_evaluator.WAIT_S) on a loaded machine.
HOLD_LIMIT_S = 600.0


def target_of(marker_dir: Path, key: str) -> str:
    """The target architecture's key: the first one written wins, in any process."""
    path = marker_dir / "target"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        for _ in range(100):  # the winner may not have written it yet
            text = path.read_text()
            if text:
                return text
            time.sleep(0.01)
        return path.read_text()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


if NAME not in ESTIMATORS.names():
    @ESTIMATORS.register(NAME)
    class HeldEstimator(TabularEstimator):
        """`tabular`, plus the hooks of the module docstring."""

        option_specs = {**TabularEstimator.option_specs,
                        "marker_dir": Option(None, str, none_ok=True),
                        "hold_first": Option(False, bool),
                        "fail_first": Option(False, bool)}

        def estimate(self, arch):
            opts = self.options
            marks = Path(opts["marker_dir"])
            with open(marks / "attempts.log", "a") as fh:
                fh.write(f"{arch.key} {os.getpid()}\n")
            if target_of(marks, arch.key) == arch.key:
                if opts["fail_first"]:
                    raise ValueError(f"injected failure of {arch.key}")
                if opts["hold_first"]:
                    (marks / f"held-{os.getpid()}").write_text(arch.key)
                    deadline = time.monotonic() + HOLD_LIMIT_S
                    while not (marks / "release").exists() and time.monotonic() < deadline:
                        time.sleep(0.02)
            return super().estimate(arch)
