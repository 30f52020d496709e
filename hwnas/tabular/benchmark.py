"""BenchmarkTable: a tabular NAS benchmark (one CSV row per architecture) read as columns.

The format is that of `nb201_hw.csv` (NAS-Bench-201 accuracies x HW-NAS-Bench costs): an
`arch_str` column in NB201's string form and numeric columns, empty where a value is missing.
Objective-style names (`accuracy:cifar100`, `latency:pixel3`, `energy:fpga`) resolve to columns;
accuracies are stored in percent and returned by `objective_values` as fractions in [0, 1].
"""

from __future__ import annotations

import csv
import difflib
import gc
import os
from pathlib import Path

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import BadInputError

ARCH_COLUMN = "arch_str"
# Objective-style names -> the column they read (HW-NAS-Bench costs are its CIFAR-10 config).
ALIASES = {
    "accuracy": "nats_c10_test_acc_200ep",
    "accuracy:cifar10": "nats_c10_test_acc_200ep",
    "accuracy:cifar100": "nats_c100_test_acc_200ep",
    "accuracy:imagenet16": "nats_in16_test_acc_200ep",
    **{f"latency:{dev}": f"hw_c10_{dev}_latency_ms"
       for dev in ("raspi4", "pixel3", "eyeriss", "fpga", "edgegpu", "edgetpu")},
    "energy:fpga": "hw_c10_fpga_energy_mJ_derived",
}

_CACHE: dict[str, tuple[tuple[int, int], BenchmarkTable]] = {}


def is_accuracy_column(column: str) -> bool:
    """Accuracy columns are in percent in the CSV (`..._acc_200ep`, `..._acc_12ep`)."""
    return "_acc_" in column or column.endswith("_acc")


class BenchmarkTable:
    """Columns of a benchmark CSV, rows aligned with `arch_of(row)`; load with `load(path)`."""

    space_name = "nb201"

    def __init__(self, path: Path, header: list[str], rows: list[list[str]]):
        self.path = path
        self.columns = list(header)
        cells = list(zip(*rows, strict=True)) if rows else [()] * len(header)
        self._arch_strings: tuple[str, ...] = cells[header.index(ARCH_COLUMN)]
        # Converted once, raw strings dropped: ~6 MB instead of ~37 MB of small strings.
        self._values: dict[str, np.ndarray] = {}
        self._text_columns: list[str] = []
        for name, column in zip(header, cells, strict=True):
            floats = _to_floats(column)
            if floats is None:
                self._text_columns.append(name)
            else:
                self._values[name] = floats
        self._objectives: dict[str, np.ndarray] = {}
        self._row_of = {s: i for i, s in enumerate(self._arch_strings)}
        if len(self._row_of) != len(self._arch_strings):
            raise BadInputError(f"benchmark {path} lists some architecture twice in "
                                f"{ARCH_COLUMN!r}; each row must be a distinct architecture")

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike) -> BenchmarkTable:
        """Read (once per resolved path and file version) a benchmark CSV."""
        resolved = Path(path).expanduser().resolve()
        if not resolved.is_file():
            raise BadInputError(f"benchmark file {str(path)!r} does not exist; "
                                f"{_what_exists(resolved)}")
        stat = resolved.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        cached = _CACHE.get(str(resolved))
        if cached is not None and cached[0] == version:
            return cached[1]
        # ~550k small objects and no reference cycles: cyclic-GC passes over them are pure
        # overhead (about a third of the load time), so pause the collector while reading.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            header, rows = _read_csv(resolved)
            table = cls(resolved, header, rows)
        finally:
            if was_enabled:
                gc.enable()
        table._check_arch_strings()
        _CACHE[str(resolved)] = (version, table)
        return table

    def _check_arch_strings(self) -> None:
        """Every row must hold an NB201 arch string, so `arch_of` never fails later."""
        # Imported here, as below: the space module pulls in torch, reading a table does not.
        from hwnas.spaces.nb201 import ARCH_PATTERN, arch_from_string

        for row, text in enumerate(self._arch_strings):
            if not ARCH_PATTERN.fullmatch(text):
                try:
                    arch_from_string(text)  # the detailed reason
                except BadInputError as exc:
                    raise BadInputError(f"benchmark {self.path.name} row {row}: {exc}") from None

    # -- names and columns --------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return len(self._arch_strings)

    def aliases(self) -> dict[str, str]:
        """The objective-style names this table can answer, with their columns."""
        return {name: col for name, col in ALIASES.items() if col in self._values}

    def numeric_columns(self) -> list[str]:
        """Columns whose every non-empty cell is a number (not the arch string or op names)."""
        return list(self._values)

    def resolve(self, name: str) -> str:
        """An objective-style name or an exact numeric column name -> the column it reads."""
        name = str(name).strip()
        if name in self._values:
            return name
        if name in ALIASES and ALIASES[name] in self._values:
            return ALIASES[name]
        allowed = [*self.aliases(), *self.numeric_columns()]
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.3)
        hint = f"; closest: {close[0]!r}" if close else ""
        what = "a text column, not a number" if name in self._text_columns else "unknown"
        raise BadInputError(f"benchmark {self.path.name}: {name!r} is {what}{hint}; allowed: "
                            f"{', '.join(allowed)}")

    def values(self, column: str) -> np.ndarray:
        """Float values of one column as stored (accuracies in percent), NaN where empty.
        Read-only: the array is shared by every caller."""
        if column not in self._values:
            self.resolve(column)  # raises with the allowed names
        return self._values[column]

    def objective_values(self, name: str) -> np.ndarray:
        """Values of an objective, aligned with rows: accuracies as fractions, costs as stored."""
        column = self.resolve(name)
        if column not in self._objectives:
            raw = self.values(column)
            out = raw / 100.0 if is_accuracy_column(column) else raw
            out.flags.writeable = False
            self._objectives[column] = out
        return self._objectives[column]

    def available(self, names) -> np.ndarray:
        """Boolean mask of rows where every named objective has a finite value."""
        if isinstance(names, str):
            names = [names]
        mask = np.ones(self.n_rows, dtype=bool)
        for name in names:
            mask &= np.isfinite(self.objective_values(name))
        return mask

    # -- rows <-> architectures ---------------------------------------------------------------
    def row_of(self, arch: Arch | str) -> int:
        """The row of an architecture (or its NB201 string); one dictionary look-up."""
        if isinstance(arch, Arch):
            if arch.space != self.space_name:
                raise BadInputError(f"benchmark {self.path.name} covers space "
                                    f"{self.space_name!r}, not {arch.space!r}")
            from hwnas.spaces.nb201 import arch_to_string

            try:
                key = arch_to_string(arch)
            except KeyError as exc:
                raise BadInputError(f"architecture {arch} lacks edge {exc}; an NB201 "
                                    "architecture has op_0to1 ... op_2to3") from None
        else:
            key = str(arch).strip()
        row = self._row_of.get(key)
        if row is None:
            raise BadInputError(f"architecture {key!r} is not in benchmark {self.path.name} "
                                f"({self.n_rows} rows)")
        return row

    def arch_of(self, row: int) -> Arch:
        from hwnas.spaces.nb201 import arch_from_string

        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not (
                0 <= row < self.n_rows):
            raise BadInputError(f"row {row!r} is not in benchmark {self.path.name}; "
                                f"rows are 0..{self.n_rows - 1}")
        return arch_from_string(self._arch_strings[int(row)])

    def arch_string(self, row: int) -> str:
        return self._arch_strings[int(row)]

    def __repr__(self) -> str:
        return f"BenchmarkTable({str(self.path)!r}, rows={self.n_rows})"


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInputError(f"benchmark {path} is not a readable CSV ({exc}); expected a "
                            f"header row with an {ARCH_COLUMN!r} column") from None
    if not header or ARCH_COLUMN not in header:
        shown = ", ".join((header or [])[:8]) or "(no header)"
        raise BadInputError(f"benchmark {path} has no {ARCH_COLUMN!r} column (its header: "
                            f"{shown}); pass a benchmark CSV such as nb201_hw.csv")
    if len(set(header)) != len(header):
        twice = sorted({c for c in header if header.count(c) > 1})
        raise BadInputError(f"benchmark {path} names column(s) {', '.join(twice)} twice; "
                            "each column name must be unique")
    bad = next((i for i, row in enumerate(rows) if len(row) != len(header)), None)
    if bad is not None:
        raise BadInputError(f"benchmark {path} line {bad + 2} has {len(rows[bad])} fields, "
                            f"the header {len(header)}; the file is not a well-formed CSV")
    return header, rows


def _to_floats(cells: tuple[str, ...]) -> np.ndarray | None:
    """The column as read-only floats (NaN where empty); None if a cell is not a number."""
    try:
        out = np.array([float(c) if c else np.nan for c in cells], dtype=float)
    except ValueError:
        return None
    out.flags.writeable = False
    return out


def _what_exists(path: Path) -> str:
    parent = path.parent
    if not parent.is_dir():
        return f"folder {str(parent)!r} does not exist either"
    csvs = sorted(p.name for p in parent.glob("*.csv"))[:8]
    return (f"CSV files in {parent}: {', '.join(csvs)}" if csvs
            else f"{parent} holds no CSV files")
