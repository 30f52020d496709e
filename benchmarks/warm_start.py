"""Warm start (issue 31, item 4): does a search told an earlier run's candidates reach 99% of
the true front's hypervolume in fewer NEW evaluations than the same search started cold?

Problem (a) of the league: NB201 x HW-NAS-Bench, CIFAR-10 accuracy x Pixel 3 latency, every
run through the one search loop with the benchmark as a lookup (as `hwnas bench` runs it).
Per seed s (0..seeds-1):

* earlier runs, unconstrained: random search and aging evolution, `--old-budget` evaluations,
  seed 100 + s (another seed than the new run's);
* new runs, seed s, `--budget` evaluations: each method cold, and warm from each earlier run
  (its records judged under the new run's limits, hwnas.api.warm_start.rejudge, and passed to
  the loop as `hwnas search --warm-start` does);
* two problems for the new run: unconstrained, and `--constraint latency:pixel3<=T` with T the
  10th percentile of the space's Pixel 3 latencies (scored against the true feasible front).

A run's HV after n new evaluations counts the earlier run's records it was told as known from
the start (they are in the warm run's front, `hwnas pareto`), never as evaluations. Reported:
new evaluations to 99% HV (mean over the seeds that reach it within the budget, and how many
do), HV ratio after 50 and 100 new evaluations, and the HV ratio of the warm records alone.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/warm_start.py      # about 2 minutes
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.api.warm_start import rejudge  # noqa: E402
from hwnas.core.feasibility import ruled_out  # noqa: E402
from hwnas.league.metrics import hv_trajectory  # noqa: E402
from hwnas.league.runner import BenchProblem, ProblemEvaluator, machine, prepare  # noqa: E402
from hwnas.objectives import Constraint  # noqa: E402
from hwnas.registry import STRATEGIES  # noqa: E402
from hwnas.searching.constraints import Limits  # noqa: E402
from hwnas.searching.loop import run_loop  # noqa: E402
from hwnas.threads import limit_threads, preload  # noqa: E402

DEFAULT_BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv"
OBJECTIVES = "accuracy:cifar10,latency:pixel3"
LATENCY = "latency:pixel3"
TARGET = 0.99
AT = (50, 100)  # new evaluations at which the HV ratio is reported


def search(problem: BenchProblem, method: str, seed: int, budget: int, cache: dict,
           warm=()) -> tuple[list[int], list]:
    """One run: (rows evaluated, in order; (arch, result) of every evaluated candidate)."""
    evaluator = ProblemEvaluator(problem, cache)
    costs = evaluator.cost_model()
    strategy = STRATEGIES.get(method)(problem.space, problem.objectives, seed=seed, costs=costs,
                                      constraints=problem.constraints)
    rows, told = [], []

    def on_candidate(c) -> None:
        if not ruled_out(c.result):  # a ruled-out proposal is no evaluation (as the league)
            rows.append(problem.row(c.arch, cache))
            told.append((c.arch, c.result))

    run_loop(strategy, evaluator, budget, name=method, on_candidate=on_candidate,
             limits=Limits(problem.constraints, costs), warm=warm)
    return rows, told


def scores(problem: BenchProblem, warm_rows: list[int], rows: list[int]) -> dict:
    """New evaluations to TARGET (None: not within the run) and the HV ratio at AT."""
    hv = hv_trajectory(problem.truth, [*warm_rows, *rows])
    w = len(warm_rows)

    def after(n: int) -> float:
        return float(hv[w + min(n, len(rows)) - 1]) if w + min(n, len(rows)) else 0.0

    reach = next((n for n in range(len(rows) + 1) if after(n) >= TARGET - 1e-12), None)
    return {"to_99": reach, "start": after(0), **{f"at_{n}": after(n) for n in AT}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--old-budget", type=int, default=100)
    parser.add_argument("--methods", default="evolution,nsga2")
    parser.add_argument("--sources", default="random,evolution")
    args = parser.parse_args()
    command = " ".join(["OMP_NUM_THREADS=1 .venv/bin/python benchmarks/warm_start.py",
                        *map(shlex.quote, sys.argv[1:])])
    started = time.perf_counter()
    free, _, _ = prepare(args.benchmark, OBJECTIVES, methods="random")
    latencies = np.asarray(free.table.objective_values(LATENCY), dtype=float)
    limit = float(np.percentile(latencies[np.isfinite(latencies)], 10))
    tight = BenchProblem.build(free.space, free.table, free.objectives,
                               [Constraint(LATENCY, "<=", limit)])
    problems = {"unconstrained": free, f"{LATENCY}<={limit:.4g}": tight}
    methods, sources = args.methods.split(","), args.sources.split(",")
    cache: dict = {}
    results: dict = {}  # (problem, method, start) -> [scores per seed]
    preload()
    with limit_threads():
        for seed in range(args.seeds):
            old = {src: search(free, src, 100 + seed, args.old_budget, cache)[1]
                   for src in sources}
            for pname, problem in problems.items():
                limits = Limits(problem.constraints, ProblemEvaluator(problem, cache)
                                .cost_model())
                for method in methods:
                    rows, _ = search(problem, method, seed, args.budget, cache)
                    results.setdefault((pname, method, "cold"), []).append(
                        scores(problem, [], rows))
                    for src in sources:
                        warm = [(a, r) for a, r in ((a, rejudge(a, r, limits))
                                                    for a, r in unique(old[src]))
                                if r is not None]
                        warm_rows = [problem.row(a, cache) for a, r in warm if not ruled_out(r)]
                        rows, _ = search(problem, method, seed, args.budget, cache, warm)
                        results.setdefault((pname, method, f"warm from {src}"), []).append(
                            scores(problem, warm_rows, rows))
    elapsed = time.perf_counter() - started
    print(report(results, args, command, elapsed))


def unique(told: list) -> list:
    seen, out = set(), []
    for arch, result in told:
        if arch.key not in seen:
            seen.add(arch.key)
            out.append((arch, result))
    return out


def report(results: dict, args, command: str, elapsed: float) -> str:
    """The markdown table. New evaluations to 99%: a seed that does not get there within the
    budget counts as the budget (so the mean is a lower bound, marked >=); `fewer than cold`
    compares each seed's warm run with the same seed's cold run (never reached: infinite)."""
    m = machine()
    lines = [f"Command: `{command}`; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
             f"{m['processor']}, {m['cpus']} cores (shared); {elapsed:.0f} s.", "",
             f"| problem | method | start | new evals to 99% HV (seeds reaching) | fewer than "
             f"cold (seeds) | HV at {AT[0]} new | HV at {AT[1]} new | HV of the warm records "
             "alone |", "|---|---|---|---|---|---|---|---|"]
    for (pname, method, start), runs in results.items():
        to = [r["to_99"] if r["to_99"] is not None else args.budget for r in runs]
        reached = sum(r["to_99"] is not None for r in runs)
        mark = ">= " if reached < len(runs) else ""
        cold = results[(pname, method, "cold")]
        fewer = sum(_fewer(w, c) for w, c in zip(runs, cold, strict=True))
        wins = "—" if start == "cold" else f"{fewer}/{len(runs)}"
        cells = [f"{np.mean([r[f'at_{n}'] for r in runs]):.4f} ± "
                 f"{np.std([r[f'at_{n}'] for r in runs]):.4f}" for n in AT]
        alone = "—" if start == "cold" else f"{np.mean([r['start'] for r in runs]):.4f}"
        lines.append(f"| {pname} | {method} | {start} | {mark}{np.mean(to):.0f} "
                     f"({reached}/{len(runs)}) | {wins} | {' | '.join(cells)} | {alone} |")
    return "\n".join(lines)


def _fewer(warm: dict, cold: dict) -> bool:
    inf = float("inf")
    w = inf if warm["to_99"] is None else warm["to_99"]
    c = inf if cold["to_99"] is None else cold["to_99"]
    return w < c


if __name__ == "__main__":
    main()
