"""SearchConfig: everything a search needs, fully resolved, JSON round-trip (config.json)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwnas.errors import BadInputError
from hwnas.limits import MAX_BUDGET, MAX_SEED
from hwnas.options import Option, resolve_options

KEEP_WEIGHTS = ("front", "all", "none")
DEFAULT_BUDGET = 20  # candidates, when neither the user nor the strategy says how many
OWNER = "the search"  # "The 'budget' option of the search must be ..."
HINT = "(see `hwnas search --help`)"


@dataclass(frozen=True)
class _Object(Option):
    """An object of option -> value: a plug-in's options as given."""

    def describe(self) -> str:
        return "an object of option -> value"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict) or (value is None and self.none_ok)

    def invalid_values(self) -> list:
        return ["abc", 3, [1]]


@dataclass(frozen=True)
class _Names(Option):
    """A list of names (config.json's objectives; the command line splits its own)."""

    def describe(self) -> str:
        return "a list of names"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    def invalid_values(self) -> list:
        return ["abc", 3, [1]]


# Each field's constraints as data, checked by the plug-ins' own validator and template
# (hwnas.options), so a bad field reads like a bad plug-in option. Defaults are the
# dataclass's (tests/unit/test_plugin_kinds_alike.py holds them equal).
FIELDS: dict[str, Option] = {
    "table": Option("", str),
    "space": Option("proxyless", str),
    "space_config": _Object({}, dict),
    "strategy": Option("evolution", str),
    "strategy_options": _Object({}, dict),
    "estimator": Option("scratch", str),
    "estimator_options": _Object({}, dict),
    "evaluator": Option("local", str),
    "evaluator_options": _Object({}, dict),
    "dataset": Option("digits", str),
    "objectives": _Names(["accuracy", "latency_ms"], list),
    # its allowed values are the table's statistics: the scorer checks them
    "latency_stat": Option(None, str, none_ok=True),
    "budget": Option(None, int, low=1, high=MAX_BUDGET, none_ok=True),
    "batch": Option(1, int, low=1, high=MAX_BUDGET),
    "seed": Option(0, int, low=0, high=MAX_SEED),
    "run_dir": Option("", str),
    "keep_weights": Option("front", str, choices=KEEP_WEIGHTS),
    "allow_mismatch": Option(False, bool),
    # hard limits, as `--constraint` writes them ('latency_ms<=3'; hwnas.searching.constraints)
    "constraints": _Names([], list),
    # earlier runs whose evaluated candidates the search starts from (`--warm-start`)
    "warm_start": _Names([], list),
    # what `--method auto` picked and why (hwnas.searching.auto.Choice.record); `strategy` is
    # the method picked, so a resume runs it again; None: the method was named
    "auto": _Object(None, dict, none_ok=True),
}


@dataclass
class SearchConfig:
    table: str
    space: str = "proxyless"
    space_config: dict = field(default_factory=dict)
    strategy: str = "evolution"
    strategy_options: dict = field(default_factory=dict)
    estimator: str = "scratch"
    estimator_options: dict = field(default_factory=dict)
    evaluator: str = "local"
    evaluator_options: dict = field(default_factory=dict)
    dataset: str = "digits"
    objectives: list[str] = field(default_factory=lambda: ["accuracy", "latency_ms"])
    latency_stat: str | None = None  # None: the table's own statistic (resolved at start)
    budget: int | None = None  # None: the strategy's proposals, else DEFAULT_BUDGET
    batch: int = 1
    seed: int = 0
    run_dir: str = ""
    keep_weights: str = "front"
    # Search with a table `hwnas export` cannot re-time (batch != 1, neither fp32 nor int8
    # on ort-cpu), warned.
    allow_mismatch: bool = False
    # Hard limits ('latency_ms<=3', `--constraint`); a run written before them has none.
    constraints: list[str] = field(default_factory=list)
    # Earlier runs (absolute paths) whose evaluated candidates are told to the strategy before
    # its first proposal (`--warm-start`, hwnas.api.warm_start); a run written before has none.
    warm_start: list[str] = field(default_factory=list)
    # `--method auto`'s choice (method, why, inputs), `strategy` being the method it picked;
    # None when the method was named (and in a run written before auto).
    auto: dict | None = None

    def validate(self, hint: str = HINT) -> SearchConfig:
        """Every field against its declaration (`FIELDS`), in one line each: a config comes
        from the command line, from Python, or from a run's config.json (which anyone can
        edit). The fields are left as given."""
        resolve_options(OWNER, FIELDS, {name: getattr(self, name) for name in FIELDS}, hint)
        from hwnas.objectives import parse_constraint

        for text in self.constraints:  # the same syntax as --pick and --where
            parse_constraint(text)
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SearchConfig:
        if not isinstance(d, dict):
            raise BadInputError(f"a search configuration must be an object of field -> value; "
                                f"got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        if "table" not in d:
            raise BadInputError("a search configuration lacks its 'table' field ('' for none)")
        return cls(**{k: v for k, v in d.items() if k in names})


def read_run_config(run_path: str | Path) -> dict:
    """A run's config.json, checked: readable JSON, an object whose "search" is a valid
    SearchConfig. What `--resume` and `hwnas export` read first, so that a damaged or foreign
    file is one line (exit 2), not a crash halfway through."""
    from hwnas.fileio import check_input_file, may_exist
    from hwnas.latency.table import read_json

    path = Path(run_path) / "config.json"
    if not may_exist(path):
        raise BadInputError(f"{run_path} is not a run directory (no config.json); runs are "
                            "made by `hwnas search` (see `ls runs/`)")
    check_input_file(path, "run configuration")  # a FIFO would block the read for ever
    what, hint = f"the run configuration {path}", "start a new run with another --run-dir"
    raw = read_json(path, what, hint)
    if not isinstance(raw, dict) or not isinstance(raw.get("search"), dict):
        raise BadInputError(f"{what} has no 'search' object, so `hwnas search` did not write "
                            f"it; {hint}")
    try:
        SearchConfig.from_dict(raw["search"]).validate(hint="")  # the next step is said below
    except BadInputError as exc:
        raise BadInputError(f"{what} is damaged: {exc}; {hint}") from None
    damage = _run_fields_damage(raw)
    if damage:
        raise BadInputError(f"{what} is damaged: {damage}; {hint}")
    return raw


# What a run's config.json holds beside "search" (hwnas.api.search._run_config), each field's
# type: readers use them as such (pareto the bounds, export the table, show the dates).
_RUN_FIELDS = {"table": (dict, "an object or null"), "space_resolved": (dict, "an object"),
               "estimator_resolved": (dict, "an object"), "strategy_resolved": (dict, "an object"),
               "evaluator_resolved": (dict, "an object"), "created": (str, "a text"),
               "hypervolume_reference": (dict, "an object"), "deploy_dtype": (str, "a text")}


def _run_fields_damage(raw: dict) -> str | None:
    """Why the fields beside "search" cannot be used, or None (null means absent)."""
    for name, (kind, text) in _RUN_FIELDS.items():
        if raw.get(name) is not None and not isinstance(raw[name], kind):
            return f"its {name!r} is {raw[name]!r:.40}, not {text}"
    table = raw.get("table") or {}
    for name in ("path", "backend", "dtype"):
        if table.get(name) is not None and not isinstance(table[name], str):
            return f"its table's {name!r} is {table[name]!r:.40}, not a text"
    ref = raw.get("hypervolume_reference")
    if ref:
        names = ref.get("objectives")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return "its hypervolume_reference has no list of objective names"
        for bound in ("ideal", "nadir"):
            values = ref.get(bound)
            if not isinstance(values, list) or len(values) != len(names) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) for v in values):
                return (f"its hypervolume_reference {bound!r} is not {len(names)} finite "
                        "number(s), one per objective")
        if ref.get("how") is not None and not isinstance(ref["how"], dict):
            return "its hypervolume_reference 'how' is not an object"
    return None


# What a run's `<kind>_resolved` held beside the options before every kind's `config()` was
# its options alone; a run written then still reports and resumes (`stored_options`).
_FORMER_KEYS = {"strategy": ("name", "seed"), "estimator": ("estimator", "dataset", "seed"),
                "evaluator": ("name",)}
_CONSTRUCTOR_ARGS = ("seed", "dataset")  # never an option's name: the constructor takes them


def stored_options(config: dict, kind: str) -> dict:
    """The resolved options a run recorded of its `kind` plug-in ("space", "strategy",
    "estimator", "evaluator"), in the shape `config()` returns, from a run of any age."""
    stored = dict(config.get(f"{kind}_resolved") or {})
    name = (config.get("search") or {}).get(kind)
    for key in _FORMER_KEYS.get(kind, ()):
        if key in stored and (key in _CONSTRUCTOR_ARGS or stored[key] == name):
            del stored[key]
    return stored
