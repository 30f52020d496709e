"""Cost columns of a latency table beyond latency: peak memory and energy per op.

An entry carries ``peak_mem_mb`` / ``energy_mj`` only when the backend measured them
(``hwnas profile --memory`` / ``--energy``); where the device cannot measure a column it is
absent, never zero: a 0 would read as "free" and pull a search towards it.

How ops combine into a network differs per column:

- ``energy_mj``: the sum over ops. Energy accumulates like time, and each op's number already
  includes the device's idle draw over that op's run time, as the network's would.
- ``peak_mem_mb``: the maximum over ops. Ops run one after another and each frees its
  intermediates before the next starts, so activation memory does not add up along a chain:
  while op i runs the live set is its input, output and workspace, which is what its entry
  measured (the input is allocated inside the measured call). Weights are resident throughout
  and are not in this column (the ``params`` objective covers them). Branching networks whose
  outputs stay alive across ops (skip connections spanning several ops) are underestimated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from hwnas.errors import BadInputError, MissingLatencyError
from hwnas.latency.table import STATS, LatencyTable
from hwnas.ops import OpSignature
from profilers.measurement import COST_COLUMNS as _MEASURED

# column -> the `hwnas profile` flag that measures it (profilers names the columns)
COST_COLUMNS = {c: {"peak_mem_mb": "--memory", "energy_mj": "--energy"}[c] for c in _MEASURED}


def _is_value(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def entry_from_measurement(m) -> dict:
    """A table entry from a profilers Measurement: the latency statistics, each cost column
    the backend measured (absent otherwise), and the rest of ``extra``."""
    return m.table_entry()


def available_columns(table: LatencyTable) -> set[str]:
    """The columns (latency statistics and cost columns) that every entry of ``table`` has."""
    if not table.entries:
        return set()
    return {c for c in (*STATS, *COST_COLUMNS)
            if all(_is_value(e.get(c)) for e in table.entries.values())}


def measure_command(table: LatencyTable, column: str) -> str:
    """The command that makes a table of the same space and backend with ``column``."""
    return f"{table.fill_command()} {COST_COLUMNS[column]}"


def require_column(table: LatencyTable, column: str) -> None:
    """One-line BadInputError unless every entry of ``table`` has ``column``."""
    if column not in COST_COLUMNS:
        raise BadInputError(f"unknown cost column {column!r}; allowed: "
                            f"{', '.join(COST_COLUMNS)}")
    if column in available_columns(table):
        return
    lacking = sum(1 for e in table.entries.values() if not _is_value(e.get(column)))
    have = ", ".join(sorted(available_columns(table), key=_column_order)) or "none"
    where = f"latency table {table.path}" if table.path else "the latency table"
    part = "" if lacking == len(table.entries) else f" in {lacking} of {len(table.entries)} entries"
    raise BadInputError(f"{where} has no '{column}' column{part} (it has: {have}); measure it "
                        f"with `{measure_command(table, column)}`")


def _column_order(name: str) -> int:
    order = (*STATS, *COST_COLUMNS)
    return order.index(name) if name in order else len(order)


def _values(table: LatencyTable, sigs: Iterable[OpSignature], column: str) -> list[float]:
    sigs = list(sigs)
    require_column(table, column)
    missing = table.missing(sigs)
    if missing:
        raise MissingLatencyError(missing, table.path, table.fill_command())
    return [float(table.entries[s.key][column]) for s in sigs]


def predict_peak_memory(table: LatencyTable, sigs: Iterable[OpSignature]) -> float:
    """Peak activation memory of the network in MB: the largest op's peak (see module doc)."""
    return max(_values(table, sigs, "peak_mem_mb"), default=0.0)


def predict_energy(table: LatencyTable, sigs: Iterable[OpSignature]) -> float:
    """Energy of one inference of the network in mJ: the sum of its ops' energy."""
    return sum(_values(table, sigs, "energy_mj"))


# objective name -> how a network's value is read from the table (latency: the calibrated sum)
NETWORK_OBJECTIVES = ("latency_ms", "energy_mj", "peak_mem_mb")


def predict_network(table: LatencyTable, sigs: list[OpSignature], objective: str,
                    stat: str | None = None, residual: bool = True, floor: bool = True) -> float:
    """The table's prediction of one objective for the network running `sigs`: what a search
    records for it. `residual=False, floor=False` leave out the calibration's whole-network
    correction and floor: an expected cost, which adds up parts of networks, must stay a sum
    of per-op terms (it equals the prediction without residual for a one-hot distribution,
    since a calibration keeps every network's affine prediction above its floor)."""
    if objective == "latency_ms":
        return table.predict_ops(sigs, stat, residual=residual, floor=floor)
    if objective == "energy_mj":
        return predict_energy(table, sigs)
    if objective == "peak_mem_mb":
        return predict_peak_memory(table, sigs)
    raise BadInputError(f"the latency table predicts {', '.join(NETWORK_OBJECTIVES)}; "
                        f"not {objective!r}")
