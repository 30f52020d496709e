"""MOBO: multi-objective Bayesian optimisation by expected hypervolume improvement (EHVI).

Backend: scikit-learn and numpy only (BoTorch is not used, and not needed). The GP lives in
hwnas.bayesopt.gp, the EHVI in hwnas.bayesopt.ehvi; this module is the strategy.

Model. One Gaussian process per objective that is not known exactly (typically accuracy),
over the one-hot encoding of the space's labels plus its derived labels (`choices()` and
`derived_choices()`: hwnas.strategies.surrogate.OneHot). Kernel: c * exp(-|x - x'|^2 / 2l^2)
plus white noise. Between one-hot rows |x - x'|^2 is twice the number of labels on which the
two architectures differ, so this is the exponentiated Hamming (categorical overlap) kernel
used for BO over categories (COMBO, CoCaBO): positive definite on categories, no order
imposed on a label's options, and distances count differing choices. `length_scales`: one
length scale for all labels (`one`), one for the space's own labels and one for its derived
labels (`per_group`), or one per label (`per_label`, ARD: k = c exp(-sum_g H_g / l_g^2), H_g
the differing labels of group g; hwnas.bayesopt.gp.GroupedHammingGP). Separate length scales
let the model learn that, on NB201, accuracy follows the trained edges and not the raw labels,
so cells that compute the same network are nearly one point to it. Targets are standardised
per fit. The hyperparameters are maximum-likelihood fits from the previous fit plus
`n_restarts` restarts drawn from the strategy's seeded generator: by scikit-learn's
GaussianProcessRegressor for one length scale, by L-BFGS-B on the exact likelihood gradient
otherwise. The posterior is then computed here in numpy with those hyperparameters: a kernel
on one-hot rows is a lookup of Hamming distances, fast enough to score all 15,625 NB201 cells
at every step.

Warping (`warp='copula'`, the default; 'none' fits the results as they are). Each modelled
objective's GP is fitted to the standard-normal quantiles of its results' ranks instead of the
results (hwnas.bayesopt.warp, which says why: a few degenerate architectures at chance
accuracy otherwise dominate the fit). The front, the reference point and the EHVI are then in
the warped units, which keep every dominance relation; `predict` maps back to the objective's
units. Chosen on tuning problems (BENCHMARKS.md, "Controllers' defaults").

Exact objectives. An objective the search's cost model knows (`self.costs`: a latency table's
prediction, a tabular benchmark's device costs, params/FLOPs) is read, not modelled: it
enters the acquisition with its exact value and zero variance (`device_costs='exact'`, the
default; 'predicted' models every objective).

Acquisition: EHVI, exact, for independent Gaussian objectives (a zero variance allowed), with
any number of objectives. Objectives are min-max normalised (all minimised) over the evaluated
results and, for an exact objective, over every known cost of the candidates scored so far too,
and the reference point is 1 + `ref_offset` in each (10 % beyond the worst, as hwnas's
hypervolume does): beyond every candidate the cost model knows, so none is excluded for being
slower than what was evaluated (`_range`). The region below the reference point that the
current front does not dominate is cut into disjoint boxes (`nondominated_boxes`); the
improvement of a point y is the sum over boxes of prod_j (u_j - max(l_j, y_j))^+, and for
independent objectives the expectation of each factor is psi(u) - psi(l), psi(a) = E[(a - Y)^+]
= sigma phi((a - mu) / sigma) + (a - mu) Phi((a - mu) / sigma). With two objectives the boxes
are the n + 1 stripes under the front's staircase (the closed form of Emmerich et al. 2006,
Yang et al. 2019): O(n) per candidate. With M objectives there are (n + 1)^(M - 1) boxes, exact
but growing with the front (fewer once neighbouring cells with the same top are merged: about
380 for 40 points in 3 objectives).

Noise. The improvement that counts is that of the value an evaluation will report, which
is the latent function plus the benchmark's or training's noise: `ehvi_over='observed'`
integrates over that (each modelled GP's variance plus its fitted noise level), `'latent'`
over the function alone. With 'latent' a candidate predicted just below the front is worth
almost nothing once its neighbours are known, although a noisy evaluation of it would land
above the front about as often as below. With few results the likelihood may put the noise at
its lower bound (1e-6), and the two coincide until the data say otherwise. `'tied'` is
'observed' with each candidate's noise term divided by 1 + the results told that share all
its exact costs (`_tie_levels` says why): where a device cost takes few values (FPGA, Eyeriss
latency on HW-NAS-Bench) the noise term otherwise keeps hundreds of cells of one searched cost
worth a try; where every cell has its own cost it is 'observed' exactly. 'tied' is the
default, chosen leave-one-problem-out on the benchmark family (the option's comment); before
it, 'observed', chosen over 'latent' on tuning problems (BENCHMARKS.md, "Controllers'
defaults").

Candidates. When `space.size() <= enumerate_max` (NB201: 15,625) every architecture not
handed out yet is scored. Otherwise: single-label changes (mutations) of the current front,
at most `max_neighbours` of them (a seeded sample), plus `n_random` random samples; their
exact costs are read from the cost model, so the pool stays a few hundred. A candidate whose
optimistic point (mean - 8 sd in every objective) is still dominated by the front, or beyond
the reference point, is skipped (`promising`): its EHVI is below about 1e-15, so no argmax
changes and most of the Gaussian integrals are saved. When no candidate is left that way the
model expects no improvement anywhere, and the step explores: a seeded random candidate.

Batches. A step proposes `q` architectures greedily: the EHVI argmax, then a Kriging
believer: the chosen point is assumed to come out at its predicted mean, so it joins the
front and the GPs' variances shrink around it (conditioning on its own mean leaves the
posterior mean unchanged: only a rank-1 variance update), then the next argmax. The q are
buffered and handed out n at a time; a step is computed only once every earlier result is
told (as NSGA-II does), so proposals do not depend on the loop's batch size. The first step is
`n_init` distinct random architectures (and further random steps while fewer than 2 results
have succeeded). q = 1 by default: the model sees every result before the next proposal,
which is affordable (below) and what a sequential budget rewards most.

Hard limits (`--constraint`): the probability of feasibility. A limit on a cost known before
training (the table's latency, params, ...) is exact: a candidate past it has probability 0
and is never scored nor proposed (the initial design is drawn by rejection). A limit on a cost
known only after evaluation (accuracy) gets a GP of its own (hwnas.bayesopt.feasibility), and
the EHVI, over the front of the feasible results, is weighed by the probability of meeting it.

Failed results (`{"failed": ...}`, or a non-finite value) are never fitted; their
architectures were handed out, hence are never proposed again. Every random choice draws
from the strategy's seeded generator in a fixed order, and the optimiser restarts are seeded
from the run's seed and the number of results, so the proposals are a function of the seed
and the results told: a killed run resumes to the same proposals.

Warm start (`--warm-start`): the earlier runs' candidates are the GPs' first data, in place
of the random initial design (skipped once any was handed over), and are never proposed
again; with fewer than 2 that succeeded, random proposals go on until 2 have.

Cost. Training set: every successful result, re-chosen at each hyperparameter fit once there
are more than `max_train`: then the best of them, non-dominated sorting layers of the
evaluated (true) objectives in order, the layer that does not fit whole cut by recency
(latest first). Hyperparameters are refit once `refit_every` new results have succeeded; in
between they are kept and each new result is appended to the GP (its Cholesky factor grows
by a row), so the set exceeds `max_train` by less than `refit_every`. With N candidates and n
training points, a refit costs O(N n^2) (one triangular solve) plus scikit-learn's
optimisation; a step in between, O(N n) per modelled objective over an enumerated space
(V = L^-1 k(X, candidates) and the variances grow by a row), O(N n^2) over a sampled pool;
the EHVI, O(N n_front) for two objectives. Measured on the synthetic NB201 table (accuracy x
Pixel 3 latency), one busy core: 200 evaluations in about 10-16 s, 500 in about 35 s; with
a third objective (a second exact latency), 200 evaluations in about 25 s.
"""

from __future__ import annotations

import numpy as np

from hwnas.arch import Arch
from hwnas.bayesopt.ehvi import expected_hvi, front_mask, promising
from hwnas.bayesopt.feasibility import FeasibilityModel
from hwnas.bayesopt.gp import Fantasies, GroupedHammingGP, HammingGP
from hwnas.bayesopt.pool import CandidatePool
from hwnas.bayesopt.warp import CopulaWarp
from hwnas.limits import MAX_BUDGET, MAX_POPULATION, MAX_STEPS
from hwnas.options import Option, option_error
from hwnas.registry import STRATEGIES
from hwnas.strategies.base import Strategy
from hwnas.strategies.step_queue import StepQueue

DEVICE_COSTS = ("exact", "predicted")
EHVI_OVER = ("latent", "observed", "tied")
LENGTH_SCALES = ("one", "per_group", "per_label")
WARPS = ("none", "copula")



def new_gp(space, encoder, length_scales: str, universe=None) -> HammingGP:
    """The GP for `length_scales`: one length scale for all labels (scikit-learn fits it),
    one for the space's labels and one for its derived labels, or one per label."""
    own = [label for label, _ in space.choices()]
    derived = [label for label, _ in space.derived_choices()]
    groups = [[label] for label in own + derived] if length_scales == "per_label" else \
        [g for g in (own, derived) if g]
    if length_scales == "one" or len(groups) == 1:
        return HammingGP(len(own) + len(derived), universe)
    return GroupedHammingGP([(encoder.columns(g), len(g)) for g in groups], universe)

@STRATEGIES.register("mobo")
class MOBO(Strategy):
    """Multi-objective BO: Hamming-kernel GPs and exact EHVI; device costs read, not learnt.

    One GP per objective the cost model does not know (exponentiated Hamming kernel on the
    one-hot labels), exact EHVI, q proposals per step by Kriging believer."""

    plot_style = {"color": "#2ca02c", "marker": "D"}
    batch_independent = True
    takes_warm_start = True

    option_specs = {
        # random architectures before the first model
        "n_init": Option(10, int, low=1, high=MAX_POPULATION),
        # proposals per model step (Kriging believer)
        "q": Option(1, int, low=1, high=MAX_POPULATION),
        # GP training set cap (module docstring)
        "max_train": Option(300, int, low=2, high=MAX_POPULATION),
        # new successes between hyperparameter fits
        "refit_every": Option(10, int, low=1, high=MAX_BUDGET),
        "n_restarts": Option(1, int, low=0, high=MAX_STEPS),  # seeded optimiser restarts per fit
        # score every arch of a space this small
        "enumerate_max": Option(20_000, int, low=0, high=MAX_STEPS),
        # larger spaces: random candidates per step
        "n_random": Option(100, int, low=0, high=MAX_STEPS),
        # and mutations of the front per step
        "max_neighbours": Option(400, int, low=0, high=MAX_STEPS),
        "ref_offset": Option(0.1, float, low=0, low_open=True),  # reference point: 1 + this
        "device_costs": Option("exact", str, choices=DEVICE_COSTS),
        # what the acquisition integrates over: the latent function, or the value a new
        # evaluation will report (latent variance + the GP's fitted noise), or that with the
        # noise discounted by the results told at the candidate's exact cost (module docstring).
        # `tied`, chosen leave-one-problem-out on the family's 18 distinct two-objective
        # problems, 500 evaluations x seeds 0-1 (benchmarks/mobo_ties.py --loo, 2026-12-07):
        # mean HV ratio 0.9961 against `observed` 0.9944 (the same per seed on the 12 problems
        # and league (c) where costs hardly tie; C100 x FPGA 0.9590 -> 0.9883). `latent`
        # (0.9963) was the three-way pick but loses league (d), IN16 x EdgeGPU, 0.9994 -> 0.9885
        "ehvi_over": Option("tied", str, choices=EHVI_OVER),
        # the kernel's length scales: one for all labels, one for the space's labels and one
        # for its derived labels, or one per label (ARD); module docstring
        "length_scales": Option("per_group", str, choices=LENGTH_SCALES),
        # the modelled objectives' targets as they are, or warped to the normal quantiles of
        # their ranks (hwnas.bayesopt.warp; module docstring; chosen on tuning problems)
        "warp": Option("copula", str, choices=WARPS),
    }

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        if resolved["n_random"] + resolved["max_neighbours"] < 1:
            raise option_error("n_random", cls.owner(), ">= 1 when max_neighbours is 0",
                               resolved["n_random"])

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        names = [o.name for o in self.objectives]
        self.exact = ([j for j, name in enumerate(names) if name in self.costs.provides]
                      if self.options["device_costs"] == "exact" else [])
        self.modelled = [j for j in range(len(names)) if j not in self.exact]
        self.pool = CandidatePool(space, self.rng, self._encode, self._exact_costs,
                                  enumerate_max=self.options["enumerate_max"],
                                  n_random=self.options["n_random"],
                                  max_neighbours=self.options["max_neighbours"])
        self._steps = StepQueue(self._refill, self.pool.hand_out)
        self._archs: list[Arch] = []  # succeeded (finite results): what the GPs see
        self._Y: list[np.ndarray] = []  # their objectives, min-form
        self._X: list[np.ndarray] = []  # their one-hot rows
        self._gps: dict[int, HammingGP] = {}
        self._rows: list[int] = []  # indices into _Y the GPs are conditioned on, in order
        self._fitted_at = 0  # successes when the hyperparameters were last fit
        self._synced = 0  # successes the GPs have considered (conditioned on, or left out)
        self._encoder = None
        # the exact objectives' range over every candidate scored so far (_range)
        self._exact_lo = np.full(len(self.exact), np.inf)
        self._exact_hi = np.full(len(self.exact), -np.inf)
        self.last_step: dict = {}  # what the last model step did (for tests and reports)
        # a model per limit known only after evaluation; the known ones are exact (_open_ok)
        n_labels = len(space.choices()) + len(space.derived_choices())
        self._after = [FeasibilityModel(c, n_labels, refit_every=self.options["refit_every"],
                                        seed=seed)
                       for c in self.constraints if c not in self.known_limits]
        self._ok_universe: np.ndarray | None = None  # the known limits over a small space
        self._tie_cache: tuple | None = None  # the candidates' cost levels (_tie_levels)

    # -- ask/tell ---------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Arch]:
        return self._steps.ask(n)

    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        super().tell(archs, results)
        for arch, result in zip(archs, results, strict=True):
            self._steps.told(arch)
            y = self.objective_vector(result)  # +inf unless usable: never fitted
            if np.isfinite(y).all():
                self._archs.append(arch)
                self._Y.append(y)
                self._X.append(self._encode([arch])[0])
            if self._after and not self.is_failed(result) and result.get("evaluated", True):
                x = self._encode([arch])[0]  # evaluated, feasible or not: what a limit reads
                for model in self._after:
                    model.add(x, result.get(model.constraint.name))

    def warm_start(self, archs: list[Arch], results: list[dict]) -> None:
        self.tell(archs, results)  # fitted on, and read by the limits' models, as any result
        for arch in archs:
            self.pool.hand_out(arch)

    # -- one step ---------------------------------------------------------------------------
    def _refill(self) -> list[Arch]:
        accept = (lambda a: self.known_violation(a) == 0) if self.known_limits else None
        if not self.pool.handed:
            batch = self.pool.random_unseen(min(self.options["n_init"], self.space.size()),
                                            accept)
        elif len(self._Y) < 2:  # nothing to fit yet: the initial design goes on
            batch = self.pool.random_unseen(self.options["q"], accept)
        else:
            batch = self._propose(self.options["q"])
        if not batch and accept is not None:  # no feasible one in the pool: draw one
            batch = self.pool.random_unseen(1, accept)
        # every architecture handed out already: repeats are all there is
        return batch or self.pool.random_archs(1)

    def _propose(self, q: int) -> list[Arch]:
        archs, X, exact, open_ = self.pool.candidates(self._front_archs())
        open_ &= self._open_ok(archs)  # probability of feasibility 0: never scored
        n_open = int(open_.sum())
        if not n_open:
            return []
        Y = self._targets()
        lo, hi = self._range(Y, exact)
        span = np.where(hi > lo, hi - lo, 1.0)
        Z = (Y - lo) / span
        mu, var, fantasies = self._posterior(X, exact, Z, lo, span)
        over = self.options["ehvi_over"]
        base = self._observation_noise(Z) if over != "latent" else np.zeros(Z.shape[1])
        # `tied`: a candidate's noise term over 1 + the successes sharing all its exact costs
        level, told = self._tie_levels(exact) if over == "tied" else (None, None)
        noise = base[None, :] / (1.0 + told[level])[:, None] if level is not None else base
        front = Z[front_mask(Z)]
        ref = np.full(Z.shape[1], 1.0 + self.options["ref_offset"])
        chosen, gains = [], []
        Xc = X if X is not None else self.pool.universe()[1]
        pof = np.prod([m.probability(Xc) for m in self._after], axis=0) if self._after \
            else None
        picks = min(q, n_open)
        for _ in range(picks):
            sd = np.sqrt(var + noise)
            idx = np.flatnonzero(open_ & promising(mu, sd, front, ref))
            if len(idx):
                gain = expected_hvi(mu[idx], sd[idx], front, ref)
                if pof is not None:  # constrained EHVI: weighed by P(feasible)
                    gain = gain * pof[idx]
                best = int(np.argmax(gain))
                s, g = int(idx[best]), float(gain[best])
            else:  # nothing can improve the front short of an 8-sigma surprise: explore
                idx = np.flatnonzero(open_)
                s, g = int(idx[self.rng.integers(len(idx))]), 0.0
            chosen.append(s)
            gains.append(g)
            open_[s] = False
            if len(chosen) == picks:  # the batch is full: no fantasy left to condition
                break
            if np.isfinite(mu[s]).all():
                front = np.vstack([front, mu[s]])
                front = front[front_mask(front)]
            for col, fantasy in fantasies.items():  # Kriging believer
                fantasy.condition_on(s)
                var[:, col] = fantasy.var * fantasy.scale ** 2
            if level is not None:  # the believed result counts at its cost level too
                told[level[s]] += 1
                noise = base[None, :] / (1.0 + told[level])[:, None]
        self.last_step = {"n_candidates": n_open, "enumerated": self.pool.enumerates(),
                          "ehvi": gains, "n_train": len(self._rows)}
        return [archs[s] for s in chosen]

    def _open_ok(self, archs) -> np.ndarray:
        """Per candidate: whether it meets every limit known before training (all of them
        over the enumerated space, worked out once)."""
        if not self.known_limits:
            return np.ones(len(archs), dtype=bool)
        if self.pool.enumerates():
            if self._ok_universe is None:
                self._ok_universe = np.array([self.known_violation(a) == 0 for a in archs])
            return self._ok_universe
        return np.array([self.known_violation(a) == 0 for a in archs], dtype=bool)

    def _warps(self) -> dict[int, CopulaWarp]:
        """Each modelled objective's warp of the results told (none unless `warp=copula`),
        refitted on every call: ranks move as results arrive; the GP's factorisation depends
        on the architectures only, so nothing is refactorised."""
        if self.options["warp"] != "copula":
            return {}
        Y = np.array(self._Y)
        return {j: CopulaWarp(Y[:, j]) for j in self.modelled}

    def _targets(self, warps: dict[int, CopulaWarp] | None = None) -> np.ndarray:
        """The results told, min-form, each modelled objective through its warp if any."""
        Y = np.array(self._Y)
        for j, warp in (self._warps() if warps is None else warps).items():
            Y[:, j] = warp.z
        return Y

    def _range(self, Y: np.ndarray, exact: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Per objective, the range the acquisition normalises over: the results told, and for
        an exact objective also every known cost of a candidate scored so far. The reference
        point (1 + ref_offset) must lie beyond every candidate that could join the front: set
        from the results alone, a cost slower than 1.1 x the slowest evaluated one sat beyond
        it, had no EHVI, was never proposed, and the front's slow end stayed out of reach
        (NB201 C10 x Pixel 3: no evaluation above 14.7 ms where the true front reaches 23.6)."""
        lo, hi = Y.min(axis=0), Y.max(axis=0)
        if self.exact and exact is not None and len(exact):
            known = np.isfinite(exact)  # an unknown cost (inf) widens nothing
            self._exact_lo = np.minimum(self._exact_lo,
                                        np.where(known, exact, np.inf).min(axis=0))
            self._exact_hi = np.maximum(self._exact_hi,
                                        np.where(known, exact, -np.inf).max(axis=0))
            lo[self.exact] = np.minimum(lo[self.exact], self._exact_lo)
            hi[self.exact] = np.maximum(hi[self.exact], self._exact_hi)
        return lo, hi

    def _posterior(self, X, exact, Z, lo, span):
        """Normalised means and variances of the candidates (exact columns: variance 0; X
        None: the enumerated universe), and each modelled column's fantasy state (in its
        GP's standardised units)."""
        Xc = X if X is not None else self.pool.universe()[1]
        n, m = len(Xc), Z.shape[1]
        mu, var = np.zeros((n, m)), np.zeros((n, m))
        if self.exact:
            mu[:, self.exact] = (exact - lo[self.exact]) / span[self.exact]
        fantasies = {}
        if self.modelled:
            self._condition()
            for j in self.modelled:
                t = Z[self._rows, j]
                t_mu, t_sd = float(t.mean()), float(t.std())
                t_sd = t_sd if t_sd > 0 else 1.0
                mean, v, V = self._gps[j].posterior((t - t_mu) / t_sd, X)
                mu[:, j] = mean * t_sd + t_mu
                var[:, j] = v * t_sd ** 2
                fantasies[j] = Fantasies(self._gps[j], Xc, v, V, scale=t_sd)
        return mu, var, fantasies

    def _tie_levels(self, exact: np.ndarray | None):
        """Per candidate, its cost level (the index of its exact costs among the distinct
        ones), and per level the successes told there: (level, told), or (None, None) when
        no objective is exact.

        Why (`ehvi_over='tied'`). On a tabular benchmark a lookup is repeatable: the GP's
        fitted noise is each cell's own deviation from the kernel's smooth part, and the
        `observed` EHVI bets on that deviation coming out high. Where a device cost takes few
        values (HW-NAS-Bench's FPGA latency: 84 over 15,625 cells, up to 960 per value),
        hundreds of cells share one cost and one predicted accuracy, the bet is the same for
        each, and evaluating them never shrinks it (C100 x FPGA, seed 1: 212 of 500
        evaluations on the four cheapest latencies, 182 with `latent`; benchmarks/
        mobo_ties.py). If the deviations of the cells sharing a cost are exchangeable, the
        next one is the largest of the k + 1 with probability 1 / (k + 1) once k are told;
        its noise term is scaled by that, so it counts whole for a cost no success has yet,
        and fades as the level is searched. Costs with no ties (a distinct latency per cell)
        keep `observed` exactly."""
        if not self.exact or exact is None or not len(exact):
            return None, None
        # an enumerated space hands over the same cost array at every step: its levels are
        # worked out once (np.unique over 15,625 rows: about 8 ms a step otherwise)
        if self._tie_cache is None or self._tie_cache[0] is not exact:
            levels, inverse = np.unique(exact, axis=0, return_inverse=True)
            self._tie_cache = (exact, inverse.reshape(-1),
                               {tuple(c): i for i, c in enumerate(levels.tolist())})
        _, level, index = self._tie_cache
        counts = np.zeros(len(index))
        for costs in np.array(self._Y)[:, self.exact].tolist():
            at = index.get(tuple(costs))  # None: no candidate has that cost, nothing to count
            if at is not None:
                counts[at] += 1
        return level, counts

    def _observation_noise(self, Z) -> np.ndarray:
        """Per objective, the variance of an evaluation's noise in normalised units: each
        modelled GP's fitted noise level (its targets standardised) scaled back; 0 where exact."""
        noise = np.zeros(Z.shape[1])
        for j in self.modelled:
            t_sd = float(Z[self._rows, j].std()) or 1.0
            noise[j] = self._gps[j].theta[2] * t_sd ** 2
        return noise

    def _condition(self) -> None:
        """Bring every GP up to the results told: every `refit_every` new successes (and
        first) re-choose the training rows and refit the hyperparameters; in between,
        append the new successes to the rows and the factorisation."""
        n = len(self._Y)
        if not self._gps or n - self._fitted_at >= self.options["refit_every"]:
            self._rows = [int(i) for i in self._training_rows()]
            # the restarts' seed follows from the run's seed and the results alone, so a
            # predict() in between changes nothing that comes after
            Xt = np.array([self._X[i] for i in self._rows])
            Y = self._targets()[self._rows]
            universe = self.pool.universe()[1] if self.pool.enumerates() else None
            for j in self.modelled:
                gp = self._gps.get(j) or self._new_gp(universe)
                t = Y[:, j]
                gp.fit_hyperparameters(Xt, (t - t.mean()) / (t.std() or 1.0),
                                       self.options["n_restarts"],
                                       (self.seed * 1_000_003 + 7919 * n + j) % 2**32)
                gp.condition(Xt)
                self._gps[j] = gp
            self._fitted_at = self._synced = n
            return
        new = list(range(self._synced, n))
        if new:
            Xn = np.array([self._X[i] for i in new])
            for j in self.modelled:
                self._gps[j].append(Xn)
            self._rows += new
        self._synced = n

    def _training_rows(self) -> np.ndarray:
        """Every success, or past `max_train` the best: non-dominated layers in order, the
        layer that does not fit whole cut by recency (latest first). Sorted by arrival."""
        n, cap = len(self._Y), self.options["max_train"]
        if n <= cap:
            return np.arange(n)
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        _, rank = NonDominatedSorting().do(np.array(self._Y), return_rank=True)
        order = np.lexsort((-np.arange(n), rank))  # by layer, then latest first
        return np.sort(order[:cap])

    # -- candidates -------------------------------------------------------------------------
    def _front_archs(self) -> list[Arch]:
        """The evaluated architectures on the front of the results told (never a failure:
        only successes are kept): the parents of the neighbours in a large space."""
        return [self._archs[i] for i in np.flatnonzero(front_mask(np.array(self._Y)))]

    def _exact_costs(self, archs: list[Arch]) -> np.ndarray | None:
        if not self.exact:
            return None
        names = [self.objectives[j].name for j in self.exact]
        signs = np.array([-1.0 if self.objectives[j].direction == "max" else 1.0
                          for j in self.exact])
        # costs() once per arch: CostModel.matrix would look each arch up once per name
        C = np.array([[c[n] for n in names] for c in map(self.costs.costs, archs)],
                     dtype=float).reshape(len(archs), len(names)) * signs
        return np.where(np.isfinite(C), C, np.inf)  # unknown: never worth proposing

    def _encode(self, archs: list[Arch]) -> np.ndarray:
        if self._encoder is None:
            from hwnas.strategies.surrogate import OneHot

            self._encoder = OneHot(self.space)
        return self._encoder(archs).astype(np.float32)

    def _new_gp(self, universe) -> HammingGP:
        self._encode([])  # builds the encoder
        return new_gp(self.space, self._encoder, self.options["length_scales"], universe)

    # -- for users and tests ----------------------------------------------------------------
    def predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of each objective of `archs`, min-form, in the
        objectives' units, under the models of the results told so far (exact columns: the
        cost itself, standard deviation 0; with `warp=copula`, the predictive median and half
        its +-1 sd interval, mapped back through the warp)."""
        if len(self._Y) < 2:
            raise RuntimeError("predict() needs at least 2 successful results told")
        warps = self._warps()
        Y = self._targets(warps)
        lo, hi = Y.min(axis=0), Y.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        mu, var, _ = self._posterior(self._encode(archs), self._exact_costs(archs),
                                     (Y - lo) / span, lo, span)
        mean, sd = mu * span + lo, np.sqrt(var) * span
        for j, warp in warps.items():  # back: the predictive median, half its +-1 sd interval
            m, s = mean[:, j].copy(), sd[:, j].copy()
            mean[:, j] = warp.inverse(m)
            sd[:, j] = (warp.inverse(m + s) - warp.inverse(m - s)) / 2
        return mean, sd
