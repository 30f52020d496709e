"""MetaQNN (Baker et al., 2017): Q-values follow the update rule (hand-computed on a two-state
toy, in reverse order, which differs from forward order), epsilon follows the paper's schedule
scaled to the budget, replay draws only from evaluated models, the greedy policy finds a paying
choice, and `hwnas search --method metaqnn` runs end to end."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.arch import Arch
from hwnas.cli import app
from hwnas.cli.errors import run_app
from hwnas.core.failure import failed_result
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.registry import STRATEGIES
from hwnas.runs import RunDir
from hwnas.spaces.base import SearchSpace
from hwnas.spaces.nb201 import Nb201Space
from hwnas.strategies.metaqnn import EPSILON_SCHEDULE, QTable, epsilon_at
from tests.reliability.test_run_history import tabular_args
from tests.tabular_helpers import write_synthetic_nb201

OBJECTIVES = parse_objectives("accuracy,latency_ms")


class TwoStep(SearchSpace):
    """Two decisions of two options each: states (0, start) and (1, first choice)."""

    registry_name = "two-step"

    def choices(self):
        return [("a", ("x", "y")), ("b", ("x", "y"))]

    def ops(self, arch):
        return []

    def build_op(self, sig):
        raise NotImplementedError

    @property
    def input_shape(self):
        return (1, 1, 1)


TWO = TwoStep()


def make(space=TWO, **options):
    return STRATEGIES.get("metaqnn")(space, OBJECTIVES, seed=0, **options)


# -- the update rule ----------------------------------------------------------------------------
def test_q_values_follow_the_update_rule_by_hand():
    """Trajectory a=y (1), b=x (0), reward 1, lr 0.01, Q0 = 0.5, no discount, in reverse:
    Q(s1, x) = 0.5 + 0.01 (1 - 0.5) = 0.505
    Q(s0, y) = 0.5 + 0.01 (max Q(s1) - 0.5) = 0.5 + 0.01 * 0.005 = 0.50005
    and a second time:
    Q(s1, x) = 0.505 + 0.01 (1 - 0.505) = 0.50995
    Q(s0, y) = 0.50005 + 0.01 (0.50995 - 0.50005) = 0.500149"""
    q = QTable([2, 2])
    q.update([1, 0], 1.0, 0.01)
    assert q[(1, 1)][0] == pytest.approx(0.505, abs=1e-12)
    assert q[(0, -1)][1] == pytest.approx(0.50005, abs=1e-12)
    assert q[(0, -1)][0] == q[(1, 1)][1] == 0.5  # untouched actions
    q.update([1, 0], 1.0, 0.01)
    assert q[(1, 1)][0] == pytest.approx(0.50995, abs=1e-12)
    assert q[(0, -1)][1] == pytest.approx(0.500149, abs=1e-12)


def test_reverse_order_differs_from_forward_order():
    """Forward, the first state reads Q(s1) before the terminal update: it does not move."""
    forward = QTable([2, 2])
    forward.update([1, 0], 1.0, 0.01, reverse=False)
    assert forward[(0, -1)][1] == 0.5
    assert forward[(1, 1)][0] == pytest.approx(0.505)
    forward.update([1, 0], 1.0, 0.01, reverse=False)
    assert forward[(0, -1)][1] == pytest.approx(0.50005)  # one update behind reverse order
    backward = QTable([2, 2])
    backward.update([1, 0], 1.0, 0.01)
    backward.update([1, 0], 1.0, 0.01)
    assert backward[(0, -1)][1] != pytest.approx(forward[(0, -1)][1])


def test_the_strategy_applies_the_rule_through_tell():
    """replay=1 with one model in memory: exactly one update per tell, with its reward
    (monas_cost_threshold: the accuracy, 1.0, while latency <= target)."""
    strategy = make(replay=1, reward="monas_cost_threshold", target_ms=10.0)
    arch = Arch("two-step", {"a": "y", "b": "x"})
    result = {"accuracy": 1.0, "latency_ms": 1.0}
    strategy.tell([arch], [result])
    assert strategy.q[(1, 1)][0] == pytest.approx(0.505)
    assert strategy.q[(0, -1)][1] == pytest.approx(0.50005)
    strategy.tell([arch], [result])  # memory: two copies of the same trajectory
    assert strategy.q[(1, 1)][0] == pytest.approx(0.50995)
    assert strategy.q[(0, -1)][1] == pytest.approx(0.500149)


def test_a_failed_model_is_learnt_with_the_floor():
    strategy = make(replay=1, reward="mnasnet", target_ms=5.0)
    arch = Arch("two-step", {"a": "x", "b": "y"})
    strategy.tell([arch], [failed_result("RuntimeError: boom")])
    assert strategy.rewarder.floor == 0.0
    assert strategy.q[(1, 0)][1] == pytest.approx(0.5 + 0.01 * (0.0 - 0.5))


# -- epsilon -------------------------------------------------------------------------------------
def test_epsilon_follows_the_papers_schedule_at_its_size():
    """At the paper's 2,700 models: 1,500 at 1.0, 100 at 0.9, 0.8, 0.7, 150 at 0.6 ... 0.1."""
    counts = {}
    for i in range(2700):
        eps = epsilon_at(i, 2700)
        counts[eps] = counts.get(eps, 0) + 1
    assert counts == dict(EPSILON_SCHEDULE)
    assert counts[1.0] == 1500 and counts[0.9] == 100 and counts[0.6] == 150
    assert epsilon_at(1499, 2700) == 1.0 and epsilon_at(1500, 2700) == 0.9
    assert epsilon_at(2699, 2700) == 0.1 and epsilon_at(10_000, 2700) == 0.1


def test_epsilon_schedule_is_scaled_to_the_budget():
    """budget 270: one tenth of every block, in order, through ask."""
    strategy = make(budget=270)
    seen = []
    for _ in range(300):
        seen.append(strategy.epsilon())
        strategy.ask(1)
    assert seen[:150] == [1.0] * 150
    assert seen[150:160] == [0.9] * 10 and seen[180:195] == [0.6] * 15
    assert seen[255:270] == [0.1] * 15 and set(seen[270:]) == {0.1}
    assert seen == sorted(seen, reverse=True)


# -- replay -------------------------------------------------------------------------------------
def test_replay_draws_only_from_evaluated_models():
    space = Nb201Space()
    strategy = make(space=space, replay=7)
    updated = []
    update = strategy.q.update

    def spy(trajectory, reward, lr, reverse=True):
        updated.append(tuple(int(a) for a in trajectory))
        return update(trajectory, reward, lr, reverse)

    strategy.q.update = spy
    told = set()
    rng = np.random.default_rng(0)
    for _ in range(6):
        archs = strategy.ask(2) + [space.sample(rng)]  # a model told but never asked counts too
        results = [{"accuracy": float(rng.random()), "latency_ms": float(1 + rng.random())}
                   for _ in archs]
        before = len(updated)
        strategy.tell(archs, results)
        told |= {tuple(space.encode(a)) for a in archs}
        new = updated[before:]
        assert len(new) == 7 * len(archs)  # `replay` updates after each new model
        assert set(new) <= told  # drawn from the evaluated models only
    # the first model's replay could only draw the first model
    assert set(updated[:7]) == {updated[0]}
    assert len(strategy.memory) == 18


# -- it learns ------------------------------------------------------------------------------------
def test_the_greedy_policy_finds_the_paying_choice():
    """Paying choice at the next-to-last position: learnt from the terminal reward of the
    state it leads to, (last position, paying choice), through max_a' Q -- one bootstrap.
    (With states (position, previous choice), as the paper's (current layer), the credit of a
    decision reaches back only through the next state's max.)"""
    space = Nb201Space()
    label = space.choices()[-2][0]

    def result(arch):
        return {"accuracy": float(arch.values[label] == "nor_conv_3x3"), "latency_ms": 1.0}

    strategy = make(space=space, budget=150)
    asked = []
    for _ in range(150):
        archs = strategy.ask(1)
        asked += archs
        strategy.tell(archs, [result(a) for a in archs])
    late = [result(a)["accuracy"] for a in asked[-20:]]  # epsilon 0.3 .. 0.1 by now
    assert np.mean(late) >= 0.7
    assert np.mean([result(a)["accuracy"] for a in asked[:80]]) < 0.4  # exploring: ~1/5
    k = len(space.choices()) - 2
    paying = space.choices()[k][1].index("nor_conv_3x3")
    for prev in range(5):  # in every state of that position, the paying action is best
        assert int(np.argmax(strategy.q[(k, prev)])) == paying


def test_a_space_without_choices_is_refused_in_one_line():
    class Empty:
        name = "empty"

        def choices(self):
            return []

    with pytest.raises(BadInputError, match="needs a space with at least one choice") as err:
        make(space=Empty())
    assert "\n" not in str(err.value)


def test_search_method_metaqnn_end_to_end(tmp_path):
    csv = write_synthetic_nb201(tmp_path / "bench.csv")
    args = tabular_args(csv, tmp_path / "run", 12, "metaqnn") + [
        "--strategy-opt", "budget=12", "--strategy-opt", "reward=monas_mixed"]
    assert run_app(app, args) == 0
    assert len(RunDir(tmp_path / "run").history()) == 12
