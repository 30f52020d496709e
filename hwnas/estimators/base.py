"""The accuracy-estimator contract: `Estimator(space, dataset, seed, **options).estimate(arch)`.

Options are declared as data (`hwnas.options.Option`) and checked once, in the constructor, with
the one template of hwnas.options, as every plug-in kind's are: `self.options` holds them
resolved, so a bad option fails where the estimator is made, not at its first candidate. A
subclass that needs more than per-option checks (a file to load, a device to probe) extends
`_resolve`. Plug-in authors import this base from `hwnas.plugins`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hwnas.options import Configurable, Option, option_error

__all__ = ["Estimate", "Estimator", "Option"]


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


class Estimator(Configurable, ABC):
    """Base of every accuracy estimator. Subclasses declare `option_specs` and `estimate`."""

    kind: ClassVar[str] = "estimator"
    list_command: ClassVar[str] = "hwnas list estimators"
    option_specs: ClassVar[dict[str, Option]] = {}

    def __init__(self, space, dataset: str = "digits", seed: int = 0, **options: Any) -> None:
        self.space = space
        self.dataset = dataset
        self.seed = seed
        self.options = self._resolve(options)

    @abstractmethod
    def estimate(self, arch) -> Estimate:
        """Score one architecture of `self.space`."""

    def provides(self) -> set[str]:
        """Objective names `estimate()` reports: accuracy, plus any costs it looks up (a
        tabular benchmark's `latency:DEVICE`) in `Estimate.extra["objectives"]`."""
        return {"accuracy"}

    @classmethod
    def options_for_objectives(cls, objectives: list[str], given: dict) -> dict:
        """`given` completed from the run's `--objectives` (a new dict): an estimator that
        looks objectives up (a tabular benchmark) takes them from there, so a command line
        names them once. Options given win. The default adds nothing."""
        return dict(given)

    def resolved_options(self) -> dict[str, Any]:
        """A copy of `self.options` (what callers from when options were checked on first use
        still ask for)."""
        return dict(self.options)

    def check_covers(self, space) -> None:
        """Refuse now, in one line, what `estimate` would fail on only when a strategy
        proposes it, midway through a run already written: an architecture of `space` that
        an estimator looking architectures up (a benchmark) has no answer for. An estimator
        that trains answers any architecture; the default checks nothing."""

    # -- what figures and reports say of a run's estimator, from its recorded options ---------
    # Class-level: they read a run's config.json (plain data), not a live estimator.
    # Its accuracies are measured on the run's --dataset, so 1 / classes is chance level and a
    # front plot keeps points near it from driving the view (one that reads a benchmark's
    # accuracies, of another data set, sets it False).
    accuracy_on_dataset: ClassVar[bool] = True
    # Its accuracy is each candidate's after a short training of its own (the `epochs`,
    # `train_subset` and `resolution` options): a proxy, which `hwnas pareto` and `hwnas
    # export` describe by those numbers and send a user to `hwnas train` for the real one.
    proxy_training: ClassVar[bool] = False

    @classmethod
    def summary(cls, options: dict[str, Any]) -> str:
        """The estimator as a figure's title names it, from the resolved options a run
        recorded: its name, and what a reader needs to weigh its accuracies (`scratch`: its
        epochs and resolution)."""
        return cls.registry_name

    @classmethod
    def cost_source(cls, options: dict[str, Any]) -> str | None:
        """Where a run's device costs come from when the estimator provides them (no latency
        table), as a figure's title says it: "benchmark nb201_hw.csv". None: nothing to say."""
        return None

    def cheap_cost_names(self) -> set[str]:
        """Objectives this estimator knows without training (a benchmark's device costs), so
        strategies can read them before proposing; none for estimators that must train."""
        return set()

    def cheap_costs(self, arch) -> dict[str, float]:
        """Values of `cheap_cost_names()` for `arch`."""
        return {}

    def cheap_cost_gaps(self) -> tuple[set[str], float]:
        """Those of `cheap_cost_names()` that some architectures have no value for (NaN in
        `cheap_costs`: a device that could not run the network), and the share of the space
        where every one has a value; the loop rules the others out before evaluation
        (hwnas.core.costs). None by default."""
        return set(), 1.0

    def _resolve(self, given: dict[str, Any]) -> dict[str, Any]:
        """The options `given` to the constructor, resolved and checked (with `seed` and
        `dataset`); called once, by `__init__`, before `self.options` exists. A subclass that
        loads or probes something extends it and calls this first (or after a check of its
        own that needs the raw options)."""
        from hwnas.data import parse_dataset_spec

        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise option_error("seed", self.owner(), "an int >= 0", self.seed)
        parse_dataset_spec(self.dataset)
        return self.resolve_options(given)
