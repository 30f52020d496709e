"""`renas`: Reinforced Evolutionary NAS (Chen et al., 2019): tournament-selection evolution
whose mutation is chosen by a learned mutation controller.

The evolution is aging evolution's (hwnas.strategies.evolution): a population of `population`
individuals, first random; each later proposal takes the best of `sample_size` random members
(the tournament) as the parent, mutates it in one decision, and the child replaces the OLDEST
member. What RENAS changes is the mutation: not a uniformly random decision and value, but the
mutation controller's choice given the parent.

The mutation controller (`MutationController`):
* encoder: each of the parent's decisions (one per label of `space.choices()`) is embedded (a
  learned row per label and option), and the sequence is read by a bidirectional LSTM (the
  paper's encoder; `bidirectional=False` for a one-way LSTM), so every position's state sees
  the whole parent;
* mutator, two heads: WHICH decision to change (a score per position from its state, a softmax
  over the positions that have more than one option), then WHAT to change it to (that
  position's own linear head on its state, a softmax over its options with the parent's
  current value masked out, so the child always differs from its parent in exactly that one
  decision). Logits are C*tanh(z) (`tanh_constant`, as the reinforce controller).

It is trained by REINFORCE (or PPO, `update=ppo`; hwnas.controllers.ppo, shared with reinforce
and enas) on the child's improvement over its parent: reward = R(child) - R(parent), R the
scalar reward of one architecture the reinforce/MONAS/MnasNet controllers use
(hwnas.rewards, option `reward`: weighted by default, mnasnet, monas_*), both taken under the
same normalisation, after the child's result widened it. The advantage is that improvement
minus the same moving-average baseline as reinforce's (decay `baseline_decay`, started at the
first improvement), with the same exact-entropy bonus; one update per told batch of children.
The tournament takes a uniformly chosen non-dominated member of its sample, as aging evolution
does (`fitness=pareto`, the default), or the largest R (`fitness=reward`: the paper's single
objective ranks both by accuracy). Measured on the 21 two-objective NB201 x HW-NAS-Bench
problems (5 seeds), ranking by the scalar R concentrates the population on one part of the
front: mean HV ratio 0.901 at 500 evaluations, below random's 0.928, against 0.959 with
pareto (at 100: 0.870 by R, 0.881 pareto); the controller learns from R(child) - R(parent)
either way.

Where this follows the paper and where it does not:
* The paper's cells are mutated in an input or an operation of one node; hwnas's spaces are
  sequences of categorical decisions (`choices()`), so a mutation is one decision and a new
  value: it works on every space, as evolution does.
* The paper's children inherit their parent's weights and are fine-tuned; here the run's
  estimator evaluates each child as any other candidate (a tabular benchmark, a trainer).
* Population and sample size default to aging evolution's here (50 and 12,
  benchmarks/evolution_defaults.py); hidden size 100 and Adam 6e-4 as reinforce's controller.

Failed candidates: never a parent (a tournament picks among usable members, else the least
violation among infeasible ones, else draws a random individual); a failed child is rewarded
the reward's floor, so the mutation that broke it is discouraged. Hard limits on costs known
before training: the initial population is drawn by rejection and a child past a limit is
mutated afresh from its parent by the controller (`Strategy.draw_feasible`). Warm start: the
earlier runs' best candidates seed the population, as evolution's. Resume: everything is
seeded (numpy for the tournament, a torch.Generator for the controller), so a run told the
same results proposes the same.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass

import numpy as np

from hwnas.arch import Arch
from hwnas.controllers.update_options import UPDATE_OPTIONS, baseline_advantages
from hwnas.errors import BadInputError
from hwnas.limits import MAX_CHANNELS, MAX_POPULATION
from hwnas.options import Option, option_error
from hwnas.registry import STRATEGIES
from hwnas.strategies.base import Strategy
from hwnas.strategies.rewarded import REWARD_OPTIONS, RewardedStrategy

# pareto: a uniformly chosen non-dominated member wins a tournament, as in aging evolution;
# reward: the largest R (the paper ranks by accuracy, its one objective).
FITNESS = ("pareto", "reward")


@dataclass
class _Proposal:
    """What `tell` needs of one proposal: its parent and the mutation drawn (None: random)."""

    key: str
    parent: tuple[Arch, dict] | None = None
    mutation: tuple[int, int, float] | None = None  # position, new value, log p when drawn


@STRATEGIES.register("renas")
class RENAS(RewardedStrategy):
    """RENAS: aging-evolution tournament, mutation chosen by a learned (Bi)LSTM controller."""

    plot_style = {"color": "#e7ba52", "marker": "p"}
    takes_warm_start = True

    option_specs = {
        "population": Option(50, int, low=2, high=MAX_POPULATION,
                             aliases=("popsize", "population_size", "pop")),
        "sample_size": Option(12, int, low=1, high=MAX_POPULATION,
                              aliases=("tournament", "tournament_size")),
        "fitness": Option("pareto", str, choices=FITNESS,
                          help="tournament winner: a uniformly chosen non-dominated member "
                               "(evolution's), or the largest reward R (the paper's)"),
        "controller_lr": Option(6e-4, float, low=0, low_open=True,
                                help="mutation controller's Adam learning rate"),
        "hidden": Option(100, int, low=1, high=MAX_CHANNELS,
                         help="embedding and LSTM units of the encoder"),
        "bidirectional": Option(True, bool, help="encoder: bidirectional LSTM (the paper's)"),
        "baseline_decay": Option(0.99, float, low=0, high=1, high_open=True,
                                 help="b <- b - (1-decay)(b - improvement)"),
        "entropy_weight": Option(1e-4, float, low=0, help="weight of the entropy bonus"),
        "tanh_constant": Option(2.5, float, low=0, low_open=True, none_ok=True,
                                help="C in C*tanh(logits); None: no squashing"),
        **UPDATE_OPTIONS,
        **REWARD_OPTIONS,
    }

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        super().check_options(resolved)
        if resolved["sample_size"] > resolved["population"]:
            raise option_error("sample_size", cls.owner(),
                               f"<= population ({resolved['population']})",
                               resolved["sample_size"])

    @classmethod
    def degenerate_warning(cls, options: dict, budget: int | None) -> str | None:
        """As evolution's: a budget within the random initial population mutates nothing."""
        population = options.get("population", cls.option_specs["population"].default)
        if budget is None or budget > population:
            return None
        suggestion = max(2, budget // 4)
        return (f"renas with population {population} and budget {budget} is random sampling: "
                f"the first {population} candidates are the random initial population, so the "
                f"mutation controller never mutates; use e.g. --strategy-opt "
                f"population={suggestion} --strategy-opt sample_size={max(1, suggestion // 2)}"
                f", or --method random to say so")

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        sizes = [len(opts) for _, opts in self._choices]
        if max(sizes) < 2:
            raise BadInputError(f"{self.owner()} mutates a decision with at least two options; "
                                f"space {space.name!r} has none")
        import torch  # the controller's runtime: when a search runs, not when strategies are listed

        from hwnas.controllers.lstm import one_thread
        from hwnas.controllers.mutator import MutationController

        self.generator = torch.Generator().manual_seed(seed)
        o = self.options
        with one_thread(), torch.random.fork_rng(devices=[]):
            # nn modules draw their default init from the global generator: restored after,
            # and overwritten by the seeded uniform init
            self.controller = MutationController(sizes, o["hidden"], self.generator,
                                                 o["bidirectional"], o["tanh_constant"])
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=o["controller_lr"])
        self.baseline: float | None = None
        self.baselines: list[float] = []  # b after each improvement (history, for inspection)
        self._population: deque[tuple[Arch, dict]] = deque()
        self._pending: deque[_Proposal] = deque()
        self._drawn: dict[str, tuple[int, int, float]] = {}  # child key -> its mutation
        self._n_asked = 0

    def scalar_fitness(self):
        """fitness=reward: the reward R of one architecture (hwnas.rewards), what a tournament
        ranks by; pareto: None (non-dominated members, Strategy.best_index)."""
        return self.rewarder if self.options["fitness"] == "reward" else None

    # -- ask ------------------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Arch]:
        out = []
        for _ in range(n):
            parent = (self._tournament()
                      if self._n_asked >= self.options["population"] and self._population
                      else None)
            if parent is None:  # the initial population; also a tournament of failures only
                arch = self.draw_feasible(lambda: self.space.sample(self.rng))
                self._pending.append(_Proposal(arch.key))
            else:
                self._drawn.clear()
                arch = self.draw_feasible(functools.partial(self.mutate, parent[0]))
                self._pending.append(_Proposal(arch.key, parent, self._drawn[arch.key]))
            self._n_asked += 1
            out.append(arch)
        return out

    def mutate(self, arch: Arch) -> Arch:
        """The mutation controller's child of `arch`: one decision changed, to another value
        (module docstring); the mutation is remembered for the update."""
        from hwnas.controllers.lstm import one_thread

        x = self.space.encode(arch)
        with one_thread():
            k, v, logp = self.controller.sample(x[None, :], self.generator)
        x[int(k[0])] = int(v[0])
        child = self.space.decode(x.tolist())
        self._drawn[child.key] = (int(k[0]), int(v[0]), float(logp[0]))
        return child

    def _tournament(self) -> tuple[Arch, dict] | None:
        """The best of a random sample by `fitness` (R, or a non-dominated one); infeasible
        members only when no member is usable (the least violation wins), failed ones never
        (None: draw afresh)."""
        size = min(self.options["sample_size"], len(self._population))
        idx = self.rng.choice(len(self._population), size=size, replace=False)
        sample = [self._population[i] for i in idx]
        ok = [m for m in sample if self.usable(m[1])]
        if ok:
            best = self.best_index([r for _, r in ok])  # by scalar_fitness when it has one
            assert best is not None  # every member of `ok` is usable
            return ok[best]
        violations = [self.violation(r) for _, r in sample]
        return sample[int(np.argmin(violations))] if min(violations) < np.inf else None

    # -- tell -----------------------------------------------------------------------------------
    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        super().tell(archs, results)
        self.rewarder.observe(results)  # the normalisation first: both rewards under it
        pending, self._pending = self._pending, deque()
        learnt = []
        for arch, result in zip(archs, results, strict=True):
            while pending and pending[0].key != arch.key:
                pending.popleft()  # asked, never told (the loop cut the batch at the budget)
            proposal = pending.popleft() if pending else None
            if proposal is not None and proposal.mutation is not None:
                assert proposal.parent is not None
                gain = self.rewarder(result) - self.rewarder(proposal.parent[1])
                learnt.append((self.space.encode(proposal.parent[0]), proposal.mutation, gain))
            self._join(arch, result)
        if learnt:
            self.learn(learnt)

    def _join(self, arch: Arch, result: dict) -> None:
        self._population.append((arch, result))
        if len(self._population) > self.options["population"]:
            self._population.popleft()  # the oldest dies

    def learn(self, mutations: list[tuple[np.ndarray, tuple[int, int, float], float]]) -> None:
        """One update of the controller on (parent, (position, value, log p), improvement)."""
        out, after = baseline_advantages(self.baseline, [g for _, _, g in mutations],
                                         self.options["baseline_decay"])
        self.baseline = after[-1]
        self.baselines += after
        parents = np.array([x for x, _, _ in mutations])
        positions = np.array([m[0] for _, m, _ in mutations])
        values = np.array([m[1] for _, m, _ in mutations])

        def evaluate(idx):
            return self.controller.evaluate(parents[idx], positions[idx], values[idx])

        from hwnas.controllers.lstm import one_thread
        from hwnas.controllers.ppo import policy_step

        with one_thread():
            policy_step(self.optimizer, evaluate, out, self.options,
                        entropy_weight=self.options["entropy_weight"],
                        old_logp=[m[2] for _, m, _ in mutations], generator=self.generator)

    def warm_start(self, archs: list[Arch], results: list[dict]) -> None:
        """The best of the earlier runs' candidates by R seed the population (as evolution's),
        oldest first; none was a mutation of this controller, so it learns nothing from them."""
        from hwnas.strategies.warm import best_first

        self.rewarder.observe(results)  # R ranks them: its normalisation first
        chosen = sorted(best_first(self, results)[: self.options["population"]])
        Strategy.tell(self, [archs[i] for i in chosen], [results[i] for i in chosen])
        for i in chosen:
            self._join(archs[i], results[i])
        self._n_asked += len(chosen)  # random individuals the seeds stand for

    # -- inspection -----------------------------------------------------------------------------
    def mutation_policy(self, arch: Arch) -> tuple[np.ndarray, list[np.ndarray]]:
        """p(position | arch) and, per position, p(value | arch, position)."""
        import torch

        from hwnas.controllers.lstm import one_thread

        x = torch.as_tensor(self.space.encode(arch)[None, :], dtype=torch.long)
        with one_thread(), torch.no_grad():
            where, what = self.controller.log_policy(x)
        return (where[0].exp().numpy().astype(float),
                [what[0, k, :n].exp().numpy().astype(float)
                 for k, n in enumerate(self.controller.sizes)])
