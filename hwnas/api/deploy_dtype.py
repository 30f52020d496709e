"""The dtype a run's networks are deployed in: the one its table timed, where `hwnas export`
can write and re-time that dtype.

`hwnas export` writes fp32 and, on ort-cpu, int8 (hwnas.tables.export_int8). A search on an
int8 table ranks int8 latencies, so the run is an int8 deployment: its config records that
(`deploy_dtype`), and its export writes the int8 file and compares the table's prediction
with the int8 file's re-timing. fp16 has no export path: a search on an fp16 table is
refused (or, with --allow-mismatch, warned and deployed in fp32).
"""

from __future__ import annotations

EXPORT_DTYPES = ("fp32", "int8")


def of_table(table) -> str:
    """The deploy dtype of a run searched on `table` (None: no table, fp32)."""
    dtype = getattr(table, "dtype", None)
    return dtype if dtype in EXPORT_DTYPES else "fp32"


def of_run(config: dict) -> str:
    """The deploy dtype a run's config records, else (a run written before it was recorded)
    its table's where export has it, else fp32."""
    recorded = config.get("deploy_dtype")
    if recorded in EXPORT_DTYPES:
        return recorded
    table_dtype = (config.get("table") or {}).get("dtype")
    return table_dtype if table_dtype in EXPORT_DTYPES else "fp32"
