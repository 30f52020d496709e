"""`hwnas bench`: every sample-based strategy × seeds at one evaluation budget on a tabular
benchmark, scored against the benchmark's TRUE Pareto front.

Rules every method is held to (stated in results.json and league.md too):

* Budget: every architecture a strategy asks for is one evaluation of the budget, repeats
  included: a real search would spend a step on it too (hwnas search looks a repeat up, but it
  still takes a place in the budget). Unique evaluations are reported beside it.
* Infeasible: a table row lacking any chosen objective (NaN) is not on the true front and adds
  nothing to a method's score. A row lacking a device cost (a network the device could not
  run) is known to before evaluation, through the cost model, as a search's tabular estimator
  knows it: the loop rules a proposal of it out, unevaluated and not one of the budget's
  evaluations, and tells the strategy it is infeasible (hwnas.core.feasibility's
  `required_limits`); every strategy avoids such rows as it avoids a known limit's. A row
  lacking an accuracy (known only after evaluation) still costs an evaluation and is told a
  finite "very bad" result: each objective one full range beyond the worst available value,
  so every available row dominates it.
* Hard limits (`--constraint`): a row breaking one is not on the (feasible) true front and
  scores nothing; a proposal breaking a limit on a benchmark cost (known before evaluation) is
  ruled out by the loop, as in `hwnas search`: told to the strategy, not one of the budget's
  evaluations, nor in the run's rows (hwnas.searching.loop).
* Threads: every run uses one BLAS/OpenMP/torch thread for the strategy's own model fitting
  (hwnas.threads), whatever OMP_NUM_THREADS says: wall times compare methods, not settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwnas.core.costs import CostModel
from hwnas.core.feasibility import ruled_out
from hwnas.core.outcome import Outcome
from hwnas.errors import BadInputError
from hwnas.fileio import json_ready
from hwnas.league.metrics import TrueFront, aggregate, run_metrics, versus
from hwnas.objectives import Constraint, Objective, parse_objectives
from hwnas.registry import STRATEGIES
from hwnas.searching.constraints import Limits, parse_constraints
from hwnas.searching.loop import run_loop
from hwnas.strategies.base import Strategy
from hwnas.threads import limit_threads, preload

REPEATS_POLICY = ("every proposal counts as one evaluation of the budget, repeats included; "
                  "unique evaluations are reported separately")
INFEASIBLE_POLICY = ("rows missing an objective (NaN) are excluded from the true front and "
                     "score nothing; one missing a device cost is known before evaluation: a "
                     "proposal of it is ruled out unevaluated (not one of the budget's "
                     "evaluations; counted in ruled_out_missing) and told infeasible; a "
                     "strategy proposing one missing an accuracy spends an evaluation and is "
                     "told each objective one full range beyond the worst available value")
CONSTRAINTS_POLICY = (
    "the true front is that of the rows within every limit, and a run is scored on its "
    "evaluated rows within them (what it proposed past a limit on a benchmark cost was ruled "
    "out unevaluated; a row past a limit known only after evaluation counts as an evaluation "
    "and scores nothing); normalised with the feasible front's own ideal and nadir, reference "
    "point 1.1, as without limits (the limit is not the reference point: every row within "
    "the limits is weakly dominated by a member of that front, so 1.0 is the most a run "
    "scores, and it does when it found the front); "
    "evaluations to X% count evaluations only, never ruled-out proposals; the baseline, random "
    "search, draws uniformly and rejects draws past a known limit before proposing (random "
    "with rejection)")
BASELINE = "random"  # with limits, random with rejection (strategies/random_search.py)


def sample_based_methods() -> list[str]:
    """Registered strategies that propose from results alone (not the one-shot methods, which
    train a supernet on a dataset per proposal: a tabular benchmark has no images)."""
    return [n for n in STRATEGIES.names()
            if isinstance(STRATEGIES.get(n), type) and issubclass(STRATEGIES.get(n), Strategy)
            and STRATEGIES.get(n).sample_based]


def resolve_methods(methods: str | Sequence[str] | None) -> list[str]:
    if methods is None:  # not given: every method the league can run
        return sample_based_methods()
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",")]
    if not methods or not all(methods):  # '' or 'a,,b': a typo, not "every method"
        raise BadInputError(f"--methods {','.join(methods)!r} names an empty method; give "
                            "comma-separated names, e.g. --methods random,evolution "
                            "(omit --methods to run every one)")
    for m in methods:
        if not STRATEGIES.get(m).sample_based:  # get(): one line naming the closest name
            raise BadInputError(f"--methods {m}: a one-shot method trains a supernet on "
                                "images, which a tabular benchmark does not have; the league "
                                f"runs {', '.join(sample_based_methods())} (run {m} with "
                                "`hwnas search --method " + m + "`)")
    if len(set(methods)) != len(methods):
        raise BadInputError(f"--methods lists a method twice: {','.join(methods)}")
    return list(methods)


def _network_classes(space, table) -> np.ndarray:
    """Per table row, an id shared by the rows that compute the same network."""
    ids: dict[tuple, int] = {}
    return np.array([ids.setdefault(space.network_key(table.arch_of(r)), len(ids))
                     for r in range(table.n_rows)], dtype=np.int64)


@dataclass
class BenchProblem:
    """A space, a benchmark table and objectives: everything a run needs, looked up once."""

    space: object
    table: object
    objectives: list[Objective]
    truth: TrueFront
    penalty: dict  # the result told for an infeasible architecture
    values: np.ndarray | None = None  # every row's objectives, limits aside (None: truth.F)
    constraints: tuple[Constraint, ...] = ()  # hard limits: rows breaking one score nothing

    @classmethod
    def build(cls, space, table, objectives: list[Objective],
              constraints: Sequence[Constraint] = ()) -> BenchProblem:
        for o in objectives:
            table.resolve(o.name)  # unknown or absent objective -> one-line BadInputError
        for c in constraints:
            try:
                table.resolve(c.name)
            except BadInputError as exc:
                raise BadInputError(f"--constraint {c}: {exc}") from None
        table.row_of(space.sample(np.random.default_rng(0)))  # a space the table does not
        # cover fails here, in one line, not in the middle of the first run
        F = np.column_stack([np.asarray(table.objective_values(o.name), dtype=float)
                             for o in objectives])
        F[~np.asarray(table.available([o.name for o in objectives]), dtype=bool)] = np.nan
        scored = F.copy()  # the true front is the feasible one: a row past a limit is out
        for c in constraints:
            values = np.asarray(table.objective_values(c.name), dtype=float)
            scored[[not c.holds({c.name: v}) for v in values]] = np.nan
        try:
            truth = TrueFront.of(scored, [o.direction for o in objectives],
                                 classes=_network_classes(space, table))
        except ValueError:
            limits = f" within {', '.join(map(str, constraints))}" if constraints else ""
            raise BadInputError("no benchmark row has all of "
                                f"{', '.join(o.name for o in objectives)}{limits}; pick "
                                "objectives the table covers together, or looser limits"
                                ) from None
        return cls(space, table, objectives, truth, _penalty(F, objectives), F,
                   tuple(constraints))

    def row(self, arch, cache: dict) -> int:
        key = arch.key
        if key not in cache:
            cache[key] = int(self.table.row_of(arch))
        return cache[key]

    def result(self, row: int) -> dict:
        """What a lookup tells the strategy: the row's objectives (past a limit or not: the
        loop judges that), and the values the limits read."""
        f = self.truth.F[row] if self.values is None else self.values[row]
        if not np.isfinite(f).all():
            return dict(self.penalty)
        out = {o.name: float(v) for o, v in zip(self.objectives, f, strict=True)}
        for c in self.constraints:
            out.setdefault(c.name, float(self.table.objective_values(c.name)[row]))
        return out


def _penalty(F: np.ndarray, objectives: list[Objective]) -> dict:
    ok = F[np.isfinite(F).all(axis=1)]
    lo, hi = ok.min(axis=0), ok.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return {o.name: float(lo[j] - span[j] if o.direction == "max" else hi[j] + span[j])
            for j, o in enumerate(objectives)}


class ProblemEvaluator:
    """The loop's evaluator for a benchmark problem: a lookup per architecture."""

    def __init__(self, problem: BenchProblem, cache: dict):
        self.problem, self.cache = problem, cache

    def map(self, archs: list) -> list[Outcome]:
        return [Outcome(self.problem.result(self.problem.row(a, self.cache))) for a in archs]

    def cost_model(self) -> CostModel:
        """The benchmark's device costs (every objective but accuracies), as a search's
        tabular estimator would give them to strategies: NaN where the row has none (the
        device could not run the network), which the model declares (`gaps`), so the loop
        rules such a row out before evaluation."""
        names = [*(o.name for o in self.problem.objectives),
                 *(c.name for c in self.problem.constraints)]
        costs = [n for n in dict.fromkeys(names) if not n.startswith("accuracy")]
        table = self.problem.table
        columns = {n: np.asarray(table.objective_values(n), dtype=float) for n in costs}
        gaps = [n for n in costs if not np.isfinite(columns[n]).all()]
        known = table.available(list(costs))  # the rows with every cost, as the estimator's

        def compute(arch) -> dict:
            row = self.problem.row(arch, self.cache)
            return {n: float(columns[n][row]) for n in costs}

        return CostModel(costs, compute, gaps=gaps, known_share=float(known.mean()))


@dataclass(frozen=True)
class RunRecord:
    """One run: the evaluated rows in order, its wall time, and what the hard limits did."""

    rows: list[int]
    wall_s: float
    ruled_out: int  # proposals the loop ruled out on a known cost: never looked up or counted
    missing: int  # of them, those whose known cost the benchmark lacks (required_limits)
    discarded: int  # draws the strategy itself rejected before proposing (Strategy.discarded)
    stopped: str | None  # why the loop stopped short of the budget (too many ruled out), if so


def run_once(problem: BenchProblem, method: str, seed: int, budget: int, batch: int = 1,
             options: dict | None = None, cache: dict | None = None,
             on_evaluation: Callable[[int], None] | None = None) -> tuple[list[int], float]:
    """One run through the search loop; returns the evaluated rows in order and its wall
    time. `on_evaluation(n)` is called after the run's n-th evaluation (1-based)."""
    record = run_recorded(problem, method, seed, budget, batch, options, cache, on_evaluation)
    return record.rows, record.wall_s


def run_recorded(problem: BenchProblem, method: str, seed: int, budget: int, batch: int = 1,
                 options: dict | None = None, cache: dict | None = None,
                 on_evaluation: Callable[[int], None] | None = None) -> RunRecord:
    """`run_once`, with the tally of the run's hard limits."""
    cache = {} if cache is None else cache
    preload()  # BLAS/OpenMP libraries loaded before the limit, so it covers them (not timed)
    start = time.perf_counter()
    evaluator = ProblemEvaluator(problem, cache)
    rows: list[int] = []
    # The strategy's own threads (hwnas.threads: one), whatever the environment says; the
    # evaluator here is a table lookup, so the whole run is limited.
    with limit_threads():
        costs = evaluator.cost_model()
        strategy = STRATEGIES.get(method)(problem.space, problem.objectives, seed=seed,
                                          costs=costs, constraints=problem.constraints,
                                          **(options or {}))
        def on_candidate(c) -> None:
            if ruled_out(c.result):  # never looked up: no evaluation of the budget
                return
            rows.append(problem.row(c.arch, cache))
            if on_evaluation:
                on_evaluation(len(rows))

        limits = Limits(problem.constraints, costs)
        run_loop(strategy, evaluator, budget, batch=batch, name=method,
                 on_candidate=on_candidate, limits=limits)
    return RunRecord(rows, time.perf_counter() - start, limits.ruled_out, limits.missing,
                     int(getattr(strategy, "discarded", 0)), limits.stopped)


def bench(problem: BenchProblem, methods: Sequence[str], seeds: int, budget: int, *,
          batch: int = 1, every: int = 10, options: dict | None = None,
          progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Every method × seeds 0..seeds-1; returns the JSON-ready results (no I/O here).

    `progress(method, seed, n)` follows every evaluation (n: the run's count so far, 1-based):
    one run may take 40 s and another 0.01 s, so evaluations, not runs, measure the work."""
    if budget < 1 or seeds < 1 or batch < 1:
        raise BadInputError(f"budget, seeds and batch must be >= 1; got budget={budget}, "
                            f"seeds={seeds}, batch={batch}")
    options = options or {}
    per_method: dict[str, list[dict]] = {}
    cache: dict = {}  # arch key -> row, shared: a lookup is the same whoever asks
    preload()
    with limit_threads():  # scoring too is small numpy work: one thread (hwnas.threads)
        for method in methods:
            runs = []
            for seed in range(seeds):
                tick = None if progress is None else \
                    (lambda n, m=method, s=seed: progress(m, s, n))
                record = run_recorded(problem, method, seed, budget, batch,
                                      options.get(method), cache, on_evaluation=tick)
                run = {"seed": seed, **run_metrics(problem.truth, record.rows, every, budget),
                       "wall_s": record.wall_s}
                # always present, limits or not: a row missing a device cost is ruled out
                # without any --constraint (ruled_out_missing counts those)
                run.update(ruled_out=record.ruled_out, ruled_out_missing=record.missing,
                           discarded=record.discarded, stopped=record.stopped)
                runs.append(run)
            per_method[method] = runs
    return _results(problem, per_method, seeds, budget, batch, options)


def _results(problem, per_method, seeds, budget, batch, options) -> dict:
    truth = problem.truth
    methods = {}
    for name, runs in per_method.items():
        methods[name] = {"options": options.get(name, {}), "is_baseline": name == BASELINE,
                         **aggregate(runs), "per_seed": runs}
        if BASELINE in per_method and name != BASELINE:
            methods[name]["vs_random"] = versus(runs, per_method[BASELINE])
    league = sorted(methods, key=lambda m: -(methods[m]["hv_ratio"]["mean"] or 0.0))
    signs = np.where(np.array(truth.directions) == "max", -1.0, 1.0)
    return {
        "objectives": [{"name": o.name, "direction": o.direction} for o in problem.objectives],
        "budget": budget, "seeds": seeds, "batch": batch,
        "repeats_policy": REPEATS_POLICY, "infeasible_policy": INFEASIBLE_POLICY,
        "constraints": [str(c) for c in problem.constraints],
        **({"constraints_policy": CONSTRAINTS_POLICY} if problem.constraints else {}),
        "true_front": {
            "size": int(truth.rows.size),
            "rows_available": int(np.isfinite(truth.F).all(axis=1).sum()),
            "rows_total": int(len(truth.F)), "hv": truth.hv,
            "ideal": (truth.normaliser.ideal * signs).tolist(),
            "nadir": (truth.normaliser.nadir * signs).tolist(), "ref_point_normalised": 1.1,
            "points": [{"row": int(r), "arch": str(problem.table.arch_of(int(r))),
                        "values": truth.F[r].tolist()} for r in truth.rows],
        },
        "methods": methods, "league": league,
    }


def parse_method_options(pairs: Sequence[str], methods: Sequence[str]) -> dict:
    """('nsga2:population=40', ...) -> {'nsga2': {'population': 40}}; values are JSON or
    text."""
    import json

    out: dict[str, dict] = {}
    for pair in pairs or ():
        method, sep, kv = pair.partition(":")
        key, eq, raw = kv.partition("=")
        if not sep or not eq or not key.strip():
            raise BadInputError(f"--strategy-opt {pair!r} must be METHOD:KEY=VALUE, "
                                "e.g. nsga2:population=40")
        if method not in methods:
            raise BadInputError(f"--strategy-opt {pair!r} names {method!r}, which is not "
                                f"benchmarked; methods: {', '.join(methods)}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(method, {})[key.strip()] = value
    return out


def prepare(benchmark: str | Path, objectives: str | Sequence[str], *, space: str | None = None,
            methods: str | Sequence[str] | None = None, strategy_opts: Sequence[str] = (),
            constraints: Sequence[str] = ()) -> tuple[BenchProblem, list[str], dict]:
    """Every input checked (cheapest first) before any run: a refusal costs nothing."""
    from hwnas.registry import SPACES

    names = resolve_methods(methods)
    objs = parse_objectives(objectives)
    limits = parse_constraints(constraints)
    options = parse_method_options(strategy_opts, names)
    space_cls = SPACES.get(space) if space else None
    path = Path(benchmark)
    if not path.is_file():
        raise BadInputError(f"benchmark file {str(path)!r} does not exist; give a tabular "
                            "benchmark CSV, e.g. --benchmark "
                            "../shared/benchmarks/nb201_hw/nb201_hw.csv")
    from hwnas.tabular.benchmark import BenchmarkTable

    table = BenchmarkTable.load(path)
    space_obj = (space_cls or SPACES.get(table.space_name))()  # default: the table's own
    problem = BenchProblem.build(space_obj, table, objs, limits)
    for name in names:  # unknown or invalid strategy options fail here, not mid-league
        STRATEGIES.get(name)(problem.space, objs, seed=0, **options.get(name, {}))
    # run and reported under today's option names (an old one was said once, just above)
    options = {name: STRATEGIES.get(name).current_options(given)
               for name, given in options.items()}
    return problem, names, options


def machine() -> dict:
    import os
    import platform

    from hwnas.versions import versions

    return {"platform": platform.platform(), "processor": _cpu_model(),
            "cpus": os.cpu_count(), "versions": versions()}


def _cpu_model() -> str:
    import platform

    try:  # platform.processor() is empty on most Linux systems; /proc/cpuinfo names the CPU
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def write_outputs(results: dict, out: str | Path) -> dict:
    """results.json, hv.png and league.md in `out` (each written atomically)."""
    from hwnas.fileio import atomic_write_bytes, atomic_write_json
    from hwnas.league.metrics import league_markdown, plot_hv

    out = Path(out)
    paths = {"results": str(out / "results.json"), "plot": str(out / "hv.png"),
             "league": str(out / "league.md")}
    results = {**results, "outputs": paths}
    atomic_write_json(paths["results"], json_ready(results))  # JSON has no inf/NaN
    plot_hv(results, paths["plot"])
    atomic_write_bytes(paths["league"], league_markdown(results).encode())
    return results

