"""ScheduledDropPath (hwnas.nn.drop_path): whole samples dropped at rate p and rescaled in
training only, p rising linearly over the training steps, the points the NASNet cell places,
an export without random ops, and the `scratch` estimator's `drop_path` option."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.estimators.scratch import ScratchEstimator
from hwnas.nn import train as nt
from hwnas.nn.drop_path import DropPath, DropPathSchedule, drop_path_points, install
from hwnas.nn.onnx_io import module_to_onnx
from hwnas.spaces.nasnet import NasnetSpace
from hwnas.spaces.proxyless import ProxylessSpace

SMALL = NasnetSpace(**NasnetSpace.small_options)


def test_training_mode_drops_whole_samples_at_rate_p_and_keeps_the_expectation():
    torch.manual_seed(0)
    x = torch.rand(20_000, 3, 2, 2) + 0.5
    y = DropPath(0.3).train()(x)
    ratio = (y / x).flatten(1)
    dropped = (ratio == 0).all(1)
    kept = torch.isclose(ratio, torch.full_like(ratio, 1 / 0.7)).all(1)
    assert bool((dropped | kept).all())  # a sample is dropped whole or kept whole, scaled
    assert abs(float(dropped.float().mean()) - 0.3) < 0.015  # 0.3 +- 4.6 sigma
    assert abs(float(y.mean() / x.mean()) - 1.0) < 0.02  # E[y] = x


def test_eval_mode_and_rate_zero_are_the_identity():
    x = torch.randn(64, 4, 3, 3)
    assert DropPath(0.5).eval()(x) is x
    assert DropPath(0.0).train()(x) is x


def test_schedule_rises_linearly_from_zero_to_the_final_rate_over_the_training_steps():
    """Through the training loop: the rate each step's forward sees is final * step / total."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), DropPath(), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3))
    seen: list[float] = []
    model[1].register_forward_pre_hook(lambda m, _args: seen.append(m.p))
    x, y = torch.randn(40, 1, 4, 4), torch.arange(40) % 3
    config = nt.TrainConfig(epochs=2, batch_size=8, lr=0.01)
    schedule = DropPathSchedule(model, 0.4)
    nt.train(model, x, y, config, torch.Generator().manual_seed(0), on_step=schedule)
    total = 2 * 5
    assert np.allclose(seen, [0.4 * s / total for s in range(total)])
    assert schedule.rate(total, total) == pytest.approx(0.4)
    schedule.off()
    assert model[1].p == 0.0


def test_schedule_refuses_a_network_without_points_and_a_rate_of_one():
    with pytest.raises(ValueError, match="no drop-path points"):
        DropPathSchedule(nn.Sequential(nn.Linear(2, 2)), 0.2)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        DropPathSchedule(nn.Sequential(DropPath()), 1.0)


def _arch(ops: tuple[str, str, str, str]) -> Arch:
    values = {}
    for kind in ("normal", "reduce"):
        values.update({f"{kind}.b0.in0": 0, f"{kind}.b0.op0": ops[0],
                       f"{kind}.b0.in1": 1, f"{kind}.b0.op1": ops[1], f"{kind}.b0.combine": "add",
                       f"{kind}.b1.in0": 2, f"{kind}.b1.op0": ops[2],
                       f"{kind}.b1.in1": 1, f"{kind}.b1.op1": ops[3],
                       f"{kind}.b1.combine": "concat"})
    return SMALL.check(Arch("nasnet", values))


def test_nasnet_drops_each_non_identity_op_of_a_block_and_never_an_identity():
    """A path through an identity is never dropped (it has nothing to regularise); a path
    through an op is dropped for whole samples."""
    arch = _arch(("identity", "conv_3x3", "sep_conv_3x3", "identity"))
    model = SMALL.build(arch).train()
    for point in install(model):
        point.p = 0.999  # every sample of every op path dropped (kept ones scaled by 1000)
    block0 = model.cells[0].blocks[0]
    store = {}
    block0.combine.register_forward_hook(lambda m, args, out: store.update(paths=args[0]))
    x = torch.randn(4, *SMALL.input_shape)
    torch.manual_seed(1)
    model(x)
    identity_path, conv_path = store["paths"]
    pre0 = model.cells[0].pre0
    assert torch.equal(identity_path, pre0(model.stem(x)))  # undropped, unscaled
    assert (conv_path.flatten(1).abs().sum(1) == 0).sum() >= 3  # whole samples zeroed


def test_points_are_identities_until_a_training_installs_drop_path():
    """The cell marks a point per path of every block; installing replaces them in place
    without changing the weights, and a network without points gets none."""
    arch = SMALL.sample(np.random.default_rng(0))
    torch.manual_seed(0)
    model = SMALL.build(arch)
    marks = drop_path_points(model)
    assert len(marks) == 2 * SMALL.B * len(SMALL.cells())  # one per path of every block
    assert not any(isinstance(m, DropPath) for m in marks)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    installed = install(model)
    assert len(installed) == len(marks) and install(model) == installed  # idempotent
    assert drop_path_points(model) == installed
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    chain = ProxylessSpace(**ProxylessSpace.small_options)
    assert install(chain.build(chain.default_arch())) == []


def test_exported_network_has_no_random_ops():
    arch = SMALL.sample(np.random.default_rng(0))
    model = SMALL.build(arch)
    points = install(model)
    assert len(points) == 2 * SMALL.B * len(SMALL.cells())
    for point in points:
        point.p = 0.3
    graph = onnx.load_from_string(module_to_onnx(model, (1, *SMALL.input_shape))).graph
    kinds = {node.op_type for node in graph.node}
    assert "Conv" in kinds
    assert not {k for k in kinds if "Random" in k or k in ("Bernoulli", "Dropout")}


def test_scratch_estimator_applies_drop_path_to_cell_spaces_and_refuses_it_elsewhere():
    with pytest.raises(BadInputError, match="drop_path needs a space whose networks have "
                                            "drop-path points"):
        ScratchEstimator(ProxylessSpace(**ProxylessSpace.small_options), drop_path=0.2)
    arch = _arch(("conv_3x3", "sep_conv_3x3", "max_pool_3x3", "conv_1x1"))
    common = {"epochs": 1, "train_subset": 128, "threads": 1}
    plain = ScratchEstimator(SMALL, **common).estimate(arch)
    dropped = ScratchEstimator(SMALL, drop_path=0.5, **common).estimate(arch)
    again = ScratchEstimator(SMALL, drop_path=0.5, **common).estimate(arch)
    assert dropped.extra["train_loss"] != plain.extra["train_loss"]  # it took effect
    assert (dropped.accuracy, dropped.extra["train_loss"]) == (
        again.accuracy, again.extra["train_loss"])  # and repeats under the seed
