"""NSGA-II (Deb et al., 2002): pymoo's own implementation, driven through its ask/tell API.

The space's integer encoding is the decision vector. Operators follow pymoo's recipe for
integer variables: integer random sampling, SBX crossover and polynomial mutation on floats,
each followed by rounding repair, with pymoo's duplicate elimination, extended by default to
every architecture handed out before. Every objective is minimised (max ones negated).

pymoo thinks in generations of `population` individuals (its `pop_size`); our loop asks for
any `n`. So the
infills of one generation are buffered and handed out `n` at a time, and pymoo is told only
once the whole generation has results.

Failed candidates. A failed result (`{"failed": reason}`), or one with a non-finite value, is
told to pymoo as infeasible: one inequality constraint violated (G = 1 > 0, pymoo's way of
saying so), with a finite stand-in F (its sorting needs numbers). pymoo would still keep
infeasible individuals to fill a population short of feasible ones, and mate them; here
survival keeps only the feasible ones whenever there is any, so a failed candidate is never a
parent nor in pymoo's optimum (`opt`). While nothing has succeeded yet, the next generation is
fresh random individuals instead of children of failures. Without failures none of this
changes a thing: every individual is feasible.

Hard limits (`--constraint`) are pymoo's constraint handling: G holds an individual's
violation (hwnas.core.feasibility: how far past its limits, relative to them; a failure's G is
larger than any), so pymoo's constrained domination applies as in Deb's NSGA-II: a feasible
individual beats an infeasible one in the mating tournament and in survival, infeasible ones
are ranked by their violation, and survival fills a population short of feasible individuals
with the least violating ones (only failures are kept out, as above). A limit on a cost known
before training (table latency, params, ...) is evaluated as pymoo evaluates a constraint
function: an infill past it is given its G at once and never proposed, so no training is
spent on it; a generation with nothing left to propose is told and the next one asked, up to
`SILENT_GENERATIONS` in a row, after which its infills are proposed anyway (the loop rules
them out and says so).

Warm start (`--warm-start`): the earlier runs' candidates are pymoo's initial population,
evaluated already (pymoo's own way of starting from known points: a pre-evaluated
`Population` as the sampling). Its first survival ranks them all, mating draws the first
children from them, and they are never proposed again (dedup=history).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from hwnas.arch import Arch
from hwnas.limits import MAX_POPULATION
from hwnas.options import Option
from hwnas.registry import STRATEGIES
from hwnas.strategies.base import Strategy

# F given to pymoo for a failed or non-finite result: finite (its sorting needs finite
# numbers) and worse than anything real; the constraint already ranks such an individual last.
_INFEASIBLE_F = 1e30
FAILED_G = 1e6  # a failure's constraint violation: beyond any limit's (capped at LIMIT_G_MAX)
LIMIT_G_MAX = 1e5
SILENT_GENERATIONS = 100  # generations in a row whose infills all break a known limit
DEDUP = ("population", "history")


def _history_elimination(seen: set):
    """pymoo's duplicate elimination that also drops vectors in `seen` (built here so that
    importing the strategy does not import pymoo)."""
    from pymoo.core.duplicate import DefaultDuplicateElimination

    class HistoryDuplicateElimination(DefaultDuplicateElimination):
        def do(self, pop, *args, return_indices=False, to_itself=True):
            if return_indices:  # not used by NSGA-II's mating or initialisation
                raise RuntimeError("history duplicate elimination cannot return indices; "
                                   "NSGA-II's mating and initialisation never ask for them")
            pop = super().do(pop, *args, to_itself=to_itself)
            if len(pop):
                pop = pop[[_vec(x) not in seen for x in pop.get("X")]]
            return pop

    return HistoryDuplicateElimination()


def feasible_first(survival_class: type) -> type:
    """`survival_class` (a pymoo Survival) run over the individuals that did not fail whenever
    there is one (pymoo's own fills a short population up with infeasible ones, which then
    mate: right for an individual past a limit, ranked by its violation, never for a failure);
    over everyone only when everything failed. NSGA-II wraps rank-and-crowding, NSGA-III
    (hwnas.strategies.nsga3) reference-direction survival."""

    class FeasibleSurvival(survival_class):
        def do(self, problem, pop, *args, **kwargs):
            if len(pop):
                kept = _not_failed(pop)
                if kept.any() and not kept.all():
                    pop = pop[np.flatnonzero(kept)]
            return super().do(problem, pop, *args, **kwargs)

    FeasibleSurvival.__name__ = f"Feasible{survival_class.__name__}"
    FeasibleSurvival.__qualname__ = FeasibleSurvival.__name__
    return FeasibleSurvival


def _not_failed(pop) -> np.ndarray:
    """Per individual of a pymoo population: whether it has a result (feasible, or past a
    limit) rather than a failure's G."""
    G = np.asarray(pop.get("G"), dtype=float).reshape(len(pop), -1)
    return ~(G >= FAILED_G).any(axis=1)


def _feasible_first_survival():
    """pymoo's rank-and-crowding survival, feasible individuals first (`feasible_first`)."""
    from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

    return feasible_first(RankAndCrowding)()


def _vec(x) -> tuple[int, ...]:
    return tuple(int(v) for v in np.rint(np.asarray(x, dtype=float)))


@STRATEGIES.register("nsga2")
class NSGA2Strategy(Strategy):
    """NSGA-II (pymoo): integer SBX + polynomial mutation with rounding, no repeats."""

    plot_style = {"color": "#d62728", "marker": "^"}
    batch_independent = True
    takes_warm_start = True

    # eta 3 (not pymoo's 15/20 for floats) and prob 1.0: pymoo's integer-variable recipe,
    # where small etas spread children enough to move to another option after rounding.
    # dedup: "population" is pymoo's own (a child may not repeat the current population or
    # its siblings); "history" (default) also refuses anything handed out before, so no
    # evaluation of the budget goes to a repeat. On NB201 x HW-NAS-Bench at 500 evaluations
    # it finds 2-3 more true-front points (of 42-76) than pymoo's (benchmarks/league.py).
    option_specs = {
        "population": Option(20, int, low=2, high=MAX_POPULATION, old_names=("pop_size",),
                             aliases=("population_size", "pop")),
        "eta_c": Option(3.0, float, low=0, low_open=True),
        "prob_c": Option(1.0, float, low=0, high=1),
        "eta_m": Option(3.0, float, low=0, low_open=True),
        "prob_m": Option(1.0, float, low=0, high=1),
        "dedup": Option("history", str, choices=DEDUP),
    }

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        self._algorithm = None  # built lazily: constructors only store (and check) arguments
        self._generation = None  # the pymoo Population being evaluated
        self._F: np.ndarray | None = None  # its results, min-form, NaN until told
        self._G: np.ndarray | None = None  # its constraint violations (G), 0 until told
        self._slots: dict[str, list[int]] = {}  # arch key -> indices handed out, not told
        self._buffer: deque[tuple[int, Arch]] = deque()  # (index, arch) not yet handed out
        self._seen: set[tuple[int, ...]] = set()  # every vector handed out (dedup=history)

    def _build(self):
        from pymoo.core.problem import Problem
        from pymoo.core.termination import NoTermination
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.sampling.rnd import IntegerRandomSampling

        lo, hi = self.space.bounds()
        self._problem = Problem(n_var=len(lo), n_obj=len(self.objectives), n_ieq_constr=1,
                                xl=lo, xu=hi, vtype=int)
        o = self.options
        algorithm = self._make_algorithm(
            sampling=IntegerRandomSampling(),
            crossover=SBX(prob=o["prob_c"], eta=o["eta_c"], vtype=float,
                          repair=RoundingRepair()),
            mutation=PM(prob=o["prob_m"], eta=o["eta_m"], vtype=float, repair=RoundingRepair()),
            eliminate_duplicates=(_history_elimination(self._seen)
                                  if o["dedup"] == "history" else True),
            seed=self.seed)
        # The budget is the outer loop's business: pymoo's own stopping rule must never fire.
        return algorithm.setup(self._problem, termination=NoTermination())

    def _make_algorithm(self, **operators):
        """The pymoo algorithm given the shared operators (sampling, crossover, mutation,
        duplicate elimination, seed); a subclass (NSGA-III) brings its own survival."""
        from pymoo.algorithms.moo.nsga2 import NSGA2

        return NSGA2(pop_size=self.options["population"], survival=_feasible_first_survival(),
                     **operators)

    def ask(self, n: int = 1) -> list[Arch]:
        out: list[Arch] = []
        while len(out) < n:
            if not self._buffer:
                if self._slots:  # the generation still awaits results: hand out what we have
                    break
                self._next_generation()
            index, arch = self._buffer.popleft()
            self._slots.setdefault(arch.key, []).append(index)
            out.append(arch)
        if not out:
            raise RuntimeError("nsga2: tell() the pending results before asking for more")
        return out

    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        super().tell(archs, results)
        for arch, result in zip(archs, results, strict=True):
            slots = self._slots.get(arch.key)
            if not slots:
                continue  # not one of ours (or told twice): nothing for pymoo to learn
            slot = slots.pop(0)
            self._F[slot] = self._to_min(result)
            self._G[slot] = self._to_g(result)
            if not slots:
                del self._slots[arch.key]

    def warm_start(self, archs: list[Arch], results: list[dict]) -> None:
        """The initial generation, with its results (module docstring): told to pymoo when
        the first generation of children is asked for."""
        from pymoo.core.population import Population

        Strategy.tell(self, archs, results)  # counted; no slot of ours to fill
        if not archs:
            return
        X = np.array([self.space.encode(a) for a in archs])
        self._generation = Population.new("X", X)
        self._seen.update(_vec(x) for x in X)
        self._F = np.array([self._to_min(r) for r in results], dtype=float)
        self._G = np.array([self._to_g(r) for r in results], dtype=float)

    def _to_min(self, result: dict) -> np.ndarray:
        return self.objective_vector(result)  # +inf unless usable: infeasible below

    def _to_g(self, result: dict) -> float:
        """pymoo's G: 0 feasible, the violation past a limit, FAILED_G for a failure."""
        v = self.violation(result)
        return FAILED_G if v == np.inf else min(v, LIMIT_G_MAX)

    def _next_generation(self) -> None:
        """Tell pymoo the finished generation (if any), then buffer the next one's infills."""
        if self._algorithm is None:
            self._algorithm = self._build()
        for silent in range(SILENT_GENERATIONS + 1):
            if self._generation is not None:
                self._tell_pymoo()
            # Mating draws parents from pymoo's population: when every member failed there is
            # no parent to have, so pymoo is not asked for children of failures.
            pop = self._algorithm.ask() if self._has_feasible_parent() else None
            if pop is None or len(pop) == 0:
                pop = self._fresh_individuals()
            self._generation = pop
            self._seen.update(_vec(x) for x in pop.get("X"))
            self._F = np.full((len(pop), len(self.objectives)), np.nan)
            self._G = np.zeros(len(pop))
            for i, x in enumerate(pop.get("X")):
                arch = self.space.decode(x)
                # a known limit is a constraint function pymoo can evaluate without training
                v = self.known_violation(arch) if silent < SILENT_GENERATIONS else 0.0
                if v > 0:
                    self._F[i], self._G[i] = _INFEASIBLE_F, min(v, LIMIT_G_MAX)
                    self.discarded += 1
                else:
                    self._buffer.append((i, arch))
            if self._buffer:
                return

    def _has_feasible_parent(self) -> bool:
        """Before the first generation pymoo samples randomly (it has no parents to choose);
        afterwards, whether its population holds a candidate that did not fail (one past a
        limit is a parent: pymoo's tournament prefers the least violating)."""
        algorithm = self._algorithm
        if not algorithm.is_initialized:
            return True
        return len(algorithm.pop) > 0 and bool(_not_failed(algorithm.pop).any())

    def _fresh_individuals(self):
        """Duplicate elimination left no new child (a tiny or converged space): go on with
        random individuals rather than stop, unseen ones while any are left; the budget, not
        pymoo, decides when to stop."""
        from pymoo.operators.sampling.rnd import IntegerRandomSampling

        algorithm = self._algorithm
        pop = algorithm.initialization.do(self._problem, algorithm.pop_size, algorithm=algorithm,
                                          random_state=algorithm.random_state)
        if len(pop) == 0:  # every architecture was handed out: repeats are all there is
            pop = IntegerRandomSampling().do(self._problem, algorithm.pop_size,
                                             random_state=algorithm.random_state)
        return pop

    def _tell_pymoo(self) -> None:
        from pymoo.core.evaluator import Evaluator
        from pymoo.problems.static import StaticProblem

        F = self._F.copy()
        bad = ~np.isfinite(F).all(axis=1)
        F[bad] = _INFEASIBLE_F
        # G > 0 is a violated constraint; a result with no objective and no violation (one
        # told with a non-finite value) is a failure
        G = np.where(bad & (self._G <= 0), FAILED_G, self._G)[:, None]
        Evaluator().eval(StaticProblem(self._problem, F=F, G=G), self._generation)
        self._algorithm.tell(infills=self._generation)
