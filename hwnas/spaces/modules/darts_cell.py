"""Torch modules of the DARTS cell space (Liu, Simonyan & Yang, ICLR 2019), each rebuilt from an
OpSignature of `hwnas.spaces.darts`.

The ops are the paper's search network's: every convolution is ReLU first (cells end in an
unactivated BatchNorm), a separable conv is that block twice (the second at stride 1), a dilated
conv once with dilation 2, and a stride-2 skip is FactorizedReduce (two 1x1 stride-2 convs, the
second on the input shifted by one pixel, concatenated). Every BatchNorm inside a cell has no
learnable affine parameters, as in the paper's search, so that a mixed op's weighting is not
undone by a rescaling inside a candidate; pools are followed by such a BatchNorm too (the
paper's `MixedOp`), so a pool's output has the scale of the convs beside it. The stem's
BatchNorm is affine, as in the paper.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from hwnas.ops import OpSignature
from hwnas.spaces.modules.cell_ops import SumCopies

# dilation of `dil_conv_*`: the paper's only value
DILATION = 2


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, affine=False)


class ReLUConvBN(nn.Module):
    """A cell's input preprocessing: ReLU, 1x1 conv, BatchNorm."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False),
                                nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                                _bn(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class DilConv(nn.Module):
    """ReLU, depthwise conv (dilated), pointwise conv, BatchNorm. With dilation 1 it is one half
    of a separable conv."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, dilation: int):
        super().__init__()
        pad = dilation * (kernel - 1) // 2  # keeps the size at stride 1, halves it at stride 2
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(cin, cin, kernel, stride, pad, dilation=dilation, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
            _bn(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class SepConv(nn.Module):
    """The paper's separable conv: the ReLU-dwconv-pwconv-BN block twice, only the first
    strided."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.op = nn.Sequential(DilConv(cin, cin, kernel, stride, 1),
                                DilConv(cin, cout, kernel, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class FactorizedReduce(nn.Module):
    """Halves the resolution without dropping pixels: two 1x1 stride-2 convs, each making half
    of the output channels, the second on the input shifted by one pixel (even sizes only)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        if cout % 2:
            raise ValueError(f"FactorizedReduce makes an even number of channels; got {cout}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.bn = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class Pool(nn.Module):
    """3x3 max or average pool (the average not counting padding), then BatchNorm."""

    def __init__(self, kind: str, channels: int, stride: int):
        super().__init__()
        self.pool = (nn.MaxPool2d(3, stride, 1) if kind == "max"
                     else nn.AvgPool2d(3, stride, 1, count_include_pad=False))
        self.bn = _bn(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pool(x))


class Zero(nn.Module):
    """`none`: the edge carries nothing. A module so each edge owns one (a supernet puts a mixed
    op there); the cell skips it rather than adding zeros. At stride 2 its output would be
    half the size: a supernet's mixed op must agree in shape with the other candidates."""

    is_zero = True

    def __init__(self, stride: int = 1):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


class ConcatOf(nn.Module):
    """Profiling stand-in for a cell's output, the channel concatenation of its `n` nodes: the
    same copy, of one input `n` times, so the op can be timed alone."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x] * self.n, dim=1)


class Head(nn.Module):
    """Global average pool and a linear classifier (the paper's search network has no BN-ReLU
    before it)."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.classifier = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class DartsCell(nn.Module):
    """One cell: its two inputs preprocessed, then 4 nodes, node j the sum of its incoming
    edges' outputs (the modules in `edges`, ordered by node then source: the sources of node j
    are the two inputs and nodes 0..j-1); the output is the 4 nodes concatenated. A `Zero`
    edge is skipped, so a genotype's node adds exactly its two kept edges."""

    def __init__(self, pre0: nn.Module, pre1: nn.Module, edges: list[nn.Module], nodes: int = 4):
        super().__init__()
        expected = sum(2 + j for j in range(nodes))
        if len(edges) != expected:
            raise ValueError(f"a cell of {nodes} nodes has {expected} edges; got {len(edges)}")
        self.pre0, self.pre1 = pre0, pre1
        self.edges = nn.ModuleList(edges)
        self.nodes = nodes

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        offset = 0
        for j in range(self.nodes):
            parts = [edge(states[source]) for source, edge in
                     enumerate(self.edges[offset:offset + 2 + j])
                     if not getattr(edge, "is_zero", False)]
            offset += 2 + j
            if not parts:  # no genotype does this; a hand-made cell of `none` edges might
                raise RuntimeError(f"node {j} of a DARTS cell has no input that is not `none`")
            total = parts[0]
            for part in parts[1:]:
                total = total + part
            states.append(total)
        return torch.cat(states[2:], dim=1)


def build_darts_op(sig: OpSignature) -> nn.Module:
    """One module per op kind `DartsSpace.ops` lists, from its signature alone."""
    op = sig.op
    if op == "darts_stem":
        return nn.Sequential(nn.Conv2d(sig.cin, sig.cout, sig.kernel, 1, sig.kernel // 2,
                                       bias=False), nn.BatchNorm2d(sig.cout))
    if op == "darts_relu_conv_bn":
        return ReLUConvBN(sig.cin, sig.cout, sig.kernel, sig.stride)
    if op == "darts_fact_reduce":
        return FactorizedReduce(sig.cin, sig.cout)
    if op == "darts_sep_conv":
        return SepConv(sig.cin, sig.cout, sig.kernel, sig.stride)
    if op == "darts_dil_conv":
        return DilConv(sig.cin, sig.cout, sig.kernel, sig.stride, DILATION)
    if op in ("darts_max_pool", "darts_avg_pool"):
        return Pool(op[len("darts_"):-len("_pool")], sig.cout, sig.stride)
    if op == "darts_sum":
        return SumCopies(int(dict(sig.extra)["inputs"]))
    if op == "darts_concat":
        return ConcatOf(int(dict(sig.extra)["inputs"]))
    if op == "darts_head":
        return Head(sig.cin, sig.classes)
    raise ValueError(f"no DARTS module for op {op!r} (signature {sig.key})")
