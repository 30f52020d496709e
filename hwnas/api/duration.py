"""How long the rest of a search should take: the note a search gives once, early.

The estimate is the wall-clock time per candidate after the first one evaluated in this
session, times the candidates left. The first is left out because it carries the start-up
(imports, loading a benchmark or a dataset, warming up): a tabular search's first lookup took
2 s and the next ones 0.1 ms, and an estimate from the first said "199 left should take about
11.5 min" of a search done in 2 s. Wall-clock, not the evaluation's own seconds: a one-shot
strategy trains a supernet before each candidate, which only the wall clock sees.

The note comes with the first candidate evaluated after that first one (a repeat looked up
or a failure says little of the others' time), and only when candidates take at least
LOOKUP_SECONDS each. The progress display's ETA (hwnas.cli.progress_state) is the same running
mean, updated at every candidate.
"""

from __future__ import annotations

import time
from collections.abc import Callable

LOOKUP_SECONDS = 0.05  # less per candidate: a lookup, nothing worth estimating


class DurationNote:
    """Fed every candidate of a session in order; returns the note once, else None."""

    def __init__(self, budget: int, clock: Callable[[], float] = time.monotonic):
        self.budget = budget
        self.clock = clock
        self.first: tuple[float, int] | None = None  # (time, index) of the first one timed
        self.said = False

    def observe(self, index: int, *, replayed: bool, evaluated: bool, failed: bool) -> str | None:
        now = self.clock()
        if replayed or self.said:
            return None
        if self.first is None:
            self.first = (now, index)
            return None
        if not evaluated or failed or index <= self.first[1]:
            return None
        self.said = True
        per_candidate = (now - self.first[0]) / (index - self.first[1])
        left = self.budget - index - 1
        if left <= 0 or per_candidate < LOOKUP_SECONDS:
            return None
        return duration_estimate(per_candidate, left)


def duration_estimate(per_candidate: float, remaining: int) -> str:
    """The note: time per candidate and the time the `remaining` ones should take (an upper
    bound when a strategy repeats itself: a repeat is looked up, not evaluated)."""
    return (f"candidates take about {_duration(per_candidate)} each (after the first, which "
            f"includes start-up); the {remaining} left should take about "
            f"{_duration(per_candidate * remaining)}")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.2f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
