"""How well this machine repeats its own measurements, and the statistic and threads a new
table uses because of it.

Before a profile, a fixed workload (`PROBE_OPS` ops spread over the space, the same ops for
the same space) is timed in passes, round-robin, for `PROBE_S` seconds (at least
`MIN_PASSES` passes). For each latency statistic, an op's spread is how far its passes stray
from their median (the `SPREAD_Q` quantile of |pass / median - 1|); the machine's spread is
the median over the ops.

A dedicated machine repeats its medians within a few percent (`MEDIAN_REPEATS`); then the
table keeps p50, the typical latency a user feels. A shared one does not: another tenant slows
a run by a factor that comes and goes within seconds, so the high end of a network's times is
a property of the neighbours and the low end a property of the network (BENCHMARKS.md, "Which
statistic of a network's timings repeats"). There the table uses whichever low statistic (p0,
p10) repeated best, and, for a CPU backend whose threads were not given, one thread (a network
spread over cores is slowed by a neighbour on any of them; the low statistic is then chosen
from a second probe at one thread). What was measured and chosen is stored in the table and
said in one line. `--latency-stat` and `--threads` override the choice; the probe is still
recorded.

The probe lasts seconds because neighbours do: a first probe of 5 passes (about 2 s) fell
between the bursts of a neighbour that came and went every 0.2-2 s, read the machine as
dedicated (medians within 1.4%), and its p50 table validated at 72% within ±10%
(BENCHMARKS.md, "Latency that repeats"). A false "shared" costs little (the low end repeats on
a quiet machine too); a false "dedicated" costs the table.
"""

from __future__ import annotations

import numpy as np

PROBE_OPS = 6
PROBE_S = 8.0  # seconds of passes: several on/off cycles of a neighbour that comes and goes
MIN_PASSES, MAX_PASSES = 5, 100
SPREAD_Q = 0.8  # an op's spread: this quantile of its passes' distance from their median
CALLS = 40  # timed calls per op and pass
WARMUP_S = 0.02  # warm-up per op and pass (the backend's own, where shorter)
MEDIAN_REPEATS = 0.03  # a machine whose medians repeat within this keeps p50
LOW_STATS = ("p10", "p0")  # candidates on a shared machine; on a tie, the first
TIE = 0.005  # spreads this close count as a tie (p10 depends less on how many calls)


def probe_sigs(sigs: list, n: int = PROBE_OPS) -> list:
    """`n` ops spread evenly over `sigs` sorted by key: the same workload for the same space."""
    ordered = sorted(sigs, key=lambda s: s.key)
    picks = np.unique(np.linspace(0, len(ordered) - 1, min(n, len(ordered))).round().astype(int))
    return [ordered[int(i)] for i in picks]


def measure(backend, space, sigs: list, seconds: float = PROBE_S) -> dict:
    """Time the probe ops round-robin in passes for `seconds` (MIN_PASSES to MAX_PASSES);
    per statistic the machine's spread (module docstring) and every value measured."""
    import dataclasses
    import time

    from hwnas.tables.reference import build_model
    from profilers.measurement import LATENCY_STATS

    picks = probe_sigs(sigs)
    models = {sig.key: build_model(backend, space, sig) for sig in picks}  # built (exported) once
    quick = dataclasses.replace(backend.timing, min_repeats=CALLS, max_repeats=CALLS,
                                time_budget_s=0.0,
                                warmup_s=min(backend.timing.warmup_s, WARMUP_S))
    before, backend.timing = backend.timing, quick
    values: dict[str, dict[str, list[float]]] = {s: {k.key: [] for k in picks}
                                                 for s in LATENCY_STATS}
    end, passes = time.monotonic() + seconds, 0
    try:
        while passes < MIN_PASSES or (passes < MAX_PASSES and time.monotonic() < end):
            passes += 1
            for sig in picks:
                m = backend.measure(models[sig.key], (sig.cin, sig.h, sig.w))
                for stat in LATENCY_STATS:
                    values[stat][sig.key].append(m.value(stat))
    finally:
        backend.timing = before
    spread = {stat: float(np.median([_spread(v) for v in per_op.values()]))
              for stat, per_op in values.items()}
    return {"ops": [s.key for s in picks], "passes": passes, "calls": CALLS,
            "threads": backend.threads, "spread": spread, "values_ms": values}


def _spread(values: list[float]) -> float:
    v = np.asarray(values, float)
    return float(np.quantile(np.abs(v / np.median(v) - 1), SPREAD_Q))


def needs_one_thread(spread: dict, threads: int | None, cpu: bool) -> bool:
    """A CPU table whose threads were not given, on a machine whose medians do not repeat."""
    return threads is None and cpu and spread["p50"] > MEDIAN_REPEATS


def choose(spread: dict, *, stat: str | None, threads: int | None, cpu: bool,
           at_one_thread: dict | None = None) -> dict:
    """The table's statistic and threads: what the user gave, else chosen from `spread` (the
    probe's, at the threads asked); with the one line that says which and why.
    `at_one_thread`: the spread of a second probe at one thread, where the first said to use
    one (which low statistic repeats best is then measured at the threads the table uses)."""
    repeats = spread["p50"] <= MEDIAN_REPEATS
    chosen_stat, chosen_threads = stat, threads
    if needs_one_thread(spread, threads, cpu):
        chosen_threads = 1
    final = at_one_thread if at_one_thread is not None and chosen_threads == 1 else spread
    if chosen_stat is None:
        chosen_stat = "p50" if repeats else _robust(final)
    machine = (f"this machine repeats medians within {100 * spread['p50']:.1f}% between "
               f"passes ({'dedicated' if repeats else 'shared'}: a dedicated one within "
               f"{100 * MEDIAN_REPEATS:.0f}%)")
    where = " at one thread" if final is not spread else ""
    parts = [f"{chosen_stat} ({'given' if stat else 'chosen'}; it repeated within "
             f"{100 * final[chosen_stat]:.1f}%{where})"]
    if chosen_threads != threads:
        parts.append("one thread (chosen: a neighbour on any core slows a network spread "
                     "over several)")
    elif threads is not None:
        parts.append(f"{threads} thread{'s' if threads != 1 else ''} (given)")
    line = f"{machine}; profiling in {' with '.join(parts)}; override with --latency-stat " \
           "and --threads"
    return {"stat": chosen_stat, "threads": chosen_threads, "repeats": repeats, "line": line,
            "stat_by": "user" if stat else "measurement",
            "threads_by": "user" if threads is not None else (
                "measurement" if chosen_threads is not None else "default")}


def _robust(spread: dict) -> str:
    best = min(spread[s] for s in LOW_STATS)
    return next(s for s in LOW_STATS if spread[s] <= best + TIE)


def record(probe: dict, choice: dict, one_thread: dict | None = None) -> dict:
    """What a table stores about the machine it was profiled on (`machine`)."""
    out = {"probe": {k: v for k, v in probe.items() if k != "values_ms"},
           "chosen": {k: choice[k] for k in ("stat", "threads", "stat_by", "threads_by")},
           "line": choice["line"]}
    if one_thread is not None:
        out["probe_one_thread"] = {k: v for k, v in one_thread.items() if k != "values_ms"}
    return out
