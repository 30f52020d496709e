"""The accuracy-estimator contract: `Estimator(space, dataset, seed, **options).estimate(arch)`.

Like scikit-learn estimators, the constructor only stores its arguments; options are declared as
data (`Option`) and checked once, on first use, with one message template:
"The 'x' parameter of Y must be Z. Got W instead."
"""

from __future__ import annotations

import difflib
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hwnas.data import parse_dataset_spec
from hwnas.errors import BadInputError


@dataclass(frozen=True, eq=False)
class Estimate:
    """What an estimator says about one architecture.

    accuracy: validation accuracy in [0, 1]; seconds: wall time of the estimate; epochs: epochs
    trained; state_dict: trained weights as CPU tensors when asked to keep them, else None;
    extra: estimator-specific plain data (JSON-able).
    """

    accuracy: float
    seconds: float
    epochs: int
    state_dict: dict | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not (isinstance(self.accuracy, float) and 0.0 <= self.accuracy <= 1.0):
            raise ValueError(f"Estimate.accuracy must be a float in [0, 1]; got {self.accuracy!r}")

    def to_dict(self) -> dict:
        """JSON-ready summary (weights left out: they go to files, not to history lines)."""
        return {"accuracy": self.accuracy, "seconds": self.seconds, "epochs": self.epochs,
                "extra": dict(self.extra)}


@dataclass(frozen=True)
class Option:
    """One declared option: its default and what values are allowed."""

    default: Any
    kind: type  # int, float, bool or str
    low: float | None = None
    low_open: bool = False  # True: value > low; False: value >= low
    choices: tuple | None = None
    none_ok: bool = False

    def describe(self) -> str:
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            text = {int: "an int", float: "a float", bool: "a bool", str: "a str"}[self.kind]
            if self.low is not None:
                text += f" {'>' if self.low_open else '>='} {self.low:g}"
        return text + (" or None" if self.none_ok else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.none_ok
        if self.kind is bool:
            return isinstance(value, bool)
        if isinstance(value, bool):  # bool is an int subclass; True epochs are a mistake
            return False
        kinds = (int, float) if self.kind is float else (self.kind,)
        if not isinstance(value, kinds):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.choices is not None and value not in self.choices:
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return True


class Estimator(ABC):
    """Base of every accuracy estimator. Subclasses declare `option_specs` and `estimate`."""

    option_specs: ClassVar[dict[str, Option]] = {}
    registry_name: ClassVar[str] = ""  # set by ESTIMATORS.register

    def __init__(self, space, dataset: str = "digits", seed: int = 0, **options):
        self.space = space
        self.dataset = dataset
        self.seed = seed
        self.options = options

    @abstractmethod
    def estimate(self, arch) -> Estimate:
        """Score one architecture of `self.space`."""

    def provides(self) -> set[str]:
        """Objective names `estimate()` reports: accuracy, plus any costs it looks up (a
        tabular benchmark's `latency:DEVICE`) in `Estimate.extra["objectives"]`."""
        return {"accuracy"}

    def resolved_options(self) -> dict[str, Any]:
        """Defaults merged with the given options, validated (once; treat attributes as frozen)."""
        cached = self.__dict__.get("_resolved")
        if cached is None:
            cached = self._resolve()
            self._resolved = cached
        return dict(cached)

    def config(self) -> dict[str, Any]:
        """Everything that determines this estimator's answers, for a run's config.json."""
        return {"estimator": self.registry_name or type(self).__name__, "dataset": self.dataset,
                "seed": self.seed, **self.resolved_options()}

    def _resolve(self) -> dict[str, Any]:
        owner = type(self).__name__
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise BadInputError(_template("seed", owner, "an int >= 0", self.seed))
        parse_dataset_spec(self.dataset)
        unknown = sorted(set(self.options) - set(self.option_specs))
        if unknown:
            allowed = sorted(self.option_specs)
            close = difflib.get_close_matches(unknown[0], allowed, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise BadInputError(f"unknown option {unknown[0]!r} for {owner}; allowed: "
                                f"{', '.join(allowed) or '(none)'}{hint}")
        resolved = {}
        for name, spec in self.option_specs.items():
            value = self.options.get(name, spec.default)
            if not spec.accepts(value):
                raise BadInputError(_template(name, owner, spec.describe(), value))
            resolved[name] = float(value) if spec.kind is float and value is not None else value
        return resolved


def _template(name: str, owner: str, allowed: str, got: Any) -> str:
    return f"The {name!r} parameter of {owner} must be {allowed}. Got {got!r} instead."
