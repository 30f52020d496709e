"""BenchmarkFormat: what one kind of tabular benchmark file looks like, declared as data.

A format names the search space its rows cover, the column that holds each row's
architecture and how that text maps to an `Arch` (both ways), the objective-style names users
type (`accuracy:cifar100`, `latency:pixel3`) and the columns they read, which columns are
accuracies and their scale (percent), and the space options the benchmark trained and measured
with: a network of other widths has other numbers, so a space that differs is refused.

`BenchmarkTable` reads everything format-specific through its format; a new benchmark is one
file in `hwnas.tabular.formats` (or a plug-in importing `BENCHMARK_FORMATS` and this base from
`hwnas.plugins`) that registers a subclass:

    @BENCHMARK_FORMATS.register("my-bench")
    class MyBench(BenchmarkFormat):
        space, arch_column = "nb201", "cell"
        ...

Instances are stateless; `BENCHMARK_FORMATS.get(name)()` builds one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.registry import BENCHMARK_FORMATS


class BenchmarkFormat(ABC):
    """Base of every benchmark format; subclasses set the class attributes and the
    arch <-> text methods (`parse_arch`, `arch_text`)."""

    registry_name: ClassVar[str] = ""  # set by BENCHMARK_FORMATS.register
    space: ClassVar[str] = ""  # the registered space whose architectures the rows are
    arch_column: ClassVar[str] = ""  # the column holding each row's architecture as text
    aliases: ClassVar[Mapping[str, str]] = {}  # objective-style name -> column it reads
    accuracy_scale: ClassVar[float] = 100.0  # stored accuracy / scale = fraction in [0, 1]
    space_options: ClassVar[Mapping[str, Any]] = {}  # space options the benchmark fixed
    example_path: ClassVar[str] = ""  # where such a file usually is, for messages
    header_hint: ClassVar[str] = ""  # how detect() recognises a header, for messages

    @property
    def name(self) -> str:
        return self.registry_name or type(self).__name__

    def detect(self, header: Sequence[str]) -> bool:
        """Whether a CSV header is this format's (by default: it has the arch column)."""
        return self.arch_column in header

    def describe(self) -> str:
        return f"{self.name} ({self.header_hint or f'an {self.arch_column!r} column'})"

    @abstractmethod
    def is_accuracy(self, column: str) -> bool:
        """Whether `column` holds an accuracy (stored times `accuracy_scale`)."""

    def is_cost(self, column: str) -> bool:
        """Whether `column` holds a device cost (latency, energy): >= 0. By default, a column
        an objective name reads that is not an accuracy."""
        return column in self.aliases.values() and not self.is_accuracy(column)

    @abstractmethod
    def parse_arch(self, text: str) -> Arch:
        """The architecture a cell of the arch column names; BadInputError saying why not."""

    @abstractmethod
    def arch_text(self, arch: Arch) -> str:
        """The arch column's text for `arch` (the inverse of `parse_arch`)."""

    def is_arch_text(self, text: str) -> bool:
        """A fast yes for well-formed text; on no, `parse_arch` says why. Override with a
        regular expression when a file has many rows (parsing each is the slow path)."""
        try:
            self.parse_arch(text)
        except BadInputError:
            return False
        return True

    def check_space(self, space, benchmark: str) -> None:
        """Refuse a space the benchmark's numbers do not describe (other space or options)."""
        name = getattr(space, "name", None)
        if name != self.space:
            raise BadInputError(f"benchmark {benchmark} covers space {self.space!r}, not "
                                f"{name!r}; run with --space {self.space}")
        config = space.config()
        for option, value in self.space_options.items():
            if config.get(option) != value:
                raise BadInputError(
                    f"benchmark {benchmark} measured {name} with {option}={value}, but the "
                    f"space has {option}={config.get(option)!r}; drop --space-opt {option}")


def get_format(name: str) -> BenchmarkFormat:
    """A registered format by name (unknown: one line naming the closest)."""
    return BENCHMARK_FORMATS.get(name)()


def all_formats() -> list[BenchmarkFormat]:
    return [get_format(n) for n in BENCHMARK_FORMATS.names()]


def known_formats() -> str:
    """Every registered format with how it is recognised, for messages."""
    return ", ".join(f.describe() for f in all_formats()) or "(none registered)"


def detect_format(header: Sequence[str], where: str) -> BenchmarkFormat:
    """The one registered format whose `detect` accepts `header`; else one clear error."""
    found = [f for f in all_formats() if f.detect(header)]
    if len(found) == 1:
        return found[0]
    if not found:
        shown = ", ".join(list(header)[:8]) or "(no header)"
        raise BadInputError(f"benchmark {where} matches no known benchmark format (its header: "
                            f"{shown}); known formats: {known_formats()}")
    names = ", ".join(f.name for f in found)
    raise BadInputError(f"benchmark {where} matches several formats ({names}); load it with "
                        f"BenchmarkTable.load(path, format=NAME), NAME one of {names}")


def example_benchmark(space: str | None = None) -> str:
    """An example benchmark path for `space` (any format's when none covers it)."""
    formats = all_formats()
    covering = [f for f in formats if f.space == space] or formats
    return next((f.example_path for f in covering if f.example_path), "BENCHMARK.csv")
