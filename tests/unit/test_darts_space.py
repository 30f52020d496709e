"""The DARTS cell space (hwnas/spaces/darts.py): its genotype, its supernet's 28 candidate edges,
the paper's derivation rule between them, and costs that add up per edge."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from hwnas.errors import BadInputError
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.supernet import Supernet
from hwnas.registry import SPACES
from hwnas.spaces.darts import EDGE_LABELS, GENOTYPE_OPS, OPS, DartsSpace
from tests.unit.test_oneshot_supernet import synthetic_table

SMALL = DartsSpace.small_options
# DARTS (second order) on CIFAR-10, the paper's cells, as its genotype lists them
DARTS_V2_NORMAL = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0),
                   ("sep_conv_3x3", 1), ("sep_conv_3x3", 1), ("skip_connect", 0),
                   ("skip_connect", 0), ("dil_conv_3x3", 2)]
DARTS_V2_REDUCE = [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2),
                   ("max_pool_3x3", 1), ("max_pool_3x3", 0), ("skip_connect", 2),
                   ("skip_connect", 2), ("max_pool_3x3", 1)]


def one_hot(space, values):
    return [[float(o == v) for o in p.options] for p, v in zip(space.positions(), values,
                                                               strict=True)]


def keys(sigs) -> Counter:
    return Counter(sig.key for sig in sigs)


def test_registered_with_the_papers_defaults_and_size():
    space = SPACES.get("darts")()
    assert space.config() == {"C": 16, "layers": 8, "resolution": 32, "num_classes": 10,
                              "in_channels": 3}
    # (Π_j C(j+2, 2) · 7²)² = (180 · 7^8)²: the paper's "about 10^18"
    assert space.size() == (1 * 3 * 6 * 10 * 7 ** 8) ** 2
    assert not space.positions_are_choices and space.positions_add_up and not space.is_chain
    # the search network's layout: reductions at cells 2 and 5, channels doubling there
    assert [(p.reduction, p.c, p.hw) for p in space.cells()] == [
        (False, 16, 32), (False, 16, 32), (True, 32, 32), (False, 32, 16), (False, 32, 16),
        (True, 64, 16), (False, 64, 8), (False, 64, 8)]
    assert space.stem_sig().key == "darts_stem|cin=3|cout=48|hw=32|k=3|s=1"
    assert space.head_sig().key == "darts_head|cin=256|cout=256|hw=8|s=1|n=10"


def test_odd_channels_and_resolutions_the_reductions_cannot_halve_are_refused():
    with pytest.raises(BadInputError, match="'C' option of search space 'darts' must be an even"):
        DartsSpace(C=5)
    with pytest.raises(BadInputError, match="'resolution' option .* must be a multiple of 4"):
        DartsSpace(resolution=30)


def test_a_papers_genotype_reads_in_and_prints_as_its_cells():
    space = DartsSpace(**SMALL)
    arch = space.from_genotype(DARTS_V2_NORMAL, DARTS_V2_REDUCE)
    assert space.compact(arch) == "c0c1 c0c1 s0c1 s0d2 / m0m1 m1s2 m0s2 m1s2"
    assert arch.values["normal.n3.inputs"] == "0+2"
    assert (arch.values["normal.n3.op0"], arch.values["normal.n3.op1"]) == (
        "skip_connect", "dil_conv_3x3")
    genotype = space.genotype(arch)
    assert sorted(genotype["normal"][4:6]) == sorted(DARTS_V2_NORMAL[4:6])
    with pytest.raises(BadInputError, match="closest: 'sep_conv_3x3'"):
        space.from_genotype([("sep_conv3x3", 0)] + DARTS_V2_NORMAL[1:], DARTS_V2_REDUCE)
    with pytest.raises(BadInputError, match="not two distinct inputs"):
        space.from_genotype([("sep_conv_3x3", 1)] + DARTS_V2_NORMAL[1:], DARTS_V2_REDUCE)


def test_derivation_keeps_the_two_strongest_real_edges_even_where_none_dominates():
    space = DartsSpace(**SMALL)
    rng = np.random.default_rng(0)
    # `none` strongest on every edge, every other op weak: a supernet collapsed to `none`
    weights = {label: np.concatenate([[0.9], rng.uniform(0.0, 0.05, 7)])
               for label in EDGE_LABELS}
    # normal node 2 (sources 0..3): the strongest real ops are on sources 3 and 0
    weights["normal.n2.e3"][OPS.index("dil_conv_5x5")] = 0.30
    weights["normal.n2.e0"][OPS.index("skip_connect")] = 0.20
    weights["normal.n2.e2"][OPS.index("sep_conv_3x3")] = 0.15
    weights["normal.n2.e1"][OPS.index("max_pool_3x3")] = 0.10
    arch = space.arch_from_positions([torch.tensor(weights[label]) for label in EDGE_LABELS])
    assert arch.values["normal.n2.inputs"] == "0+3"
    assert arch.values["normal.n2.op0"] == "skip_connect"
    assert arch.values["normal.n2.op1"] == "dil_conv_5x5"
    values = space.position_values(arch)
    for t in ("normal", "reduce"):
        for j in range(4):
            kept = [v for label, v in zip(EDGE_LABELS, values, strict=True)
                    if label.startswith(f"{t}.n{j}.")]
            assert sum(v != "none" for v in kept) == 2  # two real edges per node, never `none`
            # each kept edge carries its strongest op other than `none`
            for s, v in enumerate(kept):
                if v != "none":
                    w = weights[f"{t}.n{j}.e{s}"]
                    assert v == OPS[1 + int(np.argmax(w[1:]))]


def test_ties_go_to_the_earlier_edge_and_op_as_in_the_papers_code():
    space = DartsSpace(**SMALL)
    arch = space.arch_from_positions([[1.0 / len(OPS)] * len(OPS)] * len(EDGE_LABELS))
    for t in ("normal", "reduce"):
        for j in range(4):
            assert arch.values[f"{t}.n{j}.inputs"] == "0+1"
            assert arch.values[f"{t}.n{j}.op0"] == arch.values[f"{t}.n{j}.op1"] == "max_pool_3x3"


def test_position_values_round_trip_through_the_derivation_under_noise():
    space = DartsSpace(**SMALL)
    rng = np.random.default_rng(1)
    for _ in range(30):
        arch = space.sample(rng)
        values = space.position_values(arch)
        assert sum(v != "none" for v in values) == 16  # 8 kept edges per cell type
        exact = one_hot(space, values)
        assert space.arch_from_positions(exact) == arch
        # a kept edge at 1, the rest below 0.4: the same genotype (unkept edges' 1 is `none`)
        noisy = [torch.tensor(np.array(w) + rng.uniform(0, 0.4, len(w))) for w in exact]
        assert space.arch_from_positions(noisy) == arch
    with pytest.raises(ValueError, match="finite"):
        space.arch_from_positions([[float("nan")] * len(OPS)] * len(EDGE_LABELS))


def test_ops_are_fixed_ops_plus_the_kept_edges():
    space = DartsSpace(C=4, layers=5, resolution=16)
    rng = np.random.default_rng(2)
    positions = space.positions()
    for _ in range(30):
        arch = space.sample(rng)
        expected = keys(space.fixed_ops())
        for position, value in zip(positions, space.position_values(arch), strict=True):
            expected += keys(position.ops[value])
        sigs = space.ops(arch)
        assert keys(sigs) == expected
        # one 2-input sum per node and one concatenation per cell, whatever the genotype
        assert Counter(s.op for s in sigs)["darts_sum"] == 4 * space.layers
        assert Counter(s.op for s in sigs)["darts_concat"] == space.layers
    assert {s.key for s in space.all_ops()} >= {
        s.key for p in positions for sigs in p.ops.values() for s in sigs}


def test_reduction_edges_from_the_cell_inputs_have_stride_two():
    space = DartsSpace(**SMALL)
    for position in space.positions():
        cell_type, _node, edge = position.label.split(".")
        source = int(edge[1:])
        want = 2 if cell_type == "reduce" and source < 2 else 1
        for op in GENOTYPE_OPS:
            sigs = position.ops[op]
            if op == "skip_connect" and want == 1:
                assert sigs == ()  # an identity runs nothing
                continue
            assert sigs and {s.stride for s in sigs} == {want}, (position.label, op)
            if op == "skip_connect":
                assert {s.op for s in sigs} == {"darts_fact_reduce"}
            module = space.option_module(position, op, 0).eval()
            x = torch.randn(1, sigs[0].cin, sigs[0].h, sigs[0].w)
            assert module(x).shape[-1] == sigs[0].h // want
        # `none` keeps the candidates' shapes agreeing in a supernet
        zero = space.option_module(position, "none", 0)
        assert zero(torch.ones(1, 4, 8, 8)).shape[-1] == 8 // want


def test_built_network_holds_its_ops_modules_and_ends_in_the_classes():
    space = DartsSpace(C=4, layers=4, resolution=8, num_classes=7, in_channels=1)
    arch = space.from_genotype(DARTS_V2_NORMAL, DARTS_V2_REDUCE)
    model = space.build(arch).eval()
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 7)
    # DARTS_V2's reduction cell: 5 max pools, each on a cell input (stride 2), and skips only
    # from node 0 (identities); a FactorizedReduce only where c_{k-2} is twice as large
    assert space.reduction_cells() == (1, 2)
    for i in (1, 2):
        cell = model.cells[i]
        pools = [m for m in cell.modules() if isinstance(m, torch.nn.MaxPool2d)]
        assert len(pools) == 5 and {p.stride for p in pools} == {2}
        reduces = [m for m in cell.modules() if type(m).__name__ == "FactorizedReduce"]
        assert reduces == ([cell.pre0] if i == 2 else [])
    n_params = sum(p.numel() for p in model.parameters())
    n_ops = sum(p.numel() for s in space.ops(arch) for p in space.build_op(s).parameters())
    assert n_params == n_ops


def test_a_supernet_child_is_the_built_genotype_with_the_supernets_weights():
    space = DartsSpace(**SMALL)
    torch.manual_seed(0)
    supernet = Supernet(space)
    with torch.no_grad():  # weights far from their initial values, so a mix-up would show
        for p in supernet.weight_parameters():
            p.normal_(0, 0.5)
    x = torch.randn(4, *space.input_shape)
    supernet.train()
    supernet.set_weights([p.detach() for p in supernet.probs()])
    with torch.no_grad():
        supernet(x)  # BatchNorm statistics moved off their defaults, on every candidate
    supernet.eval()
    rng = np.random.default_rng(4)
    outputs = []
    for _ in range(3):
        arch = space.sample(rng)
        state = supernet.child_state_dict(arch)
        model = space.build(arch)
        assert set(state) == set(model.state_dict())  # one to one
        model.load_state_dict(state)
        supernet.set_arch(arch)
        with torch.no_grad():
            want = supernet(x)
            got = model.eval()(x)
        assert torch.allclose(got, want, atol=1e-5)
        outputs.append(got)
    assert not torch.allclose(outputs[0], outputs[1])  # different genotypes differ


def test_expected_latency_of_a_genotype_is_the_tables_prediction():
    space = DartsSpace(**SMALL)
    table = synthetic_table(space)
    cost = ExpectedCost(space, table)
    assert cost.additive
    rng = np.random.default_rng(5)
    values = []
    for _ in range(10):
        arch = space.sample(rng)
        expected = float(cost(cost.one_hot(arch)))
        assert expected == pytest.approx(cost.of_arch(arch), rel=1e-12)
        assert expected == pytest.approx(table.predict_ops(space.ops(arch)), rel=1e-9)
        values.append(expected)
    assert len(set(np.round(values, 9))) > 1
    # linear in each edge's probabilities: a half-half mix of two genotypes costs their mean,
    # though it weighs up to 16 edges of a cell type where each genotype keeps 8
    a, b = space.sample(rng), space.sample(rng)
    mix = [(p + q) / 2 for p, q in zip(cost.one_hot(a), cost.one_hot(b), strict=True)]
    assert sum(int((m[1:] > 0).sum()) for m in mix) > 16
    assert float(cost(mix)) == pytest.approx((cost.of_arch(a) + cost.of_arch(b)) / 2)
