"""BenchmarkTable: a tabular NAS benchmark (one CSV row per architecture) read as columns.

What the columns mean comes from the file's format (`hwnas.tabular.formats`, detected from the
header, e.g. `nb201-hw` for `nb201_hw.csv`): which column holds the architecture and how to read
it, which objective-style names (`accuracy:cifar100`, `latency:pixel3`, `energy:fpga`) resolve
to which columns, and which columns are accuracies, returned by `objective_values` as fractions
in [0, 1]. Every other non-empty cell is a number; empty cells are missing values (NaN).
"""

from __future__ import annotations

import csv
import difflib
import gc
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.fileio import check_input_file, may_exist
from hwnas.limits import MAX_COST
from hwnas.tabular.formats.base import (
    BenchmarkFormat,
    detect_format,
    example_benchmark,
    get_format,
    known_formats,
)

_CACHE: dict[tuple[str, str], tuple[tuple[int, int], BenchmarkTable]] = {}


class BenchmarkTable:
    """Columns of a benchmark CSV, rows aligned with `arch_of(row)`; load with `load(path)`."""

    def __init__(self, path: Path, header: list[str], rows: list[list[str]],
                 fmt: BenchmarkFormat):
        self.path = path
        self.format = fmt
        self.columns = list(header)
        cells = list(zip(*rows, strict=True)) if rows else [()] * len(header)
        self._arch_strings: tuple[str, ...] = cells[header.index(fmt.arch_column)]
        # Converted once, raw strings dropped: ~6 MB instead of ~37 MB of small strings.
        self._values: dict[str, np.ndarray] = {}
        self._text_columns: list[str] = []
        for name, column in zip(header, cells, strict=True):
            floats = _to_floats(column)
            if floats is None:
                if fmt.is_accuracy(name) or fmt.is_cost(name):
                    # a column of numbers by its format: one bad cell is that cell, not a
                    # column that turns into text (and an objective then "unknown")
                    row, cell = next((i, c) for i, c in enumerate(column)
                                     if c and _to_floats((c,)) is None)
                    raise BadInputError(
                        f"benchmark {path.name} row {row} (line {row + 2}): {name} is "
                        f"{cell!r:.40}, not a number; fix the file or leave the cell empty "
                        "(a missing value)")
                self._text_columns.append(name)
            else:
                self._values[name] = floats
        self._objectives: dict[str, np.ndarray] = {}
        self._row_of = {s: i for i, s in enumerate(self._arch_strings)}
        if len(self._row_of) != len(self._arch_strings):
            raise BadInputError(f"benchmark {path} lists some architecture twice in "
                                f"{fmt.arch_column!r}; each row must be a distinct architecture")

    @property
    def space_name(self) -> str:
        return self.format.space

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike,
             format: str | BenchmarkFormat | None = None) -> BenchmarkTable:
        """Read (once per resolved path, format and file version) a benchmark CSV.

        `format`: a registered format's name or a format instance; None detects it from the
        header (one error naming the known formats when none matches)."""
        try:
            resolved = Path(path).expanduser().resolve()
        except (RuntimeError, OSError):  # a symlink loop (RuntimeError before Python 3.13)
            check_input_file(Path(path).expanduser(), "benchmark file")  # names the reason
            raise
        if not may_exist(resolved):
            raise BadInputError(f"benchmark file {str(path)!r} does not exist; "
                                f"{_what_exists(resolved)}")
        # A folder, FIFO or device: refused before it is opened (a FIFO would block for ever).
        check_input_file(resolved, "benchmark file", "give a tabular benchmark CSV, e.g. "
                         f"--benchmark {example_benchmark()}")
        fmt = get_format(format) if isinstance(format, str) else format
        stat = resolved.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        key = (str(resolved), fmt.name if fmt is not None else "")
        cached = _CACHE.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        # ~550k small objects and no reference cycles: cyclic-GC passes over them are pure
        # overhead (about a third of the load time), so pause the collector while reading.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            header, rows = _read_csv(resolved)
            fmt = _header_format(resolved, header, fmt)
            _check_shape(resolved, header, rows)
            table = cls(resolved, header, rows, fmt)
        finally:
            if was_enabled:
                gc.enable()
        table._check_arch_strings()
        table._check_values()
        _CACHE[key] = (version, table)
        return table

    def _check_values(self) -> None:
        """Every number within what its column can mean, checked once at load with the row:
        accuracies in [0, the format's scale], costs (latency, energy) in [0, MAX_COST], any
        other number finite. A negative latency would be searched and ranked as the best, and
        1e308 overflows sums and hypervolumes. Empty cells are missing values, not errors."""
        for name, values in self._values.items():
            low, high, allowed = self._allowed_range(name)
            bad = ~np.isnan(values) & ~((values >= low) & (values <= high))
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise BadInputError(
                    f"benchmark {self.path.name} row {row} (line {row + 2}): {name} is "
                    f"{values[row]!r}, not {allowed} ({int(bad.sum()):,} such row(s)); fix "
                    "the file or leave the cell empty (a missing value)")

    def _allowed_range(self, column: str) -> tuple[float, float, str]:
        if self.is_accuracy(column):
            scale = self.format.accuracy_scale
            return 0.0, scale, f"an accuracy in [0, {scale:g}] (format {self.format.name})"
        if self.format.is_cost(column):
            return 0.0, MAX_COST, f"a cost (latency, energy) in [0, {MAX_COST:g}]"
        return -MAX_COST, MAX_COST, f"a finite number in [-{MAX_COST:g}, {MAX_COST:g}]"

    def _check_arch_strings(self) -> None:
        """Every row must name an architecture of the format, so `arch_of` never fails later."""
        for row, text in enumerate(self._arch_strings):
            if not self.format.is_arch_text(text):
                try:
                    self.format.parse_arch(text)  # the detailed reason
                except BadInputError as exc:
                    raise BadInputError(f"benchmark {self.path.name} row {row}: {exc}") from None

    # -- names and columns --------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return len(self._arch_strings)

    def aliases(self) -> dict[str, str]:
        """The objective-style names this table can answer, with their columns."""
        return {name: col for name, col in self.format.aliases.items() if col in self._values}

    def is_accuracy(self, column: str) -> bool:
        """Whether a column holds an accuracy (stored scaled, e.g. in percent)."""
        return self.format.is_accuracy(column)

    def numeric_columns(self) -> list[str]:
        """Columns whose every non-empty cell is a number (not the arch string or op names)."""
        return list(self._values)

    def resolve(self, name: str) -> str:
        """An objective-style name or an exact numeric column name -> the column it reads."""
        name = str(name).strip()
        if name in self._values:
            return name
        aliases = self.aliases()
        if name in aliases:
            return aliases[name]
        allowed = [*aliases, *self.numeric_columns()]
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
            out = raw / self.format.accuracy_scale if self.is_accuracy(column) else raw
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

    def complete_objectives(self) -> list[str]:
        """The objective-style names whose column has a value in every row."""
        return [name for name, column in self.aliases().items()
                if np.isfinite(self.values(column)).all()]

    def check_covers(self, space, names: Sequence[str]) -> None:
        """Refuse, before a search starts, a benchmark the search could fail on midway: a
        search may propose any architecture of `space`, so each needs a row, and each named
        objective a value in every row. (`hwnas bench` takes gaps: it scores them infeasible.)
        """
        size = space.size()
        if self.n_rows < size:
            raise BadInputError(
                f"benchmark {self.path.name} has {self.n_rows:,} rows but space {space.name} "
                f"has {size:,} architectures; a search may propose any of them and would stop "
                "at the first the benchmark lacks: use one with a row per architecture, e.g. "
                f"--estimator-opt benchmark={self.format.example_path or 'BENCHMARK.csv'}")
        for name in names:
            have = int(np.isfinite(self.objective_values(name)).sum())
            if have < self.n_rows:
                complete = ", ".join(self.complete_objectives()) or "(none)"
                raise BadInputError(
                    f"benchmark {self.path.name}: {name} (column {self.resolve(name)}) has "
                    f"values in only {have:,} of {self.n_rows:,} rows, and a search may "
                    f"propose any row; search with objectives every row has: {complete}")

    # -- rows <-> architectures ---------------------------------------------------------------
    def row_of(self, arch: Arch | str) -> int:
        """The row of an architecture (or its text in the arch column); one dictionary look-up."""
        if isinstance(arch, Arch):
            if arch.space != self.space_name:
                raise BadInputError(f"benchmark {self.path.name} covers space "
                                    f"{self.space_name!r}, not {arch.space!r}")
            key = self.format.arch_text(arch)
        else:
            key = str(arch).strip()
        row = self._row_of.get(key)
        if row is None:
            raise BadInputError(f"architecture {key!r} is not in benchmark {self.path.name} "
                                f"({self.n_rows} rows)")
        return row

    def arch_of(self, row: int) -> Arch:
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not (
                0 <= row < self.n_rows):
            raise BadInputError(f"row {row!r} is not in benchmark {self.path.name}; "
                                f"rows are 0..{self.n_rows - 1}")
        return self.format.parse_arch(self._arch_strings[int(row)])

    def arch_string(self, row: int) -> str:
        return self._arch_strings[int(row)]

    def __repr__(self) -> str:
        return (f"BenchmarkTable({str(self.path)!r}, format={self.format.name!r}, "
                f"rows={self.n_rows})")


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInputError(f"benchmark {path} is not a readable CSV ({exc}); expected a "
                            f"header row of one of the known formats: {known_formats()}"
                            ) from None
    if header and not rows:
        raise BadInputError(f"benchmark {path} has a header but no rows; a benchmark has one "
                            f"row per architecture, e.g. {example_benchmark()}")
    return header or [], rows


def _header_format(path: Path, header: list[str], fmt: BenchmarkFormat | None
                   ) -> BenchmarkFormat:
    """The format asked for, if the header is its; else the one the header matches."""
    if fmt is None:
        return detect_format(header, str(path))
    if not fmt.detect(header):
        shown = ", ".join(header[:8]) or "(no header)"
        raise BadInputError(f"benchmark {path} is not in format {fmt.describe()} (its header: "
                            f"{shown}); known formats: {known_formats()}")
    return fmt


def _check_shape(path: Path, header: list[str], rows: list[list[str]]) -> None:
    if len(set(header)) != len(header):
        twice = sorted({c for c in header if header.count(c) > 1})
        raise BadInputError(f"benchmark {path} names column(s) {', '.join(twice)} twice; "
                            "each column name must be unique")
    bad = next((i for i, row in enumerate(rows) if len(row) != len(header)), None)
    if bad is not None:
        raise BadInputError(f"benchmark {path} line {bad + 2} has {len(rows[bad])} fields, "
                            f"the header {len(header)}; the file is not a well-formed CSV")


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
