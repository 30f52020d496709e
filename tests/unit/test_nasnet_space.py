"""The `nasnet` space's mechanisms: blocks read earlier hidden states, unread blocks make the
cell's output, reduction strides, ops that price exactly the built modules, and the supernet
view (positions, derivation rule, a supernet whose paths are the networks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.oneshot.supernet import Supernet
from hwnas.spaces.nasnet import EDGE_OPTIONS, OPS, NasnetSpace, edge_label

SMALL = NasnetSpace(**NasnetSpace.small_options)  # B=2, N=1, F=4, 8x8
B3 = NasnetSpace(B=3, N=1, F=4, resolution=8)


def make_arch(space: NasnetSpace, normal: list[tuple], reduce: list[tuple] | None = None) -> Arch:
    """Blocks as (in0, op0, in1, op1, combine), normal cell then reduction cell."""
    values = {}
    for kind, blocks in (("normal", normal), ("reduce", reduce or normal)):
        for b, (in0, op0, in1, op1, combine) in enumerate(blocks):
            values.update({f"{kind}.b{b}.in0": in0, f"{kind}.b{b}.op0": op0,
                           f"{kind}.b{b}.in1": in1, f"{kind}.b{b}.op1": op1,
                           f"{kind}.b{b}.combine": combine})
    return space.check(Arch("nasnet", values))


def first_normal_cell(model):
    return model.cells[0]


def capture(module, store: dict, name: str, inputs: bool = False):
    def hook(_module, args, output):
        store[name] = args[0] if inputs else output
    return module.register_forward_hook(hook)


def test_choices_are_inputs_among_earlier_states_ops_and_combination():
    choices = dict(B3.choices())
    assert len(choices) == 2 * 3 * 5
    assert choices["normal.b0.in0"] == (0, 1)
    assert choices["reduce.b2.in1"] == (0, 1, 2, 3)  # h_{i-2}, h_{i-1}, block 0, block 1
    assert choices["normal.b1.op0"] == OPS and len(OPS) == 13
    assert choices["reduce.b0.combine"] == ("add", "concat")


def test_a_block_reads_the_block_it_chose():
    """Block 2 reads block 0 (input 2): its edge gets block 0's output, so changing block 0's
    op changes what block 2 sees, while block 1 (reading only cell inputs) is untouched."""
    x = torch.randn(2, *B3.input_shape)
    seen = {}
    for op in ("conv_3x3", "max_pool_3x3"):
        arch = make_arch(B3, [(0, op, 1, "identity", "add"), (1, "conv_1x1", 0, "identity", "add"),
                              (2, "identity", 1, "identity", "add")])
        torch.manual_seed(0)
        model = B3.build(arch).eval()
        cell = first_normal_cell(model)
        store: dict = {}
        capture(cell.blocks[0], store, "block0")
        capture(cell.blocks[1], store, "block1")
        capture(cell.blocks[2].paths[0][2], store, "block2_in", inputs=True)
        with torch.no_grad():
            model(x)
        assert store["block2_in"] is store["block0"]  # the very tensor block 0 produced
        seen[op] = store
    assert not torch.allclose(seen["conv_3x3"]["block2_in"], seen["max_pool_3x3"]["block2_in"])


def test_unread_blocks_are_concatenated_and_projected():
    """Block 1 reads block 0: the output is blocks 1 and 2, concatenated to 2F channels, then
    projected back to F; block 0 is not in the concatenation."""
    arch = make_arch(B3, [(0, "conv_3x3", 1, "identity", "add"),
                          (2, "sep_conv_3x3", 0, "identity", "add"),
                          (1, "avg_pool_3x3", 0, "conv_1x1", "concat")])
    torch.manual_seed(0)
    model = B3.build(arch).eval()
    cell = first_normal_cell(model)
    assert cell.outputs == (1, 2)
    store: dict = {}
    capture(cell.output, store, "concat_in", inputs=True)
    for b in range(3):
        capture(cell.blocks[b], store, f"block{b}")
    capture(cell, store, "cell")
    with torch.no_grad():
        model(torch.randn(2, *B3.input_shape))
    parts = store["concat_in"]
    assert len(parts) == 2 and parts[0] is store["block1"] and parts[1] is store["block2"]
    assert torch.cat(parts, dim=1).shape[1] == 2 * B3.F  # unread blocks x F, before projection
    assert store["cell"].shape[1] == B3.F
    assert list(cell.output.slices) == ["b1", "b2"]
    normal = [s for s in B3.ops(arch) if s.op == "concat_project" and s.h == 8]
    # the block's own concat (2 inputs) and the cell's output projection of 2 blocks
    assert [dict(s.extra)["inputs"] for s in normal] == ["2", "2"]


def test_a_single_unread_block_is_the_cell_output_itself():
    """Every block but the last is read: the output is the last block, no projection."""
    arch = make_arch(B3, [(0, "conv_3x3", 1, "identity", "add"),
                          (2, "conv_1x1", 0, "identity", "add"),
                          (3, "identity", 2, "max_pool_3x3", "add")])
    torch.manual_seed(0)
    model = B3.build(arch).eval()
    cell = first_normal_cell(model)
    assert cell.outputs == (2,) and cell.output is None
    store: dict = {}
    capture(cell.blocks[2], store, "last")
    capture(cell, store, "cell")
    with torch.no_grad():
        model(torch.randn(1, *B3.input_shape))
    assert store["cell"] is store["last"]
    assert not any(s.op == "concat_project" for s in B3.ops(arch))


def test_a_cell_input_no_block_reads_is_not_preprocessed():
    arch = make_arch(B3, [(1, "conv_3x3", 1, "identity", "add"),
                          (2, "conv_1x1", 1, "identity", "add"),
                          (3, "identity", 2, "max_pool_3x3", "add")])
    model = B3.build(arch)
    assert all(cell.pre0 is None and cell.pre1 is not None for cell in model.cells)
    for cell in B3.cells():  # its ops start with h_{i-1}'s preprocessing, then block 0's op
        sigs = B3.cell_ops(arch, cell)
        assert sigs[0] == B3.preprocess_sigs(cell)[1]
        assert sigs[1] == B3.edge_sig(cell, 1, "conv_3x3")


def test_reduction_cells_stride_the_ops_on_cell_inputs_only():
    arch = make_arch(B3, [(0, "identity", 1, "sep_conv_5x5", "add"),
                          (2, "conv_1x7_7x1", 0, "dil_conv_3x3", "add"),
                          (3, "max_pool_7x7", 2, "avg_pool_3x3", "concat")])
    reduce_cell = next(c for c in B3.cells() if c.kind == "reduce")
    sigs = B3.cell_ops(arch, reduce_cell)[2:]  # after its two preprocessing ops
    on_inputs = [sigs[0], sigs[1], sigs[4]]  # identity on h_{i-2}, sep 5x5 on h_{i-1}, dil 3x3
    assert [s.op for s in on_inputs] == ["factorized_reduce", "sep_conv", "dil_conv"]
    assert all(s.stride == 2 and s.h == reduce_cell.in_hw for s in on_inputs)
    on_blocks = [sigs[3], sigs[6], sigs[7]]  # 1x7+7x1 on block 0, the two pools on blocks
    assert all(s.stride == 1 and s.h == reduce_cell.out_hw for s in on_blocks)
    normal_cell = B3.cells()[0]
    assert all(s.stride == 1 for s in B3.cell_ops(arch, normal_cell))
    out = B3.build(arch).eval()(torch.randn(1, *B3.input_shape))
    assert out.shape == (1, 10)


def test_network_geometry_doubles_filters_at_each_reduction():
    space = NasnetSpace(B=2, N=2, F=8, resolution=32)
    cells = space.cells()
    assert [c.kind for c in cells] == ["normal"] * 2 + ["reduce"] + ["normal"] * 2 + [
        "reduce"] + ["normal"] * 2
    assert [c.channels for c in cells] == [8, 8, 16, 16, 16, 32, 32, 32]
    assert [c.out_hw for c in cells] == [32, 32, 16, 16, 16, 8, 8, 8]
    assert space.stem_sig().cout == 24  # 3F
    # h_{i-2} of the cell after a reduction has twice its resolution: factorized reduction
    pre = [space.preprocess_sigs(c)[0].op for c in cells]
    assert pre == ["relu_conv_bn"] * 3 + ["factorized_reduce"] + ["relu_conv_bn"] * 2 + [
        "factorized_reduce", "relu_conv_bn"]


@pytest.mark.parametrize("space", [SMALL, NasnetSpace(B=5, N=1, F=4, resolution=8)],
                         ids=["B2", "B5"])
def test_ops_price_exactly_the_built_modules(space):
    """Parameter count of the network == the sum over `build_op` of its ops, and every op
    of any sampled arch is in `all_ops()` (a profiled table has an entry for it)."""
    profiled = {s.key for s in space.all_ops()}
    rng = np.random.default_rng(4)
    for _ in range(6):
        arch = space.sample(rng)
        sigs = space.ops(arch)
        built = sum(p.numel() for p in space.build(arch).parameters())
        parts = sum(p.numel() for s in sigs for p in space.build_op(s).parameters())
        assert built == parts
        assert {s.key for s in sigs} <= profiled


def test_all_ops_lists_every_output_projection_width():
    space = NasnetSpace(B=4, N=1, F=4, resolution=8)
    widths = {int(dict(s.extra)["inputs"]) for s in space.all_ops() if s.op == "concat_project"}
    assert widths == {2, 3, 4}


def test_position_values_put_each_paths_op_on_its_chosen_input():
    arch = make_arch(B3, [(1, "sep_conv_3x3", 1, "max_pool_3x3", "concat"),
                          (0, "identity", 2, "conv_3x3", "add"),
                          (3, "avg_pool_3x3", 1, "identity", "add")])
    positions = B3.positions()
    values = dict(zip((p.label for p in positions), B3.position_values(arch, positions),
                      strict=True))
    # the same input twice with different ops: two paths, two positions
    assert values[edge_label("normal", 0, 0, 1)] == "sep_conv_3x3"
    assert values[edge_label("normal", 0, 1, 1)] == "max_pool_3x3"
    assert values[edge_label("normal", 0, 0, 0)] == values[edge_label("normal", 0, 1, 0)] == "none"
    assert values[edge_label("normal", 1, 1, 2)] == "conv_3x3"
    assert values["normal.b0.combine"] == "concat"
    assert sum(v != "none" for label, v in values.items() if "combine" not in label) == 2 * 2 * 3
    one_hot = [[float(o == values[p.label]) for o in p.options] for p in positions]
    assert B3.arch_from_positions(one_hot) == arch


def test_derivation_keeps_each_paths_strongest_real_input_and_op():
    """`none` strongest everywhere still yields a real op per path; the input whose best
    non-`none` op is strongest wins, with that op; ties go to the lower input."""
    positions = SMALL.positions()
    weights = []
    for p in positions:
        w = np.full(len(p.options), 0.01)
        if p.options == EDGE_OPTIONS:
            w[0] = 0.9  # none
        weights.append(w)
    at = {p.label: i for i, p in enumerate(positions)}

    def set_w(label, op, value):
        weights[at[label]][positions[at[label]].options.index(op)] = value

    set_w(edge_label("normal", 1, 0, 2), "sep_conv_5x5", 0.6)  # block 1 path 0: block 0
    set_w(edge_label("normal", 1, 0, 1), "conv_1x1", 0.5)
    set_w(edge_label("normal", 1, 1, 0), "max_pool_5x5", 0.3)
    set_w(edge_label("normal", 1, 1, 1), "max_pool_5x5", 0.3)  # a tie: the lower input
    set_w("normal.b1.combine", "concat", 0.7)
    arch = SMALL.arch_from_positions([torch.tensor(w, requires_grad=True) for w in weights])
    v = arch.values
    assert (v["normal.b1.in0"], v["normal.b1.op0"]) == (2, "sep_conv_5x5")
    assert (v["normal.b1.in1"], v["normal.b1.op1"]) == (0, "max_pool_5x5")
    assert v["normal.b1.combine"] == "concat"
    # all-equal real weights: input 0, the first op of the paper's list
    assert (v["reduce.b0.in0"], v["reduce.b0.op0"]) == (0, OPS[0])
    with pytest.raises(ValueError, match="weight vectors"):
        SMALL.arch_from_positions(weights[:-1])


def test_supernet_paths_are_the_architectures_networks():
    """Built from `positions()`, a supernet with one arch's path set computes that arch's
    network with the weights `child_state_dict` copies out (each cell finds its unread
    blocks from the path), and weighs every candidate in DARTS's mode."""
    torch.manual_seed(0)
    supernet = Supernet(SMALL).eval()
    x = torch.randn(3, *SMALL.input_shape)
    rng = np.random.default_rng(2)
    for _ in range(4):
        arch = SMALL.sample(rng)
        child = supernet.child(arch).eval()
        supernet.set_arch(arch)
        with torch.no_grad():
            assert torch.allclose(supernet(x), child(x), atol=1e-6)
        assert supernet.arch_of(supernet.indices(arch)) == arch
    supernet.set_weights([torch.softmax(a, -1) for a in supernet.alphas])
    with torch.no_grad():
        assert supernet(x).shape == (3, SMALL.num_classes)


def test_network_key_and_compact():
    a = make_arch(SMALL, [(0, "conv_3x3", 1, "identity", "add"),
                          (2, "sep_conv_7x7", 1, "max_pool_3x3", "concat")])
    b = make_arch(SMALL, [(1, "identity", 0, "conv_3x3", "add"),
                          (2, "sep_conv_7x7", 1, "max_pool_3x3", "concat")])
    c = make_arch(SMALL, [(0, "conv_3x3", 1, "identity", "add"),
                          (1, "max_pool_3x3", 2, "sep_conv_7x7", "concat")])
    assert SMALL.network_key(a) == SMALL.network_key(b)  # add commutes
    assert SMALL.network_key(a) != SMALL.network_key(c)  # concat's order is kept
    assert SMALL.compact(a) == "0c3+1id 2s7&1m3 | 0c3+1id 2s7&1m3"


def test_bad_architecture_values_are_refused_in_one_line():
    arch = make_arch(SMALL, [(0, "conv_3x3", 1, "identity", "add"),
                             (2, "sep_conv_7x7", 1, "max_pool_3x3", "concat")])
    bad = Arch("nasnet", {**arch.values, "normal.b0.in1": 2})  # block 0 has no block before it
    with pytest.raises(BadInputError, match="normal.b0.in1=2 is not a choice"):
        SMALL.ops(bad)


def test_a_cell_pools_an_input_once_per_pool_as_onnx_runs_it():
    """Two paths max-pooling block 0 the same way are one MaxPool (in `ops` and in the
    exported graph); a different pool or input is another. Checked on sampled archs too."""
    import onnx

    from hwnas.nn.onnx_io import module_to_onnx

    twins = make_arch(B3, [(0, "conv_3x3", 1, "identity", "add"),
                           (2, "max_pool_3x3", 2, "max_pool_3x3", "concat"),
                           (2, "max_pool_3x3", 2, "max_pool_5x5", "add")])
    archs = [twins] + [B3.sample(np.random.default_rng(s)) for s in range(4)]
    for arch in archs:
        graph = onnx.load_from_string(module_to_onnx(B3.build(arch), (1, *B3.input_shape))).graph
        nodes = [n.op_type for n in graph.node]
        sigs = [s.op for s in B3.ops(arch)]
        assert nodes.count("MaxPool") == sigs.count("max_pool")
        assert nodes.count("AveragePool") == sigs.count("avg_pool")
    normal = [s for s in B3.cell_ops(twins, B3.cells()[0]) if s.op == "max_pool"]
    assert [s.kernel for s in normal] == [3, 5]  # block 1's twin and block 2's 3x3 merged


def test_uniform_path_sampling_trains_whole_architectures():
    """SPOS and the `shared` estimator sample paths; on an edge supernet independent edges
    would give a path several inputs or none, so the sampler draws architectures."""
    from hwnas.oneshot.single_path import uniform_sampler

    supernet = Supernet(SMALL)
    sample = uniform_sampler(supernet, torch.Generator().manual_seed(0))
    drawn = set()
    for _ in range(20):
        indices = sample()
        arch = supernet.arch_of(indices)
        assert supernet.indices(arch) == list(indices)  # the path is exactly a network's
        drawn.add(arch)
    assert len(drawn) > 10
