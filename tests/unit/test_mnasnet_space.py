"""The `mnasnet` space: MnasNet's factorized hierarchical choices change the ops and the built
network the way the paper's search space says (depth, width carried into the next block, SE,
identity skip only where shapes match), and its positions are a per-block view with no
supernet."""

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.oneshot.expected_cost import ExpectedCost
from hwnas.oneshot.supernet import Supernet
from hwnas.spaces.mnasnet import BASE_LAYERS, MnasNetSpace
from hwnas.spaces.modules.mnas_blocks import MnasLayer, SqueezeExcite, build_mnas_op

SPACE = MnasNetSpace()  # the defaults: 7 blocks, 32x32, width 1
SMALL = MnasNetSpace(**MnasNetSpace.small_options)


def arch(space, **values):
    """The default architecture with some labels changed: `arch(s, b4__layers=1)`."""
    base = dict(space.default_arch().values)
    base.update({k.replace("__", "."): v for k, v in values.items()})
    return Arch(space.name, base)


def block_ops(space, a, b):
    """The ops of block `b` (0-based): between the stem and the head, grouped by block."""
    blocks, _ = space._chain(a)
    return blocks[b]


def layers_of(model) -> list[MnasLayer]:
    return [m for m in model.modules() if isinstance(m, MnasLayer)]


def test_choices_are_the_papers_per_block_factors():
    labels = dict(SPACE.choices())
    assert len(labels) == 7 * 6
    assert labels["b3.op"] == ("conv", "dwsep", "mb3", "mb6")
    assert labels["b3.k"] == (3, 5) and labels["b3.se"] == ("0", "0.25")
    assert labels["b3.skip"] == ("identity", "none")
    assert labels["b3.filters"] == ("0.75", "1", "1.25")
    assert labels["b3.layers"] == (-1, 0, 1)
    # a block whose base is one layer cannot lose it (the block and its stride would vanish)
    assert labels["b1.layers"] == labels["b7.layers"] == (0, 1)


def test_space_size_is_the_product_of_the_choices():
    per_block = 4 * 2 * 2 * 2 * 3
    assert SPACE.size() == (per_block * 3) ** 5 * (per_block * 2) ** 2
    one = MnasNetSpace(blocks=1)
    assert one.size() == per_block * 2
    # every combination is an architecture: all 192 of one block have ops and a network key
    keys = set()
    for values in itertools.product(*(opts for _, opts in one.choices())):
        a = Arch("mnasnet", dict(zip((label for label, _ in one.choices()), values, strict=True)))
        keys.add(one.network_key(a))
    # one layer fed 32 channels and giving 12/16/20 never matches shapes, so its skip choice
    # is moot: 48 pairs of architectures are one network each
    assert len(keys) == 192 - 48


def test_layer_count_changes_the_ops_and_the_network():
    counts = {}
    for delta in (-1, 0, 1):
        a = arch(SMALL, b4__layers=delta)
        ops = block_ops(SMALL, a, 3)
        assert len(ops) == BASE_LAYERS[3] + delta
        # only block 4 changed: the network has `delta` ops more than at the base depth
        assert len(SMALL.ops(a)) - len(SMALL.ops(arch(SMALL, b4__layers=0))) == delta
        # the first layer strides, the added or removed ones are stride-1 copies of the block
        assert ops[0].stride == 2 and {s.stride for s in ops[1:]} <= {1}
        model = SMALL.build(a)
        counts[delta] = len(layers_of(model[4]))
        assert counts[delta] == len(ops)
    assert counts == {-1: 3, 0: 4, 1: 5}


def test_filter_choice_sets_the_next_blocks_input_width():
    widths = SPACE.widths(2)  # block 3: base 40
    assert widths == {"0.75": 30, "1": 40, "1.25": 50}
    for f, width in widths.items():
        a = arch(SPACE, b3__filters=f)
        assert {s.cout for s in block_ops(SPACE, a, 2)} == {width}
        assert block_ops(SPACE, a, 3)[0].cin == width
        first = layers_of(SPACE.build(a)[4])[0]
        assert first.body[0].in_channels == width  # block 4's first conv reads that width
    # the last block's width is the head's input, in the ops and in the built head
    for f, width in SPACE.widths(6).items():
        a = arch(SPACE, b7__filters=f)
        assert SPACE.ops(a)[-1].cin == width
        assert SPACE.build(a)[-1].features[0].in_channels == width


@pytest.mark.parametrize("op,se_width", [("conv", "cout"), ("dwsep", "cin"), ("mb6", "hidden")])
def test_se_ratio_builds_a_squeeze_excite_of_the_input_share(op, se_width):
    a0 = arch(SPACE, b4__op=op, b4__se="0")
    a1 = arch(SPACE, b4__op=op, b4__se="0.25")
    sig0, sig1 = block_ops(SPACE, a0, 3)[0], block_ops(SPACE, a1, 3)[0]
    assert dict(sig0.extra)["se"] == "0" and dict(sig1.extra)["se"] == "0.25"
    assert not [m for m in build_mnas_op(sig0).modules() if isinstance(m, SqueezeExcite)]
    (se,) = [m for m in build_mnas_op(sig1).modules() if isinstance(m, SqueezeExcite)]
    assert se.squeeze.out_channels == int(sig1.cin * 0.25)  # MnasNet: a share of the input
    gated = {"cout": sig1.cout, "cin": sig1.cin, "hidden": sig1.cin * 6}[se_width]
    assert se.squeeze.in_channels == se.excite.out_channels == gated


def test_se_gate_scales_channels():
    se = SqueezeExcite(4, 1).eval()
    with torch.no_grad():
        se.squeeze.weight.zero_()
        se.squeeze.bias.zero_()
        se.excite.weight.zero_()
        se.excite.bias.fill_(-1e4)  # gate closed: every channel times sigmoid(-inf) = 0
        x = torch.randn(1, 4, 3, 3)
        assert torch.allclose(se(x), torch.zeros_like(x))
        se.excite.bias.fill_(1e4)  # gate open: the input unchanged
        assert torch.allclose(se(x), x)


def test_identity_skip_only_where_shapes_match():
    a = Arch("mnasnet", {**SPACE.default_arch().values,
                         **{f"b{b}.skip": "identity" for b in range(1, 8)},
                         **{f"b{b}.layers": 1 for b in range(1, 8)}})
    model = SPACE.build(a)
    sigs = SPACE.ops(a)[1:-1]
    layers = layers_of(model)
    assert len(sigs) == len(layers) == sum(BASE_LAYERS) + 7
    for sig, layer in zip(sigs, layers, strict=True):
        fits = sig.stride == 1 and sig.cin == sig.cout
        assert layer.residual == fits == (dict(sig.extra)["skip"] == "identity")
    assert sum(layer.residual for layer in layers) == sum(BASE_LAYERS)  # all but first layers
    none = SPACE.build(arch(SPACE, **{f"b{b}__skip": "none" for b in range(1, 8)}))
    assert not any(layer.residual for layer in layers_of(none))


@pytest.mark.parametrize("op", ["conv", "dwsep", "mb3"])
def test_residual_adds_the_input(op):
    """With the body's last BN zeroed the body outputs 0: an identity layer returns its input,
    a layer without the skip returns zeros."""
    a = arch(SMALL, b5__op=op, b5__layers=0, b5__skip="identity")
    _, second = block_ops(SMALL, a, 4)
    for skip, expected in (("identity", "x"), ("none", "zeros")):
        sig = dataclasses.replace(second, extra=(("se", "0"), ("skip", skip)))
        layer = build_mnas_op(sig).eval()
        last_bn = [m for m in layer.body if isinstance(m, torch.nn.BatchNorm2d)][-1]
        with torch.no_grad():
            last_bn.weight.zero_()
            last_bn.bias.zero_()
            x = torch.randn(1, sig.cin, sig.h, sig.w)
            want = x if expected == "x" else torch.zeros_like(x)
            assert torch.allclose(layer(x), want)


def test_identity_where_shapes_differ_is_refused():
    a = arch(SPACE, b2__skip="identity")
    first = block_ops(SPACE, a, 1)[0]  # 16 -> 24 channels: no identity possible
    assert dict(first.extra)["skip"] == "none"
    forced = dataclasses.replace(first, extra=(("se", "0"), ("skip", "identity")))
    with pytest.raises(ValueError, match="identity skip needs stride 1 and cin == cout"):
        build_mnas_op(forced)


def test_built_network_is_its_ops_chained():
    rng = np.random.default_rng(11)
    for _ in range(3):
        a = SMALL.sample(rng)
        x = torch.randn(2, *SMALL.input_shape)
        torch.manual_seed(0)
        whole = SMALL.build(a).eval()
        torch.manual_seed(0)
        parts = [SMALL.build_op(sig).eval() for sig in SMALL.ops(a)]
        with torch.inference_mode():
            y = x
            for module in parts:
                y = module(y)
            assert torch.allclose(whole(x), y, atol=1e-6)
            assert y.shape == (2, SMALL.num_classes)


@pytest.mark.parametrize("space", [SPACE, SMALL, MnasNetSpace(resolution=224, blocks=5)])
def test_all_ops_cover_200_sampled_architectures(space):
    profiled = {sig.key for sig in space.all_ops()}
    rng = np.random.default_rng(2)
    used = set()
    for _ in range(200):
        used |= {sig.key for sig in space.ops(space.sample(rng))}
    assert used <= profiled
    # and it is not padded: the 200 samples already reach most of what it lists
    assert len(used) > 0.5 * len(profiled)


def test_all_ops_count_at_the_defaults():
    # per block: first layer 3 cin x 3 cout x 16 (op, k, se) [x 2 skip where shapes can
    # match: never here] + later layers 3 widths x 16 x 2; block 1 has one cin (the stem)
    assert len(SPACE.all_ops()) == 1 + (1 * 3 * 16 + 3 * 32) + 6 * (9 * 16 + 3 * 32) + 3


def test_strides_and_head_follow_the_resolution():
    assert SPACE.strides() == (1, 1, 2, 2, 1, 2, 1) and SPACE.stem_stride == 1
    head = SPACE.ops(SPACE.default_arch())[-1]
    assert head.h == 4 and head.cout == 256  # 32 -> 4; a head a proxy can train
    big = MnasNetSpace(resolution=224)
    assert big.strides() == (1, 2, 2, 2, 1, 2, 1) and big.stem_stride == 2
    head = big.ops(big.default_arch())[-1]
    assert head.h == 7 and head.cout == 1280  # MnasNet-A1's 224 -> 7 and 1280-wide head
    assert MnasNetSpace(width_mult=0.5).ops(SPACE.default_arch())[-1].cout == 128


def test_positions_are_blocks_of_joint_choices_at_base_input_width():
    positions = SPACE.positions()
    assert [p.label for p in positions] == [f"b{b}" for b in range(1, 8)]
    assert [len(p.options) for p in positions] == [192, 288, 288, 288, 288, 288, 192]
    assert not SPACE.positions_add_up and not SPACE.positions_are_choices
    for b, position in enumerate(positions[1:], start=1):
        base_in = SPACE.widths(b - 1)["1"]
        assert {sigs[0].cin for sigs in position.ops.values()} == {base_in}
    rng = np.random.default_rng(4)
    for _ in range(10):
        a = SPACE.sample(rng)
        values = SPACE.position_values(a)
        assert values == SPACE.compact(a).split()
        one_hot = [[float(o == v) for o in p.options] for p, v in zip(positions, values,
                                                                        strict=True)]
        assert SPACE.arch_from_positions(one_hot, positions) == a
        # where every earlier block is at its base width, the position's ops are the arch's
        base = Arch("mnasnet", {**a.values, **{f"b{b}.filters": "1" for b in range(1, 8)}})
        chain, _ = SPACE._chain(base)
        for block, position, value in zip(chain, positions, SPACE.position_values(base),
                                          strict=True):
            assert list(position.ops[value]) == block


def test_a_supernet_and_an_expected_cost_are_refused_in_one_line():
    with pytest.raises(BadInputError, match="cannot have one") as err:
        Supernet(SMALL)
    assert "\n" not in str(err.value) and "--method evolution" in str(err.value)
    with pytest.raises(BadInputError, match="strategy 'darts' needs a supernet"):
        SMALL.check_supernet("strategy 'darts'")
    with pytest.raises(BadInputError, match="neither add up nor are its choices"):
        ExpectedCost(SMALL, table=None)


def test_bad_values_are_refused():
    with pytest.raises(BadInputError, match="b1.layers=-1 is not a choice"):
        SPACE.ops(arch(SPACE, b1__layers=-1))
    with pytest.raises(BadInputError, match="b2.filters='0.5' is not a choice"):
        SPACE.ops(arch(SPACE, b2__filters="0.5"))
