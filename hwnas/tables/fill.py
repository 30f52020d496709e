"""Fill a table: measure only the ops its space has and it lacks, leaving the rest untouched.

A table is one device's measurements; an entry timed on another machine is not comparable
with the others, so filling refuses to run on a different device unless told to.
"""

from __future__ import annotations

from collections.abc import Callable

from hwnas.errors import BadInputError
from hwnas.latency.columns import available_columns
from hwnas.latency.table import LatencyTable
from hwnas.registry import SPACES
from hwnas.tables.profile import backend_for_table, profile_ops


def table_space(table: LatencyTable):
    """Rebuild the space the table was made for from its recorded name and config."""
    name = table.space.get("name")
    if not name:
        raise BadInputError(f"table {table.path} does not record which space it was made for, "
                            "so its missing ops are unknown; profile a new one with "
                            "`hwnas profile --space NAME`")
    return SPACES.get(name)(**table.space.get("config", {}))


def device_check(table: LatencyTable, allow_other_device: bool = False) -> str | None:
    """None when this machine is the table's device; else a warning (allowed) or an error.

    The slug is computed from the table's own backend's fingerprint, exactly as when the table
    was made: CPU model + cores for CPU backends, the GPU's name for GPU ones.
    """
    from profilers import device_slug

    backend = backend_for_table(table)
    here, there = device_slug(backend.fingerprint()), device_slug(table.device or {})
    if here == there:
        return None
    if not allow_other_device:
        raise BadInputError(f"table {table.path} was measured on {there!r}, this machine is "
                            f"{here!r}; fill it on its own device, or pass --allow-other-device "
                            "to mix devices anyway")
    return (f"warning: filling a {there!r} table on {here!r}: mixing devices makes the table's "
            "entries incomparable")


def plan_fill(table: LatencyTable, allow_other_device: bool = False) -> dict:
    """What a fill would measure, checked before anything runs: {"missing": [sigs], "warning"}.

    With nothing to measure no devices are mixed, so the device is only checked otherwise.
    """
    space = table_space(table)
    missing = [s for s in space.all_ops() if s.key not in table.entries]
    warning = device_check(table, allow_other_device) if missing else None
    return {"space": space, "missing": missing, "warning": warning}


def fill_table(table: LatencyTable, *, allow_other_device: bool = False, timing=None,
               progress: Callable[[dict], None] | None = None, plan: dict | None = None) -> dict:
    """Measure the missing ops on the table's backend/threads/batch/dtype and save in place.

    Returns {"path", "measured": [keys], "kept": n, "entries": n, "warning"}. Nothing is
    written when no op is missing, so a complete table stays byte-identical.
    """
    plan = plan or plan_fill(table, allow_other_device)
    missing, kept = plan["missing"], len(table.entries)
    if missing:
        if table.path is None:
            raise BadInputError("fill_table needs a table loaded from a file, to write it back")
        columns = available_columns(table)  # new entries get the columns the old ones have
        profile_ops(plan["space"], missing, table.backend, threads=table.threads,
                    batch=table.batch, dtype=table.dtype, timing=timing, progress=progress,
                    table=table, memory="peak_mem_mb" in columns,
                    energy="energy_mj" in columns)
        table.save(table.path)
    return {"path": str(table.path), "measured": [s.key for s in missing], "kept": kept,
            "entries": len(table.entries), "warning": plan["warning"]}
