"""Where along the true front do the scalar-reward controllers spend their evaluations?

`reinforce` and `metaqnn` learn from one scalar reward per candidate; the league scores the
hypervolume of everything evaluated, which rewards covering the whole front. This runs each
method on the league's problems (10 seeds, 500 evaluations) and reports, over the second half
of each run (what the learned policy proposes), the share of evaluations whose cost falls in
each third of the true front's cost range (cheap / middle / dear), beyond its dearest point,
and the share of the true front's cells found in each third.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/controller_coverage.py --problems ab
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from league import DEFAULT_BENCHMARK as BENCHMARK  # noqa: E402
from league import PROBLEMS  # noqa: E402

from hwnas.league.runner import prepare, run_once  # noqa: E402

METHODS = ("random", "evolution", "reinforce", "metaqnn")


def coverage(problem, rows: list[int]) -> dict:
    """Shares of the run's second half per third of the front's cost range (objective 1)."""
    truth = problem.truth
    cost = truth.F[:, 1]  # the first cost objective of a two-objective problem
    front = truth.rows
    lo, hi = float(np.min(cost[front])), float(np.max(cost[front]))
    edges = lo + (hi - lo) * np.array([1 / 3, 2 / 3])
    late = np.asarray(rows[len(rows) // 2:])
    c = cost[late]
    c = c[np.isfinite(c)]
    third = np.digitize(c, edges)  # 0 cheap, 1 middle, 2 dear
    seen = set(int(r) for r in rows)
    front_third = np.digitize(cost[front], edges)
    return {
        "late": [float(np.mean((third == k) & (c <= hi))) for k in range(3)]
        + [float(np.mean(c > hi))],
        "found": [float(np.mean([int(r) in seen for r in front[front_third == k]]))
                  if np.any(front_third == k) else float("nan") for k in range(3)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="ab")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=500)
    args = parser.parse_args()
    pct = lambda v: f"{100 * v:.0f}%"  # noqa: E731
    for key in args.problems:
        title, objectives = PROBLEMS[key]
        print(f"\n({key}) {title}; second half of each run, mean over {args.seeds} seeds\n")
        print("| method | cheap third | middle third | dear third | dearer than the front | "
              "front cells found: cheap / middle / dear |")
        print("|---|---|---|---|---|---|")
        for method in METHODS:
            problem, names, options = prepare(BENCHMARK, objectives, methods=method)
            runs = [coverage(problem, run_once(problem, method, seed, args.budget,
                                               options=options.get(method))[0])
                    for seed in range(args.seeds)]
            late = np.mean([r["late"] for r in runs], axis=0)
            found = np.nanmean([r["found"] for r in runs], axis=0)
            print(f"| {method} | " + " | ".join(pct(v) for v in late) + " | "
                  + " / ".join(pct(v) for v in found) + " |", flush=True)


if __name__ == "__main__":
    main()
