"""Rendering helpers: one console, tables, progress bars, JSON output."""

from __future__ import annotations

import json
import sys

from rich.console import Console

from hwnas.cli.progress import ProgressDisplay

console = Console(highlight=False)


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
