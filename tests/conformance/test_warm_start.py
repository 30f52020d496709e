"""Issue 31, item 4, over the whole registry: every strategy either takes a warm start
(`takes_warm_start`) and runs from it, never evaluating a record it was given, or is refused
`--warm-start` in one line naming the methods that take it."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.api.warm_start import check_strategy
from hwnas.errors import BadInputError
from hwnas.registry import STRATEGIES
from hwnas.searching.loop import run_loop
from tests.conformance.test_failed_candidates import SMALL
from tests.conformance.test_strategies import OBJECTIVES, SPACE, TOY_COSTS, ToyEvaluator, toy_result

TAKERS = [n for n in STRATEGIES.names() if STRATEGIES.get(n).takes_warm_start]
OTHERS = [n for n in STRATEGIES.names() if n not in TAKERS]
BUDGET = 12


def warm_records(n: int = 15) -> list:
    """An earlier run's candidates: random architectures with their results."""
    archs = [SPACE.sample(np.random.default_rng(100 + i)) for i in range(n)]
    return [(a, toy_result(a)) for a in archs]


def proposals(name: str, warm: list) -> list[str]:
    strategy = STRATEGIES.get(name)(SPACE, OBJECTIVES, seed=3, costs=TOY_COSTS,
                                    **SMALL.get(name, {}))
    evaluator, keys = ToyEvaluator(), []
    run_loop(strategy, evaluator, BUDGET, batch=2, warm=warm,
             on_candidate=lambda c: keys.append(c.arch.key))
    told = {a.key for a, _ in warm}
    assert not told & {a.key for a in evaluator.asked}, "a warm record was evaluated again"
    return keys


def test_the_methods_that_can_learn_from_any_candidate_take_it():
    # sample-based methods whose models or populations take any evaluated architecture; the
    # policy-gradient controllers and the methods that train a supernet do not
    assert {"random", "evolution", "nsga2", "nsga3", "pnas", "dppnet", "mobo",
            "metaqnn"} <= set(TAKERS)
    assert {"reinforce", "enas", "spos", "proxyless", "fbnet", "darts", "snas"} <= set(OTHERS)


@pytest.mark.parametrize("name", TAKERS)
def test_a_taker_runs_from_a_warm_start_deterministically(name):
    warm = warm_records()
    first = proposals(name, warm)
    assert len(first) == BUDGET and first == proposals(name, warm)
    if name != "random":  # random learns nothing; it only skips what is known (unit test)
        assert first != proposals(name, []), "the warm records changed nothing"


@pytest.mark.parametrize("name", OTHERS)
def test_any_other_is_refused_in_one_line_naming_the_takers(name):
    with pytest.raises(BadInputError) as exc:
        check_strategy(name)
    text = str(exc.value)
    assert "\n" not in text and f"--method {name}" in text
    assert all(t in text for t in TAKERS)
