"""Evaluations spent on rows missing a device cost, and the HV ratio, per strategy.

On NAS-Bench-201 × HW-NAS-Bench some device costs are missing for most networks (the edge GPU
for 13,626 of 15,625 rows, the edge TPU for 13,885: the network could not be compiled or run
there). This runs every sample-based strategy (or `--methods`) on such problems through
`hwnas bench`'s API and prints, per problem and method, the mean over seeds of: the HV ratio,
the evaluations spent on rows without every objective ("infeasible evals"), the proposals the
loop ruled out unevaluated, and the draws the strategy itself discarded before proposing.

Run it in two checkouts (this one, and e.g. `git archive HEAD | tar -x -C /tmp/before` with
this script copied in) to compare a change; it reads only what both have.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/missing_costs.py --budget 100 --seeds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.league.metrics import run_metrics  # noqa: E402
from hwnas.league.runner import prepare, run_recorded  # noqa: E402

DEFAULT_BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv"
PROBLEMS = ("accuracy:imagenet16,latency:edgegpu", "accuracy:cifar10,latency:edgetpu")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default=str(DEFAULT_BENCHMARK))
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    parser.add_argument("--methods", default=None)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print("| problem | method | HV ratio | infeasible evals | ruled out | discarded | s/run |")
    print("|---|---|---|---|---|---|---|")
    for objectives in args.problems:
        problem, names, options = prepare(args.benchmark, objectives, methods=args.methods)
        values = problem.truth.F if problem.values is None else problem.values
        feasible = np.isfinite(values).all(axis=1)
        cache: dict = {}
        for method in names:
            hv, bad, out, dropped, wall = [], [], [], [], []
            for seed in range(args.seeds):
                start = time.perf_counter()
                record = run_recorded(problem, method, seed, args.budget,
                                      options=options.get(method), cache=cache)
                wall.append(time.perf_counter() - start)
                hv.append(run_metrics(problem.truth, record.rows, 10, args.budget)["hv_ratio"])
                bad.append(sum(not feasible[r] for r in record.rows))
                out.append(record.ruled_out)
                dropped.append(record.discarded)
            print(f"| {objectives} | {method} | {np.mean(hv):.4f} ± {np.std(hv):.4f} | "
                  f"{np.mean(bad):.1f} | {np.mean(out):.1f} | {np.mean(dropped):.1f} | "
                  f"{np.mean(wall):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
