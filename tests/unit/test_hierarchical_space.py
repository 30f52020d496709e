"""The hierarchical space (Liu et al., ICLR 2018): motifs assembled recursively, depth-wise
concatenation merges, dead nodes neither built nor priced, a supernet from the same skeleton."""

from collections import Counter

import numpy as np
import pytest
import torch

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.objectives import parse_objectives
from hwnas.registry import SPACES
from hwnas.spaces.hierarchical import PRIMITIVES, HierarchicalSpace, edge_pairs
from hwnas.spaces.modules.hier_motifs import ConcatMerge, Motif, SepConvBNReLU, Zero

# 2 motifs of 3 nodes, a cell of 4 nodes: every edge can be written out by hand
SMALL = dict(C=4, N=1, resolution=8, motifs=2, motif_nodes=3, cell_nodes=4)


def make(space: HierarchicalSpace, **values) -> Arch:
    """Every edge `none` but those given (`m2_0__e01="conv_1x1"`, `m3__e03=0`)."""
    given = {k.replace("__", "."): v for k, v in values.items()}
    arch = {label: given.pop(label, "none") for label, _ in space.choices()}
    assert not given, f"not labels of the space: {sorted(given)}"
    return Arch("hierarchical", arch)


def primitive_count(space: HierarchicalSpace, sigs, primitive: str) -> int:
    """How many times `primitive` runs in `sigs`, the fixed ops left out (the last separable
    convolution has a primitive's shape)."""
    keys = {space.primitive_sig(primitive, c, hw).key for c, hw in space.stages()}
    cells = Counter(s.key for s in sigs) - Counter(s.key for s in space.fixed_ops())
    return sum(n for key, n in cells.items() if key in keys)


def reaches(values: dict, labels: list[str], nodes: int, live_value) -> set:
    """Edges on some path from node 0 to the last node, by enumerating paths (independent of
    the space's forward/backward reachability)."""
    by_edge = dict(zip(edge_pairs(nodes), labels, strict=True))
    on = {e for e, label in by_edge.items() if live_value(values[label])}
    found: set = set()

    def walk(node: int, path: list):
        if node == nodes - 1:
            found.update(path)
            return
        for j in range(node + 1, nodes):
            if (node, j) in on:
                walk(j, [*path, (node, j)])

    walk(0, [])
    return found


def test_labels_options_and_paper_defaults():
    space = HierarchicalSpace()
    assert (space.motifs, space.motif_nodes, space.cell_nodes, space.C, space.N) == (6, 4, 5, 16, 1)
    choices = dict(space.choices())
    assert len(choices) == 6 * 6 + 10
    assert choices["m2_5.e23"] == (*PRIMITIVES, "none") and len(PRIMITIVES) == 6
    assert choices["m3.e34"] == (0, 1, 2, 3, 4, 5, "none")
    assert space.size() == 7 ** 46


def test_a_primitive_counts_once_per_level3_edge_using_its_motif():
    """ops(arch) expands each motif where the cell uses it: a primitive's count is, per cell,
    the sum over the live level-3 edges of its count in the motif they name (paths found here
    by enumeration, not by the space's own liveness)."""
    space = HierarchicalSpace()  # the paper's sizes
    rng = np.random.default_rng(0)
    nonzero = 0
    for _ in range(30):
        arch = space.sample(rng)
        values = arch.values
        motif_live = [reaches(values, space.motif_labels(k), space.motif_nodes,
                              lambda v: v != "none") for k in range(space.motifs)]
        cell_live = reaches(values, space.cell_labels(), space.cell_nodes,
                            lambda v, live=motif_live: v != "none" and bool(live[v]))
        by_edge = dict(zip(edge_pairs(space.cell_nodes), space.cell_labels(), strict=True))
        # the convolutions: each has its own weights, so none is a twin of another (pools are:
        # test_a_pool_twice_of_one_tensor_runs_once_in_ops_torch_and_onnx)
        for primitive in ("conv_1x1", "dwconv_3x3", "sepconv_3x3"):
            per_motif = [sum(values[label] == primitive for e, label in
                             zip(edge_pairs(space.motif_nodes), space.motif_labels(k),
                                 strict=True) if e in motif_live[k])
                         for k in range(space.motifs)]
            expected = 3 * sum(per_motif[values[by_edge[e]]] for e in cell_live)
            assert primitive_count(space, space.ops(arch), primitive) == expected
            nonzero += expected > 0
    assert nonzero > 20  # the samples did run primitives


def test_changing_a_motif_edge_changes_every_cell_edge_that_uses_it():
    space = HierarchicalSpace(**SMALL)
    # motif 0: x -> 1x1 conv -> identity; motif 1: max pool. Cell: motif 0 on edges 0->1,
    # 1->3 and 0->2 -> 2->3 is motif 1, so node 3 merges two inputs.
    base = dict(m2_0__e01="conv_1x1", m2_0__e12="identity", m2_1__e02="max_pool_3x3",
                m3__e01=0, m3__e13=0, m3__e02=0, m3__e23=1)
    before = make(space, **base)
    after = make(space, **{**base, "m2_0__e01": "sepconv_3x3"})
    ops_before, ops_after = space.ops(before), space.ops(after)
    assert primitive_count(space, ops_before, "conv_1x1") == 3 * 3  # 3 cells x 3 uses of motif 0
    assert primitive_count(space, ops_after, "conv_1x1") == 0
    assert primitive_count(space, ops_after, "sepconv_3x3") == 3 * 3
    assert primitive_count(space, ops_after, "max_pool_3x3") == 3  # motif 1 untouched
    # the one label rewired the modules of every cell edge naming motif 0, and only those
    for arch, kind in ((before, torch.nn.Conv2d), (after, SepConvBNReLU)):
        net = space.build(arch)
        for cell in (net.cells[0], net.cells[2], net.cells[4]):  # reductions in between
            for edge in ("e0_1", "e1_3", "e0_2"):
                first = cell.parts[edge].parts["e0_1"]
                assert isinstance(first if kind is SepConvBNReLU else first[0], kind)
            assert isinstance(cell.parts["e2_3"].parts["e0_2"], torch.nn.MaxPool2d)
    # and the network computes something else
    torch.manual_seed(0)
    x = torch.randn(2, *space.input_shape)
    torch.manual_seed(1)
    y0 = space.build(before).eval()(x)
    torch.manual_seed(1)
    y1 = space.build(after).eval()(x)
    assert not torch.allclose(y0, y1)


def test_a_node_with_three_inputs_concatenates_them_then_projects_to_c():
    space = HierarchicalSpace(**SMALL)
    arch = make(space, m2_0__e02="conv_1x1", m2_1__e01="avg_pool_3x3", m2_1__e12="identity",
                m3__e03=0, m3__e13=1, m3__e23=0, m3__e01=1, m3__e12=0)
    merges = [s for s in space.ops(arch) if s.op == "concat_merge"]
    # per cell: node 3 joins 3 inputs; stages of 4, 8 and 16 channels
    assert [(dict(s.extra)["inputs"], s.cin, s.h) for s in merges] == [
        ("3", 4, 8), ("3", 8, 4), ("3", 16, 2)]
    net = space.build(arch)
    merge = net.cells[2].parts["m3"]  # the second stage's cell
    assert isinstance(merge, ConcatMerge) and merge.inputs == 3
    conv = merge.project[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (3 * 8, 8, (1, 1))
    seen = []
    merge.register_forward_pre_hook(lambda m, args: seen.append([t.shape for t in args[0]]))
    net.eval()(torch.randn(1, *space.input_shape))
    assert seen == [[torch.Size([1, 8, 4, 4])] * 3]
    # profiled alone, the merge is fed copies of one C-channel tensor
    alone = space.build_op(merges[1]).eval()
    assert alone(torch.randn(1, 8, 4, 4)).shape == (1, 8, 4, 4)


def test_dead_nodes_and_pathless_motifs_are_neither_built_nor_priced():
    space = HierarchicalSpace(**SMALL)
    # motif 0: node 1 gets a 1x1 conv but leads nowhere (e12 none): dead; output = sepconv(x).
    # motif 1 has no path (only e01). Cell: edge 0->1 names motif 1 (no edge), so node 1 is
    # fed by nothing and its edge 1->3 is dead too; node 2 leads nowhere.
    arch = make(space, m2_0__e01="conv_1x1", m2_0__e02="sepconv_3x3", m2_1__e01="max_pool_3x3",
                m3__e01=1, m3__e13=0, m3__e02=0, m3__e03=0)
    sigs = space.ops(arch)
    assert primitive_count(space, sigs, "conv_1x1") == 0
    assert primitive_count(space, sigs, "max_pool_3x3") == 0
    assert primitive_count(space, sigs, "sepconv_3x3") == 3  # the one live edge 0->3, per cell
    assert not [s for s in sigs if s.op in ("concat_merge", "zero")]
    net = space.build(arch)
    cell = net.cells[0]
    assert all(isinstance(cell.parts[e], Zero) for e in ("e0_1", "e1_3", "e0_2", "e1_2"))
    assert isinstance(cell.parts["e0_3"], Motif)
    assert isinstance(cell.parts["e0_3"].parts["e0_1"], Zero)  # the dead conv is not built
    built = sum(p.numel() for p in net.parameters())
    assert built == sum(p.numel() for s in sigs for p in space.build_op(s).parameters())
    # dead labels do not change the network's key; a live one does
    twin = make(space, m2_0__e01="dwconv_3x3", m2_0__e02="sepconv_3x3", m2_1__e01="identity",
                m3__e01=1, m3__e13=1, m3__e02=0, m3__e03=0, m2_1__e12="none")
    assert space.network_key(twin) == space.network_key(arch)
    other = make(space, m2_0__e02="conv_1x1", m3__e03=0)
    assert space.network_key(other) != space.network_key(arch)


def test_a_cell_whose_output_gets_nothing_is_zero_and_still_runs():
    space = HierarchicalSpace(**SMALL)
    arch = make(space, m2_0__e01="conv_1x1", m3__e03=0)  # motif 0 has no path
    sigs = space.ops(arch)
    assert [s.op for s in sigs].count("zero") == 3
    assert not [s for s in sigs if s.op == "conv_bn_relu" and s.kernel == 1]
    net = space.build(arch).eval()
    a, b = (net(torch.randn(1, *space.input_shape)) for _ in range(2))
    assert torch.isfinite(a).all() and torch.allclose(a, b)  # the input no longer matters


def test_modules_are_made_in_the_order_of_ops_at_the_papers_sizes():
    space = HierarchicalSpace(resolution=8, C=4)
    arch = space.sample(np.random.default_rng(3))
    torch.manual_seed(0)
    whole = list(space.build(arch).parameters())
    torch.manual_seed(0)
    parts = [p for sig in space.ops(arch) for p in space.build_op(sig).parameters()]
    assert len(whole) == len(parts) > 100
    assert all(torch.equal(a, b) for a, b in zip(whole, parts, strict=True))


def test_all_ops_covers_every_op_of_sampled_archs():
    space = HierarchicalSpace(resolution=8)
    profiled = {s.key for s in space.all_ops()}
    rng = np.random.default_rng(1)
    sampled = [s for _ in range(40) for s in space.ops(space.sample(rng))]
    assert {s.key for s in sampled} <= profiled
    assert {"concat_merge", "max_pool", "avg_pool", "dwconv_bn_relu"} <= {s.op for s in sampled}
    merges = {dict(s.extra)["inputs"] for s in space.all_ops() if s.op == "concat_merge"}
    assert merges == {"2", "3", "4"}  # a cell node has up to 4 inputs


def test_a_supernet_nests_every_motif_in_every_level3_edge():
    from hwnas.oneshot.expected_cost import ExpectedCost
    from hwnas.oneshot.supernet import MixedOp, Supernet

    space = HierarchicalSpace(**SMALL)
    supernet = Supernet(space)
    positions = space.positions()
    level3 = len(edge_pairs(4))
    for p, ops in zip(positions, supernet.mixed, strict=True):
        if p.label.startswith("m2_"):
            # motif k sits in every level-3 edge of every cell: one mixed op per place
            assert len(ops) == 3 * level3 == len(p.ops["conv_1x1"])
        else:
            assert len(ops) == 3
            assert [type(c).__name__ for c in ops[0].candidates] == ["Motif", "Motif", "Zero"]
            inner = ops[0].candidates[1].parts["e0_1"]
            assert isinstance(inner, MixedOp) and inner.position == 3  # m2_1.e01
    supernet.set_weights(supernet.probs())
    supernet(torch.randn(2, *space.input_shape)).sum().backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in supernet.alphas)
    # 7^6 x 3^6 architectures: too many for the exact expected cost, refused in one line
    with pytest.raises(BadInputError, match="85,766,121 architectures"):
        ExpectedCost(space, None)


def test_evolution_mutates_one_edge_of_one_motif():
    from hwnas.strategies.evolution import AgingEvolution

    space = HierarchicalSpace()
    evolution = AgingEvolution(space, parse_objectives("accuracy,latency_ms"), seed=0)
    parent = space.sample(np.random.default_rng(2))
    levels = Counter()
    for _ in range(200):
        child = evolution.mutate(parent)
        (changed,) = [k for k in parent.values if parent.values[k] != child.values[k]]
        space.check(child)
        levels[changed.split(".")[0][:2]] += 1
    assert set(levels) == {"m2", "m3"}


def test_compact_and_refusals():
    space = HierarchicalSpace(**SMALL)
    arch = make(space, m2_0__e01="conv_1x1", m2_0__e12="identity", m2_1__e02="max_pool_3x3",
                m3__e01=0, m3__e13=0, m3__e02=0, m3__e23=1)
    assert space.compact(arch) == "1|-i -|m- : 0|0-|-01"
    with pytest.raises(BadInputError, match="m3.e01=7 is not a choice"):
        space.check(Arch("hierarchical", {**arch.values, "m3.e01": 7}))
    with pytest.raises(BadInputError, match="'motifs' option .* must be"):
        SPACES.get("hierarchical")(motifs=17)


def test_a_pool_twice_of_one_tensor_runs_once_in_ops_torch_and_onnx():
    """ONNX export merges twin pools; the space lists, and torch computes, each once per cell."""
    import onnx

    from hwnas.nn.onnx_io import module_to_onnx

    space = HierarchicalSpace(**SMALL)
    # motif 0: node 1 = maxpool(x), node 2 = merge(maxpool(x), node 1): one max pool.
    # motif 1: avg pool of its input. The cell puts motif 1 on 0->1 and 0->2 (the same avg
    # pool of x twice), motif 0 on 1->3 (max pool of that avg pool) and 2->3 (the same again).
    arch = make(space, m2_0__e01="max_pool_3x3", m2_0__e02="max_pool_3x3",
                m2_0__e12="identity", m2_1__e02="avg_pool_3x3",
                m3__e01=1, m3__e02=1, m3__e13=0, m3__e23=0)
    sigs = space.ops(arch)
    assert primitive_count(space, sigs, "max_pool_3x3") == 3  # one per cell
    assert [s.op for s in sigs].count("avg_pool") == 3
    merges = [dict(s.extra)["inputs"] for s in sigs if s.op == "concat_merge"]
    # motif 0's node 2 at each of its two places (weights of their own), the cell's node 3
    assert merges == ["2", "2", "2"] * 3
    net = space.build(arch).eval()
    calls = Counter()
    for module in net.modules():
        if isinstance(module, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)):
            module.register_forward_hook(lambda m, i, o: calls.update([type(m).__name__]))
    x = torch.randn(1, *space.input_shape)
    with torch.inference_mode():
        net(x)
    assert calls == {"MaxPool2d": 3, "AvgPool2d": 3}
    graph = onnx.load_from_string(module_to_onnx(net, tuple(x.shape))).graph
    kinds = Counter(n.op_type for n in graph.node)
    assert (kinds["MaxPool"], kinds["AveragePool"]) == (3, 3)
    # Export also merges motif 0's two Concats of the same two tensors (their 1x1 convs stay
    # apart), which `ops` still counts per merge: a known over-count of one copy per cell.
    # 7 fixed convs: the stem, and two in each separable one (2 reductions and the last)
    assert (kinds["Concat"], kinds["Conv"] - 7) == (6, 9)


def test_gradient_one_shot_methods_refuse_it_in_one_line(tmp_path, capsys):
    """Their argmax child cannot be taken out of this supernet (nested motifs, merges of the
    live inputs only): refused before anything is written, not an internal error at epoch 1."""
    from hwnas.cli import app
    from hwnas.cli.errors import run_app

    opts = [a for k, v in SMALL.items() for a in ("--space-opt", f"{k}={v}")]
    code = run_app(app, ["search", "--space", "hierarchical", *opts, "--method", "darts",
                         "--objectives", "accuracy,params", "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "--method spos" in err
    assert not (tmp_path / "r").exists()
