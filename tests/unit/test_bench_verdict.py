"""`hwnas bench`'s sentence on random search: never a verdict its test cannot reach."""

from __future__ import annotations

import math

from hwnas.league.metrics import random_comparison, smallest_p


def results(seeds: int, delta: float, p: float | None) -> dict:
    return {"seeds": seeds, "league": ["evolution", "random"],
            "methods": {"evolution": {"vs_random": {"delta": delta, "p_greater": p}},
                        "random": {"is_baseline": True}}}


def test_the_smallest_mann_whitney_p_is_one_over_the_central_binomial():
    assert smallest_p(2) == 1 / 6 and smallest_p(3) == 1 / 20
    assert math.isclose(smallest_p(4), 1 / 70)


def test_two_seeds_say_the_comparison_cannot_be_made_not_that_a_method_loses():
    # with 2 seeds even a method whose every run beats every random run has p = 1/6
    text = random_comparison(results(2, +0.05, 1 / 6))
    assert "cannot be told with 2 seed(s)" in text and "--seeds 4" in text
    assert "Not better than random" not in text
    assert "cannot be told" in random_comparison(results(3, +0.05, 0.05))


def test_enough_seeds_give_the_verdict():
    assert "Not better than random" in random_comparison(results(10, -0.01, 0.9))
    assert "evolution" in random_comparison(results(10, -0.01, 0.9))
    assert "Every method other than random beats it" in random_comparison(
        results(10, +0.01, 0.001))
