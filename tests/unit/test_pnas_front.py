"""PNAS's multi-objective form (score=parego, the default) reaches the whole front; the old
fixed equal-weight sum (score=equal) stays at one end of it."""

import numpy as np
import pytest

from hwnas.league.metrics import run_metrics
from hwnas.league.runner import prepare, run_once
from hwnas.strategies.pnas import chebyshev_select
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
    assert thirds[0] < 0.75 and thirds[1] > 0.15 and thirds[2] > 0.05
    assert hv > 0.97 and hv > old_hv + 0.1


def test_each_weight_picks_its_own_best():
    N = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.1, 0.9]])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [1.0, 0.0], [1.0, 0.0]])
    # each weight's best among those not taken; stops when N runs out
    assert chebyshev_select(N, W).tolist() == [0, 1, 2, 3]


def test_parego_is_the_default():
    from hwnas.strategies.pnas import PNAS

    assert PNAS.option_specs["score"].default == "parego"
