"""The canon's spaces on this machine: for each, its latency table (profiled, calibrated and
validated on ort-cpu) and one aging-evolution search on digits, whose front is compared with
evolution on the proxyless space at equal wall time.

    .venv/bin/python benchmarks/spaces_canon.py [--out runs/spaces-canon] [--budget 16]
        [--spaces nasnet,darts,...] [--table SPACE=PATH ...] [--samples 30]

Every search is `hwnas search --method evolution --preset fast` (2 epochs, 768 images at
16x16: what `hwnas demo` runs) with population 8 and sample size 3, objectives accuracy and the
table's latency. The proxyless baseline runs twice the budget; for each space, its
candidates evaluated within that space's search time (the sum of `wall_seconds` of the
history) are its front "at equal wall time". Hypervolume over (1 - accuracy, latency / L),
reference (1, 1), with L 1.1 x the largest latency any run saw: one scale for all.

`--table SPACE=PATH` reuses a table (profiled and calibrated on this machine earlier) instead
of profiling again; it is still validated here. A second invocation into the same --out reuses
the tables, validations and searches it finds there (delete a space's files to redo it).
Prints a markdown block for BENCHMARKS.md.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HWNAS = str(ROOT / ".venv" / "bin" / "hwnas")

# Each space at 16x16 and a size that trains in seconds per candidate on one core (the
# proxyless space as the demo runs it; the hierarchical space below its paper's 6 motifs,
# whose candidates took ~29 s each here).
SPACES = {
    "proxyless": ["resolution=16", "width_mult=0.5"],
    "nasnet": ["B=5", "N=1", "F=8", "resolution=16"],
    "darts": ["C=8", "layers=5", "resolution=16"],
    "hierarchical": ["C=8", "N=1", "resolution=16", "motifs=3", "motif_nodes=4",
                     "cell_nodes=4"],
    "mnasnet": ["resolution=16", "width_mult=0.5"],
    "examples/spaces/tiny_chain.yaml": [],
    "examples/spaces/mbconv_choices.py:build_model": ["resolution=16"],
}
SEARCH = ["--method", "evolution", "--preset", "fast", "--strategy-opt", "population=8",
          "--strategy-opt", "sample_size=3", "--estimator-opt", "threads=1",
          "--objectives", "accuracy,latency_ms"]


def run(args: list[str], log: Path) -> float:
    """One hwnas command, its output in `log`; its wall time in seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run([HWNAS, *args], cwd=ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT, check=False)
    if proc.returncode:
        raise SystemExit(f"`hwnas {' '.join(args)}` failed (exit {proc.returncode}); see {log}")
    return time.perf_counter() - start


def space_args(space: str) -> list[str]:
    return ["--space", space, *(a for opt in SPACES[space] for a in ("--space-opt", opt))]


def slug(space: str) -> str:
    return Path(space.split(":")[0]).stem


def table_for(space: str, out: Path, given: dict, samples: int) -> dict:
    name = slug(space)
    done = out / f"{name}.done.json"
    if done.exists():  # measured by an earlier invocation into the same --out
        return json.loads(done.read_text())
    info: dict = {}
    if space in given:
        calibrated = Path(given[space])
        info["table"] = f"reused {calibrated}"
    else:
        raw, calibrated = out / f"{name}.json", out / f"{name}-cal.json"
        info["profile_s"] = run(["profile", *space_args(space), "--backend", "ort-cpu",
                                 "--threads", "1", "-o", str(raw)], out / f"{name}.profile.log")
        info["ops"] = len(json.loads(raw.read_text())["entries"])
        info["calibrate_s"] = run(["tables", "calibrate", str(raw), "--samples", str(samples),
                                   "--out", str(calibrated)], out / f"{name}.calibrate.log")
    report = out / f"{name}.validation.json"
    info["validate_s"] = run(["tables", "validate", str(calibrated), "--samples", str(samples),
                              "--seed", "7", "--out", str(report)], out / f"{name}.validate.log")
    metrics = json.loads(report.read_text())["metrics"]
    ceiling = metrics.get("noise_ceiling") or {}
    info.update(table=str(calibrated), within_10=metrics["within_10"],
                tau=metrics["kendall_tau"], tau_remeasured=ceiling.get("tau_remeasured"))
    done.write_text(json.dumps(info))
    return info


def search(space: str, table: str, out: Path, budget: int) -> Path:
    run_dir = out / "runs" / slug(space)
    if (run_dir / "history.jsonl").exists() and len(history(run_dir)) >= budget:
        return run_dir  # searched by an earlier invocation into the same --out
    run(["search", *space_args(space), "--table", table, *SEARCH, "--budget", str(budget),
         "--run-dir", str(run_dir)], out / f"{slug(space)}.search.log")
    return run_dir


def history(run_dir: Path) -> list[dict]:
    lines = (run_dir / "history.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def points(records: list[dict]) -> np.ndarray:
    ok = [r["result"] for r in records
          if "accuracy" in (r.get("result") or {}) and "latency_ms" in r["result"]]
    return np.array([[1 - r["accuracy"], r["latency_ms"]] for r in ok])


def hypervolume(pts: np.ndarray, scale: float) -> float:
    from pymoo.indicators.hv import HV

    if not len(pts):
        return 0.0
    normal = pts / np.array([1.0, scale])
    return float(HV(ref_point=np.array([1.0, 1.0]))(normal[(normal < 1).all(axis=1)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "spaces-canon")
    parser.add_argument("--spaces", default=",".join(s for s in SPACES if s != "proxyless"))
    parser.add_argument("--budget", type=int, default=16)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--table", action="append", default=[], metavar="SPACE=PATH")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    given = dict(t.split("=", 1) for t in args.table)
    spaces = ["proxyless", *(s for s in args.spaces.split(",") if s and s != "proxyless")]
    rows = {}
    for space in spaces:
        info = table_for(space, args.out, given, args.samples)
        budget = 2 * args.budget if space == "proxyless" else args.budget
        records = history(search(space, info["table"], args.out, budget))
        info["search_s"] = sum(r.get("wall_seconds") or 0 for r in records)
        info["records"] = records
        rows[space] = info
        print(f"{space}: done", file=sys.stderr, flush=True)
    every = np.vstack([points(r["records"]) for r in rows.values() if len(points(r["records"]))])
    scale = 1.1 * float(every[:, 1].max())
    base = rows["proxyless"]["records"]
    print(f"Machine: {platform.node()} ({os.cpu_count()} cores), ort-cpu, one thread; "
          f"`benchmarks/spaces_canon.py --budget {args.budget} --samples {args.samples}`.\n")
    print("| space | options | ops | profile + calibrate (s) | validated ±10% / τ (re-measured τ) "
          "| evolution: candidates, wall (s) | best accuracy | HV | proxyless HV at equal wall "
          "time (candidates) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for space, info in rows.items():
        mine = points(info["records"])
        elapsed, prefix = 0.0, []
        for r in base:
            elapsed += r.get("wall_seconds") or 0
            if elapsed > info["search_s"]:
                break
            prefix.append(r)
        made = (f"{info.get('profile_s', 0):.0f} + {info.get('calibrate_s', 0):.0f}"
                if "profile_s" in info else "reused")
        tau_re = info["tau_remeasured"]
        print(f"| {space} | {' '.join(SPACES[space]) or 'the file'} | {info.get('ops', '-')} | "
              f"{made} | {100 * info['within_10']:.0f}% / {info['tau']:.2f} "
              f"({tau_re if tau_re is None else f'{tau_re:.2f}'}) | {len(info['records'])}, "
              f"{info['search_s']:.0f} | {1 - mine[:, 0].min():.3f} | "
              f"{hypervolume(mine, scale):.3f} | "
              f"{hypervolume(points(prefix), scale):.3f} ({len(prefix)}) |")


if __name__ == "__main__":
    main()
