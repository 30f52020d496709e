"""Strategy: the ask/tell contract of every sample-based search strategy.

A strategy proposes architectures and learns from their results; it never trains, times or
writes anything itself. The loop lives outside (hwnas.api.search), as in pymoo.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.objectives import Objective, mnasnet_reward
from hwnas.spaces.base import SearchSpace

FITNESS = ("pareto", "mnasnet")


class Strategy(ABC):
    """Subclasses declare `defaults` (option -> default value); unknown options are an error."""

    defaults: dict = {}

    def __init__(self, space: SearchSpace, objectives: list[Objective], seed: int = 0,
                 **options):
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise BadInputError(f"strategy {self.registry_name} has no option(s) "
                                f"{', '.join(unknown)}; allowed: {', '.join(self.defaults)}")
        self.space = space
        self.objectives = list(objectives)
        self.seed = seed
        self.options = {**self.defaults, **options}
        self.rng = np.random.default_rng(seed)
        self.n_told = 0

    def config(self) -> dict:
        return {"name": self.registry_name, "seed": self.seed, **self.options}

    @abstractmethod
    def ask(self, n: int = 1) -> list[Arch]:
        """Propose `n` architectures to evaluate next."""

    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        """Learn from evaluated architectures; `results[i]` maps objective name -> value."""
        if len(archs) != len(results):
            raise ValueError("tell() needs one result per architecture")
        self.n_told += len(archs)

    # -- helpers shared by strategies -------------------------------------------------------
    def mutate(self, arch: Arch) -> Arch:
        """Change one randomly chosen label to a different option (AmoebaNet's op mutation)."""
        pairs = [(label, opts) for label, opts in self.space.choices() if len(opts) > 1]
        label, opts = pairs[self.rng.integers(len(pairs))]
        others = [o for o in opts if o != arch.values[label]]
        return Arch(arch.space, {**arch.values, label: others[self.rng.integers(len(others))]})

    def best_index(self, results: list[dict]) -> int:
        """Index of the best result under the strategy's fitness option.

        `pareto` (default): a uniformly chosen member of the non-dominated subset, so no single
        scalarisation biases a multi-objective search. `mnasnet`: the largest MnasNet reward
        accuracy * (latency/target)^w, with `target_ms` and `w` options.
        """
        fitness = self.options.get("fitness", "pareto")
        if fitness == "mnasnet":
            target, w = float(self.options["target_ms"]), float(self.options["w"])
            rewards = [mnasnet_reward(r["accuracy"], r["latency_ms"], target, w, w)
                       for r in results]
            return int(np.argmax(rewards))
        if fitness != "pareto":
            raise BadInputError(f"unknown fitness {fitness!r}; allowed: {', '.join(FITNESS)}")
        from hwnas.analysis.pareto import non_dominated_mask

        F = np.array([[r[o.name] for o in self.objectives] for r in results], dtype=float)
        candidates = np.flatnonzero(non_dominated_mask(F, [o.direction for o in self.objectives]))
        return int(candidates[self.rng.integers(len(candidates))])
