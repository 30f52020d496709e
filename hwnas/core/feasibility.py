"""An infeasible candidate: one that breaks a hard limit of the run (`--constraint
latency_ms<=3`), the shape its result takes, and how it is recognised everywhere.

Infeasible is not failed (hwnas.core.failure): a failed candidate could not be scored, an
infeasible one was judged and breaks a limit the user set. Its result says which limit, by
what, and by how much:

* Ruled out before evaluation (`evaluated: false`): a limit on a cost known without training
  (the table's latency and columns, params, FLOPs, a benchmark's device costs) is broken. The
  candidate is neither trained nor looked up, and does not count against the budget:
  ``{"infeasible": "latency_ms<=3 by the table: latency_ms=3.41", "violation": 0.137,
  "evaluated": false, "latency_ms": 3.41, ...}`` -- the costs that were read, never an
  accuracy.
* Found after evaluation: a limit on a cost known only then (accuracy) is broken; the result
  holds every objective, plus "infeasible" and "violation".

* Ruled out for a missing known cost: the cost model knows the cost before evaluation but has
  no value for this architecture (a benchmark's device that could not run the network, NaN in
  its column; `CostModel.gaps`). That is an implicit limit, "the cost exists"
  (`required_limits`: one `KnownCost` per such column), which every strategy honours as it
  honours a known limit: ``{"infeasible": "latency:edgegpu missing from the benchmark",
  "violation": 1e6, "evaluated": false, "missing": ["latency:edgegpu"], ...}``.

`violation` is the sum, over the broken limits, of how far past each the value is, relative to
the limit (0.1: 10% past), what Deb's rules and pymoo's constraint violation compare. Neither
kind reaches a front, a knee, a pick or an export; a strategy without a mechanism of its own
treats both as the worst (hwnas.strategies.base), one with a mechanism reads `violation`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hwnas.core.costs import CostModel
from hwnas.core.failure import failures_line, is_failed
from hwnas.objectives import Constraint

INFEASIBLE = "infeasible"
VIOLATION = "violation"
EVALUATED = "evaluated"
MISSING = "missing"  # the known costs a ruled-out candidate has no value for


@dataclass(frozen=True)
class KnownCost(Constraint):
    """The implicit limit of a cost known before evaluation that some architectures lack: it
    holds for any number (bound +inf) and is broken by a missing value (NaN), whose
    violation is infinite (capped like any, `total_violation`): worse than any real excess,
    so Deb's rules and pymoo's constraint violation prefer any architecture that exists."""

    def __str__(self) -> str:
        return f"{self.name} known"


def known_cost(name: str) -> KnownCost:
    return KnownCost(name, "<=", math.inf)


def required_limits(costs: CostModel) -> tuple[KnownCost, ...]:
    """One `KnownCost` per cost the model knows with gaps (none for a complete model, so a
    problem without missing values is searched exactly as before)."""
    return tuple(known_cost(name) for name in sorted(costs.gaps))


def violation_of(constraint: Constraint, value: float) -> float:
    """How far past `constraint` a value is, relative to its bound (0 when it is met; inf for
    a value that is not a finite number, which meets nothing)."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return math.inf
    if constraint.holds({constraint.name: value}):
        return 0.0
    scale = abs(constraint.bound) or 1.0
    # a strict limit met with equality is past it by nothing measurable: the smallest step
    return max(abs(value - constraint.bound) / scale, 1e-12)


def broken(constraints: Iterable[Constraint], values: dict) -> list[tuple[Constraint, float]]:
    """The constraints of `constraints` whose name is in `values` and which the value breaks,
    each with that value (constraints on names not in `values` are not judged here)."""
    return [(c, float(values[c.name])) for c in constraints
            if c.name in values and violation_of(c, values[c.name]) > 0]


def reason(broke: Sequence[tuple[Constraint, float]], source: dict[str, str]) -> str:
    """'latency_ms<=3 by the table: latency_ms=3.41' (several limits joined by '; ');
    `source` names where each cost came from ("the table", "the network", ...)."""
    return "; ".join(f"{c.name} missing from {source.get(c.name, 'the evaluation')}"
                     if isinstance(c, KnownCost) else
                     f"{c} by {source.get(c.name, 'the evaluation')}: {c.name}={value:.4g}"
                     for c, value in broke)


def total_violation(broke: Sequence[tuple[Constraint, float]]) -> float:
    return float(sum(min(violation_of(c, v), 1e6) for c, v in broke))


def ruled_out_result(broke: Sequence[tuple[Constraint, float]], costs: dict,
                     source: dict[str, str]) -> dict:
    """The result of a candidate ruled out before evaluation: the limit it breaks and the
    known costs read, no accuracy (nothing was trained or looked up)."""
    finite = {n: float(v) for n, v in costs.items()
              if isinstance(v, (int, float)) and math.isfinite(v)}
    missing = sorted({c.name for c, _ in broke if isinstance(c, KnownCost)})
    return {INFEASIBLE: reason(broke, source), VIOLATION: total_violation(broke),
            EVALUATED: False, **({MISSING: missing} if missing else {}), **finite}


def mark_infeasible(result: dict, broke: Sequence[tuple[Constraint, float]],
                    source: dict[str, str]) -> dict:
    """An evaluated result that breaks a limit, marked as such (a new dict)."""
    return {**result, INFEASIBLE: reason(broke, source), VIOLATION: total_violation(broke)}


def is_infeasible(result: dict | None) -> bool:
    return isinstance(result, dict) and INFEASIBLE in result


def ruled_out(result: dict | None) -> bool:
    """Infeasible before evaluation: never trained, not counted against the budget."""
    return is_infeasible(result) and result.get(EVALUATED) is False  # type: ignore[union-attr]


def missing_cost(result: dict | None) -> bool:
    """Ruled out because a cost known before evaluation has no value for it."""
    return ruled_out(result) and bool(result.get(MISSING))  # type: ignore[union-attr]


def violation(result: dict | None) -> float:
    """The result's violation: 0 for a feasible result, inf for a failed one."""
    if is_failed(result):
        return math.inf
    if not is_infeasible(result):
        return 0.0
    value = result.get(VIOLATION)  # type: ignore[union-attr]
    return float(value) if isinstance(value, (int, float)) and value > 0 else 1e-12


def usable(result: dict | None) -> bool:
    """A result with objectives that may reach a front: neither failed nor infeasible."""
    return isinstance(result, dict) and not is_failed(result) and not is_infeasible(result)


def summarize_infeasible(results: Iterable[dict]) -> dict:
    """{"infeasible": N, "ruled_out": M (never trained), "limits": [{"limit", "count"}, most
    common first]}; a limit is its reason's head ("latency_ms<=3 by the table")."""
    reasons = [r for r in results if is_infeasible(r)]
    kinds: Counter[str] = Counter()
    for r in reasons:
        for part in str(r[INFEASIBLE]).split("; "):
            # the head before ": " -- a benchmark's cost names hold a colon of their own
            head, sep, _ = part.partition(": ")
            kinds[head.strip() if sep and head.strip() else part] += 1
    return {"infeasible": len(reasons), "ruled_out": sum(1 for r in reasons if ruled_out(r)),
            "limits": [{"limit": k, "count": n} for k, n in kinds.most_common()]}


def infeasible_line(summary: dict) -> str:
    """'3 infeasible (broke latency_ms<=3 by the table)', or with several limits '5 infeasible
    (broke latency_ms<=3 by the table (3), params<=2e+06 by the network (2))'."""
    n = summary.get("infeasible") or 0
    if not n:
        return "0 infeasible"
    limits = summary.get("limits") or []
    if len(limits) == 1:
        return f"{n} infeasible (broke {limits[0]['limit']})"
    parts = ", ".join(f"{e['limit']} ({e['count']})" for e in limits)
    return f"{n} infeasible (broke {parts})"


def none_usable(infeasible: dict, failures: dict) -> tuple[str, str]:
    """Why a run has no candidate to build a front on or export: ("feasible " when some broke
    a limit, else "", then the counts: '3 infeasible (broke ...), 2 failed (...)'), from
    `summarize_infeasible` and hwnas.core.failure's `summarize_failures`."""
    lines = [infeasible_line(infeasible)] * bool(infeasible["infeasible"])
    lines += [failures_line(failures)] * bool(failures["failed"])
    return "feasible " * bool(infeasible["infeasible"]), ", ".join(lines)
