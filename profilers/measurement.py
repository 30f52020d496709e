"""Measurement: latency statistics of one model on one backend, in milliseconds.

Standard library and numpy only (the package runs on remote devices).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_STAT_FIELDS = ("p50", "p90", "mean", "std")
# The low end of the distribution, kept beside it (absent in measurements made before): on a
# shared machine a neighbour only ever adds time, so the fastest repetitions are the ones it did
# not touch, and the minimum and p10 repeat between passes where the median does not.
LOW_FIELDS = ("p0", "p10")
# The statistics a latency table can predict in (`hwnas profile --latency-stat`): the low end
# for ranking and for a machine with neighbours, p50/p90 for a dedicated device whose tail is
# what users feel. mean and std are kept, but a mean mixes both ends.
LATENCY_STATS = ("p0", "p10", "p50", "p90")
# Costs a backend measures on request (measure_memory/measure_energy), kept in `extra`.
COST_COLUMNS = ("peak_mem_mb", "energy_mj")


def _is_int(value: Any, minimum: int = 1) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


def _is_cost(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def _bad(owner: str, name: str, must: str, value: Any) -> ValueError:
    """scikit-learn's one error template for a bad parameter."""
    return ValueError(f"The '{name}' parameter of {owner} must be {must}. Got {value!r} instead.")


@dataclass(frozen=True)
class Measurement:
    """Latency statistics of one measured model. Units are always milliseconds."""

    p50: float
    p90: float
    mean: float
    std: float
    n: int
    extra: dict[str, Any] = field(default_factory=dict)
    p0: float | None = None  # the fastest repetition
    p10: float | None = None

    def value(self, stat: str) -> float:
        """The latency statistic `stat` (one of LATENCY_STATS, or mean)."""
        value = getattr(self, stat, None) if stat in (*LATENCY_STATS, "mean") else None
        if value is None:
            raise ValueError(f"this measurement has no {stat!r}; statistics: "
                             f"{', '.join(LATENCY_STATS)}, mean")
        return float(value)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in _STAT_FIELDS}
        out.update({k: getattr(self, k) for k in LOW_FIELDS if getattr(self, k) is not None})
        out["n"] = self.n
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    def table_entry(self) -> dict[str, Any]:
        """A latency-table entry: the statistics, each measured cost column at the top level,
        and the rest of ``extra``. A cost that was not measured is absent, never 0."""
        out = self.to_dict()
        extra = out.pop("extra", {})
        for column in COST_COLUMNS:
            value = extra.pop(column, None)
            if _is_cost(value):
                out[column] = float(value)
        if extra:
            out["extra"] = extra
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        missing = [k for k in (*_STAT_FIELDS, "n") if k not in data]
        if missing:
            raise ValueError(f"A measurement needs the keys {missing}. Got {sorted(data)} instead.")
        stats = {k: float(data[k]) for k in _STAT_FIELDS}
        stats.update({k: float(data[k]) for k in LOW_FIELDS if data.get(k) is not None})
        bad = {k: v for k, v in stats.items() if not math.isfinite(v) or v < 0}
        if bad:
            raise ValueError(f"Measurement statistics must be finite and >= 0 ms. Got {bad}.")
        if not _is_int(data["n"]):
            raise _bad("Measurement", "n", "an int >= 1", data["n"])
        return cls(n=int(data["n"]), extra=dict(data.get("extra") or {}), **stats)
