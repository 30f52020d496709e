"""The `fbnet` space: HW-NAS-Bench's FBNet layout, encoding, ops, modules and ONNX export."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.nn.onnx_io import module_to_onnx
from hwnas.registry import SPACES
from hwnas.spaces.fbnet import CHOICES, FBNetSpace, hwnas_bench_key
from hwnas.spaces.modules.fbnet_blocks import ChannelShuffle

HWNAS_BENCH_PRIMITIVES = ["k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3",
                          "k5_e6", "skip"]


def test_registered_with_22_labels_of_9_choices_in_hwnas_bench_order():
    space = SPACES.get("fbnet")()
    assert space.config() == {"setting": "cifar100", "num_classes": 100}
    pairs = space.choices()
    assert [label for label, _ in pairs] == [f"l{i:02d}" for i in range(22)]
    assert all(list(opts) == HWNAS_BENCH_PRIMITIVES for _, opts in pairs)
    assert CHOICES == tuple(HWNAS_BENCH_PRIMITIVES)
    assert space.size() == 9 ** 22
    assert (space.input_shape, space.num_classes) == ((3, 32, 32), 100)
    imagenet = FBNetSpace("imagenet")  # case forgiven, stored canonically
    assert imagenet.config() == {"setting": "ImageNet", "num_classes": 1000}
    assert FBNetSpace(setting="IMAGENET", num_classes=None).config() == imagenet.config()
    assert FBNetSpace(**imagenet.config()).config() == imagenet.config()
    assert (imagenet.input_shape, imagenet.num_classes) == ((3, 224, 224), 1000)


def test_encoding_is_hwnas_bench_op_idx_list():
    space = FBNetSpace()
    idx = [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 0, 3, 7, 2, 5, 1, 8, 4, 6, 0, 2, 1]
    arch = space.from_indices(idx)
    assert space.encode(arch).tolist() == idx
    assert space.decode(idx) == arch
    assert arch.values["l01"] == "k3_e1_g2" and arch.values["l08"] == "skip"
    assert space.compact(arch) == " ".join(map(str, idx))
    assert space.from_indices(np.array(idx)) == arch  # numpy integers too
    for bad in ([0] * 21, [0] * 21 + [9], [0] * 21 + [1.5]):
        with pytest.raises(BadInputError, match="22 integers in 0..8"):
            space.from_indices(bad)


@pytest.mark.parametrize("setting, stem, hws, last", [
    ("cifar100", "ConvNorm_H32_W32_Cin3_Cout16_kernel3_stride1_group1", (32, 16, 8, 8, 4),
     ["ConvNorm_H4_W4_Cin352_Cout1504_kernel1_stride1_group1",
      "AvgP_H4_W4_Cin1504_Cout1504_kernel4_stride1", "FC_Cin1504_Cout100"]),
    ("ImageNet", "ConvNorm_H224_W224_Cin3_Cout16_kernel3_stride2_group1", (56, 28, 14, 14, 7),
     ["ConvNorm_H7_W7_Cin352_Cout1984_kernel1_stride1_group1",
      "AvgP_H7_W7_Cin1984_Cout1984_kernel7_stride1", "FC_Cin1984_Cout1000"]),
])
def test_ops_follow_the_macro_architecture(setting, stem, hws, last):
    space = FBNetSpace(setting)
    arch = space.from_indices([8] * 22)
    sigs = space.ops(arch)
    assert len(sigs) == 1 + 22 + 3
    assert hwnas_bench_key(sigs[0]) == stem
    assert [hwnas_bench_key(s) for s in sigs[-3:]] == last
    for prev, nxt in zip(sigs[:-2], sigs[1:-1], strict=True):  # the fc takes the pooled vector
        assert (prev.cout, *prev.out_hw) == (nxt.cin, nxt.h, nxt.w)
    layers = sigs[1:23]
    # input size of the first layer of stages 1..5 (layers 1, 5, 9, 13, 17)
    assert tuple(layers[i].h for i in (1, 5, 9, 13, 17)) == (
        (32 if setting == "cifar100" else 112),) + hws[:4]
    assert [s.cout for s in layers[::4]] == [16, 24, 32, 64, 112, 184]
    assert layers[21].cout == 352 and layers[21].h == hws[4]


def test_all_ops_are_112_and_map_one_to_one_onto_lookup_keys():
    for setting in ("cifar100", "ImageNet"):
        ops = FBNetSpace(setting).all_ops()
        assert len(ops) == len({s.key for s in ops}) == len({hwnas_bench_key(s) for s in ops})
        assert len(ops) == 112  # 4 fixed + the distinct (layer shape x block) pairs


def test_skip_is_identity_only_where_shapes_match():
    space = FBNetSpace()
    sigs = space.ops(space.from_indices([8] * 22))[1:23]
    changing = [i for i, s in enumerate(sigs) if s.stride != 1 or s.cin != s.cout]
    assert changing == [1, 5, 9, 13, 17, 21]
    x = torch.randn(1, 16, 32, 32)
    assert space.build_op(sigs[0])(x) is x  # identity at l00 (16 -> 16, stride 1)
    proj = space.build_op(sigs[5]).eval()  # l05: 24 -> 32, stride 2: 1x1 conv-BN-ReLU
    assert proj(torch.randn(1, 24, 32, 32)).shape == (1, 32, 16, 16)


def test_g2_blocks_use_grouped_1x1_convs_and_shuffle():
    space = FBNetSpace()
    sig = space.ops(space.from_indices([1] * 22))[2]  # l01, k3_e1_g2, 16 -> 24
    block = space.build_op(sig)
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.groups for c in convs] == [2, 16, 2]
    assert any(isinstance(m, ChannelShuffle) for m in block.modules())
    x = torch.arange(8.0).reshape(1, 8, 1, 1)
    assert ChannelShuffle(2)(x).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


@pytest.mark.parametrize("setting, size, classes", [("cifar100", 32, 100),
                                                     ("ImageNet", 224, 1000)])
def test_build_forward_shape(setting, size, classes):
    space = FBNetSpace(setting)
    arch = space.sample(np.random.default_rng(0))
    with torch.inference_mode():
        out = space.build(arch).eval()(torch.randn(1, 3, size, size))
    assert out.shape == (1, classes)
    assert torch.isfinite(out).all()


def test_onnx_export_matches_torch():
    space = FBNetSpace()
    arch = space.from_indices([1, 5, 3, 8, 7, 1, 6, 8, 2, 5, 8, 0, 4, 3, 1, 8, 5, 7, 2, 8, 1, 6])
    torch.manual_seed(0)
    model = space.build(arch).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        expected = model(x).numpy()
    session = ort.InferenceSession(module_to_onnx(model, (1, 3, 32, 32)),
                                   providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert got.shape == (1, 100)
    assert np.max(np.abs(got - expected)) < 1e-4


def test_bad_setting_and_arch_are_one_line_errors():
    with pytest.raises(BadInputError) as exc:
        FBNetSpace("cifar10")
    assert str(exc.value) == ("The 'setting' option of search space 'fbnet' must be one of "
                              "'cifar100', 'ImageNet'. Got 'cifar10' instead. Did you mean "
                              "'cifar100'? (options: `hwnas list spaces`)")
    with pytest.raises(BadInputError, match="'setting' option .* Got 3 instead"):
        FBNetSpace(setting=3)
    space = FBNetSpace()
    with pytest.raises(BadInputError, match="not a choice of fbnet"):
        space.ops(Arch("fbnet", {**space.default_arch().values, "l03": "k7_e6"}))
    with pytest.raises(BadInputError, match="'num_classes' option of search space 'fbnet'"):
        FBNetSpace(num_classes=1)
    assert FBNetSpace(num_classes=10).build(space.default_arch())[-1][-1].out_features == 10
