"""Every command the README shows, run as written on this machine and timed.

The README states each command's time beside it; this script is where those times come from.
It runs the commands in the order a newcomer would (profile, calibrate, validate, search,
inspect, train, export, the one-shot and tabular examples, bench, demo) in a scratch folder,
with the README's own arguments; where the README writes a placeholder (TABLE, runs/<run>, a
pick such as "latency_ms<=3") the script fills in what the earlier commands produced: the
table just profiled, the run just searched, a latency limit between the front's cheapest and
dearest network (the README's 3 ms is for its own machine).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/readme_commands.py --out /tmp/readme-cmds
    ... --only list,search-evolution        # a few, by name (later ones need earlier outputs)

Prints one markdown row per command (name, the command, exit code, seconds) and writes them
to OUT/times.json. A command that fails is reported with its last stderr line; the rest go on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HWNAS = str(ROOT / ".venv" / "bin" / "hwnas")
BENCH_CSV = str((ROOT / ".." / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv").resolve())
TABLE = "latency_tables/this-machine/proxyless-ort-cpu.json"
EVO = "runs/evolution"


def commands(pick: str) -> list[tuple[str, list[str]]]:
    """(name, argv) in README order; `pick` is a --pick expression the front can satisfy."""
    return [
        ("list", ["list"]),
        ("list-strategies-evolution", ["list", "strategies", "evolution"]),
        ("version", ["--version"]),
        ("profile", ["profile", "--space", "proxyless", "--backend", "ort-cpu", "-o", TABLE]),
        ("calibrate", ["tables", "calibrate", TABLE, "--samples", "60"]),
        ("validate", ["tables", "validate", TABLE, "--samples", "100"]),
        ("search-evolution", ["search", "--table", TABLE, "--method", "evolution", "--budget",
                              "60", "--strategy-opt", "population=20", "--strategy-opt",
                              "sample_size=5", "--preset", "fast", "--run-dir", EVO]),
        ("pareto", ["pareto", EVO]),
        ("pareto-query", ["pareto", EVO, "--where", "accuracy>=0.5", "--sort", "accuracy:desc",
                          "--top", "5", "--csv", "front.csv", "--pick", pick]),
        ("runs", ["runs", "runs/"]),
        ("runs-show", ["runs", "show", EVO]),
        ("train", ["train", EVO, "--pick", pick]),
        ("export-dry-run", ["export", EVO, "--pick", pick, "--dry-run"]),
        ("export", ["export", EVO, "--pick", pick, "-o", "model.onnx"]),
        ("search-proxyless-sweep", ["search", "--table", TABLE, "--method", "proxyless",
                                    "--sweep", "lambda=0,0.15,0.3,1.2", "--preset", "fast",
                                    "--run-dir", "runs/proxyless"]),
        ("search-darts-target", ["search", "--table", TABLE, "--method", "darts",
                                 "--target-ms", "TARGET", "--preset", "fast", "--run-dir",
                                 "runs/darts"]),
        ("search-tabular", ["search", "--space", "nb201", "--estimator", "tabular",
                            "--estimator-opt", f"benchmark={BENCH_CSV}", "--objectives",
                            "accuracy,latency:pixel3", "--method", "evolution", "--budget",
                            "200", "--run-dir", "runs/tabular"]),
        ("bench", ["bench", "--benchmark", BENCH_CSV, "--objectives",
                   "accuracy:cifar10,latency:pixel3", "--budget", "500", "--seeds", "10"]),
        ("report", ["report", EVO, "runs/proxyless", "-o", "report.html"]),
        ("demo", ["demo"]),
    ]


def front_pick(out: Path) -> tuple[str, str]:
    """A --pick between the evolution front's cheapest and dearest latency, and a darts target
    inside the table's range (the README's 3 ms and 2.5 ms are for its own machine)."""
    front = json.loads((out / EVO / "pareto.json").read_text())["front"]
    lat = sorted(p["latency_ms"] if "latency_ms" in p else p["result"]["latency_ms"]
                 for p in front)
    mid = lat[len(lat) // 2]
    return f"latency_ms<={mid:.3g}", f"{mid:.3g}"


def run_one(name: str, argv: list[str], out: Path) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([HWNAS, *argv], cwd=out, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    last = (proc.stderr.strip().splitlines() or [""])[-1][:160]
    return {"name": name, "command": "hwnas " + shlex.join(argv), "rc": proc.returncode,
            "seconds": round(seconds, 1), "last_stderr": last if proc.returncode else ""}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="scratch folder (created; reused if there)")
    ap.add_argument("--only", default=None, help="comma-separated command names")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = None if args.only is None else set(args.only.split(","))
    rows = []
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {when}")
    print("| command | rc | seconds |\n|---|---|---|")
    pick, target = "latency_ms<=3", "2.5"
    for name, command in commands(pick):
        if only is not None and name not in only:
            continue
        if (out / EVO / "pareto.json").is_file():
            pick, target = front_pick(out)
        command = [pick if a == "latency_ms<=3" else target if a == "TARGET" else a
                   for a in command]
        row = run_one(name, command, out)
        rows.append(row)
        note = f" ({row['last_stderr']})" if row["rc"] else ""
        print(f"| `{row['command']}` | {row['rc']}{note} | {row['seconds']} |", flush=True)
        (out / "times.json").write_text(json.dumps(rows, indent=1))
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
