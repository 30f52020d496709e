"""Seconds per mobo proposal (one ask: the GPs brought up to date, then the acquisition) at
100, 500 and 1,000 observations, with two, three and four objectives, on NAS-Bench-201 ×
HW-NAS-Bench. Prints a markdown table with the machine and the command.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mobo_cost.py
    .venv/bin/python benchmarks/mobo_cost.py --obs 500 --objectives 2 --asks 10 --profile

Observations. A strategy is told `n` results before it is timed: half of the problem's true
front (a seeded draw: a 500-evaluation mobo run finds about half of it, BENCHMARKS.md's league)
and the rest uniformly drawn rows, in a seeded random order. What a step costs depends on the
front's size (the EHVI's boxes: (n_front + 1)^(M - 1) with M objectives) and on how many
training rows the GP holds (capped by `max_train`), which this gives the size of a run's.
Each timed ask is then followed by a tell of its proposal's own result, as in a search, so
`--asks` consecutive asks cover `refit_every` (10) asks' worth of cheap steps and one
hyperparameter refit: the table gives the median ask, the mean (what a run pays on average)
and the slowest (the refit). The strategy is run with its defaults unless `--opt K=V`.

Threads: each setting is measured with one BLAS/OpenMP thread (hwnas.threads.limit_threads,
what the league and `hwnas bench` use) and with the process's default (no limit).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv"
# The league's problem (a), then one more exact device cost at a time.
OBJECTIVES = {
    2: "accuracy:cifar10,latency:pixel3",
    3: "accuracy:cifar10,latency:pixel3,latency:raspi4",
    4: "accuracy:cifar10,latency:pixel3,latency:raspi4,latency:fpga",
}


def observation_rows(problem, n: int, seed: int = 0) -> list[int]:
    """`n` distinct feasible rows: half of the true front (at most n // 2 of it) and uniform
    draws, shuffled (seeded)."""
    rng = np.random.default_rng(seed)
    feasible = np.flatnonzero(np.isfinite(problem.truth.F).all(axis=1))
    front = problem.truth.rows
    k = min(len(front) // 2, n // 2)
    chosen = list(rng.choice(front, size=k, replace=False)) if k else []
    rest = rng.permutation(np.setdiff1d(feasible, chosen))[: n - k]
    rows = np.array([*chosen, *rest], dtype=int)
    return [int(r) for r in rng.permutation(rows)]


def new_strategy(problem, options: dict, seed: int = 0):
    from hwnas.league.runner import ProblemEvaluator
    from hwnas.registry import STRATEGIES

    costs = ProblemEvaluator(problem, {}).cost_model()
    return STRATEGIES.get("mobo")(problem.space, problem.objectives, seed=seed, costs=costs,
                                  **options)


def told(strategy, problem, rows: list[int]) -> None:
    """Tell `rows` as if the strategy had asked for them (its pool marks them handed out)."""
    archs = [problem.table.arch_of(r) for r in rows]
    for arch in archs:
        strategy.pool.hand_out(arch)
    strategy.tell(archs, [problem.result(r) for r in rows])


def time_asks(problem, n_obs: int, asks: int, options: dict) -> list[float]:
    """Seconds of each of `asks` consecutive asks after `n_obs` observations, each proposal's
    result told before the next ask."""
    strategy = new_strategy(problem, options)
    told(strategy, problem, observation_rows(problem, n_obs))
    out = []
    for i in range(asks + 1):  # the first builds the enumeration, once per run: not timed
        start = time.perf_counter()
        archs = strategy.ask(1)
        if i:
            out.append(time.perf_counter() - start)
        strategy.tell(archs, [problem.result(problem.table.row_of(a)) for a in archs])
    return out


def summary(seconds: list[float]) -> dict:
    return {"median": statistics.median(seconds), "mean": statistics.fmean(seconds),
            "max": max(seconds)}


def measure(n_objectives: list[int], n_obs: list[int], asks: int, options: dict,
            threads: list[int | None], benchmark: Path = BENCHMARK) -> list[dict]:
    from hwnas.league.runner import prepare
    from hwnas.threads import limit_threads, preload

    preload()
    rows = []
    for m in n_objectives:
        problem, _, _ = prepare(benchmark, OBJECTIVES[m], methods="mobo")
        for n in n_obs:
            for t in threads:
                with limit_threads(t):
                    s = summary(time_asks(problem, n, asks, options))
                rows.append({"objectives": m, "observations": n, "threads": t, **s})
                print(f"{m} objectives, {n} observations, threads {t or 'default'}: "
                      f"median {s['median']:.3f} s, mean {s['mean']:.3f} s, "
                      f"max {s['max']:.3f} s", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| objectives | observations | threads | median s/ask | mean s/ask | slowest s |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['objectives']} | {r['observations']} | "
                     f"{r['threads'] or 'default'} | {r['median']:.3f} | {r['mean']:.3f} | "
                     f"{r['max']:.3f} |")
    return "\n".join(lines)


def profile(m: int, n: int, asks: int, options: dict, benchmark: Path = BENCHMARK) -> None:
    """cProfile of the timed asks (one thread), top functions by cumulative time."""
    import cProfile
    import pstats

    from hwnas.league.runner import prepare
    from hwnas.threads import limit_threads, preload

    preload()
    problem, _, _ = prepare(benchmark, OBJECTIVES[m], methods="mobo")
    with limit_threads(1):
        prof = cProfile.Profile()
        prof.enable()
        time_asks(problem, n, asks, options)
        prof.disable()
    pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(30)


def parse_opts(pairs: list[str]) -> dict:
    out: dict = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        for cast in (int, float):
            try:
                out[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            out[key] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", type=Path, default=BENCHMARK)
    parser.add_argument("--objectives", default="2,3,4", help="numbers of objectives")
    parser.add_argument("--obs", default="100,500,1000", help="observations told first")
    parser.add_argument("--asks", type=int, default=10, help="timed asks per setting")
    parser.add_argument("--threads", default="1,default",
                        help="BLAS/OpenMP thread limits to measure ('default': no limit)")
    parser.add_argument("--opt", action="append", default=[], help="mobo option K=V")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the first setting instead (one thread)")
    args = parser.parse_args()
    ms = [int(v) for v in args.objectives.split(",")]
    ns = [int(v) for v in args.obs.split(",")]
    threads = [None if v == "default" else int(v) for v in args.threads.split(",")]
    options = parse_opts(args.opt)
    if args.profile:
        profile(ms[0], ns[0], args.asks, options, args.benchmark)
        return
    rows = measure(ms, ns, args.asks, options, threads, args.benchmark)
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    env = os.environ.get("OMP_NUM_THREADS")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{platform.platform()}; {dt.date.today().isoformat()}.")
    print(f"Command: `{'OMP_NUM_THREADS=' + env + ' ' if env else ''}{command}`")
    print("Problems: " + "; ".join(f"{m} objectives = {OBJECTIVES[m]}" for m in ms)
          + f"; {args.asks} consecutive asks per row; options: {options or 'defaults'}.\n")
    print(table(rows))


if __name__ == "__main__":
    main()
