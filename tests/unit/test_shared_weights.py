"""Single-path weight sharing (hwnas.oneshot.single_path) and the `shared` estimator: the
mechanism, not only that it runs.

Uniform sampling is uniform (chi-square); a weight step moves only the sampled path; a child
inherits the supernet's weights bit for bit; BatchNorm recalibration re-estimates statistics
and leaves weights alone; the estimator trains its supernet once and then only reads it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from hwnas.errors import BadInputError
from hwnas.nn import train as nt
from hwnas.nn.batchnorm import recalibrate_batchnorm
from hwnas.oneshot import single_path as sp
from hwnas.oneshot.supernet import MixedOp, Supernet
from hwnas.registry import ESTIMATORS
from hwnas.spaces.nb201 import Nb201Space
from hwnas.spaces.proxyless import ProxylessSpace

SPACE = Nb201Space(C=4, N=1, resolution=8)


def tiny_supernet(seed: int = 0) -> Supernet:
    torch.manual_seed(seed)
    return Supernet(SPACE)


def data(n: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *SPACE.input_shape, generator=g), torch.randint(10, (n,), generator=g)


def params_by_candidate(supernet: Supernet) -> dict[tuple[int, int, int], dict]:
    """(position, instance, option) -> {name: tensor copy} of that candidate's parameters."""
    out = {}
    for p, ops in enumerate(supernet.mixed):
        for i, op in enumerate(ops):
            for j, cand in enumerate(op.candidates):
                out[(p, i, j)] = {n: t.detach().clone() for n, t in cand.named_parameters()}
    return out


def test_uniform_sampling_is_uniform_per_position():
    supernet = tiny_supernet()
    sample = sp.uniform_sampler(supernet, torch.Generator().manual_seed(3))
    draws = np.array([sample() for _ in range(3000)])
    for p, position in enumerate(supernet.positions):
        counts = np.bincount(draws[:, p], minlength=len(position.options))
        assert chisquare(counts).pvalue > 1e-3, (position.label, counts)
    # positions are drawn independently: the pair (0, 1) is uniform over the 25 cells too
    pairs = draws[:, 0] * 5 + draws[:, 1]
    assert chisquare(np.bincount(pairs, minlength=25)).pvalue > 1e-3


def test_the_trainer_runs_the_sampled_path_once_per_minibatch():
    supernet = tiny_supernet()
    x, y = data(48)
    config = nt.TrainConfig(1, 16, 0.05)
    trainer = sp.SinglePathTrainer(supernet, config, len(y), torch.Generator().manual_seed(0))
    sample = sp.uniform_sampler(supernet, torch.Generator().manual_seed(1))
    again = sp.uniform_sampler(supernet, torch.Generator().manual_seed(1))
    stats = trainer.epoch(x, y, sample)
    assert stats.steps == 3 and stats.paths == [again() for _ in range(3)]


def test_a_weight_step_changes_only_the_sampled_path():
    supernet = tiny_supernet()
    x, y = data(16)
    path = [3, 2, 3, 2, 3, 2]  # nor_conv_3x3 / nor_conv_1x1: options with weights
    before = params_by_candidate(supernet)
    trainer = sp.SinglePathTrainer(supernet, nt.TrainConfig(1, 16, 0.1), len(y),
                                   torch.Generator().manual_seed(0))
    stats = trainer.epoch(x, y, lambda: path)
    assert stats.steps == 1
    after = params_by_candidate(supernet)
    moved = 0
    for (p, i, j), tensors in after.items():
        cand = supernet.mixed[p][i].candidates[j]
        if j != path[p]:
            assert all(t.grad is None for t in cand.parameters()), (p, j)
            assert all(torch.equal(tensors[n], before[(p, i, j)][n]) for n in tensors), (p, j)
        else:
            moved += any(not torch.equal(tensors[n], before[(p, i, j)][n]) for n in tensors)
    # every chosen candidate, at every instance of its position (all have weights here)
    assert moved == sum(len(ops) for ops in supernet.mixed) > len(path)


def test_a_child_inherits_the_supernets_weights_bit_for_bit():
    supernet = tiny_supernet()
    x, y = data(32)
    trainer = sp.SinglePathTrainer(supernet, nt.TrainConfig(2, 16, 0.1), len(y),
                                   torch.Generator().manual_seed(0))
    sample = sp.uniform_sampler(supernet, torch.Generator().manual_seed(0))
    for _ in range(2):
        trainer.epoch(x, y, sample)
    compared = 0
    for row in ([3, 2, 3, 2, 3, 2], [2, 3, 0, 3, 1, 3], [4, 3, 2, 1, 0, 3]):
        arch = SPACE.decode(row)
        child = supernet.child(arch)
        chosen = supernet.indices(arch)
        for name, module in supernet.net.named_modules():
            if not isinstance(module, MixedOp):
                continue
            mine = module.candidates[chosen[module.position]].state_dict()
            theirs = child.get_submodule(name).state_dict()
            if not theirs:  # an NB201 edge that cannot reach the output is built as `none`
                continue
            for key, value in mine.items():
                assert torch.equal(theirs[key], value), (name, key)
                compared += 1
        for key, value in child.state_dict().items():  # stem, reductions, head: as they are
            if key in supernet.net.state_dict():
                assert torch.equal(value, supernet.net.state_dict()[key]), key
    assert compared > 0


def test_bn_recalibration_changes_statistics_not_weights():
    supernet = tiny_supernet()
    x, _ = data(32)
    arch = SPACE.sample(np.random.default_rng(2))
    weights = {n: p.detach().clone() for n, p in supernet.named_parameters()}
    stats = {n: b.clone() for n, b in supernet.named_buffers() if "running_mean" in n}
    sp.recalibrate_path(supernet, arch, [x[:16], x[16:]])
    assert all(torch.equal(p, weights[n]) for n, p in supernet.named_parameters())
    changed = [n for n, b in supernet.named_buffers()
               if "running_mean" in n and not torch.equal(b, stats[n])]
    assert changed  # the path's BatchNorm statistics were re-estimated


def test_inherited_accuracy_is_the_childs_after_the_same_recalibration():
    supernet = tiny_supernet()
    x, y = data(64)
    calib = [x[:16], x[16:32]]
    for arch in (SPACE.sample(np.random.default_rng(k)) for k in range(3)):
        child = supernet.child(arch)
        recalibrate_batchnorm(child, calib)
        expected = nt.evaluate_accuracy(child, x[32:], y[32:])
        assert sp.inherited_accuracy(supernet, arch, calib, x[32:], y[32:]) == expected


# -- the estimator ----------------------------------------------------------------------------
def shared_estimator(**options):
    opts = {"epochs": 1, "train_subset": 64, "batch_size": 32, "bn_batches": 2, "threads": 1}
    return ESTIMATORS.get("shared")(SPACE, "digits", 0, **{**opts, **options})


def test_the_estimator_trains_once_then_only_reads_inherited_weights(monkeypatch):
    calls = []
    train = sp.train_uniform

    def counting(*args, **kwargs):
        calls.append(1)
        return train(*args, **kwargs)

    monkeypatch.setattr(sp, "train_uniform", counting)
    estimator = shared_estimator()
    rng = np.random.default_rng(0)
    archs = [SPACE.sample(rng) for _ in range(3)]
    first = [estimator.estimate(a) for a in archs]
    supernet, calib = estimator._trained
    weights = {n: p.detach().clone() for n, p in supernet.named_parameters()}
    second = [estimator.estimate(a) for a in reversed(archs)]
    assert len(calls) == 1  # the supernet is trained on first use only
    assert all(torch.equal(p, weights[n]) for n, p in supernet.named_parameters())
    assert [e.accuracy for e in first] == [e.accuracy for e in reversed(second)]
    assert first[0].extra["inherited"] is True and first[0].epochs == 0
    assert first[0].extra["supernet_epochs"] == 1 and first[0].extra["bn_batches"] == 2
    # the estimate is the inherited-weight accuracy on the run's validation split
    _, _, val_x, val_y = estimator._data(estimator.options)
    assert first[1].accuracy == sp.inherited_accuracy(supernet, archs[1], calib, val_x, val_y)


def test_the_estimator_refuses_a_space_without_positions(monkeypatch):
    space = ProxylessSpace(resolution=8)

    def no_positions():
        raise NotImplementedError

    monkeypatch.setattr(space, "positions", no_positions)
    with pytest.raises(BadInputError, match="needs a space with positions"):
        ESTIMATORS.get("shared")(space, "digits", 0)


def test_hwnas_search_random_with_the_shared_estimator(tmp_path, capsys):
    """Weight-sharing random search from the command line: every candidate scored with
    inherited weights, the history readable by `hwnas pareto`."""
    from hwnas.cli import app
    from hwnas.cli.errors import run_app
    from hwnas.runs import RunDir

    run = tmp_path / "run"
    args = ["search", "--space", "nb201", "--space-opt", "C=4", "--space-opt", "N=1",
            "--space-opt", "resolution=8", "--method", "random", "--estimator", "shared",
            "--objectives", "accuracy,params", "--budget", "3", "--run-dir", str(run)]
    for option in ("epochs=1", "train_subset=96", "threads=1"):
        args += ["--estimator-opt", option]
    assert run_app(app, args) == 0, capsys.readouterr().err
    records = RunDir(run).history()
    assert len(records) == 3 and {r["estimator"] for r in records} == {"shared"}
    capsys.readouterr()
    assert run_app(app, ["pareto", str(run)]) == 0
    assert "front" in capsys.readouterr().out
