"""Rendering helpers: one console, tables, progress bars, JSON output."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.errors import MarkupError
from rich.segment import Segment

from hwnas.cli.progress import ProgressDisplay
from hwnas.quoting import printable


class SafeConsole(Console):
    """The CLI's console: names and contents from outside reach the terminal inert.

    A control character in a run folder's name (ESC clears the screen) is written as an
    escape (`\\x1b`), whatever prints it (a str, a rich Text, a table); rich's own cursor
    moves (the progress bar's) are control segments and pass. A `[` in a name that is not
    valid markup is printed as it is rather than raising MarkupError."""

    def render(self, renderable, options=None):
        for segment in super().render(renderable, options):
            if segment.control or printable(segment.text) == segment.text:
                yield segment
            else:
                yield Segment(printable(segment.text), segment.style)

    def render_str(self, text: str, **kwargs):
        try:
            return super().render_str(text, **kwargs)
        except MarkupError:
            return super().render_str(text, **{**kwargs, "markup": False})


console = SafeConsole(highlight=False)


def print_json(payload) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def progress_bar(quiet: bool = False) -> ProgressDisplay:
    """A bar with done/total, elapsed and ETA, drawn from its first update on (so a refused
    input prints no bar); plain lines on stderr when stdout is not a terminal
    (hwnas.cli.progress)."""
    return ProgressDisplay(console, quiet=quiet)


def fmt(value, digits: int = 3) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value / 1e6:.2f}M"
    return str(value)
