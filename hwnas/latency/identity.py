"""Whether the latency table a run (or an export) stored is still the one at its path.

A run stores its table's path and content hash (hwnas.api.search); `hwnas search --resume`,
`export`, `pareto` and `report` say so when the file there has changed since (re-profiled,
calibrated, edited) or is gone, since the run's recorded latencies are the old table's.
"""

from __future__ import annotations

from pathlib import Path

from hwnas.errors import BadInputError
from hwnas.latency.table import LatencyTable, short_hash


def table_change_note(run_config: dict) -> str | None:
    """One line when the latency table at the path a run (or an export) stored is not the one
    it used: another content hash, or gone or unreadable. None when it is the same, or when
    the run stored no hash (made before runs did) or no table."""
    stored = (run_config or {}).get("table") or {}
    then, path = stored.get("hash"), stored.get("path")
    if not then or not path:
        return None
    try:
        now = LatencyTable.load(path).content_hash()
    except BadInputError as exc:
        gone = "is gone" if not Path(path).exists() else f"cannot be read ({exc})"
        return (f"the latency table this run used ({path}, hash {short_hash(then)}) {gone}; "
                "its recorded latencies cannot be checked against it")
    if now == then:
        return None
    return (f"the latency table {path} changed since this run used it (hash "
            f"{short_hash(then)} then, {short_hash(now)} now: re-profiled, calibrated or "
            "edited); the run's recorded latencies are the old table's predictions")
