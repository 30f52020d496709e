"""Once-for-all (hwnas.oneshot.progressive, hwnas.strategies.ofa): the mechanism, not only that
it runs.

Progressive shrinking runs its phases in the paper's order and each phase samples only the
choices unlocked so far; elastic depth is trailing zeros in a stage; the distillation term is
in the loss once the teacher exists; the evolution keeps every candidate within the table's
own latency constraint (a sub-network under T on one table and over T on another is never
proposed for the second); a supernet reused by another run is not trained again."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hwnas.arch import Arch
from hwnas.core.context import SearchContext
from hwnas.core.costs import CostModel
from hwnas.errors import BadInputError
from hwnas.nn import train as nt
from hwnas.objectives import parse_objectives
from hwnas.oneshot import progressive as pg
from hwnas.oneshot.supernet import Supernet
from hwnas.registry import STRATEGIES
from hwnas.spaces.nb201 import Nb201Space
from hwnas.spaces.proxyless import ProxylessSpace

SPACE = ProxylessSpace(resolution=16, width_mult=0.25, num_classes=10)
LAYOUT = pg.ElasticLayout.of(SPACE)
OBJECTIVES = parse_objectives("accuracy,latency_ms")
TINY = {"epochs": 1, "train_subset": 64, "resolution": 8, "batch_size": 16, "bn_batches": 1,
        "population": 6, "iterations": 2, "top": 2, "threads": 1, "predictor_samples": 20}


def kernel_latency(arch: Arch) -> dict:
    """Table A: a layer costs its kernel size."""
    genome = LAYOUT.genome(arch) or LAYOUT.full()
    return {"latency_ms": float(sum(k for i, k in enumerate(genome["ks"])
                                    if LAYOUT.option_of(genome, i) != "zero"))}


def expansion_latency(arch: Arch) -> dict:
    """Table B: a layer costs its expansion ratio cubed (ranks sub-networks otherwise)."""
    genome = LAYOUT.genome(arch) or LAYOUT.full()
    return {"latency_ms": float(sum(e ** 3 / 10 for i, e in enumerate(genome["e"])
                                    if LAYOUT.option_of(genome, i) != "zero"))}


TABLE_A = CostModel(["latency_ms"], kernel_latency)
TABLE_B = CostModel(["latency_ms"], expansion_latency)


def make(costs=TABLE_A, context=None, **options):
    return STRATEGIES.get("ofa")(SPACE, OBJECTIVES, seed=0, costs=costs,
                                 context=context or SearchContext(), **{**TINY, **options})


# -- the elastic space -----------------------------------------------------------------------
def test_the_layout_of_the_proxyless_space():
    assert [len(s) for s in LAYOUT.stages] == [2, 3, 3, 2, 2]
    assert LAYOUT.kernels == (3, 5, 7) and LAYOUT.expansions == (3, 6)
    full = LAYOUT.arch(LAYOUT.full())
    assert set(full.values.values()) == {"mb_k7_e6"}
    with pytest.raises(BadInputError, match="ofa needs a chain space of stages") as info:
        pg.ElasticLayout.of(Nb201Space(C=4, N=1, resolution=8))
    assert "\n" not in str(info.value)


def test_elastic_depth_is_trailing_zeros_and_nothing_else():
    rng = np.random.default_rng(0)
    depths_seen = set()
    for _ in range(200):
        genome = LAYOUT.sample(rng)
        arch = LAYOUT.arch(genome)
        for s, stage in enumerate(LAYOUT.stages):
            options = [arch.values[LAYOUT.labels[i]] for i in stage]
            kept = genome["d"][s]
            assert all(o != "zero" for o in options[:kept])  # the first d layers run
            assert all(o == "zero" for o in options[kept:])  # the rest are skipped
            depths_seen.add((s, kept))
        assert LAYOUT.genome(arch) == LAYOUT.canonical(genome)
        assert LAYOUT.arch(LAYOUT.genome(arch)).key == arch.key
    assert {(1, 1), (1, 2), (1, 3)} <= depths_seen
    # a zero before a layer of its stage: outside the sub-space once-for-all's depth defines
    values = dict(LAYOUT.arch(LAYOUT.full()).values)
    values["s2.b1"] = "zero"
    assert LAYOUT.genome(Arch(SPACE.name, values)) is None


# -- progressive shrinking -----------------------------------------------------------------------
def test_the_phases_in_the_papers_order_each_unlocking_one_dimension():
    phases = pg.schedule(LAYOUT)
    assert [p.name for p in phases] == ["full", "kernel", "depth-1", "depth-2", "expand-1"]
    assert [(p.kernels, p.expansions, p.depth_drop) for p in phases] == [
        ((7,), (6,), 0), ((3, 5, 7), (6,), 0), ((3, 5, 7), (6,), 1), ((3, 5, 7), (6,), 2),
        ((3, 5, 7), (3, 6), 2)]
    assert [p.subnets for p in phases] == [1, 1, 2, 2, 4]  # the reference's dynamic batch
    assert [p.distill for p in phases] == [False, True, True, True, True]
    assert [p.epochs for p in phases] == [180, 120, 25, 120, 120]
    assert phases[1].lr > phases[3].lr > phases[2].lr  # kernel 0.96 > 0.24 > 0.08 (/2.6)
    steps = pg.phase_steps(phases, 113)
    assert sum(steps) == 113 and steps[0] == max(steps) and steps[2] == min(steps)
    assert pg.phase_steps(phases, 2) == [1, 1, 1, 1, 1]  # every phase runs


@pytest.fixture(scope="module")
def shrunk():
    """Progressive shrinking on 128 random 8x8 images for 6 epochs (48 steps)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 3, 8, 8, generator=g), torch.randint(10, (128,), generator=g)
    torch.manual_seed(0)
    supernet = Supernet(SPACE, "entangled")
    config = nt.TrainConfig(6, 16, 0.05, 5e-4, 0.1)
    with nt.torch_threads(1):
        logs = pg.train_progressive(supernet, LAYOUT, x, y, config, seed=0)
    return logs


def test_each_phase_samples_only_what_it_has_unlocked(shrunk):
    phases = pg.schedule(LAYOUT)
    assert [log.name for log in shrunk] == [p.name for p in phases]
    full_depths = LAYOUT.max_depths()
    for phase, log in zip(phases, shrunk, strict=True):
        assert len(log.genomes) == log.steps * phase.subnets
        for genome in log.genomes:
            ran = LAYOUT.canonical(genome)  # the genes of skipped layers do not run
            live = [i for i in range(LAYOUT.n_layers) if LAYOUT.option_of(ran, i) != "zero"]
            assert {ran["ks"][i] for i in live} <= set(phase.kernels)
            assert {ran["e"][i] for i in live} <= set(phase.expansions)
            assert all(max(1, n - phase.depth_drop) <= d <= n
                       for d, n in zip(ran["d"], full_depths, strict=True))
    # what a phase unlocks is sampled in it: every kernel, a shallower stage, the small width
    kernel, depth1, depth2, expand = shrunk[1:]
    assert {k for g in kernel.genomes for k in g["ks"]} == {3, 5, 7}
    assert min(d for g in depth1.genomes for d in g["d"]) == 1  # stages of 2 drop to 1
    assert any(g["d"][1] == 1 for g in depth2.genomes)  # a 3-layer stage at depth 1
    assert all(g["d"][1] >= 2 for g in depth1.genomes)  # not yet in depth-1
    assert any(3 in g["e"] for g in expand.genomes)
    assert all(g == LAYOUT.full() for g in shrunk[0].genomes)


def test_distillation_from_the_full_network_once_it_is_trained(shrunk):
    full, *elastic = shrunk
    assert full.kd == 0 and full.loss == pytest.approx(full.ce)
    for log in elastic:  # kd_ratio 1: the loss is label-smoothed CE + the soft-target CE
        assert log.kd > 0 and log.loss == pytest.approx(log.ce + log.kd)
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    teacher = torch.softmax(torch.tensor([[0.0, 1.0, 0.0]]), dim=1)
    expected = -(teacher * torch.log_softmax(logits, dim=1)).sum()
    assert float(pg.soft_cross_entropy(logits, teacher)) == pytest.approx(float(expected))


def test_no_distillation_with_kd_ratio_zero():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(32, 3, 8, 8, generator=g), torch.randint(10, (32,), generator=g)
    torch.manual_seed(0)
    supernet = Supernet(SPACE, "entangled")
    with nt.torch_threads(1):
        logs = pg.train_progressive(supernet, LAYOUT, x, y, nt.TrainConfig(1, 16, 0.05, 0, 0.1),
                                    seed=0, kd_ratio=0.0)
    assert all(log.kd == 0 and log.loss == pytest.approx(log.ce) for log in logs)


# -- the search per table ------------------------------------------------------------------------
def fake_accuracy(arch: Arch) -> float:
    """Larger sub-networks score higher: the search is pushed to the constraint."""
    genome = LAYOUT.genome(arch)
    assert genome is not None, "the evolution left once-for-all's sub-space"
    live = [i for i in range(LAYOUT.n_layers) if LAYOUT.option_of(genome, i) != "zero"]
    return sum(genome["ks"][i] * genome["e"][i] for i in live) / 1000


def test_each_table_is_searched_under_its_own_latencies():
    limit = 40.0
    a, b = make(TABLE_A, limit_ms=limit, top=4), make(TABLE_B, limit_ms=limit, top=4)
    seen_b = []

    def scoring_b(arch):
        seen_b.append(arch)
        return fake_accuracy(arch)

    proposed_a, _ = a.specialise(fake_accuracy)
    proposed_b, _ = b.specialise(scoring_b)
    archs_a = [Arch.from_dict(p["arch"]) for p in proposed_a]
    archs_b = [Arch.from_dict(p["arch"]) for p in proposed_b]
    assert archs_a and archs_b
    assert all(kernel_latency(x)["latency_ms"] <= limit for x in archs_a)
    assert all(expansion_latency(x)["latency_ms"] <= limit for x in archs_b + seen_b)
    # A's best are over the limit on B: never proposed (nor scored) there
    over_on_b = [x for x in archs_a if expansion_latency(x)["latency_ms"] > limit]
    assert over_on_b
    assert not {x.key for x in over_on_b} & {x.key for x in archs_b + seen_b}
    for p in proposed_b:
        assert p["table_latency_ms"] == expansion_latency(Arch.from_dict(p["arch"]))[
            "latency_ms"]


def test_a_runs_latency_constraint_is_the_efficiency_constraint():
    ofa = make(TABLE_A, constraints=["latency_ms<=35"], top=3)
    assert ofa.constraints_ms() == [None]
    proposed, log = ofa.specialise(fake_accuracy)
    assert proposed and all(p["table_latency_ms"] <= 35 for p in proposed)
    assert [p["fitness"] for p in proposed] == sorted(
        [p["fitness"] for p in proposed], reverse=True)


def test_without_a_limit_a_front_one_constraint_per_proposal():
    ofa = make(TABLE_A, top=3)
    low = kernel_latency(LAYOUT.arch(LAYOUT.smallest()))["latency_ms"]
    high = kernel_latency(LAYOUT.arch(LAYOUT.full()))["latency_ms"]
    limits = ofa.constraints_ms()
    assert limits == pytest.approx([low + (high - low) * i / 3 for i in (1, 2, 3)])
    proposed, log = ofa.specialise(fake_accuracy)
    assert len(log["evolutions"]) == 3
    assert len({json.dumps(p["arch"], sort_keys=True) for p in proposed}) == len(proposed)
    for p in proposed:
        assert p["table_latency_ms"] <= p["limit_ms"]
    assert [p["limit_ms"] for p in proposed] == sorted(p["limit_ms"] for p in proposed)


def test_the_operators_are_once_for_alls():
    ofa = make(mutation_prob=0.0)
    rng = np.random.default_rng(3)
    a, b = LAYOUT.sample(rng), LAYOUT.sample(rng)
    assert ofa.mutate(a) == a
    for _ in range(20):
        child = ofa.crossover(a, b)
        for key in a:
            assert all(c in (x, y) for c, x, y in zip(child[key], a[key], b[key], strict=True))
    ofa = make(mutation_prob=1.0)
    assert len({json.dumps(ofa.mutate(a)) for _ in range(30)}) > 25


def test_an_unreachable_limit_is_refused_before_training():
    with pytest.raises(BadInputError, match="within limit_ms=1"):
        make(limit_ms=1.0)
    with pytest.raises(BadInputError, match="table latencies"):
        STRATEGIES.get("ofa")(SPACE, parse_objectives("accuracy,params"), seed=0,
                              costs=CostModel(["params"], lambda a: {"params": 1.0}))


def test_the_predictor_learns_the_measured_accuracies():
    from hwnas.oneshot.accuracy_predictor import encode, fit_predictor

    rng = np.random.default_rng(0)
    genomes = [LAYOUT.sample(rng) for _ in range(150)]
    x = encode(LAYOUT, LAYOUT.full())
    assert x.shape == (12 * 5,) and x.sum() == 24  # a kernel and an expansion per layer
    assert encode(LAYOUT, LAYOUT.smallest()).sum() == 2 * 5  # skipped layers: all zeros
    truth = [fake_accuracy(LAYOUT.arch(g)) for g in genomes]
    predictor, report = fit_predictor(LAYOUT, genomes, truth, seed=0)
    assert report["fitted"] == 120 and report["held_out"] == 30
    assert report["kendall_tau"] > 0.6


# -- one training, many tables ------------------------------------------------------------------
def test_a_reused_supernet_is_not_trained_again(tmp_path, monkeypatch):
    first_dir = tmp_path / "a" / "strategy"
    first = make(TABLE_A, SearchContext(workdir=first_dir))
    proposed_a = [first.ask(1)[0] for _ in range(2)]
    assert (first_dir / "supernet.pt").is_file()
    record = json.loads((first_dir / "supernet.json").read_text())
    assert [p["name"] for p in record["phases"]] == ["full", "kernel", "depth-1", "depth-2",
                                                     "expand-1"]

    def no_training(*args, **kwargs):
        raise AssertionError("a reused supernet was trained again")

    monkeypatch.setattr(pg, "train_progressive", no_training)
    second = make(TABLE_B, SearchContext(workdir=tmp_path / "b" / "strategy"),
                  supernet=str(tmp_path / "a"))
    proposed_b = [second.ask(1)[0] for _ in range(2)]
    assert proposed_a and proposed_b
    log = json.loads((tmp_path / "b" / "strategy" / "log.json").read_text())
    assert log["supernet"]["reused"] == str(first_dir / "supernet.pt")
    assert log["supernet"]["phases"] == record["phases"]  # the first run's training
    assert not (tmp_path / "b" / "strategy" / "supernet.pt").exists()
    # the predictor's samples were measured once, with the supernet, and read back here
    assert log["predictor"]["from"] == str(first_dir / "accuracy_samples.json")
    first_log = json.loads((first_dir / "log.json").read_text())
    assert first_log["predictor"]["from"] == "measured"
    assert first_log["predictor"]["samples"] == log["predictor"]["samples"] == 20
    for p in log["search"]["ranked"]:  # B's search read B's latencies
        assert p["table_latency_ms"] == expansion_latency(Arch.from_dict(p["arch"]))[
            "latency_ms"]


def test_a_supernet_of_another_problem_is_refused_in_one_line(tmp_path):
    with pytest.raises(BadInputError, match="no finished ofa supernet there"):
        make(supernet=str(tmp_path / "nothing"))
    folder = tmp_path / "run" / "strategy"
    folder.mkdir(parents=True)
    (folder / "supernet.pt").write_bytes(b"")
    trained_on = make().trained_on()
    (folder / "supernet.json").write_text(json.dumps(
        {"trained_on": {**trained_on, "resolution": 16}}))
    with pytest.raises(BadInputError) as info:
        make(supernet=str(tmp_path / "run"))
    assert "resolution: 16 there, 8 here" in str(info.value) and "\n" not in str(info.value)
    (folder / "supernet.json").write_text(json.dumps({"trained_on": trained_on}))
    assert make(supernet=str(folder / "supernet.pt"))._reused is not None


def test_inherited_accuracy_ranks_by_measurement_and_within_a_run_constraint(tmp_path):
    ofa = make(TABLE_A, SearchContext(workdir=tmp_path / "strategy"), accuracy="inherited",
               constraints=["latency_ms<=40"], top=3)
    proposed = [ofa.ask(1)[0] for _ in range(3)]
    log = json.loads((tmp_path / "strategy" / "log.json").read_text())
    assert log["predictor"] is None and log["search"]["constraints_ms"] == [None]
    ranked = log["search"]["ranked"]
    assert all(r["table_latency_ms"] <= 40 for r in ranked)
    assert [r["fitness"] for r in ranked] == sorted((r["fitness"] for r in ranked), reverse=True)
    for arch in proposed:  # measured, once: the fitness is the inherited accuracy
        info = ofa.proposal_info(arch)
        assert info["fitness"] == info["shared_accuracy"] == ofa.memo[arch.key]
