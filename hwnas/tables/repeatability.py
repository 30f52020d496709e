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

Medians that repeat are not enough when other processes keep the cores busy the whole time: a
steady neighbour makes every statistic repeat (BENCHMARKS.md), yet a table in p50 over all
cores then validated at 67% within ±10% (four other jobs running; the probe had read medians
within 1.8%). So the probe also measures how much CPU the machine's other processes used
while it ran (Linux's /proc/stat less this process's own time); more than `OTHERS_BUSY` of a
core and the machine counts as shared whatever its medians did.

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
OTHERS_BUSY = 0.25  # cores' worth of other processes' CPU during the probe: shared above it
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
    load = OtherLoad()
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
            "threads": backend.threads, "spread": spread, "others_cores": load.cores(),
            "values_ms": values}


class OtherLoad:
    """The CPU other processes used since this object was made, in cores' worth: the
    machine's busy time (/proc/stat) less this process's own (all its threads), over the
    wall time. None where /proc/stat cannot be read (not Linux)."""

    def __init__(self) -> None:
        import time

        self.busy, self.own, self.wall = _busy_s(), time.process_time(), time.monotonic()

    def cores(self) -> float | None:
        import time

        busy = _busy_s()
        if busy is None or self.busy is None:
            return None
        wall = time.monotonic() - self.wall
        own = time.process_time() - self.own
        return max(0.0, (busy - self.busy - own) / wall) if wall > 0 else None


def _busy_s() -> float | None:
    """Seconds the machine's CPUs spent busy since boot (user, nice, system, irq, softirq,
    steal: all but idle and iowait), from the aggregate line of /proc/stat."""
    import os

    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        ticks = [int(v) for v in fields[1:9]]
        hz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / hz


def _spread(values: list[float]) -> float:
    v = np.asarray(values, float)
    return float(np.quantile(np.abs(v / np.median(v) - 1), SPREAD_Q))


def is_shared(spread: dict, others_cores: float | None = None) -> bool:
    """Medians that do not repeat, or other processes busy during the probe."""
    return spread["p50"] > MEDIAN_REPEATS or (others_cores or 0.0) > OTHERS_BUSY


def needs_one_thread(spread: dict, threads: int | None, cpu: bool,
                     others_cores: float | None = None) -> bool:
    """A CPU table whose threads were not given, on a shared machine."""
    return threads is None and cpu and is_shared(spread, others_cores)


def choose(spread: dict, *, stat: str | None, threads: int | None, cpu: bool,
           at_one_thread: dict | None = None, others_cores: float | None = None) -> dict:
    """The table's statistic and threads: what the user gave, else chosen from `spread` (the
    probe's, at the threads asked) and `others_cores` (other processes' CPU during it); with
    the one line that says which and why. `at_one_thread`: the spread of a second probe at
    one thread, where the first said to use one (which low statistic repeats best is then
    measured at the threads the table uses)."""
    repeats = not is_shared(spread, others_cores)
    chosen_stat, chosen_threads = stat, threads
    if needs_one_thread(spread, threads, cpu, others_cores):
        chosen_threads = 1
    final = at_one_thread if at_one_thread is not None and chosen_threads == 1 else spread
    if chosen_stat is None:
        chosen_stat = "p50" if repeats else _robust(final)
    busy = others_cores is not None and others_cores > OTHERS_BUSY
    joint = "but" if spread["p50"] <= MEDIAN_REPEATS else "and"
    others = (f", {joint} other processes kept {others_cores:.1f} cores busy meanwhile" if busy
              else "")
    machine = (f"this machine repeats medians within {100 * spread['p50']:.1f}% between "
               f"passes{others} ({'dedicated' if repeats else 'shared'}: a dedicated one "
               f"within {100 * MEDIAN_REPEATS:.0f}%"
               f"{f' and under {OTHERS_BUSY:g} of a core used by others' if busy else ''})")
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
