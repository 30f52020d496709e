"""REINFORCE with an LSTM controller (Zoph & Le, 2017), as ENAS (Pham et al., 2018) trains it,
with hardware-aware rewards: MnasNet's ACC*(LAT/T)^w and MONAS's (hwnas.rewards).

The controller (hwnas.controllers.lstm) emits one decision per label of `space.choices()`,
step t fed the embedding of decision t-1 (a learned start token first); logits are
C*tanh(logits/T) (`tanh_constant` C, ENAS's 2.5; `temperature` T). `ask` samples architectures
from it; each `tell` of a batch of results is one policy-gradient step:

    for each reward R, in order:   b <- b - (1 - decay) * (b - R)      (ENAS: b moves first)
    loss = -mean_i (R_i - b_i) * log pi(arch_i) - entropy_weight * mean_i H(pi | arch_i)

with Adam. A failed candidate is told the reward's floor (hwnas.rewards: 0 for weighted and
mnasnet). Everything is seeded from the strategy's seed (a torch.Generator, CPU, one thread),
so the proposals are a function of the seed and the results told: a resumed run that is told
the same results proposes the same.

Hard limits (`--constraint`): through the reward (hwnas.rewards: past a limit, the reward's
floor lowered by how far past). A sample past a limit on a cost known before training (the
table's latency) is not proposed: the controller takes one policy-gradient step on it with
that reward (against the current baseline, which it does not move) and samples again, up to
`REJECT_TRIES` times, so it learns where the limit is from samples that cost no training.

Where this follows the papers and where it does not:
* Zoph & Le: an LSTM samples each decision and is fed it back; REINFORCE with an exponential
  moving-average baseline of previous rewards (decay `baseline_decay`, 0.99 as ENAS); Adam.
  Default `controller_lr` 6e-4: Zoph & Le's controller learning rate (ENAS uses 3.5e-4;
  either is an option away). Hidden size 100 (ENAS's controller LSTM; Zoph & Le use 2 layers
  of 35 units).
* The baseline starts at the first reward, not at 0 as in ENAS's code: with decay 0.99 and a
  budget of a few hundred, a zero start makes every early advantage positive and reinforces
  whatever happened to be sampled first.
* Entropy: the exact entropy of each step's softmax, added to the objective (a regulariser
  with a gradient of its own); ENAS adds the sampled sequence's entropy to the reward instead.
* One update per told batch (the loop's `--batch`; 1 by default, as ENAS's one-architecture
  controller steps); Zoph & Le average m sampled architectures per update, i.e. `--batch m`.
* Zoph & Le's skip connections / anchor points and ENAS's weight sharing are not part of
  hwnas's spaces: each label is one categorical decision.

`update=ppo` (NASNet, Zoph et al. 2018) replaces the one step per told batch by PPO's epochs of
clipped-surrogate minibatch steps on it, from the log-probabilities the samples had when
`ask` drew them (hwnas.controllers.ppo, shared with enas and renas); same baseline, same
entropy bonus. A sample past a known limit still takes one plain step: it was just drawn, so
its ratio is 1, where the two gradients are equal.
"""

from __future__ import annotations

import numpy as np

from hwnas.arch import Arch
from hwnas.controllers.update_options import UPDATE_OPTIONS, baseline_advantages
from hwnas.core.feasibility import INFEASIBLE, VIOLATION
from hwnas.limits import MAX_CHANNELS
from hwnas.options import Option
from hwnas.registry import STRATEGIES
from hwnas.strategies.rewarded import REWARD_OPTIONS, RewardedStrategy

REJECT_TRIES = 100  # samples past a known limit learnt from, per proposal, before proposing one


@STRATEGIES.register("reinforce")
class Reinforce(RewardedStrategy):
    """REINFORCE (Zoph & Le): LSTM controller, moving-average baseline, MnasNet/MONAS rewards."""

    plot_style = {"color": "#e377c2", "marker": "<"}

    option_specs = {
        "controller_lr": Option(6e-4, float, low=0, low_open=True, old_names=("lr",),
                                help="Adam learning rate (Zoph & Le 6e-4; ENAS 3.5e-4)"),
        "hidden": Option(100, int, low=1, high=MAX_CHANNELS, help="LSTM hidden units (ENAS: 100)"),
        "baseline_decay": Option(0.99, float, low=0, high=1, high_open=True,
                                 help="b <- b - (1-decay)(b - R)"),
        "entropy_weight": Option(1e-4, float, low=0, help="weight of the entropy bonus"),
        "tanh_constant": Option(2.5, float, low=0, low_open=True, none_ok=True,
                                help="C in C*tanh(logits/T); None: no squashing"),
        "temperature": Option(1.0, float, low=0, low_open=True, help="T in C*tanh(logits/T)"),
        **UPDATE_OPTIONS,
        **REWARD_OPTIONS,
    }

    def __init__(self, space, objectives, seed=0, costs=None, **options):
        super().__init__(space, objectives, seed, costs, **options)
        import torch

        from hwnas.controllers.lstm import LSTMController, one_thread

        self._one_thread = one_thread
        self.generator = torch.Generator().manual_seed(seed)
        with one_thread(), torch.random.fork_rng(devices=[]):
            # nn modules draw their default init from the global generator: restored after,
            # and overwritten by the seeded uniform init in the controller
            self.controller = LSTMController(
                [len(opts) for _, opts in self._choices], self.options["hidden"],
                self.generator, self.options["tanh_constant"], self.options["temperature"])
        self.optimizer = torch.optim.Adam(self.controller.parameters(),
                                          lr=self.options["controller_lr"])
        self.baseline: float | None = None
        self.baselines: list[float] = []  # b after each reward (history, for inspection)
        # update=ppo: log pi(arch) when `ask` drew it, by key, until it is told
        self._sampled_logp: dict[str, float] = {}

    # -- ask / tell -------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Arch]:
        with self._one_thread():
            picks = self.controller.sample(n, self.generator)
        archs = [self.space.decode(row) for row in picks]
        self._keep_logp(archs)  # before any limit step moves the policy
        return [self._within_limits(a) for a in archs] if self.known_limits else archs

    def _keep_logp(self, archs: list[Arch]) -> None:
        """update=ppo: remember log pi(arch) under the policy that just drew them."""
        if self.options["update"] != "ppo" or not archs:
            return
        import torch

        with self._one_thread(), torch.no_grad():
            logp = self.controller.evaluate(np.array([self.space.encode(a) for a in archs]))[0]
        self._sampled_logp.update({a.key: float(v) for a, v in zip(archs, logp, strict=True)})

    def _within_limits(self, arch: Arch) -> Arch:
        """`arch`, or, while it breaks a known limit, a fresh sample after a policy step on it
        with the reward past the limit (module docstring)."""
        for _ in range(REJECT_TRIES):
            v = self.known_violation(arch)
            if v == 0:
                break
            self.discarded += 1
            reward = self.rewarder({INFEASIBLE: "past a known limit", VIOLATION: v})
            base = self.baseline if self.baseline is not None else self.rewarder.floor
            with self._one_thread():
                self.optimizer.zero_grad()
                self.loss([arch], [reward - base]).backward()
                self.optimizer.step()
                arch = self.space.decode(self.controller.sample(1, self.generator)[0])
            self._keep_logp([arch])
        return arch

    def tell(self, archs: list[Arch], results: list[dict]) -> None:
        super().tell(archs, results)
        if not archs:
            return
        self.learn(archs, results)
        self._sampled_logp.clear()  # what was asked and not told is never updated on

    def learn(self, archs: list[Arch], results: list[dict]) -> np.ndarray:
        """One policy-gradient step on `results` (rewards under the run's reward option, the
        normalisation widened by them first); returns the rewards. ENAS calls it with rewards
        measured on its shared weights."""
        self.rewarder.observe(results)
        rewards = self._rewards(archs, results)
        self.update(archs, rewards)
        return rewards

    def _rewards(self, archs: list[Arch], results: list[dict]) -> np.ndarray:
        """One reward per result; a failed one gets the reward's floor (never built on)."""
        return np.array([self.rewarder(r) for r in results], dtype=float)

    # -- the policy gradient ----------------------------------------------------------------
    def advantages(self, rewards) -> np.ndarray:
        """Move the baseline through `rewards` in order (b <- b - (1-decay)(b - R), starting
        at the first reward ever told) and return R - b for each, b taken after its update."""
        out, after = baseline_advantages(self.baseline, rewards, self.options["baseline_decay"])
        if after:
            self.baseline = after[-1]
            self.baselines += after
        return out

    def loss(self, archs: list[Arch], advantages):
        """-mean (A_i log pi(arch_i)) - entropy_weight * mean H_i (a torch scalar)."""
        import torch

        choices = np.array([self.space.encode(a) for a in archs])
        logp, entropy, _ = self.controller.evaluate(choices)
        adv = torch.as_tensor(np.asarray(advantages, dtype=np.float32))
        return -(adv * logp).mean() - self.options["entropy_weight"] * entropy.mean()

    def update(self, archs: list[Arch], rewards) -> None:
        """One told batch: advantages against the baseline, then the `update` option's step(s)
        (hwnas.controllers.ppo)."""
        adv = self.advantages(rewards)
        choices = np.array([self.space.encode(a) for a in archs])

        def evaluate(idx):
            logp, entropy, _ = self.controller.evaluate(choices[idx])
            return logp, entropy

        old = [self._sampled_logp.get(a.key) for a in archs]
        with self._one_thread():
            from hwnas.controllers.ppo import policy_step  # torch: when a step is taken

            policy_step(self.optimizer, evaluate, adv, self.options,
                        entropy_weight=self.options["entropy_weight"], old_logp=old,
                        generator=self.generator)

    def policy(self, arch: Arch) -> list[np.ndarray]:
        """Each position's option probabilities given `arch`'s earlier decisions."""
        import torch

        with self._one_thread(), torch.no_grad():
            _, _, probs = self.controller.evaluate(self.space.encode(arch)[None, :])
        return [p[0].numpy().astype(float) for p in probs]
