"""Choose aging evolution's defaults (population, sample size) on tuning problems only.

The league reports on five NAS-Bench-201 × HW-NAS-Bench problems (benchmarks/league.py). The
defaults must not be tuned on those, so this grid runs on three other problems — other
(dataset, device) pairs of the same benchmark — and ranks each (population, sample) setting by
its mean hypervolume ratio over the three (10 seeds, 500 evaluations). The setting kept as the
default is then reported, untouched, on the league's problems.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/evolution_defaults.py
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
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
POPULATIONS = (20, 50, 100)
SAMPLE_SHARES = (0.1, 0.25, 0.5, 1.0)  # sample size as a share of the population


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=500)
    args = parser.parse_args()
    rows = []
    for pop, share in itertools.product(POPULATIONS, SAMPLE_SHARES):
        sample = max(2, round(pop * share))
        opts = [f"evolution:population={pop}", f"evolution:sample_size={sample}"]
        scores, start = {}, time.perf_counter()
        for key, objectives in TUNING.items():
            problem, names, options = prepare(BENCHMARK, objectives, methods="evolution",
                                              strategy_opts=opts)
            result = bench(problem, names, args.seeds, args.budget, options=options)
            scores[key] = result["methods"]["evolution"]["hv_ratio"]
        mean = statistics.fmean(s["mean"] if isinstance(s, dict) else s for s in scores.values())
        rows.append((mean, pop, sample, scores, time.perf_counter() - start))
        print(f"population {pop:3d} sample {sample:3d}: mean HV ratio {mean:.4f}", flush=True)
    rows.sort(key=lambda r: -r[0])
    print(f"\n{args.seeds} seeds x {args.budget} evaluations; problems: "
          + "; ".join(f"{k} = {v}" for k, v in TUNING.items()) + "\n")
    print("| population | sample | " + " | ".join(TUNING) + " | mean |")
    print("|---|---|" + "---|" * (len(TUNING) + 1))
    for mean, pop, sample, scores, _ in rows:
        cells = " | ".join(_fmt(scores[k]) for k in TUNING)
        print(f"| {pop} | {sample} | {cells} | {mean:.4f} |")


def _fmt(score) -> str:
    if isinstance(score, dict):
        return f"{score['mean']:.4f} ± {score['std']:.4f}"
    return f"{score:.4f}"


if __name__ == "__main__":
    main()
