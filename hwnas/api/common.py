"""Small helpers the api modules share."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from pathlib import Path

Progress = Callable[[dict], None] | None


def build_space(name: str, config: dict | None = None):
    from hwnas.registry import SPACES

    return SPACES.get(name)(**(config or {}))


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def check_latency_stat(stat: str | None) -> None:
    """One line for a statistic no table can predict in (None: chosen by measurement)."""
    from hwnas.errors import BadInputError
    from profilers.measurement import LATENCY_STATS

    if stat is not None and stat not in LATENCY_STATS:
        import difflib

        close = difflib.get_close_matches(str(stat), LATENCY_STATS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise BadInputError(f"unknown latency statistic {stat!r}{hint}; allowed: "
                            f"{', '.join(LATENCY_STATS)}")


def validation_path(table_path: str | Path) -> Path:
    """Where `validate_table` writes a table's report by default: beside it (and where
    `profile --force` removes the report of the table it replaced)."""
    return Path(table_path).with_suffix(".validation.json")
