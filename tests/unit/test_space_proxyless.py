import numpy as np
import pytest
import torch

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.spaces.proxyless import MB_CHOICES, ProxylessSpace


def test_choices_allow_zero_only_where_shapes_match():
    space = ProxylessSpace()
    choices = dict(space.choices())
    assert len(choices) == 12
    assert "zero" not in choices["s1.b0"]  # 16 -> 24 channels
    assert "zero" not in choices["s2.b0"]  # stride 2
    assert choices["s2.b1"] == MB_CHOICES + ("zero",)
    assert space.size() == 6 ** 5 * 7 ** 7


def test_ops_are_whole_blocks_and_chain_consistently():
    space = ProxylessSpace()
    arch = space.sample(np.random.default_rng(3))
    sigs = space.ops(arch)
    assert sigs[0].op == "stem" and sigs[-1].op == "head" and sigs[-1].classes == 10
    n_zero = sum(v == "zero" for v in arch.values.values())
    assert len(sigs) == 2 + 12 - n_zero
    for prev, nxt in zip(sigs, sigs[1:], strict=False):
        assert (prev.cout, *prev.out_hw) == (nxt.cin, nxt.h, nxt.w)


def test_build_output_and_zero_removes_layer():
    space = ProxylessSpace(resolution=16, width_mult=0.5, num_classes=7)
    full = Arch("proxyless", {label: "mb_k3_e3" for label, _ in space.choices()})
    skipped = Arch("proxyless", {**full.values, "s2.b1": "zero", "s2.b2": "zero"})
    out = space.build(full).eval()(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 7)
    def layers(model):  # `zero` keeps the layer's slot as an identity, which runs nothing
        return [m for m in model if not isinstance(m, torch.nn.Identity)]

    assert len(layers(space.build(skipped))) == len(layers(space.build(full))) - 2
    assert len(space.build(skipped)) == len(space.build(full))


def test_encode_decode_round_trip_and_clipping():
    space = ProxylessSpace()
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        assert space.decode(space.encode(arch)) == arch
    lo, hi = space.bounds()
    assert space.decode(hi + 5) == space.decode(hi)
    assert space.decode(lo - 3.7) == space.decode(lo)


def test_all_ops_covers_every_sampled_arch():
    space = ProxylessSpace()
    keys = {s.key for s in space.all_ops()}
    assert len(keys) == 62  # stem + head + 5 stages x (6 first-layer + 6 repeated-layer) blocks
    rng = np.random.default_rng(1)
    for _ in range(50):
        assert {s.key for s in space.ops(space.sample(rng))} <= keys


def test_bad_config_and_arch_are_one_line_errors():
    with pytest.raises(BadInputError) as exc:
        ProxylessSpace(resolution="abc")
    assert str(exc.value) == ("The 'resolution' option of search space 'proxyless' must be an "
                              "int in [8, 1024]. Got 'abc' instead. (options: `hwnas list spaces`)")
    with pytest.raises(BadInputError, match="'resolution' option .* Got 4 instead"):
        ProxylessSpace(resolution=4)
    with pytest.raises(BadInputError, match=r"'width_mult' option .* in \[0.1, 4\]. Got 10"):
        ProxylessSpace(width_mult=10)
    with pytest.raises(BadInputError, match="unknown option 'resolutoin'.*'resolution'"):
        ProxylessSpace(resolutoin=16)
    assert ProxylessSpace(width_mult=1).config()["width_mult"] == 1.0  # stored as a float
    space = ProxylessSpace()
    bad = Arch("proxyless", {**space.default_arch().values, "s1.b0": "zero"})
    with pytest.raises(BadInputError, match="not a choice"):
        space.ops(bad)


def test_compact_form_lists_kernel_expansion_per_stage():
    space = ProxylessSpace()
    arch = Arch("proxyless", {**{label: "mb_k5_e6" for label, _ in space.choices()},
                              "s2.b1": "zero"})
    assert space.compact(arch) == "56 56|56 - 56|56 56 56|56 56|56 56"
