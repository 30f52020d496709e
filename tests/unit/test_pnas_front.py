"""PNAS's multi-objective form (score=parego, the default) reaches the whole front; the old
fixed equal-weight sum (score=equal) stays at one end of it."""

import numpy as np
import pytest

from hwnas.league.metrics import run_metrics
from hwnas.league.runner import prepare, run_once
from hwnas.strategies.pnas import chebyshev_select, front_nadir
from tests.tabular_helpers import write_synthetic_nb201

# small surrogate and steps: the mechanism, not the tuning, is under test (~5 s in all)
OPTS = {"k": 10, "n_models": 1, "hidden": 16, "max_pool": 200}


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    path = write_synthetic_nb201(tmp_path_factory.mktemp("pnas") / "nb201_synthetic.csv")
    return prepare(path, "accuracy:cifar10,latency:pixel3", methods="pnas")[0]


def _run(problem, score):
    rows, _ = run_once(problem, "pnas", 0, 150, options={**OPTS, "score": score})
    lat = problem.truth.F[rows, 1]
    front = problem.truth.F[problem.truth.rows, 1]
    where = np.clip((lat - front.min()) / (front.max() - front.min()), 0, 1)
    thirds = np.histogram(where, bins=3, range=(0, 1))[0] / len(rows)
    return thirds, run_metrics(problem.truth, rows, 10)["hv_ratio"]


def test_default_spreads_over_the_latency_range_and_beats_the_equal_sum(problem):
    thirds, hv = _run(problem, "parego")  # the default, named
    old_thirds, old_hv = _run(problem, "equal")
    # the true front's latency range, in thirds: the old score never leaves the cheapest
    assert old_thirds[0] > 0.95
    # (normalise=inner, the default, spends 75/23/3% there, seen 65/28/7%: both leave it)
    assert thirds[0] < 0.8 and thirds[1] > 0.15 and thirds[2] > 0.02
    assert hv > 0.97 and hv > old_hv + 0.1


def test_each_weight_picks_its_own_best():
    N = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.1, 0.9]])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [1.0, 0.0], [1.0, 0.0]])
    # each weight's best among those not taken; stops when N runs out
    assert chebyshev_select(N, W).tolist() == [0, 1, 2, 3]


def test_parego_is_the_default():
    from hwnas.strategies.pnas import PNAS

    assert PNAS.option_specs["score"].default == "parego"


def _pnas(normalise: str, Y: np.ndarray):
    from hwnas.objectives import parse_objectives
    from hwnas.registry import SPACES
    from hwnas.strategies.pnas import PNAS

    space = SPACES.get("nb201")()
    strategy = PNAS(space, parse_objectives("accuracy:cifar10,latency:pixel3"), seed=0,
                    normalise=normalise, **OPTS)
    strategy._Y = list(Y)
    strategy._weights = np.array([[0.5, 0.5]])
    return strategy


def test_front_normalisation_spreads_the_weights_over_the_front_not_the_junk():
    """Min-form (−accuracy, latency). The front spans accuracy 0.59–0.74 and latency 8–52;
    a dominated cell of accuracy 0.01 (as FPGA's all-`none` cell, no cheaper than the
    cheapest real one) stretches the seen range of accuracy fivefold, so with `seen` an equal
    weight picks near the cheapest front point, with `front` the front's middle."""
    acc = np.linspace(0.59, 0.74, 11)
    lat = np.linspace(8.0, 52.0, 11)
    front = np.column_stack([-acc, lat])
    Y = np.vstack([front, [[-0.01, 8.0]]])
    assert _pnas("seen", Y)._select(front, 1).tolist() == [1]
    assert _pnas("front", Y)._select(front, 1).tolist() == [5]


def test_inner_normalisation_ignores_an_empty_cell_at_the_front_s_cheap_end():
    """Where the empty cell is the cheapest of all (Pixel 3, Raspberry Pi 4) it is on the
    front, and `front` takes its accuracy as the nadir: the junk scale again. `inner` drops
    the front's ends before taking the nadir, and an equal weight picks the middle."""
    acc = np.linspace(0.59, 0.74, 11)
    lat = np.linspace(8.0, 52.0, 11)
    front = np.column_stack([-acc, lat])
    Y = np.vstack([front, [[-0.01, 0.5]]])  # on the front: nothing is cheaper
    assert _pnas("front", Y)._select(front, 1).tolist() == [0]
    assert _pnas("inner", Y)._select(front, 1).tolist() == [4]  # of 0..10
    # the ends: the most accurate cell and the empty one; the nadir is the rest's worst
    assert front_nadir(Y, inner=True) == pytest.approx([-0.59, 47.6])
    assert front_nadir(Y) == pytest.approx([-0.01, 52.0])


def test_inner_normalisation_is_the_default():
    from hwnas.strategies.pnas import PNAS

    assert PNAS.option_specs["normalise"].default == "inner"
