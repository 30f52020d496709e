"""SPOS (hwnas.strategies.spos): the mechanism, not only that it runs.

Evolution never scores a candidate above `limit_ms` (it is discarded first); with a fixed
supernet the fitness is the inherited-weight accuracy and nothing is trained while searching;
the operators breed from the top-k; the proposals are the best by that fitness."""

from __future__ import annotations

import json

import pytest
import torch

from hwnas.core.context import SearchContext
from hwnas.core.costs import CostModel
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.oneshot import single_path as sp
from hwnas.oneshot.supernet import Supernet
from hwnas.registry import STRATEGIES
from hwnas.spaces.nb201 import Nb201Space

SPACE = Nb201Space(C=4, N=1, resolution=8)
OBJECTIVES = parse_objectives("accuracy,latency_ms")
COSTS = CostModel(["latency_ms"], lambda a: {"latency_ms": 1.0 + float(SPACE.encode(a).sum())})
TINY = {"epochs": 1, "train_subset": 64, "batch_size": 16, "population": 8, "iterations": 3,
        "parents": 3, "top": 3, "bn_batches": 1, "threads": 1}


def make(context=None, **options):
    return STRATEGIES.get("spos")(SPACE, OBJECTIVES, seed=0, costs=COSTS,
                                  context=context or SearchContext(), **{**TINY, **options})


def latency(arch) -> float:
    return COSTS.costs(arch)["latency_ms"]


def test_evolution_never_scores_a_candidate_above_the_target():
    spos = make(limit_ms=12.0)
    scored_archs = []

    def score(arch):
        scored_archs.append(arch)
        return {"accuracy": float(SPACE.encode(arch)[0]) / 4, "latency_ms": latency(arch)}

    scored, log = spos._evolve(score)
    assert scored_archs and all(latency(a) <= 12.0 for a in scored_archs)
    assert log[-1]["refused_by_target"] > 0  # the target did refuse some (mean latency 13)
    assert len({a.key for a in scored_archs}) == len(scored_archs)  # each scored once
    assert len(log) == 1 + TINY["iterations"]


def test_fitness_is_the_inherited_accuracy_and_nothing_is_trained():
    spos = make(limit_ms=14.0)
    torch.manual_seed(0)
    supernet = Supernet(SPACE)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(48, *SPACE.input_shape, generator=g), torch.randint(10, (48,), generator=g)
    calib = [x[:16]]
    weights = {n: p.detach().clone() for n, p in supernet.named_parameters()}
    steps = []
    original = torch.optim.Optimizer.step
    torch.optim.Optimizer.step = lambda *a, **k: steps.append(1)  # would record any step
    try:
        scored, _ = spos._evolve(lambda arch: spos._objectives_of(
            arch, sp.inherited_accuracy(supernet, arch, calib, x[16:], y[16:])))
    finally:
        torch.optim.Optimizer.step = original
    assert not steps
    assert all(torch.equal(p, weights[n]) for n, p in supernet.named_parameters())
    for entry in scored.values():
        arch = entry["arch"]
        assert spos.fitness(entry["objectives"]) == entry["objectives"]["accuracy"] == \
            sp.inherited_accuracy(supernet, arch, calib, x[16:], y[16:])


def test_children_are_bred_from_the_top_k():
    spos = make(mutation_prob=0.0)
    parents = [SPACE.decode([0] * 6), SPACE.decode([4] * 6)]
    for _ in range(20):
        assert spos._mutant(parents).key in {p.key for p in parents}  # probability 0: a copy
        child = SPACE.encode(spos._crossover(parents))
        assert set(child) <= {0, 4}  # every position from one of the parents
    spos = make(mutation_prob=1.0)
    redrawn = [SPACE.encode(spos._mutant(parents)) for _ in range(50)]
    assert len({tuple(r) for r in redrawn}) > 40  # every position redrawn


def test_the_proposals_are_the_best_by_fitness(tmp_path, monkeypatch):
    context = SearchContext(workdir=tmp_path / "strategy")
    spos = make(context)
    proposed = [spos.ask(1)[0] for _ in range(3)]
    log = json.loads((tmp_path / "strategy" / "log.json").read_text())
    ranked = log["ranked"]
    fitness = [r["fitness"] for r in ranked]
    assert fitness == sorted(fitness, reverse=True) and len(ranked) >= 3
    assert [a.to_dict() for a in proposed] == [r["arch"] for r in ranked[:3]]
    # no target: the fitness is the run's reward over shared-weight accuracy and latency
    spos.rewarder.observe([r["objectives"] for r in ranked])
    assert fitness[0] == spos.rewarder(ranked[0]["objectives"])
    assert len(log["supernet"]) == 1 and len(log["generations"]) == 1 + TINY["iterations"]

    def no_training(self):
        raise AssertionError("a resumed SPOS run trained again")

    monkeypatch.setattr(type(spos), "_search", no_training)
    again = make(context)
    assert [again.ask(1)[0] for _ in range(3)] == proposed


def test_an_unreachable_target_is_refused_before_training():
    with pytest.raises(BadInputError, match="none of 200 random architectures"):
        make(limit_ms=0.5)
    with pytest.raises(BadInputError, match="needs table latencies"):
        STRATEGIES.get("spos")(SPACE, parse_objectives("accuracy,params"), seed=0,
                               costs=CostModel(["params"], lambda a: {"params": 1.0}),
                               limit_ms=3.0)


def test_parents_above_population_is_refused():
    with pytest.raises(BadInputError, match="'parents' option of strategy 'spos'"):
        make(parents=9)

