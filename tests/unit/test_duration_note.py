"""The search's duration note (issue 38): a running estimate, not the first candidate's time x
the candidates left, which said "199 left should take about 11.5 min" of a tabular search
done in 2 s. A fake clock: nothing here depends on the machine's speed."""

from __future__ import annotations

import re

from hwnas.api.duration import DurationNote


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def feed(note: DurationNote, clock: Clock, seconds: list[float], **kinds) -> list[str | None]:
    """Candidates 0, 1, ... ending `seconds[i]` after the one before; every one evaluated and
    successful unless `kinds` says otherwise (index -> keyword arguments)."""
    said = []
    for index, step in enumerate(seconds):
        clock.now += step
        kind = {"replayed": False, "evaluated": True, "failed": False,
                **kinds.get(str(index), {})}
        said.append(note.observe(index, **kind))
    return said


def test_a_tabular_search_whose_first_lookup_loads_the_benchmark_says_nothing():
    clock = Clock()
    said = feed(DurationNote(200, clock), clock, [10.0] + [0.0001] * 20)
    assert said == [None] * 21  # lookups: nothing worth estimating, and no 33-minute guess


def test_the_estimate_leaves_the_first_candidate_out():
    """20 candidates: the first 50 s (imports, data), then 36 s each."""
    clock = Clock()
    said = feed(DurationNote(20, clock), clock, [50.0, 36.0, 36.0, 36.0])
    notes = [s for s in said if s]
    assert said[1] is not None and len(notes) == 1  # once, with the second candidate
    assert "about 36 s each" in notes[0] and "the 18 left should take about 10.8 min" in notes[0]


def test_replays_repeats_and_failures_wait_for_a_candidate_evaluated_now():
    """A resumed run replays 5 candidates in a blink; then the first evaluated one carries the
    start-up; a repeat looked up and an instant failure say little of the others' time."""
    clock = Clock()
    kinds = {**{str(i): {"replayed": True} for i in range(5)},
             "6": {"evaluated": False}, "7": {"failed": True}}
    said = feed(DurationNote(30, clock), clock, [0.001] * 5 + [40.0, 0.001, 0.5, 29.499],
                **kinds)
    assert said[:8] == [None] * 8
    # 3 candidates in 30 s after the first one timed: 10 s each, 21 left
    assert re.search(r"about 10 s each.*the 21 left should take about 3\.5 min", said[8])


def test_nothing_is_said_when_nothing_is_left():
    clock = Clock()
    assert feed(DurationNote(2, clock), clock, [30.0, 30.0]) == [None, None]
