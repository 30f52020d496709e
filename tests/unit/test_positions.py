"""`space.positions()` and `space.fixed_ops()`: the per-position view supernets and a
differentiable expected latency are built on, checked against the flat `ops(arch)`."""

import json
from collections import Counter

import numpy as np
import pytest

from hwnas.ops import OpSignature
from hwnas.spaces.base import Position, SearchSpace
from hwnas.spaces.fbnet import FBNetSpace
from hwnas.spaces.nb201 import Nb201Space, live_choices
from hwnas.spaces.proxyless import ProxylessSpace

SPACES_UNDER_TEST = {
    "proxyless": ProxylessSpace(),
    "proxyless-small": ProxylessSpace(resolution=96, width_mult=0.5, num_classes=7),
    "fbnet": FBNetSpace(),
    "fbnet-imagenet": FBNetSpace("ImageNet", num_classes=10),
    "nb201": Nb201Space(),
    "nb201-small": Nb201Space(C=8, N=2, resolution=16),
}
IDS = list(SPACES_UNDER_TEST)


def keys(sigs) -> Counter:
    return Counter(sig.key for sig in sigs)


def from_positions(space: SearchSpace, values: dict) -> Counter:
    """fixed_ops + the ops of each position's chosen option."""
    out = keys(space.fixed_ops())
    for position in space.positions():
        out += keys(position.ops[values[position.label]])
    return out


@pytest.mark.parametrize("name", [n for n in IDS if SPACES_UNDER_TEST[n].positions_add_up])
def test_chain_ops_are_fixed_ops_plus_chosen_positions(name):
    space = SPACES_UNDER_TEST[name]
    rng = np.random.default_rng(7)
    for _ in range(50):
        arch = space.sample(rng)
        assert keys(space.ops(arch)) == from_positions(space, arch.values)


@pytest.mark.parametrize("name", ["nb201", "nb201-small"])
def test_nb201_ops_less_sums_are_fixed_ops_plus_live_positions(name):
    space = SPACES_UNDER_TEST[name]
    assert not space.positions_add_up
    rng = np.random.default_rng(7)
    n_dead = n_twins = 0
    for _ in range(50):
        arch = space.sample(rng)
        live = live_choices(arch)
        n_dead += sum(live[k] != v for k, v in arch.values.items())
        flat = keys(sig for sig in space.ops(arch) if sig.op not in ("sum", "zero"))
        surplus = from_positions(space, live) - flat
        assert not flat - from_positions(space, live)
        # a pool twice of one tensor runs once (Nb201Space.cell_ops): positions count both
        assert all(key.startswith("avg_pool|") for key in surplus)
        n_twins += sum(surplus.values())
    assert n_dead > 0 and n_twins > 0  # the sample did exercise edges that do not run


@pytest.mark.parametrize("name", IDS)
def test_positions_follow_choices_and_all_ops_covers_them(name):
    space = SPACES_UNDER_TEST[name]
    positions = space.positions()
    assert [(p.label, p.options) for p in positions] == space.choices()
    profiled = {sig.key for sig in space.all_ops()}
    for position in positions:
        assert list(position.ops) == list(position.options)
        for sigs in position.ops.values():
            assert isinstance(sigs, tuple) and all(isinstance(s, OpSignature) for s in sigs)
            assert {s.key for s in sigs} <= profiled  # a `hwnas profile` table prices it
    assert {s.key for s in space.fixed_ops()} <= profiled


def test_zero_none_and_identity_skip_run_nothing():
    proxyless = ProxylessSpace().positions()
    with_zero = [p for p in proxyless if "zero" in p.options]
    assert len(with_zero) == 7  # every layer of a stage but the first
    assert all(p.ops["zero"] == () for p in with_zero)
    assert all(len(p.ops[o]) == 1 for p in proxyless for o in p.options if o != "zero")
    nb201 = Nb201Space(N=3).positions()
    for position in nb201:
        assert position.ops["none"] == position.ops["skip_connect"] == ()
        assert len(position.ops["nor_conv_3x3"]) == 3 * 3  # 3 stages x N cells
    # fbnet's skip is an op everywhere, as in ops(): an identity HW-NAS-Bench prices, or a
    # strided 1x1 projection where the layer changes shape
    fbnet = FBNetSpace().positions()
    skips = [p.ops["skip"] for p in fbnet]
    assert all(len(s) == 1 and s[0].op == "fb_skip" for s in skips)
    changing = [i for i, (s,) in enumerate(skips) if s.stride != 1 or s.cin != s.cout]
    assert changing == [1, 5, 9, 13, 17, 21]


def test_hand_checked_signatures():
    proxyless = {p.label: p for p in ProxylessSpace(resolution=32).positions()}
    (sig,) = proxyless["s2.b0"].ops["mb_k5_e6"]
    assert sig.key == "mbconv|cin=24|cout=40|hw=32|k=5|s=2|e=6"
    fbnet = {p.label: p for p in FBNetSpace().positions()}
    assert [s.key for s in fbnet["l05"].ops["skip"]] == ["fb_skip|cin=24|cout=32|hw=32|s=2"]
    assert [s.key for s in fbnet["l01"].ops["k3_e1_g2"]] == [
        "fb_block|cin=16|cout=24|hw=32|k=3|s=1|e=1|g=2"]
    nb201 = {p.label: p for p in Nb201Space(C=8, N=2, resolution=16).positions()}
    assert [s.key for s in nb201["op_1to3"].ops["avg_pool_3x3"]] == (
        ["avg_pool|cin=8|cout=8|hw=16|k=3|s=1"] * 2 + ["avg_pool|cin=16|cout=16|hw=8|k=3|s=1"] * 2
        + ["avg_pool|cin=32|cout=32|hw=4|k=3|s=1"] * 2)


def test_fixed_ops_are_stem_head_and_reductions():
    assert [s.op for s in ProxylessSpace().fixed_ops()] == ["stem", "head"]
    assert [s.op for s in FBNetSpace().fixed_ops()] == [
        "fb_convnorm", "fb_convnorm", "fb_avgpool", "fb_fc"]
    assert FBNetSpace(num_classes=10).fixed_ops()[-1].cout == 10
    assert [s.key for s in Nb201Space(C=8, resolution=16).fixed_ops()] == [
        "conv_bn|cin=3|cout=8|hw=16|k=3|s=1", "resnet_basic|cin=8|cout=16|hw=16|k=3|s=2",
        "resnet_basic|cin=16|cout=32|hw=8|k=3|s=2", "bn_relu_gap_fc|cin=32|cout=32|hw=4|s=1|n=10"]


def test_position_is_immutable_and_json_ready():
    position = ProxylessSpace().positions()[1]  # s1.b1: 6 blocks and zero
    with pytest.raises(TypeError):
        position.ops["zero"] = ()
    with pytest.raises(AttributeError):
        position.label = "other"
    data = json.loads(json.dumps(position.to_dict()))
    assert data["label"] == "s1.b1" and data["options"] == list(position.options)
    assert data["ops"]["zero"] == []
    rebuilt = {opt: tuple(OpSignature.from_dict(d) for d in sigs)
               for opt, sigs in data["ops"].items()}
    assert Position(data["label"], tuple(data["options"]), rebuilt) == position
    assert hash(position) == hash(Position(position.label, position.options, rebuilt))


def test_position_needs_one_entry_per_option():
    sig = OpSignature("stem", 3, 8, 8, 8, kernel=3)
    with pytest.raises(ValueError, match="one entry per option"):
        Position("a", ("x", "y"), {"x": (sig,)})
    with pytest.raises(ValueError, match="one entry per option"):
        Position("a", ("x",), {"x": (sig,), "y": ()})


def test_a_space_without_positions_says_so():
    class Bare(SearchSpace):
        input_shape = (1, 1, 1)

        def choices(self):
            return [("a", ("x",))]

        def ops(self, arch):
            return []

        def build_op(self, sig):
            raise ValueError(sig)

    with pytest.raises(NotImplementedError, match="does not define positions"):
        Bare().positions()
    with pytest.raises(NotImplementedError, match="does not define fixed_ops"):
        Bare().fixed_ops()


@pytest.mark.parametrize("name", IDS)
def test_default_derivation_is_the_argmax_and_inverts_position_values(name):
    """Where positions are the choices, a supernet derives the strongest option at each
    position, and an architecture's one-hot position values derive it back."""
    import torch

    space = SPACES_UNDER_TEST[name]
    assert space.positions_are_choices
    positions = space.positions()
    rng = np.random.default_rng(11)
    weights = [torch.tensor(rng.random(len(p.options)), requires_grad=True) for p in positions]
    derived = space.arch_from_positions(weights, positions)
    assert list(derived.values.values()) == [
        dict(space.choices())[p.label][int(torch.argmax(w))] for p, w in
        sorted(zip(positions, weights, strict=True), key=lambda pw: pw[0].label)]
    arch = space.sample(rng)
    values = space.position_values(arch)
    assert values == [arch.values[p.label] for p in positions]
    one_hot = [[float(o == v) for o in p.options] for p, v in zip(positions, values, strict=True)]
    assert space.arch_from_positions(one_hot) == arch
