"""Old option names (issue 30, one vocabulary): accepted for one release, stored under the new.

A plug-in declares the names an option had before with `Option(..., old_names=("pop_size",))`.
`current_names` reads a given mapping under today's names (hwnas.options.resolve_options calls
it first, so every plug-in kind accepts old names); `say_renamed` prints, once per process and
only after the options passed every check (a refusal stays one line), one line per old name:

    hwnas: option 'pop_size' of strategy 'nsga2' is deprecated; use 'population' (the old name
    is accepted until the next release)

A name can be both an option's name today and another option's old name: ENAS's `lr` (the
controller's rate until now, the shared weights' now) and SPOS's `target_ms` (its hard limit
until now, the reward's target now). Given by a user, such a "moved" name means what it means
today, with one note saying so. Read from a run written before the renaming (its resolved
options name an option that no longer exists, `written_in_old_names`), every old name keeps
its old meaning, so the run resumes exactly as it began.

Unlike `Option.aliases` (another library's names, only suggested), old names are accepted.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hwnas.errors import BadInputError

if TYPE_CHECKING:  # type-only: hwnas.options imports this module
    from hwnas.options import Option

# (owner, name) already said in this process: a league makes a strategy per seed, and one line
# per process is the promise.
_SAID: set[tuple[str, str]] = set()


def renames(specs: Mapping[str, Option]) -> dict[str, str]:
    """old name -> the option it names today."""
    return {old: name for name, spec in specs.items() for old in spec.old_names}


def written_in_old_names(specs: Mapping[str, Option], stored: Mapping[str, Any] | None) -> bool:
    """Whether a run's resolved options (every option by name, `<kind>_resolved`) were written
    before the renaming: they hold a name that is now only an old name."""
    old_only = set(renames(specs)) - set(specs)
    return isinstance(stored, Mapping) and any(name in old_only for name in stored)


def current_names(owner: str, specs: Mapping[str, Option], given: Mapping[str, Any] | None,
                  *, written_before: bool = False) -> dict[str, Any]:
    """`given` under today's option names. An old name and the option it names today, both
    given, are refused in one line. `written_before`: `given` is a run's own, stored before the
    renaming, so a moved name keeps its old meaning (and nothing is said of it)."""
    given = dict(given or {})
    old = renames(specs)
    if not old:
        return given
    out: dict[str, Any] = {}
    source: dict[str, str] = {}  # today's name -> the name it was given under
    for name, value in given.items():
        new = old[name] if name in old and (name not in specs or written_before) else name
        if new in source:
            first, second = sorted((source[new], name), key=lambda n: n != new)
            moved = (f" (until this release, {first!r} set what {old[first]!r} sets now)"
                     if first in old and first in specs else "")
            raise BadInputError(f"options {second!r} and {first!r} of {owner} are one option "
                                f"({second!r} is the old name of {new!r}); give only {new!r}"
                                f"{moved}")
        source[new] = name
        out[new] = value
    # A moved name this function wrote (from an old name) or read in its old meaning was not
    # given in today's: the plug-in made from `out` has nothing to note of it.
    _SAID.update((owner, new) for new, name in source.items() if new != name and new in old)
    if written_before:
        _SAID.update((owner, name) for name in given if name in old and name in specs)
    return out


def say_renamed(owner: str, specs: Mapping[str, Option], given: Mapping[str, Any] | None) -> None:
    """One line on stderr per old name in `given`, and per moved name given, once a process."""
    old = renames(specs)
    was = {name: previous for previous, name in old.items()}
    for name in given or {}:
        if name not in old or (owner, name) in _SAID:
            continue
        _SAID.add((owner, name))
        if name not in specs:
            line = (f"option {name!r} of {owner} is deprecated; use {old[name]!r} (the old "
                    "name is accepted until the next release)")
        else:  # a moved name: today's meaning, said once
            before = f"what {was[name]!r} meant" if name in was else "a new option"
            line = (f"note: option {name!r} of {owner} now means {before}; what it meant "
                    f"until this release is {old[name]!r}")
        print(f"hwnas: {line}", file=sys.stderr, flush=True)


def as_written(specs: Mapping[str, Option], given: Mapping[str, Any] | None,
               stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """A run's own options (`given`) completed, for `--resume`, with the `legacy` value of
    every option its resolved options (`stored`, `<kind>_resolved`) do not name: the run was
    written before that option existed, and a default chosen since must not change how it
    goes on. Runs that stored no resolved options are left as they are."""
    out = dict(given or {})
    if not isinstance(stored, Mapping):
        return out
    for name, spec in specs.items():
        if spec.legacy is not None and name not in stored and name not in out:
            out[name] = spec.legacy
    return out
