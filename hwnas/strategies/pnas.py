"""PNAS, Progressive Neural Architecture Search (Liu et al., 2018), as an ask/tell strategy.

PNAS grows cells one block at a time: it evaluates every cell of 1 block, then repeatedly
expands the K best cells of b blocks by one block, lets a surrogate (an ensemble of predictors
refit on everything evaluated so far) score every expansion, and evaluates the top K.

Blocks in hwnas's label spaces. A label whose options include a neutral op ("none" in nb201,
"zero" in proxyless, "skip" in fbnet) can be switched off; the level of an architecture is
its number of non-neutral such labels (labels without a neutral option are always "on" and
do not count). Level 0 sets every neutral-capable label to neutral; an expansion changes one
neutral label to a non-neutral op, so a child has level b + 1. The search starts with
`n_init` distinct architectures of level 0 and 1 (all of them where that many exist: 25 in
nb201) and climbs one level per step. Past the last level ("any refinement"): every
single-label change of the beam, to any op, neutral included.

Pool. Only the beam's children are generated (never the space), repeats and archs already
handed out are dropped, and at most `max_pool` are scored (a seeded sample of them), so
proxyless (6.4e9 archs) or fbnet cost the same per step as nb201.

Hard limits (`--constraint`): only feasible children are ranked. A child past a limit on a
cost known before training (the table's latency, params, ...) is dropped from the pool before
the surrogate scores it, as are such architectures of the initial set, so the K evaluated per
step are all within the limits; a result past a limit known only after evaluation never joins
a beam (`Strategy.usable`).

Batches. A step's pool is built only once every result of the previous step is told: `ask(n)`
returns fewer than `n` (as NSGA-II does) rather than guess, so proposals do not depend on the
batch size.

Device costs. `device_costs=predicted` (PNAS's default) lets the surrogate predict every
objective; `exact` reads the objectives the search's cost model knows (table latency,
params/FLOPs, a benchmark's device costs) and predicts only the rest (accuracy); `auto` is
`exact` when the cost model knows every objective but one, else `predicted`.

Score. PNAS optimises one number; hwnas has several objectives, so PNAS here ranks by
scalarisations of the objectives, each min-max normalised and turned to "smaller is better" —
the same scores for the evaluated cells of a step (its beam) and for its predictions.
`score=parego` (the default) draws K weight vectors per step, uniform on the simplex from the
strategy's seed, and each picks, in turn, the not-yet-chosen candidate with the best ParEGO
augmented Chebyshev score (Knowles, 2006): max_j w_j f_j + 0.05 sum_j w_j f_j, the f_j
normalised over the evaluated and the scored points (so a prediction better than anything seen
still counts as better). PNAS's mechanism is kept (one beam of K, its children, one surrogate,
K evaluated per step); only "top K by one number" becomes "the best for each of K trade-offs",
so every step covers the front, and a Chebyshev score, unlike a weighted sum, also reaches its
non-convex parts. `score=equal` is the former fixed equal-weight sum (normalised over the
evaluated results): one point of the trade-off, which on three tabular problems (10 seeds, 500
evaluations) kept 99% of the evaluations in the cheapest third of the latency range and scored
below random search (hypervolume ratio 0.83/0.78/0.96 vs random's 0.91/0.92/0.97). One random
weight vector per step (the K best for it) was tried too: it still crept along the front one
step at a time (synthetic nb201, 500 evaluations: hypervolume ratio 0.82, vs 0.87 for equal and
1.00 for K weights per step). With one objective every form ranks by the objective itself.
DPP-Net (hwnas.strategies.dppnet) is the Pareto sibling: non-dominated sorting + crowding.

Scale of the scores (`normalise`). The weights spread the K picks along the front only as far
as the normalisation puts the front across [0, 1] in every objective. `seen` (the former
default) scales each objective by its minimum and maximum over everything evaluated and scored;
but a NAS space's accuracies have a useless tail (cells that do not learn: the empty cell,
disconnected ones, at chance), so on the FPGA and Eyeriss problems the front's accuracies
(0.59-0.74 on CIFAR-100 x FPGA energy) filled a fifth of the scale, four weight vectors in five
picked its cheapest end, and whole seeds never evaluated a cell more accurate than 0.70 (PNAS
below random there). `front` scales by the ideal and the nadir of the evaluated non-dominated
set (as MOEA/D and NSGA-III normalise); where the empty cell is itself on the front (the
cheapest cell of Pixel 3 and Raspberry Pi 4) its accuracy is still the nadir, and the other
objective's scale shrinks instead. `inner` (the default) drops the front's ends (the points
best in some objective) before taking the nadir, so one degenerate end does not set the other
objective's scale; the ideal still includes them. Chosen leave-one-problem-out over the 21
two-objective problems of NB201 x HW-NAS-Bench (benchmarks/pnas_family.py, lopo_choice.py;
BENCHMARKS.md).

Warm start (`--warm-start`): the earlier runs' candidates join what the surrogate is fitted on
and count as handed out (never proposed again); the progressive climb through the levels is
skipped, as they already span the levels, and every step refines the beam of the K best of
everything evaluated (the last stage above: every single-label change, scored by the
surrogate).
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.limits import MAX_POPULATION, MAX_STEPS
from hwnas.options import Option
from hwnas.registry import STRATEGIES
from hwnas.strategies.base import Strategy
from hwnas.strategies.step_queue import StepQueue
from hwnas.strategies.surrogate import EnsembleSurrogate

NEUTRAL = ("none", "zero", "skip")
DEVICE_COSTS = ("predicted", "exact", "auto")


def neutral_of(opts) -> object | None:
    """The neutral option of a label, or None when it has none."""
    return next((o for o in opts if o in NEUTRAL), None)


def level(space, arch: Arch) -> int:
    """Number of neutral-capable labels set to a non-neutral op."""
    return sum(1 for label, opts in space.choices()
               if (n := neutral_of(opts)) is not None and arch.values[label] != n)


def max_level(space) -> int:
    return sum(1 for _, opts in space.choices() if neutral_of(opts) is not None)


def expansions(space, arch: Arch) -> list[Arch]:
    """Children one level up: one neutral label switched to each of its non-neutral ops."""
    out = []
    for label, opts in space.choices():
        n = neutral_of(opts)
        if n is not None and arch.values[label] == n:
            out += [Arch(arch.space, {**arch.values, label: o}) for o in opts if o != n]
    return out


def refinements(space, arch: Arch) -> list[Arch]:
    """Every single-label change, to any other option (the last level's expansion)."""
    return [Arch(arch.space, {**arch.values, label: o})
            for label, opts in space.choices() for o in opts if o != arch.values[label]]


class ProgressiveStrategy(Strategy):
    """Shared progressive machinery; subclasses define how K of a set are chosen (`_select`)."""

    takes_warm_start = True

    # n_models 3, hidden 32, max_pool 500: 5 / 64 / 2000 took >100 s per 500-eval run on 2 CPUs.
    option_specs = {"k": Option(25, int, low=1, high=MAX_POPULATION),
                    "n_init": Option(30, int, low=1, high=MAX_POPULATION,
                                     old_names=("n_initial",)),
                    "n_models": Option(3, int, low=1, high=100),
                    "hidden": Option(32, int, low=1, high=4096),
                    "max_pool": Option(500, int, low=1, high=MAX_STEPS),
                    "device_costs": Option("predicted", str, choices=DEVICE_COSTS)}

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        self._exact = self._exact_columns()
        self._signs = np.array([-1.0 if o.direction == "max" else 1.0 for o in objectives])
        self._surrogate = EnsembleSurrogate(space, self.options["n_models"],
                                            self.options["hidden"], seed=seed)
        self._handed: set[str] = set()
        self._steps = StepQueue(self._refill, lambda arch: self._handed.add(arch.key))
        self._archs: list[Arch] = []  # evaluated, finite results only (what the model sees)
        self._Y: list[np.ndarray] = []  # their objectives, min-form
        self._level = 1  # the level whose evaluated archs form the next beam
        self._top = max_level(space)

    # -- ask/tell ---------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Arch]:
        return self._steps.ask(n)

    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        super().tell(archs, results)
        for arch, result in zip(archs, results, strict=True):
            self._steps.told(arch)
            # A failed result (+inf here) or a non-finite one teaches the surrogate nothing and
            # must never join a beam: only what the model sees can become a parent.
            y = self.objective_vector(result)
            if np.isfinite(y).all():
                self._archs.append(arch)
                self._Y.append(y)

    def warm_start(self, archs: list[Arch], results: list[dict]) -> None:
        self.tell(archs, results)
        self._handed.update(a.key for a in archs)
        if archs:
            self._level = self._top  # refine from the known beam (module docstring)

    # -- one step: beam -> children -> predictions -> K to evaluate --------------------------
    def _refill(self) -> list[Arch]:
        if not self._handed:
            return self._feasible(self._initial()) or self._random_unseen(self.options["k"])
        pool = self._feasible(self._children())
        k = self.options["k"]
        if len(pool) > k and len(self._archs) >= 2:
            pool = [pool[i] for i in self._select(self._predict(pool), k)]
        return pool[:k] or self._random_unseen(k)

    def _feasible(self, pool: list[Arch]) -> list[Arch]:
        """`pool` without what breaks a limit known before training (counted as discarded)."""
        if not self.known_limits:
            return pool
        kept = [a for a in pool if self.known_violation(a) == 0]
        self.discarded += len(pool) - len(kept)
        return kept

    def _exact_columns(self) -> list[int]:
        """Indices of the objectives read from the cost model instead of predicted."""
        mode = self.options["device_costs"]
        names = [o.name for o in self.objectives]
        known = [j for j, name in enumerate(names) if name in self.costs.provides]
        if mode == "predicted":
            return []
        if mode == "exact" and not known:
            raise BadInputError(f"{self.registry_name} with device_costs='exact' needs a cost "
                                f"model that knows some of {', '.join(names)}; this search's "
                                f"knows {', '.join(sorted(self.costs.provides)) or 'none'} "
                                "(use device_costs='predicted')")
        if mode == "auto" and len(known) != len(names) - 1:
            return []
        return known if len(known) < len(names) else []  # something must be predicted

    def _predict(self, pool: list[Arch]) -> np.ndarray:
        """Objectives of `pool`, min-form: exact costs where known, the surrogate's mean for
        the rest (refit on everything evaluated so far)."""
        Y = np.array(self._Y)
        free = [j for j in range(Y.shape[1]) if j not in self._exact]
        # contiguous as before: a column slice is Fortran-ordered, which changes BLAS sums
        self._surrogate.fit(self._archs, np.ascontiguousarray(Y[:, free]))
        mean, _ = self._surrogate.predict(pool)
        F = np.empty((len(pool), Y.shape[1]))
        F[:, free] = mean
        if self._exact:
            names = [self.objectives[j].name for j in self._exact]
            F[:, self._exact] = self.costs.matrix(pool, names) * self._signs[self._exact]
        return F

    def _children(self) -> list[Arch]:
        """Unseen children of the beam; climbs a level, or refines once at the top."""
        pool: list[Arch] = []
        while not pool and self._level < self._top:
            beam = self._beam(self._level)
            if not beam:  # that level's results are not told yet: do not skip past it
                break
            pool = self._unseen(expansions, beam)
            self._level += 1
        if not pool:
            pool = self._unseen(refinements, self._beam(None))
        if len(pool) > self.options["max_pool"]:  # keep each step's cost bounded
            idx = self.rng.choice(len(pool), size=self.options["max_pool"], replace=False)
            pool = [pool[i] for i in np.sort(idx)]
        return pool

    def _beam(self, at_level: int | None) -> list[Arch]:
        """The K best evaluated archs of `at_level` (None: of any level)."""
        idx = [i for i, a in enumerate(self._archs)
               if at_level is None or level(self.space, a) == at_level]
        if not idx:
            return []
        chosen = self._select(np.array([self._Y[i] for i in idx]), self.options["k"])
        return [self._archs[idx[i]] for i in chosen]

    def _unseen(self, children, beam: list[Arch]) -> list[Arch]:
        out: dict[str, Arch] = {}
        for parent in beam:
            for child in children(self.space, parent):
                if child.key not in self._handed:
                    out.setdefault(child.key, child)
        return list(out.values())

    def _initial(self) -> list[Arch]:
        """`n_init` distinct archs of level 0 and 1: all of them when there are few."""
        n = self.options["n_init"]
        base = {label: neutral_of(opts) for label, opts in self.space.choices()
                if neutral_of(opts) is not None}
        free = [opts for _, opts in self.space.choices() if neutral_of(opts) is None]
        if int(np.prod([len(o) for o in free], dtype=object)) == 1:  # one level-0 arch
            root = Arch(self.space.name, {**self.space.default_arch().values, **base})
            archs = [root, *expansions(self.space, root)]
            if len(archs) <= n:
                return archs
        out: dict[str, Arch] = {}
        for _ in range(100 * n):
            if len(out) == n:
                break
            arch = Arch(self.space.name, {**self.space.sample(self.rng).values, **base})
            kids = expansions(self.space, arch)
            if kids and self.rng.random() < 0.5:
                arch = kids[self.rng.integers(len(kids))]
            out.setdefault(arch.key, arch)
        return list(out.values())

    def _random_unseen(self, k: int) -> list[Arch]:
        """Nothing left to expand (a tiny space): unseen random archs while any remain."""
        out: dict[str, Arch] = {}
        for _ in range(100 * k):
            arch = self.draw_feasible(lambda: self.space.sample(self.rng))
            if arch.key not in self._handed:
                out.setdefault(arch.key, arch)
            if len(out) == k:
                break
        return list(out.values()) or [self.space.sample(self.rng)]

    @abstractmethod
    def _select(self, F: np.ndarray, k: int) -> np.ndarray:
        """Indices of the `k` candidates to evaluate, given their predicted objectives `F`."""


SCORES = ("parego", "equal")
NORMALISE = ("front", "inner", "seen")
RHO = 0.05  # ParEGO's augmentation: ties of the max broken toward the weighted sum


def chebyshev(F: np.ndarray, w: np.ndarray, rho: float = RHO) -> np.ndarray:
    """Augmented Chebyshev scalarisation of rows of F (normalised, minimised) by weights w."""
    wF = F * w
    return wF.max(axis=1) + rho * wF.sum(axis=1)


def front_nadir(Y: np.ndarray, inner: bool = False) -> np.ndarray:
    """The worst value of each objective over the non-dominated rows of Y (min-form);
    `inner`: without the rows best in some objective (the front's ends), when that leaves
    any, so that one degenerate end (the empty cell: cheapest, accuracy at chance) does not
    set the scale of the other objective."""
    from hwnas.analysis.pareto import non_dominated_mask

    nd = Y[non_dominated_mask(Y, ["min"] * Y.shape[1])]
    if inner:
        ends = np.zeros(len(nd), dtype=bool)
        for j in range(nd.shape[1]):
            ends |= nd[:, j] == nd[:, j].min()
        if (~ends).any():
            nd = nd[~ends]
    return nd.max(axis=0)


def chebyshev_select(N: np.ndarray, W: np.ndarray) -> np.ndarray:
    """One index per weight row of W, in order: the best augmented Chebyshev score of N
    (normalised, minimised) among the rows not taken yet (fewer when N runs out)."""
    taken = np.zeros(len(N), dtype=bool)
    out: list[int] = []
    for w in W[:len(N)]:
        score = np.where(taken, np.inf, chebyshev(N, w))
        i = int(np.argmin(score))
        taken[i] = True
        out.append(i)
    return np.array(out, dtype=int)


@STRATEGIES.register("pnas")
class PNAS(ProgressiveStrategy):
    """PNAS: progressive block-by-block search, top-K by an MLP-ensemble surrogate's scores
    (ParEGO scalarisations, K random weight vectors per step; `score=equal`: one fixed sum)."""

    plot_style = {"color": "#9467bd", "marker": "P"}
    batch_independent = True

    option_specs = {**ProgressiveStrategy.option_specs,
                    "score": Option("parego", str, choices=SCORES,
                                    help="parego: augmented Chebyshev, K random weight vectors "
                                         "per step (reaches the whole front); equal: fixed "
                                         "equal-weight sum (one trade-off)"),
                    "normalise": Option("inner", str, choices=NORMALISE,
                                        help="parego's scale: inner (ideal..nadir of the "
                                             "evaluated non-dominated set without its ends), "
                                             "front (with them), seen (min..max of everything "
                                             "evaluated and scored: the former default)")}

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        # its own generator: the rest of the search draws exactly what it drew before
        self._weight_rng = np.random.default_rng([int(seed), 0x9A2E60])
        self._weights = np.full((self.options["k"], len(self.objectives)),
                                1.0 / len(self.objectives))

    def _refill(self) -> list[Arch]:
        if self.options["score"] == "parego" and self._handed:  # new weights every step
            self._weights = self._weight_rng.dirichlet(np.ones(len(self.objectives)),
                                                       size=self.options["k"])
        return super()._refill()

    def _select(self, F: np.ndarray, k: int) -> np.ndarray:
        """Indices of k of F (min-form objectives) by this step's scores: one per weight
        vector (parego) or the k smallest equal-weight means (equal)."""
        Y = np.array(self._Y)
        if self.options["score"] == "equal":
            lo, hi = Y.min(axis=0), Y.max(axis=0)
            score = ((F - lo) / np.where(hi > lo, hi - lo, 1.0)).mean(axis=1)
            return np.argsort(score, kind="stable")[:k]
        # normalised over the evaluated AND the scored points, so every term is >= 0: with
        # the evaluated range only, a prediction past the best value seen goes negative, the
        # max ignores that term, and the search stops pushing past what it has seen
        lo = np.minimum(Y.min(axis=0), F.min(axis=0))
        hi = np.maximum(Y.max(axis=0), F.max(axis=0))
        if self.options["normalise"] in ("front", "inner"):
            nadir = front_nadir(Y, inner=self.options["normalise"] == "inner")
            hi = np.where(nadir > lo, nadir, hi)
        return chebyshev_select((F - lo) / np.where(hi > lo, hi - lo, 1.0), self._weights[:k])
