"""Issue 31, item 2: each strategy's own way with a hard limit, checked where it acts.

Evolution's tournament by Deb's rules; NSGA-II's G and pymoo's constrained domination; MOBO's
probability of feasibility; the reward past a limit (REINFORCE, ENAS, MetaQNN); random search
by rejection; PNAS and DPP-Net ranking only feasible children.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.core.feasibility import INFEASIBLE, VIOLATION
from hwnas.objectives import parse_constraint
from hwnas.registry import STRATEGIES
from hwnas.strategies.nsga2 import FAILED_G
from tests.conformance.test_strategies import OBJECTIVES, SPACE, TOY_COSTS, toy_result


def infeasible(v: float, **values) -> dict:
    return {**values, INFEASIBLE: "accuracy>=0.9 by the evaluation", VIOLATION: v}


def limit_at(q: float):
    rng = np.random.default_rng(0)
    t = np.percentile([toy_result(SPACE.sample(rng))["latency_ms"] for _ in range(500)], q)
    return parse_constraint(f"latency_ms<={t:.6g}")


def archs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [SPACE.sample(rng) for _ in range(n)]


# -- evolution: Deb's rules ------------------------------------------------------------------
def tournament(population):
    strategy = STRATEGIES.get("evolution")(SPACE, OBJECTIVES, seed=0, population=4,
                                           sample_size=4)
    strategy._population.extend(population)
    return strategy._tournament_winner()


def test_deb_feasible_beats_infeasible_whatever_their_objectives():
    a = archs(4)
    winner = tournament([(a[0], infeasible(0.01, accuracy=0.99, latency_ms=0.1)),
                         (a[1], {"accuracy": 0.2, "latency_ms": 9.0}),
                         (a[2], infeasible(0.5, accuracy=0.98, latency_ms=0.2)),
                         (a[3], {"failed": "x"})])
    assert winner == a[1]


def test_deb_between_infeasible_the_smaller_violation_wins_and_a_failure_never():
    a = archs(4)
    winner = tournament([(a[0], infeasible(0.7)), (a[1], {"failed": "x"}),
                         (a[2], infeasible(0.05)), (a[3], infeasible(0.3))])
    assert winner == a[2]
    assert tournament([(a[0], {"failed": "x"}), (a[1], {"failed": "y"})]) is None


def test_deb_between_feasible_the_fitness_decides():
    a = archs(2)
    winner = tournament([(a[0], {"accuracy": 0.5, "latency_ms": 3.0}),
                         (a[1], {"accuracy": 0.6, "latency_ms": 2.0})])
    assert winner == a[1]


# -- NSGA-II: pymoo's constraint violation ----------------------------------------------------
def test_nsga2_gives_pymoo_the_violation_and_survival_ranks_infeasible_by_it():
    strategy = STRATEGIES.get("nsga2")(SPACE, OBJECTIVES, seed=0, population=6)
    asked = strategy.ask(6)
    violations = [0.4, 0.05, 2.0, 0.3, 1.0, 3.0]
    strategy.tell(asked, [infeasible(v, accuracy=0.9, latency_ms=1.0) for v in violations])
    strategy.ask(1)  # the finished generation is told to pymoo
    pop = strategy._algorithm.pop
    assert sorted(np.asarray(pop.get("CV")).ravel()) == pytest.approx(sorted(violations))
    survivors = strategy._algorithm.survival.do(strategy._problem, pop, n_survive=2)
    assert sorted(np.asarray(survivors.get("CV")).ravel()) == pytest.approx([0.05, 0.3])
    assert strategy._to_g({"failed": "x"}) == FAILED_G > max(violations)
    assert strategy._to_g({"accuracy": 0.5, "latency_ms": 1.0}) == 0


def test_nsga2_evaluates_a_known_limit_itself_and_never_proposes_past_it():
    limit = limit_at(30)
    strategy = STRATEGIES.get("nsga2")(SPACE, OBJECTIVES, seed=0, population=10,
                                       costs=TOY_COSTS, constraints=[limit])
    for _ in range(5):
        batch = strategy.ask(10)
        assert all(limit.holds(toy_result(a)) for a in batch)
        strategy.tell(batch, [toy_result(a) for a in batch])
    assert strategy.discarded > 0  # infills past the limit were given their G, not proposed


# -- MOBO: probability of feasibility ---------------------------------------------------------
def test_feasibility_model_learns_which_side_of_the_limit_a_region_is():
    from hwnas.bayesopt.feasibility import FeasibilityModel
    from hwnas.strategies.surrogate import OneHot

    encode = OneHot(SPACE)
    label = SPACE.choices()[0][0]
    model = FeasibilityModel(parse_constraint("accuracy>=0.5"),
                             len(SPACE.choices()) + len(SPACE.derived_choices()))
    sample = archs(40, seed=1)
    first = [a for a in sample if a.values[label] == SPACE.choices()[0][1][0]]
    for a in sample:  # accuracy decided by the first label: its first option is infeasible
        model.add(encode([a])[0], 0.2 if a in first else 0.8)
    p = model.probability(encode(sample))
    is_first = np.array([a in first for a in sample])
    assert p[is_first].max() < 0.2 and p[~is_first].min() > 0.8


def test_mobo_weighs_its_acquisition_by_the_probability_of_feasibility():
    strategy = STRATEGIES.get("mobo")(SPACE, OBJECTIVES, seed=0, n_init=6, q=1, n_random=40,
                                      max_neighbours=60,
                                      constraints=[parse_constraint("accuracy>=0.5")])
    [model] = strategy._after
    for _ in range(3):
        batch = strategy.ask(6)
        strategy.tell(batch, [toy_result(a) for a in batch])
    strategy._encode([])
    column = 0  # one-hot column of the first label's first option
    # a model that says only archs with that option can be feasible
    model.probability = lambda Xc: (np.asarray(Xc)[:, column] > 0.5).astype(float)
    for _ in range(4):
        [arch] = strategy.ask(1)
        assert strategy._encode([arch])[0, column] == 1.0, strategy.last_step
        strategy.tell([arch], [toy_result(arch)])


def test_mobo_never_scores_a_candidate_past_a_known_limit():
    limit = limit_at(30)
    strategy = STRATEGIES.get("mobo")(SPACE, OBJECTIVES, seed=0, n_init=6, q=2, n_random=40,
                                      max_neighbours=60, costs=TOY_COSTS, constraints=[limit])
    assert strategy._after == []  # exact, no model
    for _ in range(8):
        batch = strategy.ask(2)
        assert all(limit.holds(toy_result(a)) for a in batch)
        strategy.tell(batch, [toy_result(a) for a in batch])


# -- the reward past a limit: REINFORCE, ENAS, MetaQNN ---------------------------------------
@pytest.mark.parametrize("reward", ["weighted", "mnasnet", "monas_mixed",
                                    "monas_cost_threshold"])
def test_past_a_limit_the_reward_is_below_every_feasible_and_failed_one(reward):
    options = {"reward": reward}
    if reward == "mnasnet":
        options["target_ms"] = 2.0
    strategy = STRATEGIES.get("reinforce")(SPACE, OBJECTIVES, seed=0, **options)
    results = [toy_result(a) for a in archs(30)]
    strategy.rewarder.observe(results)
    feasible = [strategy.rewarder(r) for r in results]
    failed = strategy.rewarder({"failed": "x"})
    near, far = (strategy.rewarder(infeasible(v)) for v in (0.01, 0.5))
    assert far < near < min([*feasible, failed])  # and steeper the further past


def test_reinforce_learns_from_known_breakers_without_proposing_them():
    limit = limit_at(30)
    strategy = STRATEGIES.get("reinforce")(SPACE, OBJECTIVES, seed=0, costs=TOY_COSTS,
                                           constraints=[limit])
    for _ in range(5):
        batch = strategy.ask(4)
        assert all(limit.holds(toy_result(a)) for a in batch)
        strategy.tell(batch, [toy_result(a) for a in batch])
    assert strategy.discarded > 0


def test_metaqnn_learns_from_known_breakers_without_proposing_them():
    limit = limit_at(30)
    strategy = STRATEGIES.get("metaqnn")(SPACE, OBJECTIVES, seed=0, costs=TOY_COSTS,
                                         constraints=[limit])
    batch = strategy.ask(10)
    assert all(limit.holds(toy_result(a)) for a in batch)
    # each rejected trajectory went into the replay memory with its reward past the limit
    assert len(strategy.memory) == strategy.discarded > 0


# -- random search by rejection ----------------------------------------------------------------
def test_random_rejects_known_breakers_and_counts_them():
    limit = limit_at(30)
    strategy = STRATEGIES.get("random")(SPACE, OBJECTIVES, seed=0, costs=TOY_COSTS,
                                        constraints=[limit])
    draws = []
    sample = strategy.space.sample

    class Counting:
        def __getattr__(self, name):
            return getattr(SPACE, name)

        def sample(self, rng):
            draws.append(sample(rng))
            return draws[-1]

    strategy.space = Counting()
    proposed = strategy.ask(50)
    assert all(limit.holds(toy_result(a)) for a in proposed)
    rejected = [a for a in draws if not limit.holds(toy_result(a))]
    assert strategy.discarded == len(rejected) > len(proposed)  # ~70% of the space is past it


# -- PNAS / DPP-Net: only feasible children are ranked -----------------------------------------
@pytest.mark.parametrize("name", ["pnas", "dppnet"])
def test_progressive_ranks_only_feasible_children(name):
    limit = limit_at(30)
    strategy = STRATEGIES.get(name)(SPACE, OBJECTIVES, seed=0, costs=TOY_COSTS,
                                    constraints=[limit], k=4, n_init=6, n_models=1, hidden=8,
                                    max_pool=40)
    predicted = []
    predict = strategy._predict

    def spy(pool):
        predicted.extend(pool)
        return predict(pool)

    strategy._predict = spy
    for _ in range(6):
        batch = strategy.ask(4)
        strategy.tell(batch, [toy_result(a) for a in batch])
    assert predicted and all(limit.holds(toy_result(a)) for a in predicted)
    assert strategy.discarded > 0


# -- one-shot: the limit on the loss's cost is the target ----------------------------------------
def test_one_shot_target_and_limit_are_one_setting():
    from hwnas.core.context import SearchContext
    from hwnas.errors import BadInputError
    from hwnas.spaces.proxyless import ProxylessSpace
    from tests.unit.test_oneshot_supernet import synthetic_table

    space = ProxylessSpace(**ProxylessSpace.small_options)
    context = SearchContext(dataset="digits", table=synthetic_table(space), latency_stat="p50")
    darts = STRATEGIES.get("darts")
    high = darts(space, OBJECTIVES, context=context).expected_cost().range()[1]
    limit = parse_constraint(f"latency_ms<={high:.6g}")
    taken = darts(space, OBJECTIVES, context=context, constraints=[limit])
    assert taken.options["target_ms"] == limit.bound
    with pytest.raises(BadInputError, match="differ"):
        darts(space, OBJECTIVES, context=context, constraints=[limit], target_ms=high / 2)
    with pytest.raises(BadInputError, match="above --constraint"):
        darts(space, OBJECTIVES, context=context, constraints=[limit],
              sweep=f"target_ms={high * 2:.6g}")
