"""Aging (regularized) evolution, AmoebaNet (Real et al., 2019).

A population of `population` individuals, first filled with random architectures. Each cycle
samples `sample_size` individuals at random, mutates the best of them into a child, adds the
child and removes the OLDEST individual (not the worst): age-based removal is what makes it
"regularized" — good architectures must keep being re-discovered to survive.

Defaults (population 50, sample 12: AmoebaNet's ratio of 100 to 25) were chosen by
benchmarks/evolution_defaults.py on three NAS-Bench-201 x HW-NAS-Bench problems that the
league does not report (10 seeds, 500 evaluations; BENCHMARKS.md): best mean hypervolume ratio
of 12 settings, tied with 20/20 within the seeds' spread. The earlier 50/50 (a sample as large
as the population, so no tournament pressure) ranked 8th.

Hard limits (`--constraint`): feasibility first, by Deb's rules (Deb, 2000) in the tournament:
a feasible individual beats an infeasible one, two feasible ones are compared by the fitness,
two infeasible ones by their violation (the smaller wins); a failed one never wins. Limits on
costs known before training are also checked before proposing: the initial population is drawn
by rejection and a child past such a limit is mutated afresh from its parent
(`Strategy.draw_feasible`), so no training is spent on what the table already rules out.

Warm start (`--warm-start`): the earlier runs' candidates seed the initial population, the
`population` best of them by Deb's rules and non-dominated rank (hwnas.strategies.warm), in
the order they were evaluated (so the oldest of them dies first); that many random
individuals are not drawn, so with at least `population` of them the tournaments begin with
the first proposal.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from hwnas.arch import Arch
from hwnas.limits import MAX_POPULATION
from hwnas.options import Option, option_error
from hwnas.registry import STRATEGIES
from hwnas.rewards import MNASNET_SOFT_W, mnasnet_reward, reward_terms
from hwnas.strategies.base import Strategy

# pareto: a tournament's winner is a uniformly chosen non-dominated member (Strategy.best_index);
# mnasnet: the largest MnasNet reward ACC * (LAT/target_ms)^reward_w (hwnas.rewards).
FITNESS = ("pareto", "mnasnet")


@STRATEGIES.register("evolution")
class AgingEvolution(Strategy):
    """Aging evolution (AmoebaNet): tournament, mutate the winner, drop the oldest."""

    plot_style = {"color": "#1f77b4", "marker": "s"}
    takes_warm_start = True

    option_specs = {
        "population": Option(50, int, low=2, high=MAX_POPULATION,
                             aliases=("popsize", "population_size", "pop")),
        "sample_size": Option(12, int, low=1, high=MAX_POPULATION,
                              aliases=("tournament", "tournament_size")),
        "fitness": Option("pareto", str, choices=FITNESS),
        # MnasNet reward ACC * (LAT/target_ms)^reward_w over the run's objectives named here
        # (None: the first to maximise, and the first latency-like one to minimise); the
        # names every MnasNet-style reward has (README "Shared option names").
        "target_ms": Option(0.0, float, low=0),
        "reward_w": Option(MNASNET_SOFT_W, float, old_names=("w",)),
        "accuracy": Option(None, str, none_ok=True),
        "cost": Option(None, str, none_ok=True, old_names=("latency",)),
    }

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        if resolved["sample_size"] > resolved["population"]:
            raise option_error("sample_size", cls.owner(),
                               f"<= population ({resolved['population']})",
                               resolved["sample_size"])
        if resolved["fitness"] == "mnasnet" and resolved["target_ms"] <= 0:
            raise option_error("target_ms", cls.owner(), "> 0 with fitness='mnasnet'",
                               resolved["target_ms"], "e.g. --strategy-opt target_ms=5")
        if resolved["fitness"] == "pareto" and resolved["target_ms"] > 0:
            # read only by the MnasNet reward: silently ignoring it would search unlimited
            raise option_error("target_ms", cls.owner(), "0 with fitness='pareto' (the "
                               "target is read only by fitness='mnasnet')",
                               resolved["target_ms"],
                               "add --strategy-opt fitness=mnasnet, or drop the target")

    @classmethod
    def degenerate_warning(cls, options: dict, budget: int | None) -> str | None:
        """The first `population` candidates are random samples; only after them does a
        tournament mutate anything. A budget of at most the population is random sampling."""
        population = options.get("population", cls.option_specs["population"].default)
        if budget is None or budget > population:
            return None
        suggestion = max(2, budget // 4)
        return (f"evolution with population {population} and budget {budget} is random "
                f"sampling: the first {population} candidates are the random initial "
                f"population, so no child is ever mutated; use e.g. --strategy-opt "
                f"population={suggestion} --strategy-opt sample_size={max(1, suggestion // 2)}"
                f", or --method random to say so")

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        if self.options["fitness"] == "mnasnet":  # names checked now, not at the 51st child
            reward_terms(self.objectives, self.options["accuracy"], self.options["cost"])
        self._population: deque[tuple[Arch, dict]] = deque()
        self._n_asked = 0

    def reads_target(self) -> bool:
        return self.options["fitness"] == "mnasnet"

    def scalar_fitness(self):
        """fitness=mnasnet: ACC * (LAT/target_ms)^reward_w, over the run's own objectives."""
        if self.options["fitness"] != "mnasnet":
            return None
        acc, cost = reward_terms(self.objectives, self.options["accuracy"], self.options["cost"])
        target, w = float(self.options["target_ms"]), float(self.options["reward_w"])
        return lambda result: mnasnet_reward(result[acc], result[cost], target, w, w)

    def ask(self, n: int = 1) -> list[Arch]:
        out = []
        for _ in range(n):
            parent = (self._tournament_winner()
                      if self._n_asked >= self.options["population"] and self._population
                      else None)
            # the initial random population; also a tournament with no survivor to mutate
            out.append(self.draw_feasible(
                (lambda: self.space.sample(self.rng)) if parent is None
                else (lambda p=parent: self.mutate(p))))
            self._n_asked += 1
        return out

    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        super().tell(archs, results)
        for arch, result in zip(archs, results, strict=True):
            self._population.append((arch, result))
            if len(self._population) > self.options["population"]:
                self._population.popleft()  # the oldest dies

    def warm_start(self, archs: list[Arch], results: list[dict]) -> None:
        from hwnas.strategies.warm import best_first

        chosen = sorted(best_first(self, results)[: self.options["population"]])
        self.tell([archs[i] for i in chosen], [results[i] for i in chosen])
        self._n_asked += len(chosen)  # random individuals the seeds stand for

    def _tournament_winner(self) -> Arch | None:
        """The best of a random sample by Deb's rules (module docstring); None when the whole
        sample failed. Failed individuals stay in the population and age out like any other
        (removal is by age), but never win."""
        size = min(self.options["sample_size"], len(self._population))
        idx = self.rng.choice(len(self._population), size=size, replace=False)
        sample = [self._population[i] for i in idx]
        best = self.best_index([r for _, r in sample])  # the feasible ones, by fitness
        if best is None:  # none feasible: the least violation among the infeasible
            violations = [self.violation(r) for _, r in sample]
            best = int(np.argmin(violations)) if min(violations) < np.inf else None
        return None if best is None else sample[best][0]
