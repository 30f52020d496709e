"""Hard limits for a league problem written as a percentile of the benchmark: "latency under the
space's 10th percentile" becomes `latency:pixel3<=X` with X read from the table, so a league
run in BENCHMARKS.md is reproducible by one command (`benchmarks/league.py --limit-percentile
10`) and states the limit it ran under.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives


@dataclass(frozen=True)
class PercentileLimit:
    """`text` the constraint ('latency:pixel3<=2.57'), `note` where its bound came from."""

    text: str
    note: str


def percentile_limit(table, objectives: str, percentile: float) -> PercentileLimit:
    """An upper limit on the problem's first minimised objective (its first device cost in
    every league problem) at `percentile` of that column over the table's rows that have it.

    The bound is written with 6 significant digits, as a constraint prints itself
    (hwnas.objectives.Constraint), so the text given back is exactly what the league applies
    and what `--constraint` would apply."""
    if not 0 < percentile < 100:
        raise BadInputError(f"--limit-percentile {percentile:g} must be between 0 and 100 "
                            "(10: the space's 10th percentile)")
    costs = [o for o in parse_objectives(objectives) if o.direction == "min"]
    if not costs:
        raise BadInputError(f"objectives {objectives!r} have no cost to limit; "
                            "--limit-percentile limits the first minimised objective")
    name = costs[0].name
    values = np.asarray(table.objective_values(name), dtype=float)
    values = values[np.isfinite(values)]
    bound = float(np.percentile(values, percentile))
    within = int(np.sum(values <= float(f"{bound:.6g}")))
    return PercentileLimit(f"{name}<={bound:.6g}",
                           f"the {_percentile_name(percentile)} of {name} over the "
                           f"{values.size} rows that have it; {within} rows within")


def _percentile_name(p: float) -> str:
    """50 -> 'median', 10 -> '10th percentile', 2.5 -> '2.5th percentile'."""
    if p == 50:
        return "median"
    text = f"{p:g}"
    n = int(text) if text.isdigit() else -1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{text}{suffix} percentile"

