"""One option system for every plug-in kind: constraints declared as data, one error template.

A plug-in class (space, strategy, estimator, evaluator, ...) declares `option_specs`, a dict of
option name -> `Option`. `resolve_options(owner, specs, given)` merges the defaults with what a
user gave and checks each value against its declaration, answering a bad one in one line:

    The 'population' option of strategy 'evolution' must be an int >= 2. Got 'abc' instead.

An unknown name is answered with the allowed names and the closest one. Constraints that tie
several options together (sample_size <= population) are checked by the plug-in's
`check_options(resolved)` hook with the same template (`option_error`). `Option.invalid_values`
generates values a declaration must refuse, so the conformance tests can try every option of
every registered plug-in (the scikit-learn common-tests idea).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from hwnas.errors import BadInputError
from hwnas.option_names import current_names, say_renamed

_KIND_TEXT = {int: "an int", float: "a float", bool: "a bool", str: "a str"}


@dataclass(frozen=True)
class Option:
    """One declared option: its default, its type and the values allowed.

    `kind` is int, float, bool or str; a float option also takes an int (2 means 2.0), an int
    option never takes a float or a bool. `low`/`high` bound numbers (open or closed),
    `choices` lists the allowed values, `none_ok` admits None, `path` marks a file's path.
    """

    default: Any
    kind: type
    low: float | None = None
    low_open: bool = False
    high: float | None = None
    high_open: bool = False
    choices: tuple | None = None
    none_ok: bool = False
    help: str = ""
    # Other names people give this option (another library's, a paper's): an unknown name
    # that is one of them is answered with this option, before the nearest spelling is
    # guessed (`popsize` means `population`, though `sample_size` is spelled closer).
    aliases: tuple[str, ...] = ()
    # Names this option had before (hwnas.option_names): unlike aliases, accepted, with one
    # deprecation line, until the next release; a run stores the value under today's name.
    old_names: tuple[str, ...] = ()
    # A file's path (a str option): a run stores it absolute, so `--resume` and `hwnas
    # export` find the file from any working directory.
    path: bool = False
    # What a run written before this option existed did, where that is not its default
    # (`supernet_weights`: such runs trained separate weights): `--resume` continues such a
    # run with it, so it resumes as it began (hwnas.option_names.as_written).
    legacy: Any = None

    def describe(self) -> str:
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            text = _KIND_TEXT[self.kind]
            # an int's bounds in full (1e+08 reads as a float)
            num = (lambda v: f"{int(v)}") if self.kind is int else (lambda v: f"{v:g}")
            if self.low is not None and self.high is not None:
                text += (f" in {'(' if self.low_open else '['}{num(self.low)}, "
                         f"{num(self.high)}{')' if self.high_open else ']'}")
            elif self.low is not None:
                text += f" {'>' if self.low_open else '>='} {num(self.low)}"
            elif self.high is not None:
                text += f" {'<' if self.high_open else '<='} {num(self.high)}"
        return text + (" or None" if self.none_ok else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.none_ok
        if self.kind is bool:
            return isinstance(value, bool)
        if isinstance(value, bool):  # bool is an int subclass; `epochs=true` is a mistake
            return False
        kinds = (int, float) if self.kind is float else (self.kind,)
        if not isinstance(value, kinds):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.choices is not None and value not in self.choices:
            return False
        if not isinstance(value, (int, float)):  # bounds are only declared on numbers
            return True
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open
                                      else value > self.high):
            return False
        return True

    def coerce(self, value: Any) -> Any:
        """The resolved value: floats stay floats (an int given for a float becomes one)."""
        return float(value) if self.kind is float and value is not None else value

    def check_machine(self, value: Any, owner: str, hint: str = "") -> None:
        """Refuse an accepted value this machine cannot honour (`hwnas.devices.Device`: a CUDA
        device it lacks), in the option template. Most options say nothing of the machine."""

    def invalid_values(self) -> list:
        """Values this declaration must refuse (at least one wrong type)."""
        wrong_type: dict[type, list[Any]] = {
            int: ["abc", 2.5, True], float: ["abc", True, float("nan")],
            bool: ["abc", 1], str: [3, True]}
        out = list(wrong_type[self.kind])
        if not self.none_ok:
            out.append(None)
        if self.choices is not None:
            out.append("not-a-choice" if self.kind is str else _outside(self.choices))
        if self.low is not None:
            out.append(self.low if self.low_open else _below(self.low, self.kind))
        if self.high is not None:
            out.append(self.high if self.high_open else _above(self.high, self.kind))
        return [v for v in out if not self.accepts(v)]


@dataclass(frozen=True)
class StrList(Option):
    """A list of names, or one comma-separated str (how the command line passes them)."""

    def describe(self) -> str:
        return "a list of names or a comma-separated str"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str):
            return True
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)

    def coerce(self, value: Any) -> list[str]:
        return split_names(value)

    def invalid_values(self) -> list:
        return [3, [1, 2]]


def split_names(value: str | list | tuple) -> list[str]:
    parts = value.split(",") if isinstance(value, str) else value
    return [p.strip() for p in parts if p.strip()]


def _below(low: float, kind: type) -> float:
    return int(math.floor(low)) - 1 if kind is int else low - 1.0


def _above(high: float, kind: type) -> float:
    return int(math.ceil(high)) + 1 if kind is int else high + 1.0


def _outside(choices: tuple) -> float | str:
    numbers = [c for c in choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
    return (max(numbers) + 1) if numbers else "not-a-choice"


def option_error(name: str, owner: str, allowed: str, got: Any, hint: str = "",
                 choices: tuple | list = ()) -> BadInputError:
    """The one template: "The 'x' option of OWNER must be Z. Got W instead." (+ the closest of
    `choices` to a str `got`, + a hint naming the next command)."""
    close = (difflib.get_close_matches(got, [str(c) for c in choices], n=1, cutoff=0.3)
             if isinstance(got, str) and choices else [])
    closest = f" Did you mean {close[0]!r}?" if close else ""
    return BadInputError(f"The {name!r} option of {owner} must be {allowed}. Got {got!r} "
                         f"instead.{closest}{' ' + hint if hint else ''}")


def synonym_of(name: str, specs: Mapping[str, Option]) -> list[str]:
    """[the declared option that `name` is another name of], or []: compared without case,
    `_` or `-`, so `pop_size`, `pop-size` and `popsize` are one name."""
    def bare(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "")

    return [option for option, spec in specs.items()
            if bare(name) in {bare(a) for a in (option, *spec.aliases, *spec.old_names)}][:1]


def resolve_options(owner: str, specs: Mapping[str, Option], given: Mapping[str, Any] | None,
                    hint: str = "") -> dict[str, Any]:
    """Defaults merged with `given`, each value checked against its declaration."""
    given = current_names(owner, specs, given)  # old names (hwnas.option_names) first
    unknown = sorted(set(given) - set(specs))
    if unknown:
        allowed = sorted(specs)
        close = (synonym_of(unknown[0], specs)
                 or difflib.get_close_matches(unknown[0], allowed, n=1, cutoff=0.5))
        closest = f"; did you mean {close[0]!r}?" if close else ""
        raise BadInputError(f"unknown option {unknown[0]!r} for {owner}; allowed: "
                            f"{', '.join(allowed) or '(none)'}{closest}"
                            f"{' ' + hint if hint else ''}")
    resolved = {}
    for name, spec in specs.items():
        value = given.get(name, spec.default)
        if not spec.accepts(value):
            raise option_error(name, owner, spec.describe(), value, hint, spec.choices or ())
        spec.check_machine(value, owner, hint)
        resolved[name] = spec.coerce(value)
    return resolved


class Configurable:
    """Mixin of every plug-in class: `option_specs` as data, resolved in one place.

    `kind` names the plug-in kind in messages ("strategy"); `registry_name` is set when the
    class registers itself. `check_options` is the hook for constraints between options. Every
    kind's constructor resolves its options into `self.options`, so a bad one fails where the
    plug-in is made, and `config()` returns them in one shape for every kind.
    """

    options: dict[str, Any]  # resolved by the constructor
    kind: ClassVar[str] = "plug-in"
    option_specs: ClassVar[dict[str, Option]] = {}
    # Named settings of its own options, `hwnas search --preset NAME` (hwnas.api.presets):
    # a plug-in that trains something says here what `fast` means for it; `paper` is always
    # the declared defaults.
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    registry_name: ClassVar[str] = ""
    list_command: ClassVar[str] = ""

    @classmethod
    def owner(cls) -> str:
        name = cls.registry_name or cls.__name__
        return f"{cls.kind} {name!r}"

    @classmethod
    def resolve_options(cls, given: Mapping[str, Any] | None) -> dict[str, Any]:
        hint = f"(options: `{cls.list_command}`)" if cls.list_command else ""
        resolved = resolve_options(cls.owner(), cls.option_specs, given, hint)
        cls.check_options(resolved)
        say_renamed(cls.owner(), cls.option_specs, given)  # after every check: one-line refusals
        return resolved

    @classmethod
    def current_options(cls, given: Mapping[str, Any] | None, *,
                        written_before: bool = False) -> dict[str, Any]:
        """`given` under today's option names, as a run stores them (hwnas.option_names;
        `written_before`: a run's own options, stored before the renaming)."""
        return current_names(cls.owner(), cls.option_specs, given,
                             written_before=written_before)

    @classmethod
    def check_options(cls, resolved: dict[str, Any]) -> None:
        """Constraints between options; raise `option_error(...)` when one fails."""

    def config(self) -> dict[str, Any]:
        """Its resolved options, option name -> value: the one shape of every kind, what a run
        records as `<kind>_resolved` and what the class is rebuilt from (`**config`; a
        strategy, estimator or evaluator with its context too). Its name, seed and dataset
        are the run's `search` fields, not repeated here."""
        return dict(self.options)
