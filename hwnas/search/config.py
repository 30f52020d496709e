"""SearchConfig: everything a search needs, fully resolved, JSON round-trip (config.json)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from hwnas.errors import BadInputError

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
    latency_stat: str = "p50"
    budget: int | None = None  # None: the strategy's proposals, else DEFAULT_BUDGET
    batch: int = 1
    seed: int = 0
    run_dir: str = ""
    keep_weights: str = "front"

    def validate(self) -> SearchConfig:
        if self.budget is not None and self.budget < 1:
            raise BadInputError(f"The 'budget' parameter must be >= 1. Got {self.budget} instead.")
        if self.batch < 1:
            raise BadInputError(f"The 'batch' parameter must be >= 1. Got {self.batch} instead.")
        if self.keep_weights not in KEEP_WEIGHTS:
            raise BadInputError(f"The 'keep_weights' parameter must be one of "
                                f"{', '.join(KEEP_WEIGHTS)}. Got {self.keep_weights!r} instead.")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SearchConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
