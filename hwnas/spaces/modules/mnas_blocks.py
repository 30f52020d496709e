"""Torch modules of the `mnasnet` space, each rebuilt from an OpSignature.

MnasNet (Tan et al. 2019) uses ReLU throughout (not MobileNetV2's ReLU6) and, where a block
asks for it, squeeze-and-excitation after the spatial (kxk) convolution, squeezing to
`max(1, int(cin * ratio))` channels: the ratio is of the layer's input width, as in MnasNet's
reference implementation, so one ratio means the same squeeze in every ConvOp.

Op names (the `op` of each OpSignature; `extra` holds `se` (ratio) and `skip`):
  mnas_stem    3x3 conv (stride) -> BN -> ReLU
  mnas_conv    kxk conv (stride) -> BN -> ReLU [-> SE]
  mnas_dwsep   kxk depthwise (stride) -> BN -> ReLU [-> SE] -> 1x1 -> BN
  mnas_mbconv  1x1 (x expand) -> BN -> ReLU -> kxk depthwise (stride) -> BN -> ReLU [-> SE]
               -> 1x1 -> BN
  mnas_head    1x1 conv -> BN -> ReLU -> global average pool -> linear
A layer whose `skip` is `identity` adds its input to its output; the space asks for it only
where stride is 1 and cin == cout, and a signature that asks for it elsewhere is refused.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from hwnas.ops import OpSignature
from hwnas.spaces.modules.mbconv import conv_bn_act

LAYER_OPS = ("mnas_conv", "mnas_dwsep", "mnas_mbconv")


def conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: bool = True) -> list[nn.Module]:
    return conv_bn_act(cin, cout, kernel, stride, groups, act=act, activation=nn.ReLU)


def se_ratio(sig: OpSignature) -> float:
    return float(dict(sig.extra).get("se", "0"))


def squeeze_width(cin: int, ratio: float) -> int:
    """Channels of the SE bottleneck: a share of the layer's input width, at least one."""
    return max(1, int(cin * ratio))


def has_identity(sig: OpSignature) -> bool:
    return dict(sig.extra).get("skip", "none") == "identity"


class SqueezeExcite(nn.Module):
    """Channel attention: global pool, 1x1 squeeze -> ReLU -> 1x1 excite -> sigmoid gate."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.squeeze = nn.Conv2d(channels, squeeze, 1)
        self.excite = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        s = self.excite(torch.relu(self.squeeze(s)))
        return x * torch.sigmoid(s)


class MnasLayer(nn.Module):
    """One layer of a block: its ConvOp with optional SE, and the identity skip if chosen.
    One latency-table entry covers the whole layer with its SE and residual."""

    def __init__(self, sig: OpSignature):
        super().__init__()
        if sig.op not in LAYER_OPS:
            raise ValueError(f"no MnasNet layer for op {sig.op!r} (signature {sig.key})")
        ratio = se_ratio(sig)
        k, s = sig.kernel, sig.stride
        if sig.op == "mnas_conv":
            spatial = conv_bn_relu(sig.cin, sig.cout, k, s)
            width, after = sig.cout, []
        elif sig.op == "mnas_dwsep":
            spatial = conv_bn_relu(sig.cin, sig.cin, k, s, groups=sig.cin)
            width, after = sig.cin, conv_bn_relu(sig.cin, sig.cout, 1, act=False)
        else:
            hidden = sig.cin * sig.expand
            spatial = (conv_bn_relu(sig.cin, hidden, 1)
                       + conv_bn_relu(hidden, hidden, k, s, groups=hidden))
            width, after = hidden, conv_bn_relu(hidden, sig.cout, 1, act=False)
        se = [SqueezeExcite(width, squeeze_width(sig.cin, ratio))] if ratio > 0 else []
        self.body = nn.Sequential(*spatial, *se, *after)
        self.residual = has_identity(sig)
        if self.residual and (s != 1 or sig.cin != sig.cout):
            raise ValueError(f"an identity skip needs stride 1 and cin == cout ({sig.key})")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out


class Head(nn.Module):
    """1x1 conv to the head width, global average pool, linear classifier (MnasNet's)."""

    def __init__(self, sig: OpSignature):
        super().__init__()
        self.features = nn.Sequential(*conv_bn_relu(sig.cin, sig.cout, 1))
        self.classifier = nn.Linear(sig.cout, sig.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class MnasBlock(nn.Sequential):
    """A block's layers in order; `out_channels` sizes what follows it (the next block or
    the head), since a block's filter choice sets the width everything after it sees."""

    def __init__(self, layers: list[nn.Module], out_channels: int):
        super().__init__(*layers)
        self.out_channels = out_channels


def build_mnas_op(sig: OpSignature) -> nn.Module:
    if sig.op == "mnas_stem":
        return nn.Sequential(*conv_bn_relu(sig.cin, sig.cout, sig.kernel, sig.stride))
    if sig.op in LAYER_OPS:
        return MnasLayer(sig)
    if sig.op == "mnas_head":
        return Head(sig)
    raise ValueError(f"no module for op {sig.op!r} (signature {sig.key})")
