"""Torch modules of the `declared` space's blocks, each rebuilt from an OpSignature.

The plain blocks are mbconv.py's own (a declared chain equal to `proxyless` builds the very
same modules); this file adds what MnasNet's factorized space can choose beside them:
squeeze-and-excitation (extra `se`, the ratio of the block's input channels, 0.25 in MnasNet),
no identity shortcut where one would fit (extra `res=0`, MnasNet's "no skip") and a plain kxk
convolution block (op `conv`).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from hwnas.ops import OpSignature
from hwnas.spaces.modules.mbconv import build_mbconv_op, conv_bn_act


class SqueezeExcite(nn.Module):
    """Channel gates from a global average: reduce to `squeeze` channels, ReLU, expand,
    sigmoid (MnasNet's SE, placed after the depthwise conv as there)."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = nn.functional.adaptive_avg_pool2d(x, 1)
        scale = self.expand(nn.functional.relu(self.reduce(scale)))
        return x * torch.sigmoid(scale)


class ChainBlock(nn.Module):
    """An inverted residual (`mbconv`) or a kxk conv-BN-ReLU6 (`conv`), with SE and with or
    without the identity shortcut, as its signature says."""

    def __init__(self, sig: OpSignature):
        super().__init__()
        extra = dict(sig.extra)
        se_ratio = float(extra.get("se", 0))
        layers: list[nn.Module] = []
        if sig.op == "conv":
            layers += conv_bn_act(sig.cin, sig.cout, sig.kernel, sig.stride)
            width = sig.cout
        else:
            width = sig.cin * sig.expand
            if sig.expand != 1:
                layers += conv_bn_act(sig.cin, width, 1)
            layers += conv_bn_act(width, width, sig.kernel, sig.stride, groups=width)
        if se_ratio:
            layers.append(SqueezeExcite(width, max(1, int(sig.cin * se_ratio))))
        if sig.op != "conv":
            layers += conv_bn_act(width, sig.cout, 1, act=False)
        self.body = nn.Sequential(*layers)
        self.residual = (sig.stride == 1 and sig.cin == sig.cout
                         and extra.get("res", "1") != "0")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out


def build_chain_op(sig: OpSignature) -> nn.Module:
    if sig.op in ("stem", "head") or (sig.op == "mbconv" and not sig.extra):
        return build_mbconv_op(sig)
    if sig.op in ("mbconv", "conv"):
        return ChainBlock(sig)
    raise ValueError(f"no module for op {sig.op!r} (signature {sig.key})")
