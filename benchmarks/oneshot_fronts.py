"""One-shot fronts against aging evolution on the embedded default: each gradient method
sweeps its latency weight (one derived architecture per setting, scored by the same scratch
estimator), evolution searches with that estimator, and one `hwnas pareto` comparison gives
every run's hypervolume and wall time.

The table is this machine's: the proxyless space (`--width-mult`, default 0.5: a DARTS step on
the full-width supernet takes ~6 s on one core here, benchmarks/oneshot_steps.py) profiled on
ort-cpu with one thread and calibrated on 30 networks, as `hwnas demo` does. Candidates are
trained as in the demo (2 epochs at 16x16 on 768 digits images); each one-shot method runs
with its own `--preset fast` (its supernet on the same 768 images at 16x16), the options printed
under the table.

    .venv/bin/python benchmarks/oneshot_fronts.py [--out runs/oneshot-fronts]
        [--methods proxyless,fbnet,darts,snas,single_path_nas,ofa] [--evolution-budget 24]
        [--epochs E --warmup W --supernet-images N: override the methods' --preset fast]

Goal (one-shot issue): each one-shot method's front reaches aging evolution's hypervolume in
at most a third of its wall time. Prints a markdown block for BENCHMARKS.md.
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

ESTIMATOR = {"epochs": 2, "resolution": 16, "train_subset": 768, "threads": 1}
EVOLUTION = {"population": 8, "sample_size": 3}
# The knob each method sweeps, around its paper's default (β of ProxylessNAS's mul#log 0.3,
# FBNet's β 0.6; DARTS's and SNAS's λ of the additive term): off, the default's half, the
# default, and four times it. Not tuned on this problem.
SWEEPS = {"proxyless": "lambda=0,0.15,0.3,1.2", "fbnet": "lambda=0,0.3,0.6,2.4",
          "darts": "lambda=0,0.05,0.1,0.4", "snas": "lambda=0,0.05,0.1,0.4",
          "single_path_nas": "lambda=0,0.01,0.02,0.08"}
# Every method runs with its own `--preset fast` (what a user on a CPU is told to run: the
# supernet on 768 images at 16x16, and an architecture learning rate that lets α move in so few
# steps); --epochs, --warmup and --supernet-images override the preset where given.
# Once-for-all has no sweep: one progressive-shrinking training, then a front of three latency
# constraints.


def method_options(method: str, args) -> dict:
    from hwnas.registry import STRATEGIES

    options = {**STRATEGIES.get(method).presets.get("fast", {}), "threads": 1}
    if args.supernet_images is not None:
        options["train_subset"] = args.supernet_images
    if method == "ofa":
        return options
    if args.epochs is not None:
        options["epochs"] = args.epochs
    if args.warmup is not None:
        options["warmup_epochs"] = args.warmup
    return {**options, "sweep": SWEEPS[method]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/oneshot-fronts")
    parser.add_argument("--methods", default=",".join([*SWEEPS, "ofa"]))
    parser.add_argument("--epochs", type=int, default=None,
                        help="supernet epochs per setting (default: the method's --preset fast)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="of which weight-only (default: the preset's)")
    parser.add_argument("--supernet-images", type=int, default=None,
                        help="training images a supernet sees (default: the preset's 768)")
    parser.add_argument("--evolution-budget", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", default=None, help="reuse a calibrated table")
    parser.add_argument("--width-mult", type=float, default=0.5)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from hwnas import api
    from hwnas.searching.config import SearchConfig

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table_path = args.table
    space_config = {"width_mult": args.width_mult}
    if table_path is None:
        start = time.perf_counter()
        table = api.profile("proxyless", space_config, "ort-cpu", threads=1,
                            out=out / "table.json", force=True)  # a fresh one
        api.calibrate_table(table, samples=30)
        table_path = str(table.path)
        print(f"table: {table_path} profiled and calibrated in "
              f"{time.perf_counter() - start:.0f} s", file=sys.stderr)

    runs = []
    walls_path = out / "walls.json"  # finished runs and their wall times: the script resumes
    walls = json.loads(walls_path.read_text()) if walls_path.is_file() else {}

    used: dict[str, dict] = {}

    def run(name: str, strategy: str, options: dict) -> None:
        used[name] = options
        run_dir = out / name
        if name in walls and (run_dir / "history.jsonl").is_file():
            runs.append(run_dir)
            print(f"{name}: done before ({walls[name]:.0f} s)", file=sys.stderr)
            return
        config = SearchConfig(table=table_path, space_config=dict(space_config),
                              strategy=strategy, strategy_options=options,
                              estimator_options=dict(ESTIMATOR), seed=args.seed,
                              run_dir=str(run_dir),
                              budget=args.evolution_budget if strategy == "evolution" else None)
        start = time.perf_counter()
        api.search(config)
        walls[name] = time.perf_counter() - start
        walls_path.write_text(json.dumps(walls))
        runs.append(run_dir)
        print(f"{name}: {walls[name]:.0f} s", file=sys.stderr)

    run("evolution", "evolution", dict(EVOLUTION))
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        run(method, method, method_options(method, args))
    report = api.pareto(runs, write=False, plot=out / "pareto_compare.png")
    hv = {Path(r["run"]).name: r for r in report["runs"]}
    base = hv["evolution"]["hypervolume"]
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; one thread for profiling, training and "
          "supernets.")
    given = "".join(f" --{k.replace('_', '-')} {v}" for k, v in
                    (("epochs", args.epochs), ("warmup", args.warmup),
                     ("supernet_images", args.supernet_images)) if v is not None)
    print(f"Command: `.venv/bin/python benchmarks/oneshot_fronts.py{given} "
          f"--width-mult {args.width_mult} "
          f"--evolution-budget {args.evolution_budget} --methods {args.methods}` "
          f"(seed {args.seed}); table {table_path}.\n")
    print("| run | candidates | front | hypervolume | vs evolution | wall (s) | "
          "wall / evolution's |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in [Path(r).name for r in runs]:
        r = hv[name]
        print(f"| {name} | {r['n_points']} | {r['front_size']} | "
              f"{r['hypervolume']:.4f} | {r['hypervolume'] - base:+.4f} | "
              f"{walls[name]:.0f} | {walls[name] / walls['evolution']:.2f} |")
    for name, options in used.items():
        print(f"- {name}: {json.dumps(options, sort_keys=True)}")
    print("\nHypervolume of each run's distinct candidates, objectives min-max normalised "
          "over all runs shown (reference point 1.1); every candidate scored by the same "
          f"scratch estimator {ESTIMATOR}. Plot: {report['plot']}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
