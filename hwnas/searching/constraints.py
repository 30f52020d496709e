"""A search's hard limits (`--constraint latency_ms<=3`), as the loop holds them.

A constraint is written as `--pick` and `--where` are (hwnas.objectives.parse_constraint):
NAME OP NUMBER, NAME an objective or a cost the run computes (`latency_ms`, `params`,
`flops`, `energy_mj`, `peak_mem_mb`, `accuracy`, a benchmark's `latency:pixel3`). Before any
candidate the run refuses, in one line, a constraint on a cost it cannot compute
(hwnas.evaluation.scorer, as for an objective).

`Limits` splits them by when their cost is known (the run's cost model, hwnas.core.costs):

* before training -- the table's predictions, params and FLOPs, a benchmark's device costs:
  `rule_out(arch)` reads those costs and, when one breaks its limit, returns the candidate's
  result (hwnas.core.feasibility.ruled_out_result), so that nothing is trained or looked up;
* only after evaluation -- accuracy: `judge(result)` marks an evaluated result that breaks a
  limit as infeasible.

Beside the user's limits, `before` holds the implicit ones of a cost model with gaps
(hwnas.core.feasibility.required_limits: a benchmark's device cost missing for a network it
could not run): an architecture without a value is ruled out as one past a limit is, with or
without any `--constraint`. A complete cost model adds none.

It also keeps the run's tally: how many proposals were ruled out (`ruled_out`) and, when the
loop stopped because a strategy proposed little else, why (`stopped`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hwnas.core.costs import NO_COSTS, CostModel
from hwnas.core.feasibility import (
    broken,
    mark_infeasible,
    required_limits,
    ruled_out_result,
    usable,
)
from hwnas.errors import BadInputError
from hwnas.objectives import Constraint, parse_constraint

# Where a cost known before training comes from, as an infeasible candidate's reason says it
# ("latency_ms<=3 by the table"); any other known cost is a benchmark's.
TABLE_COSTS = ("latency_ms", "energy_mj", "peak_mem_mb")
NETWORK_COSTS = ("params", "flops")


def parse_constraints(texts: Iterable[str]) -> list[Constraint]:
    """'latency_ms<=3' ... -> Constraints, in order; one written twice is refused."""
    out: list[Constraint] = []
    for text in texts:
        constraint = parse_constraint(text)
        if constraint in out:
            raise BadInputError(f"--constraint {text} is given twice; give it once")
        out.append(constraint)
    return out


def source_of(name: str, known_before: bool) -> str:
    if not known_before:
        return "the evaluation"
    if name in TABLE_COSTS:
        return "the table"
    if name in NETWORK_COSTS:
        return "the network"
    return "the benchmark"


class Limits:
    """The run's constraints against its cost model: checked before evaluation where the cost
    is known then, after it otherwise."""

    def __init__(self, constraints: Sequence[Constraint], costs: CostModel = NO_COSTS):
        self.constraints = tuple(constraints)
        self.costs = costs
        self.before = tuple(c for c in self.constraints if costs.knows([c.name]))
        self.after = tuple(c for c in self.constraints if c not in self.before)
        self.required = required_limits(costs)  # implicit: a cost with gaps must exist
        self.source = {c.name: source_of(c.name, c in self.before) for c in self.constraints}
        self.source.update({c.name: source_of(c.name, True) for c in self.required})
        self._checked = (*self.before, *self.required)
        self._names = {c.name for c in self._checked}
        self.ruled_out = 0  # proposals ruled out so far in this session (replays included)
        self.missing = 0  # of them, for a missing known cost (`required`)
        self.stopped: str | None = None  # why the loop stopped short of its budget, if it did

    def __bool__(self) -> bool:
        return bool(self.constraints)

    def rule_out(self, arch) -> dict | None:
        """The result of `arch` when a known cost breaks a limit (nothing to train), else
        None. A cost with gaps that has no value for `arch` rules it out (`required`); another
        cost the model cannot give as a finite number is not judged here: the evaluation will
        say what is wrong with the candidate."""
        if not self._checked:
            return None
        values = self.costs.costs(arch, self._names)
        missing = broken(self.required, values)
        if missing:  # its other costs may be missing too: the gap alone is the reason
            return ruled_out_result(missing, values, self.source)
        broke = [(c, v) for c, v in broken(self.before, values) if v == v and abs(v) < 1e308]
        return ruled_out_result(broke, values, self.source) if broke else None

    def judge(self, result: dict) -> dict:
        """`result` as evaluated, marked infeasible when it breaks a limit (every limit is
        checked: a known cost is checked again on what was recorded)."""
        if not self.constraints or not usable(result):
            return result
        broke = broken(self.constraints, result)
        return mark_infeasible(result, broke, self.source) if broke else result
