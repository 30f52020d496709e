"""Torch modules for NAS-Bench-201's cell ops and macro skeleton, each rebuilt from an OpSignature.

Ops follow NAS-Bench-201 (Dong & Yang, ICLR 2020): convolutions are ReLU-Conv-BN, the 3x3 average
pool does not count padding, `none` is a zero and `skip_connect` an identity; reductions between
stages are a basic ResNet block whose shortcut is a 2x2 average pool and a 1x1 conv. The stem is
Conv-BN without activation because every cell op starts with its own ReLU.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from hwnas.ops import OpSignature

# The cell's graph is plain data in the space's module, so listing spaces needs no torch; the
# names stay importable from here too.
from hwnas.spaces.nb201 import CELL_OPS, CONV_KERNELS, EDGES, used_nodes  # noqa: F401


class ReLUConvBN(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False),
                                nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                                nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    """`none`: the edge carries nothing. Kept as a module so each edge owns one module (a mixed
    op replaces it in a supernet); the cell skips it instead of adding a tensor of zeros."""

    is_zero = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class SumCopies(nn.Module):
    """Profiling stand-in for a cell node that sums `n` tensors of one shape: the same n-1
    element-wise additions, fed from one input so the op can be timed on its own."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for _ in range(self.n - 1):
            out = out + x
        return out


class ResNetBasic(nn.Module):
    """NB201's reduction block (always stride 2): two ReLU-Conv-BN 3x3, the first strided, plus
    a shortcut of a 2x2 average pool and a 1x1 conv."""

    def __init__(self, cin: int, cout: int, stride: int = 2):
        super().__init__()
        if stride != 2:
            raise ValueError(f"ResNetBasic is NB201's reduction block, stride 2; got {stride}")
        self.conv_a = ReLUConvBN(cin, cout, 3, stride)
        self.conv_b = ReLUConvBN(cout, cout, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class Head(nn.Module):
    """BN + ReLU (the cells end in BN, unactivated), global average pool, linear classifier."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=False))
        self.classifier = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.lastact(x), 1)
        return self.classifier(torch.flatten(x, 1))


class Cell(nn.Module):
    """One NB201 cell: a module per edge in `EDGES` order (a mixed op can replace one); node j
    is the sum of its incoming edges, node 3 the output."""

    def __init__(self, edges: list[nn.Module]):
        super().__init__()
        if len(edges) != len(EDGES):
            raise ValueError(f"a cell has {len(EDGES)} edges; got {len(edges)} modules")
        self.edges = nn.ModuleList(edges)
        self.used = used_nodes([not getattr(e, "is_zero", False) for e in edges])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x]
        zero: torch.Tensor | None = None
        # results by the ids of what they were computed from: a pool or an addition made
        # twice in a cell is made once (see `_edge`)
        pooled: dict[tuple, Any] = {}
        for j in (1, 2, 3):
            if not self.used[j]:  # its value never reaches the output: do not compute it
                nodes.append(None)
                continue
            # A `none` edge adds nothing; skipping it saves a multiply by zero per edge.
            parts = [self._edge(edge, i, nodes, pooled)
                     for edge, (_label, i, target) in zip(self.edges, EDGES, strict=True)
                     if target == j and not getattr(edge, "is_zero", False)]
            if not parts:
                # Every input is `none`: the node is zero, as in NB201. x * 0 rather than a
                # constant keeps the graph tied to its input, or ONNX export would drop the
                # input; one per cell, as ONNX Runtime would merge a second one anyway.
                zero = x.mul(0.0) if zero is None else zero
                nodes.append(zero)
                continue
            total = parts[0]
            for part in parts[1:]:
                total = self._add(total, part, pooled)
            nodes.append(total)
        return nodes[3]

    @staticmethod
    def _edge(edge: nn.Module, i: int, nodes: list, pooled: dict[tuple, Any]):
        """An edge's output; a 3x3 average pool of a tensor already pooled in this cell is that
        result again (the pool has no weights). Keyed by the tensor, not the node: a node that
        is one skip of another is the same tensor, and the cell's zero is one tensor. ONNX
        export and ONNX Runtime merge such twin pools on their own and torch would compute
        both: computed once, every backend runs the network `Nb201Space.ops` lists."""
        if not isinstance(edge, nn.AvgPool2d):
            return edge(nodes[i])
        key = ("pool", id(nodes[i]))  # tensors stay referenced by `nodes` for the forward
        if key not in pooled:
            pooled[key] = edge(nodes[i])
        return pooled[key]

    @staticmethod
    def _add(a: torch.Tensor, b: torch.Tensor, made: dict[tuple, Any]) -> torch.Tensor:
        """a + b, once per cell for the same two tensors (a node that is one skip of another
        adds what the other added)."""
        key = ("add", id(a), id(b))
        if key not in made:
            # the operands are kept with the sum: alive, their ids cannot be reused in the cell
            made[key] = (a, b, a + b)
        return made[key][2]


class Nb201Network(nn.Module):
    """Stem, then cells and reduction blocks in order, then the head."""

    def __init__(self, stem: nn.Module, blocks: list[nn.Module], head: nn.Module):
        super().__init__()
        self.stem = stem
        self.cells = nn.ModuleList(blocks)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.cells:
            x = block(x)
        return self.head(x)


def edge_module(choice: str, sig: OpSignature | None) -> nn.Module:
    """The module of one cell edge: from its signature for compute ops, else zero / identity."""
    if choice == "none":
        return Zero()
    if choice == "skip_connect":
        return nn.Identity()
    return build_cell_op(sig)


def build_cell_op(sig: OpSignature) -> nn.Module:
    """One module per op kind that `Nb201Space.ops` emits."""
    if sig.op == "conv_bn":
        return nn.Sequential(nn.Conv2d(sig.cin, sig.cout, sig.kernel, sig.stride,
                                       sig.kernel // 2, bias=False), nn.BatchNorm2d(sig.cout))
    if sig.op == "relu_conv_bn":
        return ReLUConvBN(sig.cin, sig.cout, sig.kernel, sig.stride)
    if sig.op == "avg_pool":
        return nn.AvgPool2d(sig.kernel, sig.stride, sig.kernel // 2, count_include_pad=False)
    if sig.op == "zero":  # the value of a node whose every input is `none`
        return Zero()
    if sig.op == "sum":
        return SumCopies(int(dict(sig.extra)["inputs"]))
    if sig.op == "resnet_basic":
        return ResNetBasic(sig.cin, sig.cout, sig.stride)
    if sig.op == "bn_relu_gap_fc":
        return Head(sig.cin, sig.classes)
    raise ValueError(f"no module for op {sig.op!r} (signature {sig.key})")
