import csv
import itertools
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.nn.onnx_io import module_to_onnx
from hwnas.registry import SPACES
from hwnas.spaces.nb201 import LABELS, Nb201Space, arch_from_string, live_choices
from tests.tabular_helpers import FIXTURE_CSV, FIXTURE_ROWS, FULL_CSV, needs_full_table

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" \
       "nor_conv_1x1~2|"  # NATS-Bench's CIFAR-10 optimum, index 6111


def uniform(op: str) -> Arch:
    return Arch("nb201", {label: op for label in LABELS})


def test_choices_are_the_benchmark_edges_and_ops_in_order():
    space = SPACES.get("nb201")()
    assert [label for label, _ in space.choices()] == [
        "op_0to1", "op_0to2", "op_1to2", "op_0to3", "op_1to3", "op_2to3"]
    assert all(opts == OPS for _, opts in space.choices())
    assert space.size() == 15_625
    assert space.config() == {"C": 16, "N": 5, "resolution": 32, "num_classes": 10,
                              "in_channels": 3}
    assert space.input_shape == (3, 32, 32)


@pytest.fixture(scope="module")
def all_archs():
    """Every architecture, decoded from its integer vector in `itertools.product` order."""
    space = Nb201Space()
    return [space.decode(x) for x in itertools.product(range(5), repeat=6)]


def test_enumeration_gives_15625_distinct_archs_and_strings(all_archs):
    space = Nb201Space()
    assert len(set(all_archs)) == 15_625
    strings = {space.to_string(a) for a in all_archs}
    assert len(strings) == 15_625
    assert all(space.from_string(space.to_string(a)) == a for a in all_archs[::97])


def _check_csv_arch_strings(path: Path, all_archs) -> int:
    """Every row's arch string round-trips, its op columns agree, and it sits where its
    integer vector puts it in the enumeration; returns the number of rows."""
    space = Nb201Space()
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        arch = space.from_string(row["arch_str"])
        assert space.to_string(arch) == row["arch_str"]
        assert [arch.values[label] for label in LABELS] == [row[label] for label in LABELS]
        x = space.encode(arch)
        # decode(x) is all_archs at x's position in product order (x read in base 5).
        assert space.to_string(all_archs[int(np.dot(x, 5 ** np.arange(5, -1, -1)))]) == \
            row["arch_str"]
    return len(rows)


def test_fixture_csv_arch_strings_round_trip(all_archs):
    assert _check_csv_arch_strings(FIXTURE_CSV, all_archs) == FIXTURE_ROWS
    assert Nb201Space().encode(Nb201Space().from_string(BEST)).tolist() == [3, 3, 3, 1, 3, 2]


@needs_full_table
def test_every_csv_arch_string_round_trips(all_archs):
    assert _check_csv_arch_strings(FULL_CSV, all_archs) == 15_625


@pytest.mark.parametrize("text, reason", [
    ("", "1 node"),
    ("|none~0|+|none~0|none~1|", "2 node"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|conv~2|", "unknown op 'conv'"),
    ("|none~0|+|none~1|none~1|+|none~0|none~1|none~2|", "input 0 of node 2"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "start and end with"),
])
def test_malformed_strings_are_one_line_errors(text, reason):
    with pytest.raises(BadInputError, match=reason) as info:
        arch_from_string(text)
    assert "\n" not in str(info.value) and "nor_conv_3x3" in str(info.value)


def test_unknown_op_names_the_closest():
    with pytest.raises(BadInputError, match="closest: 'nor_conv_3x3'"):
        arch_from_string("|nor_conv_3x33~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_none_edges_produce_no_op_and_skip_only_a_sum_input():
    space = Nb201Space()
    # every cell's output node gets only `none`: the cell multiplies its input by zero
    nothing = [s.op for s in space.ops(uniform("none"))]
    assert [op for op in nothing if op != "zero"] == [
        "conv_bn", "resnet_basic", "resnet_basic", "bn_relu_gap_fc"]
    assert nothing.count("zero") == 15
    skip = space.ops(uniform("skip_connect"))
    # Per cell: node 2 sums 2 inputs, node 3 sums 3; 15 cells, no compute op of their own.
    assert sum(s.op == "sum" for s in skip) == 30 and len(skip) == 4 + 30
    one = Arch("nb201", {**uniform("none").values, "op_1to3": "nor_conv_1x1"})
    assert [s.key for s in space.ops(one)].count(
        "relu_conv_bn|cin=32|cout=32|hw=16|k=1|s=1") == 5


def test_ops_keys_are_stable_and_shared_across_edges():
    space = Nb201Space()
    sigs = space.ops(space.from_string(BEST))
    assert [s.key for s in sigs] == [s.key for s in Nb201Space().ops(arch_from_string(BEST))]
    assert sigs[0].key == "conv_bn|cin=3|cout=16|hw=32|k=3|s=1"
    assert sigs[-1].key == "bn_relu_gap_fc|cin=64|cout=64|hw=8|s=1|n=10"
    keys = [s.key for s in sigs]
    # 4 conv3x3 edges x 5 cells in stage 1, all one key (the edge position does not matter).
    assert keys.count("relu_conv_bn|cin=16|cout=16|hw=32|k=3|s=1") == 20
    assert keys.count("sum|cin=64|cout=64|hw=8|s=1|inputs=3") == 5
    assert keys.count("resnet_basic|cin=16|cout=32|hw=32|k=3|s=2") == 1
    assert len(sigs) == 1 + 3 * 5 * (5 + 1 + 2 - 1) + 2 + 1  # 5 convs + 2 sums per cell


def test_all_ops_covers_every_architecture(all_archs):
    space = Nb201Space()
    keys = {s.key for s in space.all_ops()}
    assert len(keys) == len(space.all_ops()) == 22
    seen = set()
    for arch in all_archs[::31]:  # ~500 spread over the space; all 15,625 take seconds
        seen.update(s.key for s in space.ops(arch))
    assert seen == keys


def test_param_counts_match_nas_bench_201():
    # NB201 lists 1.531546 MB params for the all-3x3 cell and 0.073306 MB for the empty one.
    space = Nb201Space()
    counts = {op: sum(p.numel() for p in space.build(uniform(op)).parameters())
              for op in ("nor_conv_3x3", "none")}
    assert counts == {"nor_conv_3x3": 1_531_546, "none": 73_306}


def test_build_gives_logits_and_weights_equal_ops_built_one_by_one():
    space = Nb201Space(num_classes=10)
    arch = space.from_string(BEST)
    torch.manual_seed(0)
    model = space.build(arch).eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    torch.manual_seed(0)
    ops = [space.build_op(sig) for sig in space.ops(arch)]
    op_params = [p for m in ops for p in m.parameters()]
    params = list(model.parameters())
    assert len(params) == len(op_params)
    assert all(torch.equal(a, b) for a, b in zip(params, op_params, strict=True))


def test_each_op_maps_its_shapes_and_exports_for_profiling():
    space = Nb201Space(C=4, N=1, resolution=8, num_classes=7)
    for sig in space.all_ops():
        module = space.build_op(sig).eval()
        x = torch.randn(1, sig.cin, sig.h, sig.w)
        with torch.inference_mode():
            out = module(x)
        expected = (1, 7) if sig.op == "bn_relu_gap_fc" else (1, sig.cout, *sig.out_hw)
        assert tuple(out.shape) == expected, sig.key
        session = ort.InferenceSession(module_to_onnx(module, tuple(x.shape)),
                                       providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        assert np.max(np.abs(got - out.numpy())) < 1e-5, sig.key


def test_a_cell_whose_output_node_has_only_none_inputs_outputs_zero():
    space = Nb201Space(C=4, N=1, resolution=16)
    arch = space.from_string("|nor_conv_3x3~0|+|avg_pool_3x3~0|skip_connect~1|"
                             "+|none~0|none~1|none~2|")
    model = space.build(arch).eval()
    with torch.inference_mode():
        cell_out = model.cells[0](torch.randn(1, 4, 16, 16))
        a, b = model(torch.randn(1, 3, 16, 16)), model(torch.randn(1, 3, 16, 16))
    assert torch.count_nonzero(cell_out) == 0
    assert torch.equal(a, b)  # the input cannot reach the output


def test_edges_that_cannot_reach_the_output_are_not_built():
    space = Nb201Space()
    # op_2to3 = none: node 2 is dead, so op_0to2 and op_1to2 never run.
    arch = space.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                             "+|nor_conv_3x3~0|nor_conv_3x3~1|none~2|")
    cell = space.cell_ops(arch, 16, 32)
    assert [s.op for s in cell] == ["relu_conv_bn"] * 3 + ["sum"]
    model = space.build(arch)
    assert [type(e).__name__ for e in model.cells[0].edges] == [
        "ReLUConvBN", "Zero", "Zero", "ReLUConvBN", "ReLUConvBN", "Zero"]
    assert model.cells[0].used == [True, True, False, True]


def test_derived_labels_say_which_edges_run_and_which_are_trained():
    space = Nb201Space()
    # node 2 gets no input (op_0to2, op_1to2 none) but feeds the output through a conv: that
    # conv runs (on zeros) yet cannot change what the cell computes.
    arch = space.from_string("|skip_connect~0|+|none~0|none~1|"
                             "+|none~0|skip_connect~1|nor_conv_3x3~2|")
    derived = space.derived(arch)
    assert derived["runs_op_2to3"] == "nor_conv_3x3"
    assert derived["trains_op_2to3"] == "none"
    assert derived["trains_op_0to1"] == derived["runs_op_0to1"] == "skip_connect"
    assert set(derived) == {label for label, _ in space.derived_choices()}
    # a dead edge (its target never reaches the output) neither runs nor trains
    dead = space.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                             "+|nor_conv_3x3~0|nor_conv_3x3~1|none~2|")
    assert space.derived(dead)["runs_op_0to2"] == space.derived(dead)["trains_op_0to2"] == "none"


@pytest.mark.parametrize("text", [
    BEST,
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|none~2|",
])
def test_onnx_export_matches_torch_and_runs_exactly_the_ops(text):
    space = Nb201Space(C=8, N=1, resolution=16)
    torch.manual_seed(0)
    arch = space.from_string(text)
    model = space.build(arch).eval()
    x = torch.randn(1, 3, 16, 16)
    with torch.inference_mode():
        expected = model(x).numpy()
    data = module_to_onnx(model, (1, 3, 16, 16))
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert got.shape == (1, 10)
    assert np.max(np.abs(got - expected)) < 1e-4
    assert_graph_runs_the_listed_ops(space, arch, data)


def assert_graph_runs_the_listed_ops(space, arch, data: bytes) -> None:
    """The exported graph runs the convolutions, pools, zeros and additions `ops` lists, no
    more and no fewer (a ResNet block has 3 convolutions, a pool and an addition)."""
    graph = onnx.load_from_string(data).graph
    counts = {t: sum(n.op_type == t for n in graph.node) for t in ("Conv", "AveragePool", "Mul",
                                                                      "Add")}
    ops = space.ops(arch)
    per_op = {"Conv": {"conv_bn": 1, "relu_conv_bn": 1, "resnet_basic": 3},
              "AveragePool": {"avg_pool": 1, "resnet_basic": 1},
              "Mul": {"zero": 1}, "Add": {"resnet_basic": 1}}
    listed = {t: sum(m.get(s.op, 0) for s in ops) for t, m in per_op.items()}
    listed["Add"] += sum(int(dict(s.extra)["inputs"]) - 1 for s in ops if s.op == "sum")
    assert counts == listed, space.compact(arch)


def test_ops_are_what_the_exported_network_runs_for_random_cells():
    """Twin pools (of one node, or of a node and its skip-only copy) are one pool, and a cell
    with nodes fed only by `none` multiplies by zero once: what ONNX export and ONNX Runtime
    run, and what `Cell.forward` computes in torch too. Before, `ops` listed every pool edge
    and no zero, and a calibrated ort-cpu table missed such networks by 10-28%."""
    space = Nb201Space(C=4, N=1, resolution=8)
    rng = np.random.default_rng(3)
    twins = zeros = 0
    chosen = ["p|p -|p p s", "s|p p|p p -", "-|s s|s s s", "p|- -|p - 1"]  # seen to differ
    for arch in [space.sample(rng) for _ in range(60)] + [compact(space, c) for c in chosen]:
        model = space.build(arch).eval()
        assert_graph_runs_the_listed_ops(space, arch, module_to_onnx(model, (1, 3, 8, 8)))
        ops = [s.op for s in space.ops(arch)]
        zeros += "zero" in ops
        live_pools = sum(v == "avg_pool_3x3" for v in live_choices(arch).values())
        twins += ops.count("avg_pool") < live_pools * len(space.stages()) * space.N
    assert twins and zeros  # the sample exercised both


def compact(space, text: str) -> Arch:
    """An arch from its `compact()` string."""
    short = {"-": "none", "s": "skip_connect", "1": "nor_conv_1x1", "3": "nor_conv_3x3",
             "p": "avg_pool_3x3"}
    values = [short[c] for c in text.replace("|", " ").split()]
    arch = Arch("nb201", dict(zip(LABELS, values, strict=True)))
    assert space.compact(arch) == text
    return arch


def test_twin_pools_are_computed_once_and_the_output_is_unchanged():
    space = Nb201Space(C=4, N=1, resolution=8)
    # node 1 = pool(x); node 2 = pool(x) + skip(node 1): pool(x) twice, computed once;
    # node 3 = skip(x) + pool(node 1) + conv(node 2)
    arch = space.from_string("|avg_pool_3x3~0|+|avg_pool_3x3~0|skip_connect~1|"
                             "+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|")
    assert [s.op for s in space.cell_ops(arch, 4, 8)] == [
        "avg_pool", "sum", "avg_pool", "relu_conv_bn", "sum"]
    torch.manual_seed(0)
    model = space.build(arch).eval()
    cell = model.cells[0]
    x = torch.randn(1, 4, 8, 8)
    pool = torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    with torch.inference_mode():
        n1 = pool(x)
        n2 = pool(x) + n1
        expected = x + pool(n1) + cell.edges[5](n2)
        assert torch.allclose(cell(x), expected, atol=1e-6)


def test_bad_config_and_compact():
    for kwargs, name in (({"C": 0}, "'C'"), ({"N": 1.5}, "'N'"), ({"resolution": 30}, "multiple"),
                         ({"num_classes": 1}, "num_classes")):
        with pytest.raises(BadInputError, match=name):
            Nb201Space(**kwargs)
    space = Nb201Space(C=8, N=2)
    assert Nb201Space(**space.config()).config() == space.config()
    assert space.compact(space.from_string(BEST)) == "3|3 3|s 3 1"
    example = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|"
    assert space.compact(space.from_string(example)) == "3|1 p|s - -"
    with pytest.raises(BadInputError, match="not a choice"):
        space.ops(Arch("nb201", {**uniform("none").values, "op_0to1": "conv"}))


def test_options_follow_the_one_template():
    with pytest.raises(BadInputError) as exc:
        Nb201Space(resolution=30)
    assert str(exc.value) == ("The 'resolution' option of search space 'nb201' must be a "
                              "multiple of 4. Got 30 instead. (options: `hwnas list spaces`)")
    with pytest.raises(BadInputError, match="'N' option of search space 'nb201' must be an "
                                            "int in \\[1, 64\\]. Got True instead"):
        Nb201Space(N=True)
    assert Nb201Space(C=4, N=1).config() == {"C": 4, "N": 1, "resolution": 32,
                                             "num_classes": 10, "in_channels": 3}
