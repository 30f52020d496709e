"""Torch modules for MobileNetV2-style ops, each rebuilt from an OpSignature.

Shared by every chain space built from inverted-residual blocks (and later by their supernets).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from hwnas.ops import OpSignature


def conv_bn_act(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                act: bool = True, activation: type[nn.Module] = nn.ReLU6) -> list[nn.Module]:
    """Conv (same padding, no bias) + BN (+ activation): the unit every block is made of."""
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act:
        layers.append(activation(inplace=True))
    return layers


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, kxk depthwise (stride), 1x1 project; identity shortcut
    when the shapes allow. One latency-table entry covers the whole block with its residual."""

    def __init__(self, sig: OpSignature):
        super().__init__()
        hidden = sig.cin * sig.expand
        layers: list[nn.Module] = []
        if sig.expand != 1:
            layers += conv_bn_act(sig.cin, hidden, 1)
        layers += conv_bn_act(hidden, hidden, sig.kernel, sig.stride, groups=hidden)
        layers += conv_bn_act(hidden, sig.cout, 1, act=False)
        self.body = nn.Sequential(*layers)
        self.residual = sig.stride == 1 and sig.cin == sig.cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out


class Head(nn.Module):
    """1x1 conv to the head width, global average pool, linear classifier."""

    def __init__(self, sig: OpSignature):
        super().__init__()
        self.features = nn.Sequential(*conv_bn_act(sig.cin, sig.cout, 1))
        self.classifier = nn.Linear(sig.cout, sig.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def build_mbconv_op(sig: OpSignature) -> nn.Module:
    if sig.op == "stem":
        return nn.Sequential(*conv_bn_act(sig.cin, sig.cout, sig.kernel, sig.stride))
    if sig.op == "mbconv":
        return MBConv(sig)
    if sig.op == "head":
        return Head(sig)
    raise ValueError(f"no module for op {sig.op!r} (signature {sig.key})")
