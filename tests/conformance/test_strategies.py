"""Every registered strategy through the one loop: a budget on a toy problem, valid proposals,
same seed => same run; strategies that promise it propose the same whatever the batch size."""

import numpy as np
import pytest

from hwnas.core.costs import CostModel
from hwnas.core.outcome import Outcome
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.registry import STRATEGIES
from hwnas.searching.loop import run_loop
from hwnas.spaces.proxyless import ProxylessSpace

SPACE = ProxylessSpace()
OBJECTIVES = parse_objectives("accuracy,latency_ms")


def toy_result(arch) -> dict:
    """A cheap deterministic trade-off: larger choices are 'more accurate' and slower."""
    x = SPACE.encode(arch).astype(float)
    lo, hi = SPACE.bounds()
    z = x / np.maximum(hi, 1)
    return {"accuracy": float(1 - np.exp(-z.sum() / 3)), "latency_ms": float(1 + (z ** 2).sum())}


class ToyEvaluator:
    def __init__(self):
        self.asked = []

    def map(self, archs):
        for arch in archs:
            SPACE.check(arch)
        self.asked += archs
        return [Outcome(toy_result(a)) for a in archs]


TOY_COSTS = CostModel(["latency_ms"], toy_result)


def run(name: str, seed: int, budget: int = 40, batch: int = 3) -> list[str]:
    strategy = STRATEGIES.get(name)(SPACE, OBJECTIVES, seed=seed, costs=TOY_COSTS)
    keys = []
    run_loop(strategy, ToyEvaluator(), budget, batch=batch,
             on_candidate=lambda c: keys.append(c.arch.key))
    return keys


SAMPLE_BASED = [n for n in STRATEGIES.names() if STRATEGIES.get(n).sample_based]


@pytest.mark.parametrize("name", SAMPLE_BASED)
def test_budget_is_respected_and_deterministic(name):
    first = run(name, seed=1)
    assert len(first) == 40
    assert run(name, seed=1) == first
    assert run(name, seed=2) != first


# Strategies whose next proposals wait for the results they depend on, as each declares
# (`batch_independent`; the others, such as aging evolution, mutate what has been told so far).
BATCH_INDEPENDENT = [n for n in STRATEGIES.names() if STRATEGIES.get(n).batch_independent]


@pytest.mark.parametrize("name", BATCH_INDEPENDENT)
def test_proposals_do_not_depend_on_the_batch_size(name):
    one = run(name, seed=3, budget=70, batch=1)
    assert run(name, seed=3, budget=70, batch=7) == one
    assert run(name, seed=3, budget=70, batch=30) == one


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_unknown_option_is_bad_input(name):
    with pytest.raises(BadInputError, match="unknown option 'not_an_option'"):
        STRATEGIES.get(name)(SPACE, OBJECTIVES, seed=0, not_an_option=1)


def test_the_strategies_that_promised_it_are_still_batch_independent():
    """The declarations moved from a list here to the classes: none was lost on the way."""
    assert {"random", "nsga2", "nsga3", "pnas", "dppnet", "mobo"} <= set(BATCH_INDEPENDENT)


def test_each_declared_plot_style_is_a_colour_and_marker_no_other_method_has():
    from matplotlib.colors import is_color_like
    from matplotlib.markers import MarkerStyle

    declared = {n: vars(STRATEGIES.get(n)).get("plot_style") for n in STRATEGIES.names()}
    declared = {n: s for n, s in declared.items() if s is not None}
    for name, style in declared.items():
        assert set(style) == {"color", "marker"}, name
        assert is_color_like(style["color"]), name
        MarkerStyle(style["marker"])  # raises on a marker matplotlib cannot draw
    colours = [s["color"].lower() for s in declared.values()]
    assert len(set(colours)) == len(colours), "two methods share a colour"
