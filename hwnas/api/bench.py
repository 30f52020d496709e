"""`bench`: a league of search strategies × seeds on a tabular benchmark, at one evaluation
budget, scored against the benchmark's true Pareto front (hwnas.league).

Two steps, so a UI can size its progress bar and refuse bad input before drawing anything:
`prepare_bench` checks every input (methods, objectives, strategy options, the benchmark file
and its space) before any run; `run_bench` runs the league and writes results.json, hv.png and
league.md. `bench` does both. The league code (strategies, pymoo, matplotlib) is imported when
called.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnas.fileio import check_output

DEFAULT_OBJECTIVES = "accuracy:cifar10,latency:pixel3"


@dataclass(frozen=True)
class BenchPlan:
    """A checked league: the problem (space, table, objectives, true front), the methods and
    their options."""

    benchmark: str
    problem: Any  # hwnas.league.runner.BenchProblem
    methods: list[str]
    options: dict

    @property
    def space(self) -> str:
        return self.problem.space.name


def prepare_bench(benchmark: str | Path, objectives: str | Sequence[str] = DEFAULT_OBJECTIVES,
                  *, space: str | None = None, methods: str | Sequence[str] | None = None,
                  strategy_opts: Sequence[str] = (), out: str | Path | None = None,
                  constraints: Sequence[str] = ()) -> BenchPlan:
    """Every input checked, cheapest first; `space` defaults to the benchmark's own, `methods`
    to every sample-based strategy, `strategy_opts` are "METHOD:KEY=VALUE" strings, `out` the
    output folder `run_bench` will write (checked here too when given), `constraints` the hard
    limits ('latency:pixel3<=5', as `hwnas search --constraint`) every run honours."""
    from hwnas.league import runner

    if out is not None:
        check_output(out, "--out", folder=True)
    problem, names, options = runner.prepare(benchmark, objectives, space=space,
                                             methods=methods, strategy_opts=strategy_opts,
                                             constraints=constraints)
    return BenchPlan(str(benchmark), problem, names, options)


def run_bench(plan: BenchPlan, *, budget: int = 500, seeds: int = 10, batch: int = 1,
              every: int = 10, out: str | Path | None = None, command: str | None = None,
              progress: Callable[[dict], None] | None = None) -> dict:
    """Run every method with seeds 0..seeds-1 and write the outputs into `out` (default
    runs/bench-<time>); returns the results, with "outputs" naming the files written.

    `progress` gets {"method", "seed", "done", "total", "runs_done", "runs_total"} after each
    evaluation: done/total count evaluations (every run spends `budget`), the work a bar and
    its ETA should follow; `command` is recorded in the results (how to reproduce them)."""
    from hwnas.league import runner

    out = out or default_out()
    check_output(out, "--out", folder=True)  # before the league, not after it
    runs_total = len(plan.methods) * seeds
    total, done, runs_done = runs_total * budget, 0, 0

    def on_run(method: str, seed: int, n: int) -> None:
        nonlocal done, runs_done
        done += 1
        runs_done += n == budget
        if progress:
            progress({"method": method, "seed": seed, "done": done, "total": total,
                      "runs_done": runs_done, "runs_total": runs_total})

    results = runner.bench(plan.problem, plan.methods, seeds, budget, batch=batch,
                           every=every, options=plan.options, progress=on_run)
    results = {"benchmark": plan.benchmark, "space": plan.space, "command": command,
               "machine": runner.machine(),
               "created": _dt.datetime.now().isoformat(timespec="seconds"), **results}
    return runner.write_outputs(results, out)


def default_out() -> str:
    return f"runs/bench-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def bench(benchmark: str | Path, objectives: str | Sequence[str] = DEFAULT_OBJECTIVES, *,
          space: str | None = None, methods: str | Sequence[str] | None = None,
          strategy_opts: Sequence[str] = (), budget: int = 500, seeds: int = 10,
          batch: int = 1, every: int = 10, out: str | Path | None = None,
          command: str | None = None, progress: Callable[[dict], None] | None = None,
          constraints: Sequence[str] = ()) -> dict:
    """`prepare_bench` then `run_bench`, for scripts that need no step in between."""
    plan = prepare_bench(benchmark, objectives, space=space, methods=methods,
                         strategy_opts=strategy_opts, constraints=constraints)
    return run_bench(plan, budget=budget, seeds=seeds, batch=batch, every=every, out=out,
                     command=command, progress=progress)


