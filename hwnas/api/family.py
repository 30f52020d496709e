"""`bench --family`: the league (hwnas.api.bench) on every problem of a benchmark's family
(hwnas.league.family), each problem's usual outputs in OUT/<slug>/ and the family's summary
(hwnas.league.family_summary) in OUT/family.json and OUT/family.md.

Resumable: a problem whose OUT/<slug>/results.json already holds a league of the same
objectives, budget, seeds, batch, curve points, methods and options is read, not re-run. So a
long family can be split between processes on disjoint `problems` writing to one OUT, then
summarised by a call that finds every problem there and runs nothing. A results.json of
another setting is refused, not overwritten. As in `bench`, `prepare_family` checks every
input before anything is written and `run_family` runs.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnas.api.bench import BenchPlan, run_bench
from hwnas.errors import BadInputError
from hwnas.fileio import check_output, json_ready

FAMILY_FILES = ("family.json", "family.md")


@dataclass(frozen=True)
class FamilyPlan:
    """A checked family league: the problems chosen, and per problem either the plan to run
    it or the results read from an earlier run in `out`."""

    benchmark: str
    space: str
    out: Path
    family: list  # every hwnas.league.family.FamilyProblem of the benchmark
    problems: list  # the chosen ones, in the family's order
    plans: dict[str, BenchPlan]  # slug -> plan, for the problems to run
    stored: dict[str, dict]  # slug -> results read from out/<slug>/results.json
    methods: list[str]
    options: dict
    budget: int
    seeds: int
    batch: int
    every: int
    sample_seed: int


def list_command(benchmark: str | Path) -> str:
    return f"hwnas bench --family --list-problems --benchmark {benchmark}"


def family_of(benchmark: str | Path, *, sample_seed: int = 0) -> list:
    """The benchmark's family of problems (hwnas.league.family.family_problems)."""
    from hwnas.league.family import family_problems
    from hwnas.tabular.benchmark import BenchmarkTable

    return family_problems(BenchmarkTable.load(benchmark), sample_seed=sample_seed)


def prepare_family(benchmark: str | Path, *, out: str | Path, space: str | None = None,
                   methods: str | Sequence[str] | None = None,
                   strategy_opts: Sequence[str] = (), problems: str | Sequence[str] | None = None,
                   budget: int = 500, seeds: int = 10, batch: int = 1, every: int = 10,
                   sample_seed: int = 0) -> FamilyPlan:
    """Every input checked, cheapest first, before anything is written: the output folder,
    methods and options, the benchmark, `problems` (slugs; None: the whole family), each
    chosen problem's earlier results in `out` (same setting: read; another: refused) and the
    league of each problem left to run."""
    from hwnas.league import runner
    from hwnas.league.family import select
    from hwnas.registry import STRATEGIES

    check_output(out, "--out", folder=True)
    for name, value in (("budget", budget), ("seeds", seeds), ("batch", batch),
                        ("every", every)):
        if value < 1:
            raise BadInputError(f"{name} must be >= 1; got {value}")
    names = runner.resolve_methods(methods)
    given = runner.parse_method_options(strategy_opts, names)
    options = {n: STRATEGIES.get(n).current_options(o) for n, o in given.items()}
    family = family_of(benchmark, sample_seed=sample_seed)
    if not family:
        raise BadInputError(f"benchmark {benchmark} has no family of problems: its format "
                            "names no accuracy:DATASET and device cost (latency:DEVICE, "
                            "energy:DEVICE) with rows in common; run one problem with "
                            "--objectives")
    chosen = select(family, problems, list_command(benchmark))
    setting = {"budget": budget, "seeds": seeds, "batch": batch, "every": every,
               "methods": names, "options": options}
    stored = {}
    for p in chosen:
        results = _stored(Path(out) / p.slug / "results.json", p, setting)
        if results is not None:
            stored[p.slug] = results
    plans = {}
    for p in chosen:
        if p.slug not in stored:
            problem, _, opts = runner.prepare(benchmark, p.objectives_text, space=space,
                                              methods=names, strategy_opts=strategy_opts)
            plans[p.slug] = BenchPlan(str(benchmark), problem, names, opts)
    space_name = (next(iter(plans.values())).space if plans
                  else next(iter(stored.values()))["space"])
    return FamilyPlan(str(benchmark), space_name, Path(out), family, chosen, plans, stored,
                      names, options, budget, seeds, batch, every, sample_seed)


def _stored(path: Path, problem, setting: dict) -> dict | None:
    """The results of an earlier league of this problem in the same setting, if any; one of
    another setting is refused (a rerun would overwrite it)."""
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        found = {"objectives": [o["name"] for o in results["objectives"]],
                 "budget": results["budget"], "seeds": results["seeds"],
                 "batch": results["batch"],
                 "every": next(iter(results["methods"].values()))["curve"]["evals"],
                 "methods": sorted(results["methods"]),
                 "options": {m: e["options"] for m, e in results["methods"].items()
                             if e["options"]},
                 "constraints": results.get("constraints") or []}
    except (OSError, ValueError, KeyError, TypeError, StopIteration, AttributeError):
        raise BadInputError(f"{path} is not a league's results.json; remove "
                            f"{path.parent} to run {problem.slug} again, or give another "
                            "--out") from None
    from hwnas.league.metrics import checkpoints

    wanted = json_ready({"objectives": list(problem.objectives), **setting,
                         "every": checkpoints(setting["budget"], setting["every"]),
                         "methods": sorted(setting["methods"]), "constraints": []})
    wanted = json.loads(json.dumps(wanted))  # compared as JSON: tuples are lists there
    differ = [k for k in wanted if found[k] != wanted[k]]
    if differ:
        shown = "; ".join(f"{k} {found[k]} there, {wanted[k]} now" for k in differ)
        raise BadInputError(f"{path} holds another league of {problem.slug} ({shown}); give "
                            f"another --out, or remove {path.parent} to run it again")
    return results


def run_family(plan: FamilyPlan, *, command: str | None = None,
               progress: Callable[[dict], None] | None = None) -> dict:
    """Run (or read) every chosen problem in the family's order, then write family.json and
    family.md; returns the family, with "outputs" naming those two files.

    `progress` gets {"event": "start", "slug", "index", "of"} before a problem is run,
    {"event": "evaluation", "slug", "method", "seed", "done", "total"} after each evaluation
    (done/total over every problem to run) and {"event": "problem", "slug", "index", "of",
    "reused", "wall_s", "results"} after each problem, run or read."""
    from hwnas.fileio import atomic_write_bytes, atomic_write_json
    from hwnas.league.family_summary import family_markdown, problem_entry, summarise
    from hwnas.league.runner import machine, write_outputs

    check_output(plan.out, "--out", folder=True)
    per_problem = len(plan.methods) * plan.seeds * plan.budget
    total, done = per_problem * len(plan.plans), 0
    say = progress or (lambda event: None)
    entries: list[dict[str, Any]] = []
    start = time.perf_counter()
    for index, p in enumerate(plan.problems, 1):
        reused = p.slug in plan.stored
        began = time.perf_counter()
        if reused:
            results = plan.stored[p.slug]
            folder = plan.out / p.slug
            if not all((folder / f).is_file() for f in ("league.md", "hv.png")):
                results = write_outputs(results, folder)  # a run stopped between its files
        else:
            say({"event": "start", "slug": p.slug, "index": index, "of": len(plan.problems)})
            offset = done

            def tick(event: dict, slug: str = p.slug, offset: int = offset) -> None:
                say({"event": "evaluation", "slug": slug, "method": event["method"],
                     "seed": event["seed"], "done": offset + event["done"], "total": total})

            results = run_bench(plan.plans[p.slug], budget=plan.budget, seeds=plan.seeds,
                                batch=plan.batch, every=plan.every, out=plan.out / p.slug,
                                command=command, progress=tick)
            done += per_problem
        entries.append(problem_entry(p, results, reused=reused))
        say({"event": "problem", "slug": p.slug, "index": index, "of": len(plan.problems),
             "reused": reused, "wall_s": None if reused else time.perf_counter() - began,
             "results": str(plan.out / p.slug / "results.json")})
    family = {
        "benchmark": plan.benchmark, "benchmark_name": Path(plan.benchmark).name,
        "space": plan.space, "command": command, "machine": machine(),
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "budget": plan.budget, "seeds": plan.seeds, "batch": plan.batch, "every": plan.every,
        "methods": plan.methods, "options": plan.options, "sample_seed": plan.sample_seed,
        "family_size": len(plan.family),
        "family": [{"slug": p.slug, "objectives": list(p.objectives), "group": p.group}
                   for p in plan.family],
        "problems": entries, "summary": summarise(entries),
        "reused": [e["slug"] for e in entries if e["reused"]],
        "wall_s": time.perf_counter() - start,
    }
    paths = {"family": str(plan.out / FAMILY_FILES[0]),
             "markdown": str(plan.out / FAMILY_FILES[1])}
    family["outputs"] = paths
    atomic_write_json(paths["family"], json_ready(family))
    atomic_write_bytes(paths["markdown"], family_markdown(family).encode())
    return family


def default_family_out() -> str:
    return f"runs/bench-family-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def bench_family(benchmark: str | Path, *, out: str | Path, command: str | None = None,
                 progress: Callable[[dict], None] | None = None, **how) -> dict:
    """`prepare_family` then `run_family`, for scripts that need no step in between; `how`:
    prepare_family's keywords."""
    return run_family(prepare_family(benchmark, out=out, **how), command=command,
                      progress=progress)
