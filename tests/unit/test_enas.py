"""ENAS (hwnas.strategies.enas): the mechanism, not only that it runs.

Phase 1 trains the shared weights only on paths the controller samples; phase 2 rewards the
controller with a held-out minibatch's accuracy under the shared weights (and trains no
weight); the controller learns (the probability of a paying option rises); the final ranking
proposes the best by reward; the log and proposals are written and a resumed run reads them
back instead of training again."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hwnas.core.context import SearchContext
from hwnas.core.costs import CostModel
from hwnas.errors import BadInputError
from hwnas.nn import train as nt
from hwnas.objectives import parse_objectives
from hwnas.oneshot import single_path as sp
from hwnas.oneshot.supernet import Supernet
from hwnas.registry import STRATEGIES
from hwnas.spaces.nb201 import Nb201Space

SPACE = Nb201Space(C=4, N=1, resolution=8)
OBJECTIVES = parse_objectives("accuracy,latency_ms")
COSTS = CostModel(["latency_ms"], lambda a: {"latency_ms": 1.0 + float(SPACE.encode(a).sum())})
TINY = {"epochs": 1, "train_subset": 64, "batch_size": 16, "controller_steps": 3,
        "final_samples": 6, "top": 2, "bn_batches": 1, "threads": 1}


def make(context=None, **options):
    return STRATEGIES.get("enas")(SPACE, OBJECTIVES, seed=0, costs=COSTS,
                                  context=context or SearchContext(), **{**TINY, **options})


def data(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *SPACE.input_shape, generator=g), torch.randint(10, (n,), generator=g)


def snapshot(supernet):
    return {n: p.detach().clone() for n, p in supernet.named_parameters()}


def test_phase_one_trains_only_the_paths_the_controller_samples():
    enas = make()
    row = np.array([[3, 2, 3, 2, 3, 2]])  # a degenerate policy: always this architecture
    calls = []

    def degenerate(n, generator):
        calls.append(n)
        return np.repeat(row, n, axis=0)

    enas.controller.sample = degenerate
    torch.manual_seed(0)
    supernet = Supernet(SPACE)
    x, y = data(48)
    trainer = sp.SinglePathTrainer(supernet, nt.TrainConfig(1, 16, 0.1), len(y),
                                   torch.Generator().manual_seed(0))
    before = {(p, i, j): [t.detach().clone() for t in cand.parameters()]
              for p, ops in enumerate(supernet.mixed) for i, op in enumerate(ops)
              for j, cand in enumerate(op.candidates)}
    stats = enas._phase_weights(trainer, x, y)
    assert len(calls) == stats.steps == 3  # one sampled architecture per minibatch
    assert stats.paths == [list(row[0])] * 3
    for (p, i, j), old in before.items():
        cand = supernet.mixed[p][i].candidates[j]
        same = all(torch.equal(a, b) for a, b in zip(cand.parameters(), old, strict=True))
        if j == row[0][p]:
            assert not same, (p, i, j)  # trained
        else:
            assert same and all(t.grad is None for t in cand.parameters()), (p, i, j)


def test_phase_two_rewards_a_heldout_minibatch_with_the_shared_weights(monkeypatch):
    enas = make(controller_steps=4, reward_batch=8)
    torch.manual_seed(0)
    supernet = Supernet(SPACE)
    x, y = data(32, seed=1)
    told = []
    learn = enas.learn

    def spy(archs, results):
        told.append((archs[0], results[0]))
        return learn(archs, results)

    monkeypatch.setattr(enas, "learn", spy)
    held = sp.Minibatches(len(y), 8, torch.Generator().manual_seed(5))
    batches = sp.Minibatches(len(y), 8, torch.Generator().manual_seed(5))
    before = snapshot(supernet)
    buffers = {n: b.clone() for n, b in supernet.named_buffers() if "running" in n}
    steps = enas._phase_controller(supernet, x, y, held)
    assert len(steps) == len(told) == 4
    # no weight is trained by the controller's phase, and BatchNorm statistics stay as they were
    assert all(torch.equal(p, before[n]) for n, p in supernet.named_parameters())
    assert all(torch.equal(b, buffers[n]) for n, b in supernet.named_buffers() if n in buffers)
    for (arch, result), step in zip(told, steps, strict=True):
        idx = batches.next()
        expected = sp.minibatch_accuracy(supernet, arch, x[idx], y[idx])
        assert result["accuracy"] == expected == step["accuracy"]
        assert result["latency_ms"] == COSTS.costs(arch)["latency_ms"]  # the cost model's
    assert steps[-1]["baseline"] == enas.baseline  # the controller's moving average


def test_the_controller_learns_the_option_that_pays(monkeypatch):
    """A fake shared-weight accuracy: 1 when edge 3 is nor_conv_1x1, else 0 (latency equal)."""
    enas = make(controller_lr=0.05, controller_steps=60)
    k, j = 3, 2
    monkeypatch.setattr(type(enas), "_shared_accuracy", staticmethod(
        lambda supernet, arch, x, y, idx: float(SPACE.encode(arch)[k] == j)))
    flat = CostModel(["latency_ms"], lambda a: {"latency_ms": 1.0})
    enas.costs = flat
    enas.rewarder.costs = flat
    probe = SPACE.decode([0, 0, 0, 0, 0, 0])
    p_before = enas.policy(probe)[k][j]
    x, y = data(16)
    steps = enas._phase_controller(None, x, y, sp.Minibatches(len(y), 8, torch.Generator()))
    p_after = enas.policy(probe)[k][j]
    assert p_before < 0.3 and p_after > 0.6, (p_before, p_after)
    late = [s["accuracy"] for s in steps[-20:]]
    early = [s["accuracy"] for s in steps[:20]]
    assert np.mean(late) > np.mean(early)  # it samples the paying option more often


def test_a_search_ranks_proposes_logs_and_resumes(tmp_path, monkeypatch):
    context = SearchContext(workdir=tmp_path / "strategy")
    enas = make(context)
    assert enas.max_proposals() == 2
    first = [enas.ask(1)[0] for _ in range(2)]
    assert enas.ask(1) == []
    log = json.loads((tmp_path / "strategy" / "log.json").read_text())
    saved = json.loads((tmp_path / "strategy" / "proposals.json").read_text())
    assert len(log["epochs"]) == 1
    assert {"mean_reward", "baseline", "entropy", "shared_accuracy"} <= set(log["epochs"][0])
    rewards = [r["reward"] for r in log["ranked"]]
    assert rewards == sorted(rewards, reverse=True)
    assert [p["arch"] for p in saved["proposals"]] == [a.to_dict() for a in first]
    assert [a.to_dict() for a in first] == [r["arch"] for r in log["ranked"][:2]]
    info = enas.proposal_info(first[0])
    assert info["rank"] == 0 and info["reward"] == rewards[0]

    # resumed: the proposals are read back, nothing is trained again
    def no_training(self):
        raise AssertionError("a resumed ENAS run trained again")

    monkeypatch.setattr(type(enas), "_search", no_training)
    again = make(context)
    assert [again.ask(1)[0] for _ in range(2)] == first
    with pytest.raises(BadInputError, match="resume with the run's own options"):
        make(context, controller_steps=4).ask(1)


def test_top_above_final_samples_is_refused():
    with pytest.raises(BadInputError, match="'top' option of strategy 'enas'"):
        make(top=7, final_samples=6)


def test_hwnas_search_method_enas_then_pareto(tmp_path, capsys):
    """The command line end to end on a tiny cell space: the proposals are evaluated by the
    run's final estimator (`scratch`), recorded with their ENAS rank, and `hwnas pareto` reads
    the run."""
    from hwnas.cli import app
    from hwnas.cli.errors import run_app
    from hwnas.runs import RunDir

    run = tmp_path / "run"
    opts = {"epochs": 1, "train_subset": 96, "controller_steps": 3, "final_samples": 4,
            "top": 2, "threads": 1}
    args = ["search", "--space", "nb201", "--space-opt", "C=4", "--space-opt", "N=1",
            "--space-opt", "resolution=8", "--method", "enas", "--estimator", "scratch",
            "--objectives", "accuracy,params", "--run-dir", str(run),
            "--estimator-opt", "epochs=1", "--estimator-opt", "train_subset=96",
            "--estimator-opt", "threads=1"]
    for key, value in opts.items():
        args += ["--strategy-opt", f"{key}={value}"]
    assert run_app(app, args) == 0, capsys.readouterr().err
    records = RunDir(run).history()
    assert len(records) == 2 and {r["estimator"] for r in records} == {"scratch"}
    assert [r["proposal"]["rank"] for r in records] == [0, 1]
    assert (run / "strategy" / "log.json").is_file()
    capsys.readouterr()
    assert run_app(app, ["pareto", str(run)]) == 0
    assert "enas" in capsys.readouterr().out
