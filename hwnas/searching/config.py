"""SearchConfig: everything a search needs, fully resolved, JSON round-trip (config.json)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from hwnas.errors import BadInputError
from hwnas.limits import MAX_BUDGET, MAX_SEED

KEEP_WEIGHTS = ("front", "all", "none")
DEFAULT_BUDGET = 20  # candidates, when neither the user nor the strategy says how many


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
    # Search with a table `hwnas export` cannot re-time (batch != 1, not fp32), warned.
    allow_mismatch: bool = False

    def validate(self) -> SearchConfig:
        """Every field's type and range, in one line each: a config comes from the command
        line, from Python, or from a run's config.json (which anyone can edit)."""
        _check_int("budget", self.budget, 1, MAX_BUDGET, none_ok=True)
        _check_int("batch", self.batch, 1, MAX_BUDGET)
        _check_int("seed", self.seed, 0, MAX_SEED)
        _check_choice("keep_weights", self.keep_weights, KEEP_WEIGHTS)
        for name in ("table", "space", "strategy", "estimator", "evaluator", "dataset",
                     "run_dir"):
            _check_type(name, getattr(self, name), str, "a str")
        for name in ("space_config", "strategy_options", "estimator_options",
                     "evaluator_options"):
            _check_type(name, getattr(self, name), dict, "an object of option -> value")
        if not isinstance(self.objectives, list) or not all(
                isinstance(o, str) for o in self.objectives):
            raise _error("objectives", "a list of names", self.objectives)
        _check_type("allow_mismatch", self.allow_mismatch, bool, "a bool")
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
        SearchConfig.from_dict(raw["search"]).validate()
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
               "hypervolume_reference": (dict, "an object")}


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


def _error(name: str, allowed: str, got) -> BadInputError:
    return BadInputError(f"The {name!r} parameter must be {allowed}. Got {got!r} instead.")


def _check_type(name: str, value, kind: type, allowed: str) -> None:
    if not isinstance(value, kind):
        raise _error(name, allowed, value)


def _check_int(name: str, value, low: int, high: int, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _error(name, f"an int in [{low}, {high}]" + (" or None" if none_ok else ""),
                     value)


def _check_choice(name: str, value, choices: tuple) -> None:
    if value not in choices:
        raise _error(name, f"one of {', '.join(choices)}", value)
