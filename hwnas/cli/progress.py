"""Progress that tells the truth: done/total, elapsed and ETA, on a terminal or in a log.

`ProgressDisplay` has the part of rich's `Progress` the commands use (`add_task`, `update`,
`console`, a `with` block), so `render.progress_bar` returns one and its call sites stay as
they are. Two rules every command gets from it:

* Nothing is drawn before the first update. A command opens its bar and then calls the api,
  which checks its inputs first; a refused input must print its one line, not a bar above it.
  The first update comes with work done, so validation is over by then.
* On a terminal, a rich bar with the time remaining. Anywhere else (a pipe, nohup, CI, a
  cluster job's log) rich would draw the bar once, at the end; instead one plain line per
  step on stderr, at most one every HWNAS_PROGRESS_SECONDS seconds (default 10, so a fast
  loop does not flood the log and a slow one reports every candidate), and always the last.

The ETA is the remaining steps times the mean time per step since the first step was
reported (work done before it, such as loading a benchmark or replaying a resumed history,
does not count).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console

DEFAULT_SECONDS = 10.0
ENV_SECONDS = "HWNAS_PROGRESS_SECONDS"


def line_interval() -> float:
    raw = os.environ.get(ENV_SECONDS, "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_SECONDS
    except ValueError:
        return DEFAULT_SECONDS


def clock(seconds: float | None) -> str:
    """0:01:05; '?' when unknown."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class TaskState:
    """One task's counts and clock: what a plain line and the ETA are made of."""

    description: str
    total: float | None
    fields: dict = field(default_factory=dict)
    completed: float = 0.0
    started: float = field(default_factory=time.monotonic)
    first_step: tuple[float, float] | None = None  # (time, completed) at the first step
    printed_at: float | None = None
    printed_done: float | None = None

    def step(self, now: float) -> None:
        if self.first_step is None and self.completed > 0:
            self.first_step = (now, self.completed)

    def eta(self, now: float) -> float | None:
        if self.total is None or self.first_step is None:
            return None
        t0, c0 = self.first_step
        if self.completed <= c0:
            return None
        rate = (now - t0) / (self.completed - c0)
        return max(0.0, (self.total - self.completed) * rate)

    def line(self, now: float) -> str:
        done = int(self.completed)
        total = "?" if self.total is None else int(self.total)
        pct = f" ({100 * self.completed / self.total:.0f}%)" if self.total else ""
        info = self.fields.get("info") or ""
        finished = self.total is not None and self.completed >= self.total
        eta = "done" if finished else clock(self.eta(now))
        return (f"{self.description}: {done}/{total}{pct} elapsed {clock(now - self.started)} "
                f"ETA {eta}" + (f"  {info}" if info else ""))


class ProgressDisplay:
    """A progress bar that starts on the first update (see the module's docstring)."""

    def __init__(self, console: Console, *, quiet: bool = False, plain: bool | None = None,
                 stream: TextIO | None = None, interval: float | None = None):
        self.console = console
        self.quiet = quiet
        self.plain = (not console.is_terminal) if plain is None else plain
        self.stream = stream
        self.interval = line_interval() if interval is None else interval
        self.tasks: dict[int, TaskState] = {}
        self._rich = None  # the rich Progress, made when the first update comes
        self._rich_ids: dict[int, int] = {}

    # -- the rich Progress API the commands use
    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def add_task(self, description: str, total: float | None = None, **fields) -> int:
        task = len(self.tasks)
        self.tasks[task] = TaskState(description, total, dict(fields))
        if self._rich is not None:
            self._rich_ids[task] = self._rich.add_task(description, total=total,
                                                       **{"info": "", **fields})
        return task

    def update(self, task: int, *, total: float | None = None, completed: float | None = None,
               advance: float | None = None, description: str | None = None,
               **fields) -> None:
        state, now = self.tasks[task], time.monotonic()
        if total is not None:
            state.total = total
        if completed is not None:
            state.completed = completed
        if advance:
            state.completed += advance
        if description is not None:
            state.description = description
        state.fields.update(fields)
        state.step(now)
        if self.quiet:
            return
        if self.plain:
            self._maybe_print(state, now, stepped=completed is not None or bool(advance))
        else:
            self._start_rich()
            self._rich.update(self._rich_ids[task], total=state.total,
                              completed=state.completed, description=state.description,
                              **state.fields)

    def stop(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
        if self.plain and not self.quiet:
            now = time.monotonic()
            for state in self.tasks.values():  # the last count, unless it was just printed
                if state.printed_at is not None and state.printed_done != state.completed:
                    self._print(state, now)

    # -- plain lines
    def _maybe_print(self, state: TaskState, now: float, stepped: bool) -> None:
        if not stepped or state.completed == state.printed_done:
            return  # a field-only change (a strategy's note) is not a step
        finished = state.total is not None and state.completed >= state.total
        due = state.printed_at is None or now - state.printed_at >= self.interval
        if due or finished:
            self._print(state, now)

    def _print(self, state: TaskState, now: float) -> None:
        stream = self.stream or sys.stderr
        stream.write(state.line(now) + "\n")
        stream.flush()
        state.printed_at, state.printed_done = now, state.completed

    # -- the terminal bar
    def _start_rich(self) -> None:
        if self._rich is not None:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._rich = Progress(TextColumn("{task.description}"), BarColumn(),
                              MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                              TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                              console=self.console, transient=False)
        for task, state in self.tasks.items():
            fields = {"info": "", **state.fields}
            self._rich_ids[task] = self._rich.add_task(state.description, total=state.total,
                                                       completed=state.completed, **fields)
        self._rich.start()
