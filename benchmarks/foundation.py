"""Foundation benchmark: profiling time and size per CPU backend, `hwnas demo` wall time, and the
exported model's measured vs predicted latency. Prints a markdown block for BENCHMARKS.md.

    .venv/bin/python benchmarks/foundation.py [--write-tables] [--threads 1]

Run it on an otherwise idle machine: the numbers are wall-clock times.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def hwnas(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"hwnas {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def profile_backends(out_dir: str | None, threads: int) -> list[dict]:
    """Profile the default space on each CPU backend. Tables go to `out_dir` (the committed
    ones under latency_tables/ are only replaced when it is asked for explicitly)."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for backend in ("torch-cpu", "ort-cpu"):
            args = ["--out", str(Path(scratch) / f"{backend}.json")] if out_dir is None else []
            start = time.perf_counter()
            out = json.loads(hwnas("profile", "--backend", backend, "--threads", str(threads),
                                   *args, "--json").stdout)
            seconds = time.perf_counter() - start
            path = Path(out["path"])
            rows.append({"backend": backend, "entries": out["entries"], "seconds": seconds,
                         "bytes": path.stat().st_size, "sum_p50_ms": out["sum_p50_ms"],
                         "path": str(path) if out_dir is not None else "(temporary)"})
    return rows


def run_demo() -> tuple[float, dict]:
    with tempfile.TemporaryDirectory(dir=ROOT / "runs" if (ROOT / "runs").exists() else None) \
            as tmp:
        start = time.perf_counter()
        hwnas("demo", "--out", str(Path(tmp) / "demo"))
        seconds = time.perf_counter() - start
        report = next((Path(tmp) / "demo" / "search" / "exports").glob("*.json"))
        return seconds, json.loads(report.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-tables", action="store_true",
                        help="write the tables under latency_tables/ (replacing committed ones)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rows = profile_backends("latency_tables" if args.write_tables else None, args.threads)
    demo_seconds, export = run_demo()
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}")
    print("\n| backend | ops | profiling time (s) | table size (KiB) | sum of p50 (ms) | table |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['entries']} | {r['seconds']:.1f} | {r['bytes'] / 1024:.1f} "
              f"| {r['sum_p50_ms']:.2f} | `{r['path']}` |")
    m = export["measured_ms"]
    print(f"\n`hwnas demo` wall time (including start-up): {demo_seconds:.0f} s")
    print(f"exported knee model {export['arch_key']}: measured on {export['measured_backend']} "
          f"p50 {m['p50']:.3f} ms (p90 {m['p90']:.3f}, n={m['n']}), table predicted "
          f"{export['predicted_ms']:.3f} ms ({100 * export['prediction_error']:+.1f}%), "
          f"ONNX vs PyTorch max |diff| {export['max_abs_diff']:.2e}")


if __name__ == "__main__":
    main()
