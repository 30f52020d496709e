"""Torch modules of the NASNet cell space (hwnas/spaces/nasnet.py), each op rebuilt from its
OpSignature alone, and the cell and network skeleton they are assembled into.

Op definitions follow NASNet (Zoph et al. 2018) and its reference implementation's
conventions: convolutions are ReLU-Conv-BN; a depthwise-separable conv is applied twice
(ReLU-depthwise-pointwise-BN, stride on the first only); pooling has no BN and average pooling
does not count padding; the "1x3 then 3x1" convs carry one BN after both; an identity that must
halve the resolution (a reduction cell's op on a cell input) is a factorized reduction.

Multi-input ops (`sum` of a block's two paths, `concat_project` of a concatenation back to the
cell's width) take a tuple of tensors in the network; handed a single tensor, as a profiler
does from the signature's (cin, h, w), they use it for every input, which runs the same ops.

Each path of a block ends in a `DropPathPoint` (after a non-identity op): an identity here,
where ScheduledDropPath (hwnas/nn/drop_path.py) installs its dropping during a training.

This module reads nothing of the space's (plain data stays in hwnas/spaces/nasnet.py), so the
space imports it lazily without an import cycle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn as nn
import torch.nn.functional as F

from hwnas.ops import OpSignature


class ReLUConvBN(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        pad = dilation * (kernel // 2)
        self.op = nn.Sequential(nn.ReLU(inplace=False),
                                nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation,
                                          bias=False),
                                nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class ConvPair(nn.Module):
    """NASNet's "1xk then kx1 convolution": two factorized convs, stride split between them,
    one BN after both (the pair is one op of the paper's list)."""

    def __init__(self, channels: int, kernel: int, stride: int = 1):
        super().__init__()
        pad = kernel // 2
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(channels, channels, (1, kernel), (1, stride), (0, pad), bias=False),
            nn.Conv2d(channels, channels, (kernel, 1), (stride, 1), (pad, 0), bias=False),
            nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class SepConv(nn.Module):
    """Depthwise-separable conv applied twice (NASNet's stacked separable conv): the second
    layer is what lets a k x k separable op see a (2k-1)-wide field at stride 1."""

    def __init__(self, channels: int, kernel: int, stride: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        for s in (stride, 1):
            layers += [nn.ReLU(inplace=False),
                       nn.Conv2d(channels, channels, kernel, s, kernel // 2, groups=channels,
                                 bias=False),
                       nn.Conv2d(channels, channels, 1, bias=False),
                       nn.BatchNorm2d(channels)]
        self.op = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class FactorizedReduce(nn.Module):
    """Halves the resolution without dropping 3/4 of the pixels: two 1x1 stride-2 convs, the
    second on the input shifted by one pixel, concatenated (half the channels each), then BN.
    The shift pads at the far edge (as NASNet's reference does), so odd sizes reduce too."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv_a = nn.Conv2d(cin, cout // 2, 1, 2, bias=False)
        self.conv_b = nn.Conv2d(cin, cout - cout // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


def _inputs(x, n: int) -> tuple:
    """A tuple of `n` tensors: the network's, or a profiler's one tensor `n` times."""
    return tuple(x) if isinstance(x, (tuple, list)) else (x,) * n


class Sum(nn.Module):
    """Element-wise addition of `n` tensors (a block's `add` combination)."""

    def __init__(self, n: int = 2):
        super().__init__()
        self.n = n

    def forward(self, x) -> torch.Tensor:
        parts = _inputs(x, self.n)
        out = parts[0]
        for part in parts[1:]:
            out = out + part
        return out


class ConcatProject(nn.Module):
    """Concatenation of `n` tensors of `channels` channels along channels, then ReLU, a 1x1
    conv back to `channels` and BN: a block's `concat` combination (2 inputs) and a cell's
    output (its unused blocks), so the width a later op sees does not depend on the arch.

    The conv's weight is kept in one slice per input, named by `names` (a cell's output names
    them by block), so a supernet that concatenates every block holds each block's slice
    under the same name as a network that concatenates some of them. Each slice is drawn as
    nn.Conv2d draws a whole (channels x n*channels) weight."""

    def __init__(self, channels: int, n: int, names: tuple[str, ...] | None = None):
        super().__init__()
        names = names or tuple(f"in{i}" for i in range(n))
        if len(names) != n:
            raise ValueError(f"{n} inputs need {n} names; got {names}")
        self.n = n
        bound = 1.0 / math.sqrt(channels * n)  # nn.Conv2d's default for fan-in n*channels
        # pairs, not a dict: their order is the concatenation's, whatever the names
        self.slices = nn.ParameterDict(
            [(name, nn.Parameter(torch.empty(channels, channels, 1, 1).uniform_(-bound, bound)))
             for name in names])
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x, names: Sequence[str] | None = None) -> torch.Tensor:
        """`names`: the inputs present, when a supernet's cell concatenates some of those it
        holds slices for (the blocks its sampled path leaves unread, as ENAS's cells do)."""
        parts = _inputs(x, self.n if names is None else len(names))
        slices = self.slices.values() if names is None else [self.slices[n] for n in names]
        weight = torch.cat(list(slices), dim=1)  # folded to one constant on export
        return self.bn(F.conv2d(F.relu(torch.cat(parts, dim=1)), weight))


class Zero(nn.Module):
    """A candidate edge the architecture does not take (`none`): the block skips it. A module
    so each edge owns one (a supernet's mixed op replaces it); run (a supernet weighing it),
    it gives zeros of the edge's output shape, subsampled at stride 2."""

    is_zero = True

    def __init__(self, stride: int = 1):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


class DropPathPoint(nn.Identity):
    """Where ScheduledDropPath may drop a path: an identity until a training installs a
    `hwnas.nn.drop_path.DropPath` in its place (which this layer cannot import), so a network
    built to evaluate or export has none of its randomness."""

    drop_path_point = True


class Head(nn.Module):
    """ReLU, global average pool, linear classifier (the cells end unactivated)."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.classifier = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(F.relu(x), 1)
        return self.classifier(torch.flatten(x, 1))


def build_nasnet_op(sig: OpSignature) -> nn.Module:
    """One module per op kind that `NasnetSpace.ops` emits."""
    k, s = sig.kernel, sig.stride
    if sig.op == "conv_bn":
        return nn.Sequential(nn.Conv2d(sig.cin, sig.cout, k, s, k // 2, bias=False),
                             nn.BatchNorm2d(sig.cout))
    if sig.op == "relu_conv_bn":
        return ReLUConvBN(sig.cin, sig.cout, k, s)
    if sig.op == "dil_conv":
        return ReLUConvBN(sig.cin, sig.cout, k, s, dilation=int(dict(sig.extra)["dilation"]))
    if sig.op == "conv_pair":
        return ConvPair(sig.cin, k, s)
    if sig.op == "sep_conv":
        return SepConv(sig.cin, k, s)
    if sig.op == "avg_pool":
        return nn.AvgPool2d(k, s, k // 2, count_include_pad=False)
    if sig.op == "max_pool":
        return nn.MaxPool2d(k, s, k // 2)
    if sig.op == "factorized_reduce":
        return FactorizedReduce(sig.cin, sig.cout)
    if sig.op == "sum":
        return Sum(int(dict(sig.extra)["inputs"]))
    if sig.op == "concat_project":
        return ConcatProject(sig.cout, int(dict(sig.extra)["inputs"]))
    if sig.op == "relu_gap_fc":
        return Head(sig.cin, sig.classes)
    raise ValueError(f"no module for op {sig.op!r} (signature {sig.key})")


class Block(nn.Module):
    """One block: two paths, each the sum of its candidate edges' outputs (a built network
    has exactly one non-`none` edge per path; a supernet a mixed op on every candidate),
    then the combination. A drop-path point follows each path's op unless it is an identity,
    as in NASNet's reference: an identity has nothing to regularise."""

    def __init__(self, paths: list[list[nn.Module]], combine: nn.Module):
        super().__init__()
        self.paths = nn.ModuleList(nn.ModuleList(edges) for edges in paths)
        self.combine = combine
        self.drop = nn.ModuleList(DropPathPoint() for _ in paths)

    def edges(self) -> list[nn.ModuleList]:
        """Per path, its candidate edges in input order."""
        return [cast(nn.ModuleList, edges) for edges in self.paths]

    def forward(self, states: list, pooled: dict | None = None) -> torch.Tensor:
        """`pooled`: the cell's pools so far, by (input, pool): a second identical pool of
        one input is the first's result, as ONNX Runtime would merge it (the space lists
        it once); each path still draws its own drop-path mask."""
        pooled = {} if pooled is None else pooled
        outs = []
        for edges, drop in zip(self.edges(), self.drop, strict=True):
            total = None
            for k, edge in enumerate(edges):
                if getattr(edge, "is_zero", False):
                    continue
                key = pool_key(edge, k)
                if key is not None and key in pooled:
                    y = pooled[key]
                else:
                    y = edge(states[k])
                    if key is not None:
                        pooled[key] = y
                if not isinstance(edge, nn.Identity):
                    y = drop(y)
                total = y if total is None else total + y
            outs.append(total)
        return self.combine(tuple(outs))


def pool_key(edge: nn.Module, k: int) -> tuple | None:
    """What makes two pools of input k one computation; None for anything with weights or
    that is not a pool."""
    if isinstance(edge, (nn.MaxPool2d, nn.AvgPool2d)):
        return (k, type(edge).__name__, edge.kernel_size, edge.stride)
    return None


def runs_nothing(edge: nn.Module) -> bool | None:
    """Whether an edge adds nothing to its path: True for `none`; for a supernet's mixed op,
    whether every candidate it runs now is `none`, or None when it weighs candidates (no
    single answer). Reads the mixed op's `mode`, `gates`, `paths` and `candidates`
    (hwnas.oneshot.supernet.MixedOp), which this module cannot import (spaces sit below
    oneshot in the layers)."""
    if getattr(edge, "is_zero", False):
        return True
    candidates = getattr(edge, "candidates", None)
    if candidates is None:
        return False
    if getattr(edge, "mode", None) == "weights" or getattr(edge, "gates", None) is not None:
        return None
    return all(getattr(candidates[j], "is_zero", False) for j in getattr(edge, "paths", ()))


class Cell(nn.Module):
    """A NASNet cell: its two inputs preprocessed to the cell's width (`None` for an input no
    block reads: not built, as ONNX export would drop it), its blocks in order (block b reads
    [h_{i-2}, h_{i-1}, block 0 .. block b-1]), and its output: the blocks no later block reads
    concatenated and projected (`output`), or the one such block as it is.

    `outputs` names those blocks for a network of one architecture. A supernet's cell
    (`outputs` None, `output` holding a slice for every block) finds them at each forward from
    the path its mixed ops run, so with one path set it computes that path's network exactly;
    while they weigh several candidates it concatenates every block, as DARTS's cells do."""

    def __init__(self, pre: tuple[nn.Module | None, nn.Module | None], blocks: list[Block],
                 output: nn.Module | None, outputs: tuple[int, ...] | None):
        super().__init__()
        self.pre0: nn.Module | None = pre[0]
        self.pre1: nn.Module | None = pre[1]
        self.blocks = nn.ModuleList(blocks)
        self.output: nn.Module | None = output
        self.outputs = None if outputs is None else tuple(outputs)
        if outputs is not None and (output is None) != (len(outputs) == 1):
            raise ValueError("a cell projects its output exactly when it concatenates 2+ blocks")

    def unread(self) -> tuple[int, ...]:
        """The blocks no later block reads, as the edges run now (see the class)."""
        if self.outputs is not None:
            return self.outputs
        read: set[int] = set()
        for block in cast(list[Block], list(self.blocks)):
            for edges in block.edges():
                for k, edge in enumerate(edges):
                    nothing = runs_nothing(edge)
                    if nothing is None:
                        return tuple(range(len(self.blocks)))
                    if k >= 2 and not nothing:
                        read.add(k - 2)
        return tuple(u for u in range(len(self.blocks)) if u not in read)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        pre0, pre1 = self.pre0, self.pre1
        states: list = [pre0(s0) if pre0 is not None else None,
                        pre1(s1) if pre1 is not None else None]
        pooled: dict = {}
        for block in self.blocks:
            states.append(block(states, pooled))
        outputs = self.unread()
        kept = tuple(states[2 + u] for u in outputs)
        project = self.output
        if len(kept) == 1 or project is None:  # one block: the output as it is
            return kept[0]
        if self.outputs is None:
            return project(kept, [f"b{u}" for u in outputs])
        return project(kept)
