"""Every registered strategy, driven by the one loop, keeps going when candidates fail and never
builds on a failed one (no parent, beam, mating pool or optimum holds it).

Failures are injected by the evaluator, as `{"failed": reason}` results: every third new
candidate, or the very first ones (before anything has succeeded). How a strategy builds on
results is observed where it happens (PROBES); a registered strategy of hwnas without a probe
fails `test_every_builtin_strategy_has_a_probe`, so a new one has to say how it is checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.arch import Arch
from hwnas.core.failure import failed_result, is_failed
from hwnas.core.outcome import Outcome
from hwnas.registry import STRATEGIES
from hwnas.searching.loop import Recorded, run_loop
from hwnas.strategies.oneshot import OneShotStrategy
from tests.conformance.test_strategies import OBJECTIVES, SPACE, TOY_COSTS, toy_result

BUDGET = 40
# Small populations and beams, so that parents are chosen well within the budget.
# A small surrogate keeps the progressive strategies fast; failures touch none of its sizes.
PROGRESSIVE = {"k": 4, "n_init": 6, "n_models": 1, "hidden": 8, "max_pool": 40}
SMALL = {"evolution": {"population": 6, "sample_size": 3}, "nsga2": {"population": 6},
         "renas": {"population": 6, "sample_size": 3},
         "pnas": PROGRESSIVE, "dppnet": PROGRESSIVE,
         "nsga3": {"n_partitions": 5, "population": 6},  # 6 directions for 2 objectives
         "mobo": {"n_init": 6, "q": 3, "n_random": 30, "max_neighbours": 60}}
# Weight-sharing searches train a tiny supernet in their first ask (a few images at 8x8), then
# propose their `top` ranked architectures: as many as the budget.
TINY_SUPERNET = {"epochs": 1, "train_subset": 32, "resolution": 8, "batch_size": 16,
                 "bn_batches": 1, "top": 40, "threads": 1}
SMALL |= {"enas": {**TINY_SUPERNET, "controller_steps": 2, "final_samples": 40},
          "spos": {**TINY_SUPERNET, "population": 10, "iterations": 3, "parents": 3},
          # without a latency limit: one evolution per proposal (a front), kept small
          "ofa": {**TINY_SUPERNET, "population": 4, "iterations": 1, "predictor_samples": 20}}
SETTINGS = 6  # one-shot strategies: one proposal per sweep setting


class FailingEvaluator:
    """Toy results, except that the `first` new candidates fail, and every `period`-th."""

    def __init__(self, *, period: int | None = None, first: int = 0):
        self.period, self.first = period, first
        self.n = 0
        self.failed: set[str] = set()

    def map(self, archs):
        out = []
        for arch in archs:
            SPACE.check(arch)
            self.n += 1
            if self.n <= self.first or (self.period and self.n % self.period == 0):
                self.failed.add(arch.key)
                out.append(Outcome(failed_result("RuntimeError: injected failure")))
            else:
                out.append(Outcome(toy_result(arch)))
        return out


# -- probes: where each strategy builds on results, wrapped to record what it builds on --------
class Seen:
    """Architectures a strategy built on (keys), and whether the probed path ran at all."""

    def __init__(self):
        self.keys: list[str] = []
        self.calls = 0

    def add(self, archs) -> None:
        self.calls += 1
        self.keys += [a.key for a in archs]


def probe_helpers(strategy, seen: Seen) -> None:
    """The base helpers: the arch given to `mutate`, the result `best_index` picks."""
    mutate, best_index = strategy.mutate, strategy.best_index

    def spy_mutate(arch):
        seen.add([arch])
        return mutate(arch)

    def spy_best(results):
        i = best_index(results)
        assert i is None or not is_failed(results[i]), "best_index picked a failed result"
        return i

    strategy.mutate, strategy.best_index = spy_mutate, spy_best


def probe_beam(strategy, seen: Seen) -> None:
    """Progressive strategies expand the beam of each level: its members are the parents."""
    beam = strategy._beam

    def spy(at_level):
        out = beam(at_level)
        if out:
            seen.add(out)
        return out

    strategy._beam = spy


def probe_mating(strategy, seen: Seen) -> None:
    """NSGA-II's parents are drawn from the population pymoo mates; its `opt` is its best."""
    build = strategy._build

    def spy_build():
        algorithm = build()
        mate = algorithm.mating.do

        def spy_mate(problem, pop, *args, **kwargs):
            seen.add([SPACE.decode(x) for x in pop.get("X")])
            return mate(problem, pop, *args, **kwargs)

        algorithm.mating.do = spy_mate
        return algorithm

    strategy._build = spy_build


def probe_mobo(strategy, seen: Seen) -> None:
    """MOBO fits its GPs on the rows it conditions on, and mutates the front it reads."""
    condition, front_archs = strategy._condition, strategy._front_archs

    def spy_condition():
        condition()
        seen.add([strategy._archs[i] for i in strategy._rows])

    def spy_front():
        out = front_archs()
        seen.add(out)
        return out

    strategy._condition, strategy._front_archs = spy_condition, spy_front


def nsga2_optimum(strategy) -> list[Arch]:
    algorithm = strategy._algorithm
    if algorithm is None or algorithm.opt is None:
        return []
    return [SPACE.decode(x) for x in algorithm.opt.get("X")]


def no_probe(strategy, seen: Seen) -> None:
    """Proposes without reading results (random; a one-shot method's supernet)."""


def probe_rewards(strategy, seen: Seen) -> None:
    """Learning controllers (reinforce, metaqnn) build on a result by rewarding it: what gets a
    reward above the failure floor is built on, and a failed result must get the floor."""
    rewards, floor = strategy._rewards, strategy.rewarder.floor

    def spy(archs, results):
        out = rewards(archs, results)
        for result, reward in zip(results, out, strict=True):
            assert not is_failed(result) or reward == floor, "a failed result was rewarded"
        seen.add([a for a, reward in zip(archs, out, strict=True) if reward > floor])
        return out

    strategy._rewards = spy


PROBES = {"evolution": probe_helpers, "renas": probe_helpers, "pnas": probe_beam,
          "dppnet": probe_beam,
          "nsga2": probe_mating, "random": no_probe,
          "reinforce": probe_rewards, "metaqnn": probe_rewards,
          "nsga3": probe_mating, "mobo": probe_mobo,
          # search with shared weights inside ask, then propose; never read a told result
          "enas": no_probe, "spos": no_probe, "ofa": no_probe}
# the probed path has to run
MUST_BUILD = {"evolution", "renas", "pnas", "dppnet", "nsga2", "reinforce", "metaqnn",
              "nsga3", "mobo"}


def is_one_shot(name: str) -> bool:
    return issubclass(STRATEGIES.get(name), OneShotStrategy)


def make(name: str, seed: int, monkeypatch):
    cls = STRATEGIES.get(name)
    if is_one_shot(name):
        # A supernet per setting takes minutes: the proposal stands in for a derived
        # architecture, so what is checked is the loop's side (ask, tell, proposal_info).
        def fake_train(self, k):
            arch = self.space.sample(np.random.default_rng(k))
            return {"setting": self.settings[k], "arch": arch.to_dict(), "argmax": {},
                    "changed_for_target": {}, "table_cost": None, "seconds": 0.0}

        monkeypatch.setattr(cls, "_train", fake_train)
        sweep = ",".join(str(v / 10) for v in range(SETTINGS))
        return cls(SPACE, OBJECTIVES, seed=seed, costs=TOY_COSTS, sweep=f"lambda={sweep}")
    return cls(SPACE, OBJECTIVES, seed=seed, costs=TOY_COSTS, **SMALL.get(name, {}))


def drive(name: str, evaluator: FailingEvaluator, monkeypatch, seed: int = 0):
    strategy = make(name, seed, monkeypatch)
    seen = Seen()
    PROBES.get(name, probe_helpers)(strategy, seen)
    budget = SETTINGS if is_one_shot(name) else BUDGET
    candidates = []
    n = run_loop(strategy, evaluator, budget, batch=3, on_candidate=candidates.append)
    return strategy, seen, candidates, n, budget


SCENARIOS = {"every_third": {"period": 3}, "first_ten": {"first": 10}}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("name", STRATEGIES.names())
def test_reaches_its_budget_and_never_builds_on_a_failure(name, scenario, monkeypatch):
    evaluator = FailingEvaluator(**SCENARIOS[scenario])
    strategy, seen, candidates, n, budget = drive(name, evaluator, monkeypatch)
    assert n == budget == len(candidates) == strategy.n_told
    assert evaluator.failed, "the scenario must have failed some candidates"
    failed = {c.arch.key for c in candidates if is_failed(c.result)}
    assert failed == evaluator.failed & {c.arch.key for c in candidates}
    built_on_failure = sorted(set(seen.keys) & evaluator.failed)
    assert not built_on_failure, f"{name} built on failed candidates {built_on_failure}"
    if name in MUST_BUILD:
        assert seen.calls, f"{name}: the probed path never ran; the test checked nothing"
    if name in ("nsga2", "nsga3"):
        assert not {a.key for a in nsga2_optimum(strategy)} & evaluator.failed


def test_every_builtin_strategy_has_a_probe():
    builtin = [n for n in STRATEGIES.names()
               if STRATEGIES.get(n).__module__.startswith("hwnas.") and not is_one_shot(n)]
    assert sorted(set(builtin) - set(PROBES)) == []


def test_while_nothing_succeeded_evolution_and_nsga2_sample_afresh(monkeypatch):
    """With the whole first population failed, there is no parent: new random individuals,
    not children of failures (the probes above see no failed parent; here: they did go on)."""
    for name in ("evolution", "nsga2"):
        evaluator = FailingEvaluator(first=10)
        _, seen, candidates, _, _ = drive(name, evaluator, monkeypatch)
        keys = [c.arch.key for c in candidates]
        assert len(set(keys[10:])) >= 20  # went on proposing, not stuck on repeats
        assert seen.calls  # and built on the successes once there were some


@pytest.mark.parametrize("name", [n for n in STRATEGIES.names() if not is_one_shot(n)])
def test_a_resumed_run_replays_failed_results_and_proposes_the_same(name, monkeypatch):
    """Resume: the failed results recorded are told again, not evaluated, and the strategy
    goes on exactly as the uninterrupted run did."""
    full = []
    run_loop(make(name, 4, monkeypatch), FailingEvaluator(period=3), 24, batch=3,
             on_candidate=full.append)
    replay = [Recorded(c.arch.key, c.result) for c in full[:12]]
    assert any(is_failed(r.result) for r in replay)
    resumed, evaluator = [], FailingEvaluator(period=3)
    evaluator.n = sum(1 for c in full[:12] if not c.cached)  # the same later failures
    run_loop(make(name, 4, monkeypatch), evaluator, 24, batch=3, replay=replay,
             on_candidate=resumed.append)
    assert [c.arch.key for c in resumed] == [c.arch.key for c in full]
    assert [c.result for c in resumed] == [c.result for c in full]
    assert all(c.replayed for c in resumed[:12]) and not any(c.replayed for c in resumed[12:])
