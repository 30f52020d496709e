"""Choose a strategy's defaults on tuning problems only, never on the league's.

The league (benchmarks/league.py) reports on five NAS-Bench-201 × HW-NAS-Bench problems, (a)-(e).
A default chosen by looking at them would flatter the strategy there, so settings are ranked
here on three other (dataset, device) pairs of the same benchmark, T1-T3, by the mean
hypervolume ratio over the three (10 seeds, 500 evaluations, scored as the league scores).
The setting kept is then reported, untouched, by the league.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune_defaults.py reinforce \\
        --grid reward=weighted,mnasnet --grid controller_lr=6e-4,3e-3

Each `--grid KEY=V1,V2,...` adds an option axis; every combination is one setting (the
strategy's current defaults fill the rest). benchmarks/evolution_defaults.py is this grid for
aging evolution's population and sample size.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.league.runner import bench, prepare  # noqa: E402

BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv"
# Disjoint from benchmarks/league.py's PROBLEMS (a-e): tuning happens here, reporting there.
TUNING = {
    "T1": "accuracy:imagenet16,latency:fpga",
    "T2": "accuracy:cifar100,latency:pixel3",
    "T3": "accuracy:cifar10,latency:edgegpu",
}


def score_setting(method: str, setting: dict, seeds: int, budget: int) -> dict:
    """{problem: {"hv_ratio": {mean, std}, "evals_to_99": ...}} of one setting on T1-T3,
    plus "mean" (the mean HV ratio over the problems) and "wall_s"."""
    opts = [f"{method}:{key}={value}" for key, value in setting.items()]
    out, start = {}, time.perf_counter()
    for key, objectives in TUNING.items():
        problem, names, options = prepare(BENCHMARK, objectives, methods=method,
                                          strategy_opts=opts)
        result = bench(problem, names, seeds, budget, options=options)
        out[key] = result["methods"][method]
    out["mean"] = statistics.fmean(out[k]["hv_ratio"]["mean"] for k in TUNING)
    out["wall_s"] = time.perf_counter() - start
    return out


def run_grid(method: str, settings: Sequence[dict], seeds: int, budget: int) -> list:
    """Every setting scored, best mean first; prints a Markdown table."""
    rows = []
    for setting in settings:
        scores = score_setting(method, setting, seeds, budget)
        rows.append((setting, scores))
        print(f"{_label(setting)}: mean HV ratio {scores['mean']:.4f} "
              f"({scores['wall_s']:.0f} s)", flush=True)
    rows.sort(key=lambda r: -r[1]["mean"])
    keys = list(settings[0]) if settings else []
    baseline = score_setting("random", {}, seeds, budget) if method != "random" else None
    print(f"\n{method}: {seeds} seeds x {budget} evaluations; problems: "
          + "; ".join(f"{k} = {v}" for k, v in TUNING.items()) + "\n")
    print("| " + " | ".join(keys) + " | " + " | ".join(TUNING) + " | mean |")
    print("|" + "---|" * (len(keys) + len(TUNING) + 1))
    for setting, scores in rows:
        cells = " | ".join(_fmt(scores[k]["hv_ratio"]) for k in TUNING)
        print("| " + " | ".join(str(setting[k]) for k in keys) + f" | {cells} | "
              f"{scores['mean']:.4f} |")
    if baseline is not None:  # what "better than random" means on these problems
        cells = " | ".join(_fmt(baseline[k]["hv_ratio"]) for k in TUNING)
        print("| " + " | ".join(["(random search)"] + [""] * (len(keys) - 1))
              + f" | {cells} | {baseline['mean']:.4f} |")
    return rows


def parse_grid(items: Sequence[str]) -> list[dict]:
    axes = []
    for item in items:
        key, eq, values = item.partition("=")
        if not eq or not key or not values:
            raise SystemExit(f"--grid {item!r} must be KEY=V1,V2,...")
        axes.append([(key, v) for v in values.split(",")])
    return [dict(combo) for combo in itertools.product(*axes)] or [{}]


def _label(setting: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in setting.items()) or "defaults"


def _fmt(score: dict) -> str:
    return f"{score['mean']:.4f} ± {score['std']:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=500)
    args = parser.parse_args()
    run_grid(args.method, parse_grid(args.grid), args.seeds, args.budget)


if __name__ == "__main__":
    main()
