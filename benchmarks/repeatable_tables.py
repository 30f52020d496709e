"""The latency-repeatability issue's protocol, with the README's commands and their defaults:
profile a space on a backend (statistic and threads chosen by measuring the machine),
calibrate once, then validate `--validations` times, `--gap-min` minutes apart, on `--samples`
held-out networks each (seed 0 every time: the same networks, so the validations differ only
by when they ran).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/repeatable_tables.py \
        [--space proxyless] [--backend ort-cpu] [--validations 3] [--gap-min 20] \
        [--samples 100] [--neighbour bursty] [--out DIR]

`--neighbour bursty` keeps a second process competing for the other core for the whole
protocol, the one `benchmarks/statistic_repeatability.py` uses (two-threaded matrix products
for 0.2-2 s, then idle 0.2-2 s). `DIR/status` says what runs now ("validating 2" or
"waiting until HH:MM"), so other work can be kept off the machine while it measures. Every
command's JSON output is kept in DIR; a markdown block for BENCHMARKS.md is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.statistic_repeatability import NEIGHBOURS  # noqa: E402


def hwnas(out: Path, name: str, *args: str) -> dict:
    """Run `hwnas ARGS --json`; its JSON kept as DIR/NAME.json."""
    start = time.time()
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args, "--json"], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"hwnas {' '.join(args)} failed ({proc.returncode}): "
                         f"{proc.stderr.strip()[-2000:]}")
    result = json.loads(proc.stdout)
    result["_seconds"] = time.time() - start
    result["_started"] = time.strftime("%H:%M", time.gmtime(start))
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    return result


def status(out: Path, text: str) -> None:
    (out / "status").write_text(text + "\n")
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {text}", flush=True)


def row(i: int, r: dict) -> str:
    m = r["metrics"]
    c = m.get("noise_ceiling") or {}
    v = m["verdict"]
    return (f"| {i} | {r['_started']} | {100 * m['within_10']:.0f}% | {m['kendall_tau']:.3f} | "
            f"{100 * m['mape']:.1f}% | {100 * c.get('within_10_predicted', float('nan')):.0f}% "
            f"vs {100 * c.get('within_10_remeasured', float('nan')):.0f}% | "
            f"{c.get('tau_predicted', float('nan')):.2f} vs "
            f"{c.get('tau_remeasured', float('nan')):.2f} | {v.get('level')} ({v.get('limit')}) "
            f"| {r['_seconds']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="proxyless")
    parser.add_argument("--backend", default="ort-cpu")
    parser.add_argument("--validations", type=int, default=3)
    parser.add_argument("--gap-min", type=float, default=20.0)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--neighbour", choices=tuple(NEIGHBOURS), default=None)
    parser.add_argument("--out", type=Path, default=Path("/tmp/hwnas-repeatable"))
    args = parser.parse_args()
    out = args.out / f"{args.space}-{args.backend}" \
        f"{'-' + args.neighbour if args.neighbour else ''}"
    out.mkdir(parents=True, exist_ok=True)
    table = out / "table.json"
    neighbour = None
    if args.neighbour:
        env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
        neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOURS[args.neighbour]],
                                     env=env)
    try:
        status(out, "profiling")
        profiled = hwnas(out, "profile", "profile", "--space", args.space, "--backend",
                         args.backend, "-o", str(table), "--force")
        status(out, f"profiled in {profiled['_seconds']:.0f} s: {profiled['machine']['line']}")
        fitted = hwnas(out, "calibrate", "tables", "calibrate", str(table))
        status(out, f"calibrated in {fitted['_seconds']:.0f} s: "
                    f"{fitted['kept']['verdict']['line']}")
        reports, start = [], time.time()
        for i in range(1, args.validations + 1):
            if i > 1:
                until = start + 60 * args.gap_min
                status(out, f"waiting until {time.strftime('%H:%M', time.gmtime(until))}")
                time.sleep(max(0.0, until - time.time()))
            start = time.time()
            status(out, f"validating {i}")
            reports.append(hwnas(out, f"validate{i}", "tables", "validate", str(table),
                                 "--samples", str(args.samples)))
            status(out, f"validation {i}: {reports[-1]['metrics']['verdict']['line']}")
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    status(out, "done")
    print(f"\n{args.space} on {args.backend}"
          f"{', neighbour ' + args.neighbour if args.neighbour else ', no neighbour'}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"`{' '.join(sys.argv)}`")
    print(f"profile: {profiled['machine']['line']} ({profiled['_seconds']:.0f} s); "
          f"calibrate: {fitted['kept']['why']} ({fitted['_seconds']:.0f} s)\n")
    print("| validation | started (UTC) | within ±10% | Kendall τ | MAPE | table vs machine "
          "within ±10% (same networks) | τ table vs machine | verdict (limit) | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(reports, 1):
        print(row(i, r))


if __name__ == "__main__":
    main()
