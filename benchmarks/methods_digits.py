"""Every registered search method through `hwnas search` on the embedded default (digits), one
`hwnas pareto` comparison: hypervolume at the same budget and wall time per method.

The table is this machine's: the proxyless space at width 0.5 profiled on ort-cpu with one
thread and calibrated on 30 networks. Every candidate is scored by the same scratch estimator
(`--preset fast`: 2 epochs on 768 images at 16x16, one thread). Sample-based methods get
`--budget` candidates with population-type options scaled to it; one-shot methods sweep two
latency weights (off, and their paper's default) with small supernets; ENAS and SPOS propose
their `top` candidates. Hypervolumes use the runs' stored reference (hwnas pareto), so each
number is the run's own, not relative to its company.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/methods_digits.py [--budget 10]
        [--methods random,evolution,...] [--out runs/methods-digits]

Prints a markdown block for BENCHMARKS.md. Resumes: finished runs are kept (walls.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SUPERNET = {"epochs": 2, "warmup_epochs": 1, "resolution": 16, "train_subset": 384,
            "threads": 1}
SHARED = {"epochs": 2, "resolution": 16, "train_subset": 384, "threads": 1, "top": 3}


def method_options(method: str, budget: int) -> tuple[dict, int | None]:
    """(strategy options, budget) for `method`: sizes scaled to the budget, nothing tuned."""
    half = max(2, budget // 2)
    sample_based = {
        "evolution": {"population": half, "sample_size": max(2, half // 4)},
        "nsga2": {"population": half},
        # two objectives: n_partitions + 1 Das-Dennis directions, one per individual
        "nsga3": {"population": half, "n_partitions": half - 1},
        "pnas": {"n_init": half, "k": max(2, half // 2)},
        "dppnet": {"n_init": half, "k": max(2, half // 2)},
        "mobo": {"n_init": half}, "metaqnn": {"budget": budget},
    }
    sweeps = {"proxyless": "lambda=0,0.3", "fbnet": "lambda=0,0.6", "darts": "lambda=0,0.1",
              "snas": "lambda=0,0.1"}
    if method in sweeps:
        return {**SUPERNET, "sweep": sweeps[method]}, None
    if method == "enas":
        return {**SHARED, "controller_steps": 10, "final_samples": 8}, SHARED["top"]
    if method == "spos":
        return {**SHARED, "population": 8, "iterations": 3, "parents": 3}, SHARED["top"]
    return sample_based.get(method, {}), budget


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/methods-digits")
    parser.add_argument("--methods", default=None, help="comma-separated (default: all)")
    parser.add_argument("--budget", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from hwnas import api
    from hwnas.api.presets import preset_values
    from hwnas.registry import ESTIMATORS, STRATEGIES
    from hwnas.searching.config import SearchConfig

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    space_config = {"width_mult": 0.5}
    table_path = out / "table.json"
    if not table_path.is_file():
        table = api.profile("proxyless", space_config, "ort-cpu", threads=1, out=table_path)
        api.calibrate_table(table, samples=30)
    methods = (args.methods.split(",") if args.methods else STRATEGIES.names())
    estimator = {**preset_values(ESTIMATORS.get("scratch"), "fast"), "threads": 1}
    walls_path = out / "walls.json"
    walls = json.loads(walls_path.read_text()) if walls_path.is_file() else {}
    runs, failed = [], {}
    for method in methods:
        run_dir = out / method
        if method in walls and (run_dir / "history.jsonl").is_file():
            runs.append(run_dir)
            continue
        options, budget = method_options(method, args.budget)
        config = SearchConfig(table=str(table_path), space_config=dict(space_config),
                              strategy=method, strategy_options=options,
                              estimator_options=dict(estimator), seed=args.seed,
                              run_dir=str(run_dir), budget=budget)
        start = time.perf_counter()
        try:
            api.search(config)
        except Exception as exc:  # noqa: BLE001 - a method that cannot run is reported, not fatal
            failed[method] = f"{type(exc).__name__}: {exc}"
            print(f"{method}: FAILED {failed[method]}", file=sys.stderr, flush=True)
            continue
        walls[method] = time.perf_counter() - start
        walls_path.write_text(json.dumps(walls))
        runs.append(run_dir)
        print(f"{method}: {walls[method]:.0f} s", file=sys.stderr, flush=True)
    report = api.pareto(runs, write=False)
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; one thread for profiling and training.")
    print(f"Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/methods_digits.py "
          f"--budget {args.budget}` (seed {args.seed}); table {table_path}; estimator "
          f"scratch {estimator}.\n")
    print("| method | candidates | front | hypervolume | wall (s) | s per candidate |")
    print("|---|---:|---:|---:|---:|---:|")
    for entry in sorted(report["runs"], key=lambda e: -e["hypervolume"]):
        name = Path(entry["run"]).name
        print(f"| {name} | {entry['n_points']} | {entry['front_size']} | "
              f"{entry['hypervolume']:.4f} | {walls[name]:.0f} | "
              f"{walls[name] / max(1, entry['n_points']):.1f} |")
    for method, reason in failed.items():
        print(f"| {method} | failed: {reason} | | | | |")
    reference = report.get("reference", {})
    print(f"\nHypervolume reference: {json.dumps(reference, default=str)[:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
