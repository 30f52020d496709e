"""Small helpers the api modules share."""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable

Progress = Callable[[dict], None] | None


def build_space(name: str, config: dict | None = None):
    from hwnas.registry import SPACES

    return SPACES.get(name)(**(config or {}))


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def unique_records(history: list[dict]) -> list[dict]:
    """The first record of each architecture, in history order (repeats are lookups)."""
    seen, out = set(), []
    for record in history:
        if record["arch_key"] not in seen:
            seen.add(record["arch_key"])
            out.append(record)
    return out


def json_ready(obj):
    """`obj` as a JSON file can hold it: JSON has no inf/NaN, so those become null (an IGD
    before any feasible point is inf, a noise floor of no re-measured network NaN); a numpy
    scalar becomes the Python number."""
    if getattr(obj, "ndim", None) == 0 and hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj
