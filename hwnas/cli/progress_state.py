"""One progress task's numbers: done/total, elapsed since the start, and the time left.

Elapsed counts from the moment the task was added (the command's start), whatever is drawn
when: it never starts again.

The time left is the work left times the mean time per unit of work, a running mean updated
at every step. The first step is left out of it as soon as a second one has come, because the
first carries the start-up (imports, loading a benchmark or a dataset, building a supernet):
a tabular search whose first lookup took 2 s and the next ones 0.1 ms estimates from the
0.1 ms, not from the 2 s. With one step only, that step is all there is: a terminal shows the
estimate it gives (`eta(single=True)`) because it redraws as soon as a better one exists; a
log line would keep it, so plain lines wait for the second step.

A step that is not work done now (a resumed run's replayed candidates) is not timed: the
clock of the estimate starts again after it (`advance(..., timed=False)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def clock(seconds: float | None) -> str:
    """0:01:05; '?' when unknown."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class StepRate:
    """Seconds per unit of work from (time, done) marks: the running mean after the first."""

    origin: tuple[float, float]  # (time, done) where timing begins
    first: tuple[float, float] | None = None
    last: tuple[float, float] | None = None

    def restart(self, now: float, done: float) -> None:
        self.origin, self.first, self.last = (now, done), None, None

    def step(self, now: float, done: float) -> None:
        if self.first is None:
            self.first = (now, done)
        self.last = (now, done)

    def per_unit(self, single: bool = False) -> float | None:
        if self.first is None or self.last is None:
            return None
        if self.last[1] > self.first[1]:
            return (self.last[0] - self.first[0]) / (self.last[1] - self.first[1])
        if single and self.first[1] > self.origin[1]:
            return (self.first[0] - self.origin[0]) / (self.first[1] - self.origin[1])
        return None


@dataclass
class TaskState:
    """What a plain line and a terminal bar are made of, for one task."""

    description: str
    total: float | None
    started: float
    fields: dict = field(default_factory=dict)
    completed: float = 0.0
    count: str | None = None  # said instead of done/total, e.g. a sweep's setting and epoch
    rate: StepRate | None = None
    printed_at: float | None = None
    printed_done: float | None = None

    def __post_init__(self) -> None:
        if self.rate is None:
            self.rate = StepRate((self.started, self.completed))

    def advance(self, now: float, completed: float, timed: bool = True) -> None:
        """Work done up to `completed`; an untimed step restarts the estimate's clock."""
        stepped = completed > self.completed
        self.completed = completed
        if not timed:
            self.rate.restart(now, completed)
        elif stepped:
            self.rate.step(now, completed)

    def restart_clock(self, now: float) -> None:
        """Time the work from now on (the inputs are checked, the work starts)."""
        self.rate.restart(now, self.completed)

    @property
    def finished(self) -> bool:
        return self.total is not None and self.completed >= self.total

    def eta(self, now: float, single: bool = False) -> float | None:
        """Seconds left; counts down between steps, from the last step's estimate."""
        per = self.rate.per_unit(single)
        if self.total is None or per is None:
            return None
        last_time, last_done = self.rate.last
        return max(0.0, (self.total - last_done) * per - (now - last_time))

    def count_text(self) -> str:
        if self.count:
            return self.count
        return f"{int(self.completed)}/{'?' if self.total is None else int(self.total)}"

    def percent_text(self) -> str:
        return f" ({100 * self.completed / self.total:.0f}%)" if self.total else ""

    def eta_text(self, now: float, single: bool = False) -> str:
        return "done" if self.finished else clock(self.eta(now, single))

    def line(self, now: float) -> str:
        """The plain line: `search (random): 3/20 (15%) elapsed 0:00:40 ETA 0:03:10  info`."""
        info = self.fields.get("info") or ""
        return (f"{self.description}: {self.count_text()}{self.percent_text()} elapsed "
                f"{clock(now - self.started)} ETA {self.eta_text(now)}"
                + (f"  {info}" if info else ""))
