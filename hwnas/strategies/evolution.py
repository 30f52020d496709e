"""Aging (regularized) evolution, AmoebaNet (Real et al., 2019).

A population of `population` individuals, first filled with random architectures. Each cycle
samples `sample_size` individuals at random, mutates the best of them into a child, adds the
child and removes the OLDEST individual (not the worst): age-based removal is what makes it
"regularized" — good architectures must keep being re-discovered to survive.

Defaults (population 50, sample 50) were chosen on the NAS-Bench-201 league (BENCHMARKS.md):
among 20/5, 20/20, 50/25, 50/50 and 100/50 they were best or tied on all three problems.
"""

from __future__ import annotations

from collections import deque

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.registry import STRATEGIES
from hwnas.strategies.base import Strategy


@STRATEGIES.register("evolution")
class AgingEvolution(Strategy):
    """Aging evolution (AmoebaNet): tournament, mutate the winner, drop the oldest."""

    defaults = {"population": 50, "sample_size": 50, "fitness": "pareto", "target_ms": 0.0,
                "w": -0.07}

    def __init__(self, space, objectives, seed=0, **options):
        super().__init__(space, objectives, seed, **options)
        pop, sample = int(self.options["population"]), int(self.options["sample_size"])
        if pop < 2 or not 1 <= sample <= pop:
            raise BadInputError("evolution needs population >= 2 and 1 <= sample_size <= "
                                f"population; got population={pop}, sample_size={sample}")
        if self.options["fitness"] == "mnasnet" and float(self.options["target_ms"]) <= 0:
            raise BadInputError("evolution with fitness=mnasnet needs target_ms > 0 "
                                "(e.g. --option target_ms=5)")
        self._population: deque[tuple[Arch, dict]] = deque()
        self._n_asked = 0

    def ask(self, n: int = 1) -> list[Arch]:
        out = []
        for _ in range(n):
            if self._n_asked < self.options["population"] or not self._population:
                out.append(self.space.sample(self.rng))  # initial random population
            else:
                out.append(self.mutate(self._tournament_winner()))
            self._n_asked += 1
        return out

    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        super().tell(archs, results)
        for arch, result in zip(archs, results, strict=True):
            self._population.append((arch, result))
            if len(self._population) > self.options["population"]:
                self._population.popleft()  # the oldest dies

    def _tournament_winner(self) -> Arch:
        size = min(self.options["sample_size"], len(self._population))
        idx = self.rng.choice(len(self._population), size=size, replace=False)
        sample = [self._population[i] for i in idx]
        return sample[self.best_index([r for _, r in sample])][0]
