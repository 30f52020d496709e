"""Objectives with their direction, and constraints such as `latency_ms<=3`. The scalar rewards
over them are hwnas.rewards."""

from __future__ import annotations

import difflib
import math
import operator
import re
from dataclasses import dataclass

from hwnas.errors import BadInputError

# Moved to hwnas.rewards (issue 30: one module for rewards); importing them from here keeps
# working until the next release.
_MOVED_TO_REWARDS = ("mnasnet_reward", "reward_terms", "weighted_reward")


def __getattr__(name: str):
    if name in _MOVED_TO_REWARDS:
        import hwnas.rewards  # lazy: hwnas.rewards imports this module

        return getattr(hwnas.rewards, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str  # "min" or "max"
    unit: str
    description: str
    column: str | None = None  # the latency-table cost column it needs, if any

    @property
    def sign(self) -> int:
        """+1 when larger is better, -1 when smaller is better."""
        return 1 if self.direction == "max" else -1


OBJECTIVES = {o.name: o for o in (
    Objective("accuracy", "max", "", "validation accuracy from the estimator"),
    Objective("latency_ms", "min", "ms", "latency predicted by the latency table"),
    Objective("params", "min", "", "trainable parameters"),
    Objective("flops", "min", "", "FLOPs of one inference (torch's FLOP counter)"),
    Objective("energy_mj", "min", "mJ", "energy per inference: sum of the table's per-op energy",
              column="energy_mj"),
    Objective("peak_mem_mb", "min", "MB",
              "peak activation memory: largest per-op peak in the table (weights excluded)",
              column="peak_mem_mb"),
)}

DEFAULT_OBJECTIVES = ("accuracy", "latency_ms")


# Costs a tabular benchmark measured on named devices: `latency:pixel3`, `energy:fpga`.
DEVICE_COSTS = {"latency": ("ms", "latency on a benchmark's device"),
                "energy": ("mJ", "energy per inference on a benchmark's device")}


def get_objective(name: str) -> Objective:
    if name in OBJECTIVES:
        return OBJECTIVES[name]
    kind, sep, device = name.partition(":")
    if sep and kind == "accuracy" and re.fullmatch(r"[A-Za-z0-9_.-]+", device):
        return Objective(name, "max", "", f"accuracy on {device} from a tabular benchmark")
    if sep and kind in DEVICE_COSTS and re.fullmatch(r"[A-Za-z0-9_.-]+", device):
        unit, what = DEVICE_COSTS[kind]
        return Objective(name, "min", unit, f"{what} ({device})")
    close = difflib.get_close_matches(name, list(OBJECTIVES), n=1, cutoff=0.3)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise BadInputError(f"unknown objective {name!r}; allowed: {', '.join(OBJECTIVES)}, or "
                        "accuracy:DATASET, latency:DEVICE, energy:DEVICE from a tabular "
                        f"benchmark{hint}")


def parse_objectives(names: str | list[str] | tuple[str, ...]) -> list[Objective]:
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    objectives = [get_objective(n) for n in names]
    if len(objectives) < 2 or len({o.name for o in objectives}) != len(objectives):
        raise BadInputError("--objectives needs at least two distinct objectives, e.g. "
                            f"'accuracy,latency_ms'; got {','.join(names)!r}")
    return objectives


# -- constraints ----------------------------------------------------------------------------
_CMP = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
        "==": operator.eq}
_CONSTRAINT = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z0-9_.-]+)?)\s*(<=|>=|==|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    name: str
    op: str
    bound: float

    def holds(self, result: dict) -> bool:
        value = result.get(self.name)
        return value is not None and math.isfinite(value) and _CMP[self.op](value, self.bound)

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.bound:g}"


def parse_constraint(text: str) -> Constraint:
    """'latency_ms<=3' -> Constraint; values are never evaluated as code."""
    match = _CONSTRAINT.match(text)
    if not match:
        raise BadInputError(f"cannot read constraint {text!r}; write NAME OP NUMBER with OP one "
                            f"of {', '.join(_CMP)}, e.g. 'latency_ms<=3'")
    name, op, bound = match.groups()
    get_objective(name)
    try:
        return Constraint(name, op, float(bound))
    except ValueError:
        raise BadInputError(f"constraint {text!r}: {bound!r} is not a number") from None
