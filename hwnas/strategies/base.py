"""Strategy: the ask/tell contract of every sample-based search strategy.

A strategy proposes architectures and learns from their results; it never times an
architecture or writes to the run itself. The loop lives outside (hwnas.searching.loop), as in
pymoo. Most strategies never train a network either; six do, inside `ask`, and say so with
`sample_based = False`: ENAS and SPOS train the weight-sharing supernet their proposals are
scored with, and the one-shot methods (ProxylessNAS, FBNet, DARTS, SNAS) a supernet whose
architecture parameters become the proposal. Options are declared as data (`option_specs`;
a plug-in imports `Option`, this base and `STRATEGIES` from `hwnas.plugins`). A strategy may
read the cheap costs of any architecture before proposing it (`self.costs`: table latency and
columns, params/FLOPs, a benchmark's device costs) — what DPP-Net's device model is in its
paper.

Failed candidates. A result may be `{"failed": reason}` (hwnas.core.failure): no
objective in it. Every strategy accepts such results in `tell` and goes on; it never builds
on one (a parent, a beam, an incumbent) nor fits a model on it. The helpers below say how:
`is_failed`, `objective_vector` (min-form, +inf for a failed result: worse than anything
real) and `best_index` (which never picks a failed result).

Hard limits (`--constraint`, given as `constraints`). A result may also be infeasible
(hwnas.core.feasibility): ruled out by a known cost before evaluation (no accuracy in it), or
evaluated and past a limit known only then. By default a strategy treats it as it treats a
failure (`usable` is false for both: `objective_vector` is +inf, `best_index` never picks it),
the worst there is. A strategy whose method has its own way (Deb's rules, pymoo's constraint
violation, a probability of feasibility, a reward past the limit) reads `violation(result)`.
The limits on costs known before training (`known_limits`: those of `constraints` the cost
model provides, and "this cost exists" for each it provides with gaps, as a benchmark's device
cost missing for a network the device could not run) can be checked before proposing:
`known_violation(arch)`, and `draw_feasible(draw)`, rejection sampling with a bounded number
of draws, which counts what it discarded (`discarded`: proposals that were never made, so
never trained).

Warm start (`--warm-start RUN`). A strategy that sets `takes_warm_start` is told, once, before
its first proposal, the evaluated candidates of earlier runs of the same problem
(`warm_start(archs, results)`; results judged under this run's limits, failed ones included).
They were not proposed by it: the default passes them to `tell`, right for a strategy whose
`tell` learns from any architecture (a model's data, a replay memory); one whose `tell` pairs
results with its own proposals overrides it (seeding a population) or leaves
`takes_warm_start` False (a policy gradient needs samples of its own policy): the run is then
refused in one line.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from hwnas.arch import Arch
from hwnas.core.context import SearchContext
from hwnas.core.costs import NO_COSTS, CostModel
from hwnas.core.failure import is_failed as _is_failed
from hwnas.core.feasibility import broken, required_limits, total_violation
from hwnas.core.feasibility import is_infeasible as _is_infeasible
from hwnas.core.feasibility import usable as _usable
from hwnas.core.feasibility import violation as _violation
from hwnas.objectives import Constraint, Objective, parse_constraint
from hwnas.options import Configurable, Option, option_error
from hwnas.spaces.base import SearchSpace


class Strategy(Configurable, ABC):
    """Subclasses declare `option_specs` (name -> Option) and implement `ask` (and `tell`)."""

    kind: ClassVar[str] = "strategy"
    list_command: ClassVar[str] = "hwnas list strategies"
    option_specs: ClassVar[dict[str, Option]] = {}
    # Sample-based: proposes from results alone, cheap per proposal (the league and the
    # sample-based conformance tests run these). One-shot strategies train a supernet per
    # proposal and set it False.
    sample_based: ClassVar[bool] = True
    # Its proposals do not depend on how many the loop asks for at once (it waits for the
    # results its next proposals depend on); the conformance tests hold a strategy that says
    # so to it. Aging evolution, which mutates what has been told so far, does not.
    batch_independent: ClassVar[bool] = False
    # Its colour and marker in every figure, {"color": "#1f77b4", "marker": "s"}, so a reader
    # who learnt "nsga2 is the red triangle" is never misled by a later plot. Read from the
    # class itself, never inherited (a subclass is another method); None: one derived from
    # the registered name (hwnas.analysis.plots.method_style).
    plot_style: ClassVar[dict[str, str] | None] = None
    # It can start from earlier runs' evaluated candidates (`warm_start`, module docstring).
    takes_warm_start: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, objectives: list[Objective], seed: int = 0,
                 costs: CostModel | None = None, *, context: SearchContext | None = None,
                 constraints: Sequence[Constraint | str] = (), **options: Any) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise option_error("seed", self.owner(), "an int >= 0", seed)
        self.options = self.resolve_options(options)
        self.space = space
        self.objectives = list(objectives)
        self.seed = seed
        self.costs = costs if costs is not None else NO_COSTS
        self.context = context if context is not None else SearchContext()
        self.rng = np.random.default_rng(seed)
        self.n_told = 0
        self.constraints = tuple(c if isinstance(c, Constraint) else parse_constraint(c)
                                 for c in constraints)
        # the limits checkable before proposing: on costs the cost model knows, and the
        # implicit one of each known cost with gaps (it must exist: the loop rules out an
        # architecture without it, hwnas.core.feasibility.required_limits)
        self.known_limits = (*(c for c in self.constraints if self.costs.knows([c.name])),
                             *required_limits(self.costs))
        self.discarded = 0  # draws that broke a known limit and were never proposed

    @classmethod
    def degenerate_warning(cls, options: dict, budget: int | None) -> str | None:
        """A warning when `options` (resolved) with this `budget` make the method another one in
        disguise (aging evolution whose initial random population covers the budget is random
        sampling); None when they do not. `hwnas search` prints it before the first candidate.
        Strategies that can degenerate override it."""
        return None

    def max_proposals(self) -> int | None:
        """How many proposals this strategy can make (None: unbounded). A one-shot sweep
        proposes one architecture per setting; a budget above it is refused before a run."""
        return None

    def latency_limits(self) -> list[tuple[str, list[float]]]:
        """The absolute limits on the table's latency this strategy holds, as the user set
        them: [(flag, values)], e.g. [("--target-ms ", [3.0])]. Read from the option names
        the strategies share (README "Shared option names"): a hard `limit_ms`, and, when
        their `cost` is `latency_ms`, a `target_ms` the strategy reads (`reads_target`) or a
        `sweep` of target_ms; a strategy holding other limits overrides it. A new search says
        once when the machine's speed has moved their meaning
        (hwnas.latency.drift.limit_message)."""
        o = self.options
        out = []
        if o.get("limit_ms"):  # always on the table's latency
            out.append(("--strategy-opt limit_ms=", [float(o["limit_ms"])]))
        if (o.get("cost") or "latency_ms") != "latency_ms":
            return out
        if o.get("target_ms") and self.reads_target():
            out.insert(0, ("--target-ms ", [float(o["target_ms"])]))
        key, _, values = str(o.get("sweep") or "").partition("=")
        if key.strip() == "target_ms":
            out.append(("--sweep target_ms=", [float(v) for v in values.split(",") if v.strip()]))
        return out

    def reads_target(self) -> bool:
        """Whether its `target_ms` (a reward's or loss's target T) is read under its other
        options; one whose reward or fitness may ignore it says when (evolution: only with
        fitness=mnasnet)."""
        return True

    def scalar_fitness(self) -> Callable[[dict], float] | None:
        """The one number `best_index` ranks successful results by, or None (the default):
        a non-dominated result is chosen instead. A strategy that scalarises builds it from
        its own options (evolution's `fitness=mnasnet`, with hwnas.rewards)."""
        return None

    def proposal_info(self, arch: Arch) -> dict:
        """Plain data recorded with a proposal in the run history (e.g. the sweep setting a
        one-shot method derived it under); nothing by default."""
        return {}

    @abstractmethod
    def ask(self, n: int = 1) -> list[Arch]:
        """Propose up to `n` architectures to evaluate next. Fewer is allowed when the next
        proposals depend on results not told yet (the loop tells, then asks again)."""

    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        """Learn from evaluated architectures; `results[i]` maps objective name -> value, or
        is a failed result (`is_failed`), which the strategy must accept and never build on."""
        if len(archs) != len(results):
            raise ValueError("tell() needs one result per architecture")
        self.n_told += len(archs)

    def warm_start(self, archs: list[Arch], results: list[dict]) -> None:
        """Learn from earlier runs' evaluated candidates, before the first `ask` (only called
        when `takes_warm_start`); by default they are told as results."""
        self.tell(archs, results)

    # -- hard limits ----------------------------------------------------------------------------
    def known_violation(self, arch: Arch) -> float:
        """How far `arch` is past the limits on costs known before training (the sum of the
        relative excesses, hwnas.core.feasibility); 0 when it meets them, or there are none."""
        if not self.known_limits:
            return 0.0
        values = self.costs.costs(arch, {c.name for c in self.known_limits})
        return total_violation(broken(self.known_limits, values))

    def draw_feasible(self, draw: Callable[[], Arch], tries: int = 200) -> Arch:
        """Rejection sampling: the first of up to `tries` draws that meets every known limit;
        past that the least violating draw (the loop then rules it out, and the strategy is
        told). Every draw rejected is counted in `discarded`."""
        if not self.known_limits:
            return draw()
        best, best_v = None, float("inf")
        for _ in range(max(1, tries)):
            arch = draw()
            v = self.known_violation(arch)
            if v == 0:
                return arch
            self.discarded += 1
            if best is None or v < best_v:
                best, best_v = arch, v
        self.discarded -= 1  # the least violating one is proposed after all
        assert best is not None
        return best

    @staticmethod
    def is_infeasible(result: dict) -> bool:
        """An infeasible candidate's result (a hard limit broken, hwnas.core.feasibility)."""
        return _is_infeasible(result)

    @staticmethod
    def usable(result: dict) -> bool:
        """A result to build on: neither failed nor infeasible."""
        return _usable(result)

    @staticmethod
    def violation(result: dict) -> float:
        """0 for a feasible result, how far past its limits for an infeasible one, inf for a
        failed one: what Deb's feasibility rules compare."""
        return _violation(result)

    # -- helpers shared by strategies -------------------------------------------------------
    def mutate(self, arch: Arch) -> Arch:
        """Change one randomly chosen label to a different option (AmoebaNet's op mutation)."""
        pairs = [(label, opts) for label, opts in self.space.choices() if len(opts) > 1]
        label, opts = pairs[self.rng.integers(len(pairs))]
        others = [o for o in opts if o != arch.values[label]]
        return Arch(arch.space, {**arch.values, label: others[self.rng.integers(len(others))]})

    @staticmethod
    def is_failed(result: dict) -> bool:
        """A failed candidate's result (`{"failed": reason}`): no objective to read."""
        return _is_failed(result)

    def objective_vector(self, result: dict) -> np.ndarray:
        """The run's objectives of `result`, min-form (max ones negated), in objective order;
        +inf in every objective for a failed or infeasible result (by default the worst), so
        it is dominated by any real one."""
        if not self.usable(result):
            return np.full(len(self.objectives), np.inf)
        return np.array([-float(result[o.name]) if o.direction == "max" else
                         float(result[o.name]) for o in self.objectives])

    def best_index(self, results: list[dict]) -> int | None:
        """Index of the best result; failed and infeasible results are never chosen (None
        when no result is usable: there is nothing to build on).

        The largest `scalar_fitness` when the strategy has one; otherwise (the default) a
        uniformly chosen member of the non-dominated subset, so no single scalarisation
        biases a multi-objective search.
        """
        ok = [i for i, r in enumerate(results) if self.usable(r)]
        if not ok:
            return None
        score = self.scalar_fitness()
        if score is not None:
            return ok[int(np.argmax([score(results[i]) for i in ok]))]
        from hwnas.analysis.pareto import non_dominated_mask

        F = np.array([[results[i][o.name] for o in self.objectives] for i in ok], dtype=float)
        candidates = np.flatnonzero(non_dominated_mask(F, [o.direction for o in self.objectives]))
        return ok[int(candidates[self.rng.integers(len(candidates))])]
