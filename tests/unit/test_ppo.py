"""PPO as the controllers' update (hwnas.controllers.ppo; NASNet's controller, Zoph et al. 2018):
the clipped surrogate stops a sample's gradient once its ratio is past the clip in the
direction of its advantage, its first step from the sampling policy is REINFORCE's, a PPO
update on a bandit raises the rewarded arm, and `update=ppo` is an option of reinforce, enas
and renas (a bad value refused in one line)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from hwnas.controllers.ppo import clipped_surrogate, policy_step, reinforce_loss
from hwnas.controllers.update_options import UPDATE_OPTIONS, baseline_advantages
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.registry import STRATEGIES
from hwnas.spaces.nb201 import Nb201Space

SPACE = Nb201Space()
OBJECTIVES = parse_objectives("accuracy,latency_ms")


def ppo(**given) -> dict:
    return {**{k: s.default for k, s in UPDATE_OPTIONS.items()}, "update": "ppo", **given}


def logits_grad(ratio: float, advantage: float, arm: int = 1) -> torch.Tensor:
    """d(surrogate)/d(logits) of one sample of a 3-armed softmax whose old probability makes
    pi/pi_old = `ratio`."""
    theta = torch.tensor([0.2, -0.1, 0.4], dtype=torch.float64, requires_grad=True)
    logp = torch.log_softmax(theta, 0)[arm:arm + 1]
    old = logp.detach() - math.log(ratio)
    clipped_surrogate(logp, old, torch.tensor([advantage], dtype=torch.float64), 0.2).backward()
    assert theta.grad is not None
    return theta.grad


# -- the clipped objective -------------------------------------------------------------------
@pytest.mark.parametrize("ratio, advantage", [(1.5, 1.0), (1.21, 0.3), (0.5, -1.0), (0.79, -2.0)])
def test_past_the_clip_in_the_direction_of_the_advantage_the_gradient_is_zero(ratio, advantage):
    assert torch.count_nonzero(logits_grad(ratio, advantage)) == 0


@pytest.mark.parametrize("ratio, advantage", [(1.5, -1.0), (0.5, 1.0), (1.1, 1.0), (0.9, -1.0)])
def test_elsewhere_it_is_the_ratio_weighted_policy_gradient(ratio, advantage):
    """Past the clip AGAINST its advantage (or inside it) min() keeps the unclipped term:
    gradient A * r * grad log pi, so a sample made too likely with a negative advantage is
    still pushed down."""
    theta = torch.tensor([0.2, -0.1, 0.4], dtype=torch.float64, requires_grad=True)
    torch.log_softmax(theta, 0)[1].backward()
    assert theta.grad is not None
    assert torch.allclose(logits_grad(ratio, advantage), advantage * ratio * theta.grad)


def sgd_step(controller, options: dict, choices: np.ndarray, adv: np.ndarray) -> torch.Tensor:
    """The parameter change of one `policy_step` on a copy of `controller` with plain SGD
    (lr 1): minus the gradient the update follows."""
    model = copy.deepcopy(controller)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])

    def evaluate(idx):
        logp, entropy, _ = model.evaluate(choices[idx])
        return logp, entropy

    policy_step(torch.optim.SGD(model.parameters(), lr=1.0), evaluate, adv, options,
                entropy_weight=1e-2)
    return torch.cat([p.detach().flatten() for p in model.parameters()]) - before


def test_the_first_ppo_epoch_from_the_sampling_policy_is_the_reinforce_step():
    """At ratio 1 (old log-probabilities = the current policy's) d/dtheta min(rA, clip(r)A) =
    A grad log pi: one PPO epoch over one minibatch moves the LSTM controller exactly as one
    REINFORCE step does, entropy bonus included."""
    strategy = STRATEGIES.get("reinforce")(SPACE, OBJECTIVES, seed=0, hidden=16)
    archs = strategy.ask(6)
    choices = np.array([SPACE.encode(a) for a in archs])
    adv = np.array([0.5, -0.2, 0.1, -0.7, 0.3, 0.0])
    step_reinforce = sgd_step(strategy.controller, {"update": "reinforce"}, choices, adv)
    step_ppo = sgd_step(strategy.controller, ppo(ppo_epochs=1), choices, adv)
    assert step_reinforce.abs().max() > 1e-4  # a real step, not two zeros
    assert torch.allclose(step_ppo, step_reinforce, rtol=1e-5, atol=1e-8)
    # and more epochs move further than the one REINFORCE step (the point of PPO)
    step_k = sgd_step(strategy.controller, ppo(ppo_epochs=4), choices, adv)
    assert not torch.allclose(step_k, step_reinforce, rtol=1e-3, atol=1e-6)


def test_a_sample_past_the_clip_leaves_the_policy_where_it_is():
    """Its old probability a third of today's (r = 3 > 1.2) and its advantage positive: K
    epochs of PPO do not move the policy at all (without an entropy bonus)."""
    theta = torch.zeros(3, requires_grad=True)

    def evaluate(idx):
        lp = torch.log_softmax(theta, 0)
        return lp[np.zeros(len(idx), dtype=int)], torch.zeros(len(idx))

    old = [float(torch.log_softmax(theta.detach(), 0)[0]) - math.log(3.0)]
    policy_step(torch.optim.SGD([theta], lr=1.0), evaluate, [1.0], ppo(), entropy_weight=0.0,
                old_logp=old)
    assert torch.count_nonzero(theta.detach()) == 0
    # the same sample at ratio 1 moves it towards arm 0
    policy_step(torch.optim.SGD([theta], lr=1.0), evaluate, [1.0], ppo(), entropy_weight=0.0)
    assert int(torch.argmax(theta.detach())) == 0


# -- it learns ---------------------------------------------------------------------------------
def test_a_ppo_update_on_a_bandit_raises_the_rewarded_arm():
    """A 4-armed softmax policy, reward 1 for arm 2: batches of 8 pulls, advantages against the
    moving-average baseline, PPO updates from the pulls' sampling log-probabilities."""
    gen = torch.Generator().manual_seed(0)
    theta = torch.zeros(4, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=0.05)
    baseline = None
    for _ in range(25):
        with torch.no_grad():
            lp = torch.log_softmax(theta, 0)
            arms = torch.multinomial(lp.exp(), 8, replacement=True, generator=gen)
            old = lp[arms].tolist()
        adv, after = baseline_advantages(baseline, (arms == 2).double().tolist(), 0.9)
        baseline = after[-1]

        def evaluate(idx, arms=arms):
            lp = torch.log_softmax(theta, 0)
            entropy = -(lp.exp() * lp).sum().expand(len(idx))
            return lp[arms[idx]], entropy

        policy_step(optimizer, evaluate, adv, ppo(ppo_minibatch=4), entropy_weight=1e-4,
                    old_logp=old, generator=gen)
    p = torch.softmax(theta.detach(), 0)
    assert p[2] > 0.8, p


def test_reinforce_with_update_ppo_learns_the_paying_choice():
    from tests.unit.test_reinforce import p_paying, paying

    strategy = STRATEGIES.get("reinforce")(SPACE, OBJECTIVES, seed=0, controller_lr=0.02,
                                           hidden=32, update="ppo")
    probes = [SPACE.sample(np.random.default_rng(i)) for i in range(8)]
    before = p_paying(strategy, probes)
    for _ in range(20):
        archs = strategy.ask(4)
        # kept at sampling: the log-probability of each sample under the policy that drew it
        assert set(strategy._sampled_logp) == {a.key for a in archs}
        strategy.tell(archs, [paying(a) for a in archs])
    after = p_paying(strategy, probes)
    assert after > 0.6 and after > before + 0.3, (before, after)


def test_enas_controller_steps_take_the_ppo_update():
    """ENAS's controller learns from the architecture it just drew (`learn`, no kept
    log-probability): PPO starts from the current policy's and raises a rewarded sample."""
    from hwnas.core.costs import CostModel

    costs = CostModel(["latency_ms"], lambda a: {"latency_ms": 1.0})
    enas = STRATEGIES.get("enas")(SPACE, OBJECTIVES, seed=0, costs=costs, hidden=16,
                                  controller_lr=0.05, update="ppo")
    poor, good = enas._sample(2)

    def logp(arch):
        with torch.no_grad():
            return float(enas.controller.evaluate(SPACE.encode(arch)[None, :])[0][0])

    before = logp(good)
    enas.learn([poor], [{"accuracy": 0.1, "latency_ms": 1.0}])
    enas.learn([good], [{"accuracy": 0.9, "latency_ms": 1.0}])  # advantage > 0
    assert logp(good) > before + 1.0


def test_the_baseline_is_the_reinforce_paths_moving_average():
    adv, after = baseline_advantages(None, [1.0, 0.0, 2.0], 0.9)
    assert after == pytest.approx([1.0, 0.9, 1.01])
    assert adv == pytest.approx([0.0, -0.9, 0.99])


def test_reinforce_loss_is_the_policy_gradient_objective():
    logp = torch.tensor([-1.0, -2.0])
    loss = reinforce_loss(logp, torch.tensor([0.5, -1.0]), torch.tensor([0.3, 0.1]), 0.1)
    assert float(loss) == pytest.approx(-(0.5 * -1.0 + -1.0 * -2.0) / 2 - 0.1 * 0.2)


# -- the option ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["reinforce", "enas", "renas"])
def test_update_ppo_is_an_option_of_every_policy_gradient_controller(name):
    cls = STRATEGIES.get(name)
    assert cls.resolve_options({})["update"] == "reinforce"  # unchanged by default
    resolved = cls.resolve_options({"update": "ppo", "ppo_epochs": 2, "ppo_clip": 0.1})
    assert (resolved["update"], resolved["ppo_epochs"], resolved["ppo_clip"]) == ("ppo", 2, 0.1)
    with pytest.raises(BadInputError) as exc:
        cls.resolve_options({"update": "ppo2"})
    text = str(exc.value)
    assert "\n" not in text and "'update'" in text and "'reinforce', 'ppo'" in text
    assert "Did you mean 'ppo'?" in text
