"""SearchContext: what a strategy that trains (a one-shot supernet) needs beyond the space, the
objectives and the cost model — the run's data, its latency table, a folder for its own state,
and a progress callback. Sample-based strategies ignore it.

Built by `hwnas.api.search` before the run directory exists (nothing is written until the
first proposal), from the same table and settings the evaluator scores with, so a one-shot
method's expected latency and the recorded latency of what it proposes come from one table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SearchContext:
    dataset: str = "digits"
    table: Any = None  # hwnas.latency.table.LatencyTable, or None (no device table)
    latency_stat: str = "p50"  # resolved: the table's own unless asked
    workdir: Path | None = None  # the strategy's folder inside the run; created on first use
    progress: Callable[[dict], None] | None = field(default=None, compare=False)

    def report(self, event: dict) -> None:
        if self.progress is not None:
            self.progress(event)
