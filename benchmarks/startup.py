"""Startup time of the light commands: `hwnas --help`, `hwnas list [KIND]`, `import hwnas`.

Each command runs as a fresh subprocess (what a user pays at the prompt), `--repeats` times
after one untimed warm-up run that fills the OS file cache; OMP/MKL/OpenBLAS threads are capped
to 1 so that thread-pool start-up does not vary with the core count. Prints a markdown table
(median and every run, seconds) for BENCHMARKS.md. Goals: `hwnas --help`, `hwnas list` and
`hwnas list KIND` under 0.5 s; only `hwnas list backends` probes the backends (it imports torch
and runs an onnxruntime session), so it is timed apart.

    .venv/bin/python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def commands() -> list[tuple[str, list[str]]]:
    """(label, argv); the console script next to this interpreter, as a user would run it."""
    script = Path(sys.executable).with_name("hwnas")
    hwnas = [str(script)] if script.exists() else [sys.executable, str(ROOT / "cli.py")]
    return [("hwnas --help", [*hwnas, "--help"]),
            ("hwnas list", [*hwnas, "list"]),
            ("hwnas list strategies", [*hwnas, "list", "strategies"]),
            ("hwnas list backends (probes torch and onnxruntime)", [*hwnas, "list", "backends"]),
            ('python -c "import hwnas"', [sys.executable, "-c", "import hwnas"])]


def wall_times(argv: list[str], repeats: int) -> list[float]:
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
        if i:  # the first run only warms the file cache
            times.append(elapsed)
    return times


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{model}, {cores} cores usable, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}; {', '.join(THREAD_VARS)}=1; {args.repeats} runs after a "
          "warm-up, wall time of a fresh process\n")
    print("| command | median (s) | runs (s) |")
    print("|---|---:|---|")
    for label, argv in commands():
        times = wall_times(argv, args.repeats)
        runs = " ".join(f"{t:.3f}" for t in times)
        print(f"| `{label}` | {statistics.median(times):.3f} | {runs} |", flush=True)


if __name__ == "__main__":
    main()
