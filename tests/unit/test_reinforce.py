"""REINFORCE (Zoph & Le) and the rewards it learns from: the mechanism, not only that it runs.

The controller's probability of a rewarded choice rises; the baseline follows
b <- b - (1 - decay)(b - R) exactly; the entropy bonus has a gradient of its own; the tanh
constant bounds the logits; MnasNet's and MONAS's rewards equal their formulas at
hand-computed points; and `hwnas search --method reinforce` runs end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hwnas.arch import Arch
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.core.costs import CostModel
from hwnas.core.failure import failed_result
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.registry import STRATEGIES
from hwnas.rewards import (
    REWARD_OPTIONS,
    Rewarder,
    mnasnet_reward,
    monas_accuracy_threshold_reward,
    monas_cost_threshold_reward,
    monas_mixed_reward,
)
from hwnas.runs import RunDir
from hwnas.spaces.nb201 import Nb201Space
from tests.reliability.test_run_history import tabular_args
from tests.tabular_helpers import write_synthetic_nb201

SPACE = Nb201Space()
OBJECTIVES = parse_objectives("accuracy,latency_ms")
LABELS = [label for label, _ in SPACE.choices()]
PAYING_LABEL, PAYING_OPTION = LABELS[3], "nor_conv_1x1"


def make(**options):
    return STRATEGIES.get("reinforce")(SPACE, OBJECTIVES, seed=0, **options)


def paying(arch: Arch) -> dict:
    """The toy problem: accuracy 1 for one option at one position, 0 otherwise."""
    return {"accuracy": float(arch.values[PAYING_LABEL] == PAYING_OPTION), "latency_ms": 1.0}


def p_paying(strategy, probes: list[Arch]) -> float:
    """Mean probability of the paying option at its position, over several prefixes."""
    k = LABELS.index(PAYING_LABEL)
    j = dict(SPACE.choices())[PAYING_LABEL].index(PAYING_OPTION)
    return float(np.mean([strategy.policy(a)[k][j] for a in probes]))


def rewards_for(rewarder: Rewarder, results: list[dict]) -> list[float]:
    rewarder.observe(results)
    return [rewarder(r) for r in results]


def options(**given) -> dict:
    return {**{k: spec.default for k, spec in REWARD_OPTIONS.items()}, **given}


# -- the controller learns ------------------------------------------------------------------
def test_probability_of_the_rewarded_choice_rises():
    strategy = make(controller_lr=0.05, hidden=32)
    probes = [SPACE.sample(np.random.default_rng(i)) for i in range(8)]
    before = p_paying(strategy, probes)
    assert 0.1 < before < 0.3  # about uniform over 5 options at the start
    for _ in range(30):
        archs = strategy.ask(4)
        strategy.tell(archs, [paying(a) for a in archs])
    after = p_paying(strategy, probes)
    assert after > 0.6 and after > before + 0.3, (before, after)
    # and what the controller samples now mostly pays
    assert np.mean([paying(a)["accuracy"] for a in strategy.ask(50)]) > 0.6


def test_baseline_follows_its_update_formula_exactly():
    """Rewards through `tell` (MnasNet soft, hand-computable), baseline b <- b-(1-d)(b-R),
    started at the first reward, advantages R - b with b after its own update."""
    strategy = make(reward="mnasnet", target_ms=2.0, baseline_decay=0.9)
    results = [{"accuracy": 0.8, "latency_ms": 1.0}, {"accuracy": 0.5, "latency_ms": 4.0},
               {"accuracy": 0.9, "latency_ms": 2.0}]
    expected_r = [0.8 * 0.5 ** -0.07, 0.5 * 2.0 ** -0.07, 0.9]
    archs = strategy.ask(3)
    seen = []
    update = strategy.update
    strategy.update = lambda a, r: (seen.append(list(r)), update(a, r))
    strategy.tell(archs[:1], results[:1])
    strategy.tell(archs[1:], results[1:])
    assert np.allclose(seen[0] + seen[1], expected_r)
    b1 = expected_r[0]
    b2 = b1 - 0.1 * (b1 - expected_r[1])
    b3 = b2 - 0.1 * (b2 - expected_r[2])
    assert strategy.baselines == pytest.approx([b1, b2, b3], abs=1e-12)
    # the advantages used: R - b after b's own update
    fresh = make(baseline_decay=0.9)
    assert fresh.advantages(expected_r) == pytest.approx(
        [0.0, expected_r[1] - b2, expected_r[2] - b3], abs=1e-12)


def grads(strategy, archs, adv) -> torch.Tensor:
    strategy.controller.zero_grad()
    strategy.loss(archs, adv).backward()
    return torch.cat([p.grad.flatten() for p in strategy.controller.parameters()])


def test_entropy_bonus_changes_the_gradient_and_raises_entropy():
    plain, bonus = make(entropy_weight=0.0), make(entropy_weight=0.5)
    archs = plain.ask(4)
    assert archs == bonus.ask(4)  # same seed, same controller
    adv = [0.3, -0.1, 0.2, -0.4]
    g0, g1 = grads(plain, archs, adv), grads(bonus, archs, adv)
    assert not torch.allclose(g0, g1)
    # with no advantage the whole gradient is the entropy's: zero without the bonus ...
    assert torch.count_nonzero(grads(plain, archs, [0.0] * 4)) == 0
    assert torch.count_nonzero(grads(bonus, archs, [0.0] * 4)) > 0

    # ... and a step along it makes the policy less certain
    def entropy(s):
        with torch.no_grad():
            return s.controller.evaluate(np.array([SPACE.encode(a) for a in archs]))[1].mean()

    before = entropy(bonus)
    bonus.optimizer.zero_grad()
    bonus.loss(archs, [0.0] * 4).backward()
    bonus.optimizer.step()
    assert entropy(bonus) > before


def test_tanh_constant_bounds_the_logits():
    def logits(strategy):
        with torch.no_grad():
            for p in strategy.controller.heads.parameters():
                p.mul_(1000.0)  # raw logits in the hundreds
            h = torch.ones(1, strategy.controller.hidden)
            return torch.cat([strategy.controller.logits(h, t) for t in range(len(LABELS))])

    bounded = logits(make(tanh_constant=0.5))
    assert bounded.abs().max() <= 0.5 + 1e-6
    assert bounded.abs().max() > 0.49  # saturated, not merely small
    assert logits(make(tanh_constant=None)).abs().max() > 10
    # temperature divides before the squashing: C*tanh(z/T)
    s = make(tanh_constant=2.5, temperature=4.0)
    h = torch.full((1, s.controller.hidden), 0.3)
    raw = s.controller.heads[0](h)
    assert torch.allclose(s.controller.logits(h, 0), 2.5 * torch.tanh(raw / 4.0))


def test_same_seed_and_results_propose_the_same():
    one, two = make(controller_lr=0.01), make(controller_lr=0.01)
    for _ in range(5):
        a, b = one.ask(3), two.ask(3)
        assert a == b
        one.tell(a, [paying(x) for x in a])
        two.tell(b, [paying(x) for x in b])
    assert one.ask(5) == two.ask(5)


def test_a_failed_result_gets_the_floor_and_the_loop_goes_on():
    strategy = make(reward="monas_mixed", alpha=0.25)
    archs = strategy.ask(3)
    results = [failed_result("boom"), {"accuracy": 0.7, "latency_ms": 2.0},
               {"accuracy": 0.9, "latency_ms": 4.0}]
    strategy.rewarder.observe(results)
    assert list(strategy._rewards(archs, results)) == pytest.approx(
        [-0.75, 0.25 * 0 - 0.75 * 0, 0.25 * 1 - 0.75 * 1])
    strategy.tell(archs, results)
    assert len(strategy.ask(2)) == 2


# -- rewards at hand-computed points -----------------------------------------------------------
def test_mnasnet_soft_and_hard_at_hand_computed_points():
    # soft: alpha = beta = -0.07; hard: alpha = 0, beta = -1; T = 100
    assert mnasnet_reward(0.8, 50, 100, -0.07, -0.07) == pytest.approx(0.8 * 2 ** 0.07)
    assert mnasnet_reward(0.8, 200, 100, -0.07, -0.07) == pytest.approx(0.8 * 2 ** -0.07)
    assert mnasnet_reward(0.8, 50, 100, 0.0, -1.0) == pytest.approx(0.8)
    assert mnasnet_reward(0.8, 200, 100, 0.0, -1.0) == pytest.approx(0.4)
    assert 0.8 * 2 ** 0.07 == pytest.approx(0.839773, abs=1e-6)  # the numbers, by hand
    assert 0.8 * 2 ** -0.07 == pytest.approx(0.762111, abs=1e-6)
    objs = parse_objectives("accuracy:cifar10,energy:fpga,latency:pixel3")
    results = [{"accuracy:cifar10": 0.8, "energy:fpga": 9.0, "latency:pixel3": 50.0},
               {"accuracy:cifar10": 0.8, "energy:fpga": 1.0, "latency:pixel3": 200.0}]
    soft = Rewarder(objs, options(reward="mnasnet", target_ms=100.0))
    hard = Rewarder(objs, options(reward="mnasnet", target_ms=100.0, constraint="hard"))
    assert soft.cost == "latency:pixel3"  # the run's own latency objective, found by name
    assert rewards_for(soft, results) == pytest.approx([0.839773, 0.762111], abs=1e-6)
    assert rewards_for(hard, results) == pytest.approx([0.8, 0.4])
    assert soft(failed_result("x")) == hard.floor == 0.0


def test_mnasnet_target_defaults_to_the_median_cost_of_the_space():
    costs = CostModel(["latency_ms"], lambda arch: {"latency_ms": 4.0})
    rewarder = Rewarder(OBJECTIVES, options(reward="mnasnet"), space=SPACE, costs=costs)
    assert rewarder.target() == 4.0
    assert rewards_for(rewarder, [{"accuracy": 0.5, "latency_ms": 8.0}]) == \
        pytest.approx([0.5 * 2 ** -0.07])
    # no cost model: the median of the costs told so far
    blind = Rewarder(OBJECTIVES, options(reward="mnasnet"))
    rewards_for(blind, [{"accuracy": 0.5, "latency_ms": c} for c in (1.0, 3.0, 8.0)])
    assert blind.target() == 3.0


def test_monas_rewards_at_hand_computed_points():
    assert monas_mixed_reward(0.6, 0.2, 0.25) == pytest.approx(0.25 * 0.6 - 0.75 * 0.2)  # 0.0
    assert monas_mixed_reward(0.6, 0.2, 0.75) == pytest.approx(0.4)
    assert monas_cost_threshold_reward(0.9, 3.0, 5.0) == 0.9
    assert monas_cost_threshold_reward(0.9, 5.0, 5.0) == 0.9  # at the threshold: within
    assert monas_cost_threshold_reward(0.9, 6.0, 5.0) == 0.0
    assert monas_accuracy_threshold_reward(0.92, 0.3, 0.9) == pytest.approx(-0.3)
    assert monas_accuracy_threshold_reward(0.85, 0.3, 0.9) == -1.0
    assert monas_accuracy_threshold_reward(0.85, 0.3, 0.9, penalty=-5.0) == -5.0

    # through the Rewarder, on the run's energy objective, normalised over the results told
    objs = parse_objectives("accuracy,energy_mj,latency_ms")
    results = [{"accuracy": 80.0, "energy_mj": 10.0, "latency_ms": 3.0},
               {"accuracy": 90.0, "energy_mj": 30.0, "latency_ms": 1.0},
               {"accuracy": 85.0, "energy_mj": 15.0, "latency_ms": 2.0}]
    mixed = Rewarder(objs, options(reward="monas_mixed", alpha=0.5))
    assert mixed.cost == "energy_mj"  # MONAS's energy, found among the run's objectives
    # acc_n = 0, 1, 0.5; energy_n = 0, 1, 0.25
    assert rewards_for(mixed, results) == pytest.approx([0.0, 0.0, 0.5 * 0.5 - 0.5 * 0.25])
    assert mixed(failed_result("x")) == mixed.floor == -0.5
    # on latency instead, when the user names it
    on_latency = Rewarder(objs, options(reward="monas_mixed", alpha=0.5, cost="latency_ms"))
    assert rewards_for(on_latency, results) == pytest.approx([-0.5, 0.5, 0.25 - 0.25])
    gate = Rewarder(objs, options(reward="monas_cost_threshold", target_ms=15.0))
    assert rewards_for(gate, results) == [80.0, 0.0, 85.0]
    converse = Rewarder(objs, options(reward="monas_accuracy_threshold", accuracy_target=85.0))
    assert rewards_for(converse, results) == pytest.approx([-1.0, -1.0, -0.25])
    assert converse.floor == -1.0


def test_weighted_reward_is_normalised_over_the_results_told():
    rewarder = Rewarder(OBJECTIVES, options(weights="3,1"))
    results = [{"accuracy": 0.5, "latency_ms": 2.0}, {"accuracy": 0.9, "latency_ms": 6.0},
               {"accuracy": 0.7, "latency_ms": 3.0}]
    # g_acc = (a - 0.5)/0.4, g_lat = (6 - l)/4; reward = (3 g_acc + g_lat) / 4
    assert rewards_for(rewarder, results) == pytest.approx([0.25, 0.75, (1.5 + 0.75) / 4])
    assert rewarder(failed_result("x")) == rewarder.floor == 0.0


def test_reward_roles_are_the_runs_objectives():
    with pytest.raises(BadInputError, match="cost objective"):
        make(reward="mnasnet", cost="latency_ms_typo")
    with pytest.raises(BadInputError, match="'weights' option gives 3 weights"):
        make(weights="1,2,3")
    with pytest.raises(BadInputError, match="The 'weights' option of strategy 'reinforce'"):
        make(weights="1,x")
    with pytest.raises(BadInputError, match="'accuracy_target' option"):
        make(reward="monas_accuracy_threshold")


def test_a_space_without_choices_is_refused_in_one_line():
    class Empty:
        name = "empty"

        def choices(self):
            return []

    with pytest.raises(BadInputError, match="needs a space with at least one choice") as err:
        STRATEGIES.get("reinforce")(Empty(), OBJECTIVES)
    assert "\n" not in str(err.value)


# -- end to end -------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [[], ["--strategy-opt", "reward=mnasnet",
                                        "--strategy-opt", "constraint=hard"]])
def test_search_method_reinforce_end_to_end(tmp_path, extra):
    csv = write_synthetic_nb201(tmp_path / "bench.csv")
    args = tabular_args(csv, tmp_path / "run", 10, "reinforce") + extra
    assert run_app(app, args) == 0
    records = RunDir(tmp_path / "run").history()
    assert len(records) == 10
    assert all(math.isfinite(r["result"]["accuracy"]) for r in records)
