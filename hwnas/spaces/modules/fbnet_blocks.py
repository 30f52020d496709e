"""Torch modules of the FBNet space as HW-NAS-Bench defines it, each rebuilt from an OpSignature.

They differ from `mbconv.py` in ways that matter to what the published latencies describe:
ReLU (not ReLU6), 2-group 1x1 convolutions with a channel shuffle (`_g2` blocks), a `skip`
that becomes a strided 1x1 conv-BN-ReLU where the shapes change, and a head split into three
ops (1x1 conv, average pool, linear) because HW-NAS-Bench's lookup table prices them apart.

Op names (the `op` of each OpSignature):
  fb_convnorm  conv kxk (stride) -> BN -> ReLU: the stem (3x3) and the head conv (1x1)
  fb_block     1x1 (groups g) -> BN -> ReLU [-> shuffle] -> kxk depthwise (stride) -> BN -> ReLU
               -> 1x1 (groups g) -> BN, + input when stride 1 and cin == cout; extra g in {1, 2}
  fb_skip      identity when stride 1 and cin == cout, else 1x1 conv (stride) -> BN -> ReLU
  fb_avgpool   global average pool (kernel = the input size, as HW-NAS-Bench's key states)
  fb_fc        flatten -> linear
"""

from __future__ import annotations

import torch
import torch.nn as nn

from hwnas.ops import OpSignature
from hwnas.spaces.modules.mbconv import conv_bn_act


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
            relu: bool = True) -> list[nn.Module]:
    """HW-NAS-Bench's FBNet blocks use ReLU where MobileNetV2's use ReLU6."""
    return conv_bn_act(cin, cout, kernel, stride, groups, act=relu, activation=nn.ReLU)


class ChannelShuffle(nn.Module):
    """ShuffleNet's shuffle: after a grouped 1x1 conv, mix the groups' channels so the next
    grouped conv sees inputs from every group."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.reshape(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(
            n, c, h, w)


def groups_of(sig: OpSignature) -> int:
    return int(dict(sig.extra).get("g", 1))


class FBBlock(nn.Module):
    """FBNet's inverted-residual block; one lookup entry covers it with its residual."""

    def __init__(self, sig: OpSignature):
        super().__init__()
        g = groups_of(sig)
        hidden = sig.cin * sig.expand
        layers = conv_bn(sig.cin, hidden, 1, groups=g)
        if g > 1:
            layers.append(ChannelShuffle(g))
        layers += conv_bn(hidden, hidden, sig.kernel, sig.stride, groups=hidden)
        layers += conv_bn(hidden, sig.cout, 1, groups=g, relu=False)
        self.body = nn.Sequential(*layers)
        self.residual = sig.stride == 1 and sig.cin == sig.cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out


def build_fbnet_op(sig: OpSignature) -> nn.Module:
    if sig.op == "fb_convnorm":
        return nn.Sequential(*conv_bn(sig.cin, sig.cout, sig.kernel, sig.stride))
    if sig.op == "fb_block":
        return FBBlock(sig)
    if sig.op == "fb_skip":
        if sig.stride == 1 and sig.cin == sig.cout:
            return nn.Identity()
        return nn.Sequential(*conv_bn(sig.cin, sig.cout, 1, sig.stride))
    if sig.op == "fb_avgpool":
        return nn.AdaptiveAvgPool2d(1)
    if sig.op == "fb_fc":
        return nn.Sequential(nn.Flatten(1), nn.Linear(sig.cin, sig.cout))
    raise ValueError(f"no module for op {sig.op!r} (signature {sig.key})")
