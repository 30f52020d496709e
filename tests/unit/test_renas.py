"""RENAS (Chen et al., 2019): the mechanism, not only that it runs.

A child differs from its parent in exactly the decision the mutator chose, to the value it
chose; the mutator's policy gradient is the gradient of the expected improvement (checked
against finite differences on a tiny case); trained on a task where one mutation always
improves, the mutator picks it far more often than chance; the controller's reward is
R(child) - R(parent) with hwnas.rewards' R; tournaments pick the best of their sample by R,
never a failure, and the oldest member dies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.arch import Arch
from hwnas.controllers.mutator import MutationController
from hwnas.controllers.ppo import policy_step
from hwnas.core.failure import failed_result
from hwnas.core.outcome import Outcome
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.registry import STRATEGIES
from hwnas.rewards import mnasnet_reward
from hwnas.searching.loop import run_loop
from hwnas.spaces.nb201 import Nb201Space

SPACE = Nb201Space(**Nb201Space.small_options)
OBJECTIVES = parse_objectives("accuracy,latency_ms")
CHOICES = SPACE.choices()


def make(**options):
    return STRATEGIES.get("renas")(SPACE, OBJECTIVES, seed=0, **options)


def differing(a: Arch, b: Arch) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(SPACE.encode(a), SPACE.encode(b), strict=True))
            if x != y]


# -- the mutation ------------------------------------------------------------------------------
def test_the_child_differs_from_its_parent_in_exactly_the_chosen_decision():
    strategy = make(hidden=16)
    rng = np.random.default_rng(0)
    positions = set()
    for _ in range(60):
        parent = SPACE.sample(rng)
        child = strategy.mutate(parent)
        k, v, logp = strategy._drawn[child.key]
        assert differing(parent, child) == [k]
        assert SPACE.encode(child)[k] == v != SPACE.encode(parent)[k]
        assert logp < 0
        positions.add(k)
    assert len(positions) == len(CHOICES)  # an untrained mutator reaches every decision


def test_the_proposals_of_the_loop_are_such_children_of_their_tournament_winners():
    strategy = make(population=6, sample_size=3, hidden=16)
    archs = strategy.ask(6)
    strategy.tell(archs, [{"accuracy": i / 10, "latency_ms": 1.0} for i in range(6)])
    children = strategy.ask(5)
    for child, proposal in zip(children, strategy._pending, strict=True):
        assert proposal.parent is not None and proposal.parent[0] in archs
        assert differing(proposal.parent[0], child) == [proposal.mutation[0]]


def test_a_space_with_nothing_to_mutate_is_refused_in_one_line():
    class Fixed(type(SPACE)):
        def choices(self):
            return [(label, opts[:1]) for label, opts in super().choices()]

    with pytest.raises(BadInputError, match="mutates a decision with at least two options"):
        STRATEGIES.get("renas")(Fixed(**Nb201Space.small_options), OBJECTIVES, seed=0)


# -- the policy gradient ---------------------------------------------------------------------
def test_the_policy_gradient_is_the_finite_difference_gradient_of_the_expected_improvement():
    """Tiny case (3 decisions of 2, 3 and 3 options, hidden 3, float64), one parent, a fixed
    improvement R(k, v) per mutation: the step `policy_step` takes with advantages N p R over
    every mutation (what REINFORCE's sample average estimates, taken exactly) is grad J,
    J = sum_k,v p(k) p(v | k) R(k, v), which central differences of J check parameter by
    parameter (embedding, both LSTM directions, both heads)."""
    sizes = [2, 3, 3]
    controller = MutationController(sizes, 3, torch.Generator().manual_seed(1)).double()
    with torch.no_grad():  # larger weights than the init, so that p is far from uniform
        for p in controller.parameters():
            p.mul_(8.0)
    parent = np.array([1, 0, 2])
    actions = [(k, v) for k, n in enumerate(sizes) for v in range(n) if v != parent[k]]
    R = np.random.default_rng(0).normal(size=len(actions))
    parents = np.repeat(parent[None, :], len(actions), axis=0)
    ks, vs = np.array([k for k, _ in actions]), np.array([v for _, v in actions])

    def expected_improvement() -> float:
        where, what = controller.log_policy(torch.as_tensor(parent[None, :]))
        return float(sum(torch.exp(where[0, k] + what[0, k, v]) * r
                         for (k, v), r in zip(actions, R, strict=True)))

    with torch.no_grad():
        p = controller.evaluate(parents, ks, vs)[0].exp().numpy()
    assert p.sum() == pytest.approx(1.0)  # every mutation, each once: the whole policy
    params = list(controller.parameters())
    before = [q.detach().clone() for q in params]
    policy_step(torch.optim.SGD(params, lr=1.0),
                lambda idx: controller.evaluate(parents[idx], ks[idx], vs[idx]),
                len(actions) * p * R, {"update": "reinforce"}, entropy_weight=0.0)
    step = [q.detach() - b for q, b in zip(params, before, strict=True)]
    with torch.no_grad():
        for q, b in zip(params, before, strict=True):
            q.copy_(b)
    eps, checked = 1e-6, 0
    with torch.no_grad():
        for q, s in zip(params, step, strict=True):
            flat, grad = q.view(-1), s.reshape(-1)
            for i in range(flat.numel()):
                flat[i] += eps
                up = expected_improvement()
                flat[i] -= 2 * eps
                down = expected_improvement()
                flat[i] += eps
                assert grad[i].item() == pytest.approx((up - down) / (2 * eps), abs=1e-7)
                checked += grad[i].item() != 0
    assert checked > 50  # the check ran on real gradients, not on zeros


# -- it learns -------------------------------------------------------------------------------
K, V = 2, 3  # the mutation that always improves: decision K to option V


def improving(arch: Arch) -> dict:
    return {"accuracy": 0.5 + 0.4 * (SPACE.encode(arch)[K] == V), "latency_ms": 1.0}


def test_trained_where_one_mutation_always_improves_the_mutator_picks_it():
    """Batches of 8 random parents that lack V at K, each mutated by the controller and the
    controller updated (`learn`) on the improvements: +0.4 for the mutation K -> V, 0 for any
    other. By chance it is 1 in 6 decisions x 1 in 4 new values."""
    strategy = make(hidden=32, controller_lr=0.03)
    rng = np.random.default_rng(0)

    def parents(n):
        drawn = (SPACE.sample(rng) for _ in range(10 * n))
        return [a for a in drawn if SPACE.encode(a)[K] != V][:n]

    def p_improving(archs):
        return float(np.mean([(lambda w: w[0][K] * w[1][K][V])(strategy.mutation_policy(a))
                              for a in archs]))

    probes = parents(20)
    chance = 1 / len(CHOICES) / (len(CHOICES[K][1]) - 1)
    assert p_improving(probes) == pytest.approx(chance, rel=0.3)  # untrained: about uniform
    picked = []
    for _ in range(50):
        batch = []
        for parent in parents(8):
            child = strategy.mutate(parent)
            mutation = strategy._drawn[child.key]
            gain = improving(child)["accuracy"] - improving(parent)["accuracy"]
            batch.append((SPACE.encode(parent), mutation, gain))
            picked.append(mutation[:2] == (K, V))
        strategy.learn(batch)
    assert p_improving(probes) > 0.5 > 10 * chance
    assert np.mean(picked[-80:]) > 0.4  # what it sampled at the end, from fresh parents


# -- the reward ------------------------------------------------------------------------------
def tell_population(strategy, results):
    archs = strategy.ask(len(results))
    strategy.tell(archs, results)
    return archs


def test_the_reward_is_the_childs_reward_minus_its_parents():
    """MnasNet's reward (hand-computable: no normalisation) under reward=mnasnet, T = 2."""
    strategy = make(population=2, sample_size=2, hidden=8, reward="mnasnet", target_ms=2.0,
                    fitness="reward")
    tell_population(strategy, [{"accuracy": 0.8, "latency_ms": 1.0},
                               {"accuracy": 0.5, "latency_ms": 4.0}])
    seen = []
    learn = strategy.learn
    strategy.learn = lambda m: (seen.append([g for _, _, g in m]), learn(m))
    children = strategy.ask(2)
    strategy.tell(children, [{"accuracy": 0.9, "latency_ms": 2.0}, failed_result("boom")])
    parent = mnasnet_reward(0.8, 1.0, 2.0)  # the tournament's winner: the larger reward
    assert seen == [pytest.approx([0.9 - parent, 0.0 - parent])]  # a failure: the floor, 0
    assert strategy.baselines == pytest.approx([0.9 - parent, 0.9 - parent
                                                - 0.01 * (0.9 - parent - (0.0 - parent))])


# -- tournament and aging --------------------------------------------------------------------
def test_the_tournament_winner_is_the_best_of_its_sample_and_never_a_failure():
    strategy = make(population=4, sample_size=4, hidden=8, fitness="reward")  # sample: all
    archs = tell_population(strategy, [{"accuracy": 0.2, "latency_ms": 1.0},
                                       {"accuracy": 0.9, "latency_ms": 1.0},
                                       failed_result("x"), {"accuracy": 0.5, "latency_ms": 1.0}])
    for _ in range(5):
        assert strategy._tournament()[0] == archs[1]
    smaller = make(population=4, sample_size=2, hidden=8, fitness="reward")
    archs = tell_population(smaller, [{"accuracy": a, "latency_ms": 1.0}
                                      for a in (0.1, 0.2, 0.3, 0.4)])
    winners = {smaller._tournament()[0].key for _ in range(40)}
    # the best of two random members: never the worst; the others all win sometimes
    assert winners == {a.key for a in archs[1:]}
    failed = make(population=2, sample_size=2, hidden=8)
    tell_population(failed, [failed_result("x"), failed_result("y")])
    assert failed._tournament() is None
    assert failed.ask(1) and failed._pending[0].parent is None  # drawn afresh


def test_with_fitness_pareto_the_winner_is_a_non_dominated_member_of_its_sample():
    strategy = make(population=4, sample_size=4, hidden=8)  # fitness=pareto, the default
    archs = tell_population(strategy, [{"accuracy": 0.9, "latency_ms": 3.0},
                                       {"accuracy": 0.5, "latency_ms": 1.0},
                                       {"accuracy": 0.4, "latency_ms": 2.0},  # dominated
                                       failed_result("x")])
    winners = {strategy._tournament()[0].key for _ in range(30)}
    assert winners == {archs[0].key, archs[1].key}  # either end of the front, uniformly


def test_the_oldest_member_dies_whatever_its_reward():
    strategy = make(population=3, sample_size=3, hidden=8, fitness="reward")
    archs = tell_population(strategy, [{"accuracy": a, "latency_ms": 1.0}
                                       for a in (0.9, 0.1, 0.2)])
    child = strategy.ask(1)
    strategy.tell(child, [{"accuracy": 0.0, "latency_ms": 1.0}])
    # the best (0.9) was the oldest: it is gone, the worst child stays
    assert [a for a, _ in strategy._population] == [archs[1], archs[2], child[0]]


class Evaluator:
    def map(self, archs):
        return [Outcome(improving(a)) for a in archs]


def test_update_ppo_runs_the_search_and_is_deterministic():
    def run():
        strategy = make(population=6, sample_size=3, hidden=8, update="ppo")
        keys = []
        run_loop(strategy, Evaluator(), 30, batch=3, on_candidate=lambda c: keys.append(
            c.arch.key))
        return keys, strategy.baselines

    first, baselines = run()
    assert len(baselines) == 24 and run()[0] == first
