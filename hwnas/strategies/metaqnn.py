"""MetaQNN (Baker et al., ICLR 2017): tabular Q-learning over the space's decisions, epsilon-greedy
with a decaying epsilon schedule, and experience replay; hardware-aware rewards from
hwnas.rewards (MnasNet's, MONAS's, a normalised weighted sum).

States are (position index, previous choice): position t's decision is taken in state
(t, choice at t-1), the first in (0, start). Actions are position t's options. Q starts at 0.5
everywhere (the paper's initial Q for accuracies in [0, 1]). After a model is evaluated, a
trajectory s_0 a_0 ... s_{L-1} a_{L-1} with terminal reward r is learnt from IN REVERSE:

    Q(s_{L-1}, a_{L-1}) <- Q + lr * (r - Q)                        (the terminal state's max is 0)
    Q(s_t, a_t)         <- Q + lr * (0 + max_a' Q(s_{t+1}, a') - Q)    for t = L-2 .. 0

lr (the option `controller_lr`) 0.01, no discount, reward at the end only (the paper's
Algorithm 3: reverse order carries the fresh terminal value down the whole trajectory in one
pass). Experience replay (Algorithm
1): after every new model, `replay` (the paper's 100) (trajectory, reward) pairs are drawn
uniformly, with replacement, from ALL models evaluated so far, and each gets the update above.
A failed candidate's reward is the reward's floor (hwnas.rewards: 0 for weighted and mnasnet).

As in the paper, where the state is the current layer, a state does not remember earlier
decisions: credit reaches decision t only through max_a' Q((t+1, a_t), a'), so what is learnt
is how each choice pays given its predecessor and the best continuation, mostly near the end of
the sequence. A reward driven by an early decision alone, whatever follows, is averaged away.

Hard limits (`--constraint`): through the reward (hwnas.rewards: past a limit, the reward's
floor lowered by how far past). A trajectory past a limit on a cost known before training (the
table's latency) is not proposed: it joins the replay memory with that reward, Q is updated
on it, and a new trajectory is chosen, up to `REJECT_TRIES` times per proposal, so Q learns
where the limit is from models that cost no training (MetaQNN's own legality rules keep
illegal networks out of its samples the same way).

Warm start (`--warm-start`): Q-learning is off-policy, so models this controller did not
choose are learnt from as any other: the earlier runs' candidates join the replay memory, each
followed by its `replay` updates, as if evaluated here (their rewards normalised over what has
been told, as `tell` does). The epsilon schedule is over this run's own proposals.

Epsilon schedule. The paper trains 2,700 models on CIFAR-10 (Table 2): 1,500 at epsilon = 1.0
(pure exploration), 100 at each of 0.9, 0.8, 0.7 and 150 at each of 0.6 ... 0.1. hwnas keeps
those proportions of `budget` (model i gets the epsilon of the block holding i*2700/budget),
and stays at 0.1 after it. The strategy is not told the run's budget (neither the loop nor the
search context carries it), so `budget` is an option: set it to the run's --budget; its default,
500, is `hwnas bench`'s default budget. Ties in argmax Q are broken uniformly at random.
"""

from __future__ import annotations

import numpy as np

from hwnas.arch import Arch
from hwnas.core.feasibility import INFEASIBLE, VIOLATION
from hwnas.limits import MAX_BUDGET, MAX_STEPS
from hwnas.options import Option
from hwnas.registry import STRATEGIES
from hwnas.strategies.rewarded import REWARD_OPTIONS, RewardedStrategy

# Baker et al. 2017, Table 2: (epsilon, models trained at it); 2,700 models in all.
EPSILON_SCHEDULE = ((1.0, 1500), (0.9, 100), (0.8, 100), (0.7, 100), (0.6, 150), (0.5, 150),
                    (0.4, 150), (0.3, 150), (0.2, 150), (0.1, 150))
PAPER_MODELS = sum(n for _, n in EPSILON_SCHEDULE)
START = -1  # the "previous choice" of the first position
REJECT_TRIES = 100  # trajectories past a known limit learnt from, per proposal


def epsilon_at(index: int, budget: int) -> float:
    """Epsilon of the model with 0-based `index` when the paper's schedule is scaled to
    `budget` models (block boundaries rounded); 0.1 past the budget."""
    cumulative = 0
    for eps, n in EPSILON_SCHEDULE:
        cumulative += n
        if index < round(budget * cumulative / PAPER_MODELS):
            return eps
    return EPSILON_SCHEDULE[-1][0]


class QTable:
    """Q(s, .) per state, created at `q_init` on first use; s = (position, previous choice)."""

    def __init__(self, sizes: list[int], q_init: float = 0.5):
        self.sizes, self.q_init = list(sizes), float(q_init)
        self.values: dict[tuple[int, int], np.ndarray] = {}

    def __getitem__(self, state: tuple[int, int]) -> np.ndarray:
        if state not in self.values:
            self.values[state] = np.full(self.sizes[state[0]], self.q_init)
        return self.values[state]

    def states(self, trajectory) -> list[tuple[int, int]]:
        return [(t, START if t == 0 else int(trajectory[t - 1])) for t in range(len(trajectory))]

    def update(self, trajectory, reward: float, lr: float, reverse: bool = True) -> None:
        """One trajectory's Q-learning update (reward at the end, no discount); in reverse
        order as the paper does (`reverse=False` exists to show that the order matters)."""
        states = self.states(trajectory)
        last = len(trajectory) - 1
        order = range(last, -1, -1) if reverse else range(last + 1)
        for t in order:
            a = int(trajectory[t])
            q = self[states[t]]
            target = reward if t == last else float(self[states[t + 1]].max())
            q[a] += lr * (target - q[a])


@STRATEGIES.register("metaqnn")
class MetaQNN(RewardedStrategy):
    """MetaQNN (Baker et al.): Q-learning, epsilon-greedy schedule, experience replay."""

    plot_style = {"color": "#bcbd22", "marker": ">"}
    takes_warm_start = True  # experience replay is off-policy (module docstring)

    option_specs = {
        # the rate at which the controller (here the Q-table) learns: `controller_lr`, as
        # reinforce's and enas's; `lr` is a network's weights' rate in every plug-in
        "controller_lr": Option(0.01, float, low=0, low_open=True, high=1, old_names=("lr",),
                                help="Q-learning rate"),
        "q_init": Option(0.5, float, help="initial Q value"),
        "replay": Option(100, int, low=0, high=MAX_STEPS,
                         help="updates drawn from the replay memory per model"),
        "budget": Option(500, int, low=1, high=MAX_BUDGET,
                         help="models the epsilon schedule is scaled to: set it to --budget"),
        **REWARD_OPTIONS,
    }

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        self.q = QTable([len(opts) for _, opts in self._choices], self.options["q_init"])
        self.memory: list[tuple[np.ndarray, Arch, dict]] = []  # every evaluated model
        self.n_asked = 0

    def epsilon(self) -> float:
        return epsilon_at(self.n_asked, self.options["budget"])

    def ask(self, n: int = 1) -> list[Arch]:
        out = []
        for _ in range(n):
            arch = self._trajectory()
            for _ in range(REJECT_TRIES if self.known_limits else 0):
                v = self.known_violation(arch)
                if v == 0:
                    break
                self.discarded += 1  # learnt from, never trained (module docstring)
                self._learn_one(arch, {INFEASIBLE: "past a known limit", VIOLATION: v})
                arch = self._trajectory()
            self.n_asked += 1
            out.append(arch)
        return out

    def _trajectory(self) -> Arch:
        eps = self.epsilon()
        trajectory, prev = [], START
        for t, (_, opts) in enumerate(self._choices):
            if self.rng.random() < eps:
                a = int(self.rng.integers(len(opts)))
            else:
                q = self.q[(t, prev)]
                best = np.flatnonzero(q == q.max())
                a = int(best[self.rng.integers(len(best))]) if len(best) > 1 else int(best[0])
            trajectory.append(a)
            prev = a
        return self.space.decode(trajectory)

    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        super().tell(archs, results)
        for arch, result in zip(archs, results, strict=True):
            self._learn_one(arch, result)

    def _learn_one(self, arch: Arch, result: dict) -> None:
        self.rewarder.observe([result])
        self.memory.append((self.space.encode(arch), arch, result))
        self.replay()

    def replay(self) -> list[int]:
        """Draw `replay` memories uniformly (with replacement) and update Q with each, in the
        order drawn; returns the indices drawn."""
        if not self.memory or self.options["replay"] == 0:
            return []
        picks = [int(i) for i in self.rng.integers(len(self.memory), size=self.options["replay"])]
        unique = sorted(set(picks))
        rewards = dict(zip(unique, self._rewards([self.memory[i][1] for i in unique],
                                                 [self.memory[i][2] for i in unique]),
                           strict=True))
        for i in picks:
            self.q.update(self.memory[i][0], rewards[i], self.options["controller_lr"])
        return picks

    def _rewards(self, archs: list[Arch], results: list[dict]) -> np.ndarray:
        """One reward per result; a failed one gets the reward's floor (never built on)."""
        return np.array([self.rewarder(r) for r in results], dtype=float)
