"""Progress that tells the time: done/total, elapsed and ETA, on a terminal or in a log.

`ProgressDisplay` has the part of rich's `Progress` the commands use (`add_task`, `update`,
`console`, a `with` block), so `render.progress_bar` returns one and its call sites stay as
they are. What every command gets from it:

* Nothing is drawn before the first update, or before `begin()`. A command opens its bar and
  then calls the api, which checks its inputs first; a refused input must print its one line,
  not a bar above it. A command whose api says when the checks are over (a search's "start"
  event) calls `begin()` then, so the bar is there during the first step, however long.
* On a terminal, one line per task that fits the width (hwnas.cli.progress_render), redrawn
  a few times a second: elapsed ticks, the ETA counts down. Notes (`note()`) and lines printed
  through `console` go above the bar, which is drawn again below them: no stale copy is left.
* Anywhere else (a pipe, nohup, CI, a cluster job's log) rich would draw the bar once, at the
  end; instead one plain line per step on stderr, at most one every HWNAS_PROGRESS_SECONDS
  seconds (default 10, so a fast loop does not flood the log and a slow one reports every
  step), and always the last.

Elapsed and the ETA are hwnas.cli.progress_state's: elapsed from the task's start, the ETA a
running mean per step that leaves the first (start-up) step out once there are others.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.text import Text

from hwnas.cli.progress_render import bar_line
from hwnas.cli.progress_state import TaskState
from hwnas.quoting import printable

DEFAULT_SECONDS = 10.0
ENV_SECONDS = "HWNAS_PROGRESS_SECONDS"
REFRESH_PER_SECOND = 4  # elapsed and the ETA are whole seconds


def line_interval() -> float:
    raw = os.environ.get(ENV_SECONDS, "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_SECONDS
    except ValueError:
        return DEFAULT_SECONDS


class _Bars:
    """The live part of the screen: one fitted line per task, made when rich redraws it."""

    def __init__(self, display: ProgressDisplay):
        self.display = display

    def __rich_console__(self, console, options):
        now = self.display.clock()
        for state in list(self.display.tasks.values()):  # rich's thread: a task may be added
            yield bar_line(state, now, options.max_width)


class ProgressDisplay:
    """A progress display that starts on the first update (see the module's docstring).

    `clock` and `auto_refresh` are for tests: a fake clock, and a screen redrawn only when
    something happens (a note, `begin`, the end) instead of by rich's timer thread."""

    def __init__(self, console: Console, *, quiet: bool = False, plain: bool | None = None,
                 stream: TextIO | None = None, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic, auto_refresh: bool = True):
        self.console = console
        self.quiet = quiet
        self.plain = (not console.is_terminal) if plain is None else plain
        self.stream = stream
        self.interval = line_interval() if interval is None else interval
        self.clock = clock
        self.auto_refresh = auto_refresh
        self.tasks: dict[int, TaskState] = {}
        self._live = None  # rich's Live, made when drawing starts
        self._stderr: TextIO | None = None  # stderr as it was before Live redirected it

    # -- the rich Progress API the commands use
    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def add_task(self, description: str, total: float | None = None, **fields) -> int:
        task = len(self.tasks)
        self.tasks[task] = TaskState(description, total, self.clock(), dict(fields))
        return task

    def update(self, task: int, *, total: float | None = None, completed: float | None = None,
               advance: float | None = None, description: str | None = None,
               count: str | None = None, timed: bool = True, **fields) -> None:
        """rich's update, plus `count` (said instead of done/total; "" goes back to it) and
        `timed=False` for a step that is not work done now (a replayed candidate)."""
        state, now = self.tasks[task], self.clock()
        if total is not None:
            state.total = total
        if description is not None:
            state.description = description
        if count is not None:
            state.count = count or None
        state.fields.update(fields)
        done = state.completed if completed is None else completed
        done += advance or 0
        stepped = done != state.completed
        state.advance(now, done, timed)
        if self.quiet:
            return
        if self.plain:
            self._maybe_print(state, now, stepped)
        else:
            self._start_live()

    def begin(self) -> None:
        """The inputs are checked and the work starts: draw now (on a terminal), and time the
        work from now on, not from the command's start."""
        now = self.clock()
        for state in self.tasks.values():
            state.restart_clock(now)
        if not self.quiet and not self.plain:
            self._start_live()

    def note(self, text: str) -> None:
        """A line for the user on stderr; on a terminal, above the bar (drawn again below)."""
        if self._live is not None and _is_terminal(self._stderr):
            self.console.print(Text(text))  # rich's Live draws the bar again below it
            return
        stream = self._stderr if self._live is not None else sys.stderr
        stream.write(printable(text) + "\n")  # a note may name a run folder
        stream.flush()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()  # its last drawing stays: elapsed and "done" at the end
            self._live = None
        if self.plain and not self.quiet:
            now = self.clock()
            for state in self.tasks.values():  # the last count, unless it was just printed
                if state.printed_at is not None and state.printed_done != state.completed:
                    self._print(state, now)

    # -- plain lines
    def _maybe_print(self, state: TaskState, now: float, stepped: bool) -> None:
        if not stepped or state.completed == state.printed_done:
            return  # a field-only change (a strategy's note) is not a step
        due = state.printed_at is None or now - state.printed_at >= self.interval
        if due or state.finished:
            self._print(state, now)

    def _print(self, state: TaskState, now: float) -> None:
        stream = self.stream or sys.stderr
        stream.write(printable(state.line(now)) + "\n")
        stream.flush()
        state.printed_at, state.printed_done = now, state.completed

    # -- the terminal
    def _start_live(self) -> None:
        if self._live is not None:
            return
        from rich.live import Live

        self._stderr = sys.stderr
        self._live = Live(_Bars(self), console=self.console, auto_refresh=self.auto_refresh,
                          refresh_per_second=REFRESH_PER_SECOND, transient=False,
                          redirect_stdout=True, redirect_stderr=True)
        self._live.start(refresh=True)


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False
