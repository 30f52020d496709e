"""NSGA-III (Deb & Jain, 2014): pymoo's own implementation, driven through its ask/tell API.

Meant for three objectives or more (accuracy and two device latencies, say). It differs from
NSGA-II (hwnas.strategies.nsga2) in one place only, survival: the last front that does not
fit whole is cut by niching around a fixed set of reference directions on the unit simplex
(pymoo's `ReferenceDirectionSurvival`) instead of by crowding distance, which loses its sense
of spread beyond two objectives. The directions are Das and Dennis's: every point of the
simplex whose coordinates are multiples of 1 / `n_partitions`, C(n_partitions + M - 1, M - 1)
of them for M objectives, built once and kept for the whole run. With two objectives it works
too (the directions are then evenly spaced on a line), but NSGA-II is the usual choice there.

Everything else is NSGA-II's machinery, shared by subclassing: the integer encoding, pymoo's
integer recipe (SBX + polynomial mutation with rounding), duplicate elimination extended to
everything handed out before (`dedup=history`), generations buffered behind `ask(n)` (the
proposals do not depend on the batch size), and failed results told as infeasible (G = 1 > 0)
with survival over the feasible individuals alone, so a failure is never a parent nor in
pymoo's optimum. Mating selection is NSGA-III's own: a binary tournament by constraint
violation, else random (pymoo's default for NSGA3).

Defaults. Deb & Jain use 12 partitions for 3 objectives (91 directions, a population of 92);
at hwnas's budgets (the league runs 500 evaluations) that leaves 5 generations. So here the
partitions keep the directions at about 15-20: 19 for 2 objectives (20 directions), 4 for 3
(15), 3 for 4 (20), and 2 for 5 or more (M(M+1)/2: 15, 21, 28, ...). The population is the
number of directions rounded up to a multiple of 4 (Deb & Jain's rule), and at least 20
(NSGA-II's default). On NB201 x HW-NAS-Bench, accuracy x Pixel 3 x EdgeGPU latency, 500
evaluations, 20 seeds (hv_ratio against the true front of 46): 4 partitions and population
20 scored 0.946 (NSGA-II: 0.945), 4 partitions and population 15: 0.937, 6 partitions (28):
0.922, 12 partitions (91): 0.735 (5 seeds).
"""

from __future__ import annotations

from math import comb

import numpy as np

from hwnas.limits import MAX_POPULATION
from hwnas.options import Option, option_error
from hwnas.registry import STRATEGIES
from hwnas.strategies.nsga2 import NSGA2Strategy, feasible_first

# Das-Dennis partitions per number of objectives (module docstring); 2 for 5 or more.
DEFAULT_PARTITIONS = {2: 19, 3: 4, 4: 3}
MIN_POP = 20  # NSGA-II's default population


def default_partitions(n_obj: int) -> int:
    return DEFAULT_PARTITIONS.get(n_obj, 2)


def default_pop_size(n_dirs: int) -> int:
    """The directions rounded up to a multiple of 4, and at least MIN_POP."""
    return max(MIN_POP, -(-n_dirs // 4) * 4)


def n_directions(n_obj: int, n_partitions: int) -> int:
    """How many Das-Dennis directions: C(n_partitions + n_obj - 1, n_obj - 1)."""
    return comb(n_partitions + n_obj - 1, n_obj - 1)


@STRATEGIES.register("nsga3")
class NSGA3Strategy(NSGA2Strategy):
    """NSGA-III (pymoo), for 3+ objectives: survival by Das-Dennis reference directions.

    NSGA-II's machinery (operators, no repeats, failures infeasible) with survival by niching
    around Das-Dennis reference directions."""

    plot_style = {"color": "#ff7f0e", "marker": "v"}

    option_specs = {
        # None: the default for the number of objectives (module docstring).
        "n_partitions": Option(None, int, low=1, high=100, none_ok=True),
        # None: `default_pop_size`; fewer than the reference directions is refused (pymoo
        # warns it breaks the niching, which keeps about one survivor per direction).
        "population": Option(None, int, low=2, high=MAX_POPULATION, none_ok=True,
                             old_names=("pop_size",), aliases=("population_size", "pop")),
        **{k: v for k, v in NSGA2Strategy.option_specs.items() if k != "population"},
    }

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        n_obj = len(self.objectives)
        self.n_partitions = self.options["n_partitions"] or default_partitions(n_obj)
        count = n_directions(n_obj, self.n_partitions)
        if self.options["population"] is not None and self.options["population"] < count:
            raise option_error("population", self.owner(),
                               f">= the number of reference directions ({count} for "
                               f"{n_obj} objectives and {self.n_partitions} partitions) or "
                               "None", self.options["population"], "(or lower n_partitions)")
        self.pop_size = self.options["population"] or default_pop_size(count)
        self._ref_dirs: np.ndarray | None = None

    @property
    def ref_dirs(self) -> np.ndarray:
        """The Das-Dennis directions: built on first use (pymoo is imported then, not when
        the strategy is made), then the same array all run long."""
        if self._ref_dirs is None:
            self._ref_dirs = _das_dennis(len(self.objectives), self.n_partitions)
        return self._ref_dirs

    def _make_algorithm(self, **operators):
        from pymoo.algorithms.moo.nsga3 import NSGA3, ReferenceDirectionSurvival

        survival = feasible_first(ReferenceDirectionSurvival)(self.ref_dirs)
        return NSGA3(ref_dirs=self.ref_dirs, pop_size=self.pop_size, survival=survival,
                     **operators)


def _das_dennis(n_obj: int, n_partitions: int) -> np.ndarray:
    """pymoo's Das-Dennis directions (`get_reference_directions("das-dennis", ...)`)."""
    from pymoo.util.ref_dirs import get_reference_directions

    dirs = get_reference_directions("das-dennis", n_obj, n_partitions=n_partitions)
    if len(dirs) != n_directions(n_obj, n_partitions):  # pymoo's count is the formula's
        raise RuntimeError(f"pymoo gave {len(dirs)} Das-Dennis directions; expected "
                           f"{n_directions(n_obj, n_partitions)}")
    return dirs
