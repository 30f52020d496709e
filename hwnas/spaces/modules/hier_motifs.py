"""Torch modules of the hierarchical space (Liu et al., ICLR 2018), each rebuilt from an
OpSignature, and the motif graph that wires them.

Every convolution is followed by BatchNorm and ReLU, as the paper has it; pools and the identity
have no weights. A node of a motif with several inputs concatenates them along the channels and
a 1x1 convolution (+ BN + ReLU) brings the result back to the motif's C channels.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from hwnas.ops import OpSignature


def _bn_relu(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.ReLU(inplace=False)]


class ConvBNReLU(nn.Sequential):
    """A plain (`groups=1`) or depthwise (`groups=cin`) convolution, then BN and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups,
                                   bias=False), *_bn_relu(cout))


class SepConvBNReLU(nn.Sequential):
    """3x3 depthwise then 1x1 pointwise convolution (the stride on the depthwise one), then
    BN and ReLU: the paper's separable convolution, also its reduction between cells."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__(nn.Conv2d(cin, cin, kernel, stride, kernel // 2, groups=cin, bias=False),
                         nn.Conv2d(cin, cout, 1, bias=False), *_bn_relu(cout))


class ConcatMerge(nn.Module):
    """A node with `inputs` incoming tensors of `channels` each: depth-wise concatenation, then
    a 1x1 convolution + BN + ReLU back to `channels`.

    The network calls it with the list of its inputs. Called with one tensor (how a profiler
    times an op on its own), it concatenates `inputs` copies of it: the same Concat and
    convolution the network runs, fed from one input as `hwnas profile` feeds every op."""

    def __init__(self, inputs: int, channels: int):
        super().__init__()
        if inputs < 2:
            raise ValueError(f"a merge joins at least 2 inputs; got {inputs}")
        self.inputs = inputs
        self.project = ConvBNReLU(inputs * channels, channels, 1)

    def forward(self, x: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        parts = [x] * self.inputs if isinstance(x, torch.Tensor) else list(x)
        if len(parts) != self.inputs:
            raise ValueError(f"merge of {self.inputs} inputs called with {len(parts)}")
        return self.project(torch.cat(parts, dim=1))


class Zero(nn.Module):
    """`none`: no edge. Kept as a module so each edge owns one (a mixed op replaces it in a
    supernet); a motif skips it. As a whole cell's value (its output node has no input) it is
    x * 0, which keeps the graph tied to its input so ONNX export keeps the input."""

    is_zero = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class Motif(nn.Module):
    """A DAG of `nodes` nodes: node 0 is the input, the last node the output. `edges` maps
    (i, j), i < j, to the module on that edge (a `Zero` where there is no edge); `merges` maps
    each node with two or more incoming edges to its `ConcatMerge`.

    A node none of whose edges carries anything does not exist: its outgoing edges are skipped
    (the space builds them as `Zero`, since they cannot reach the output). When the output
    node itself gets nothing, the motif's value is `empty` (a zero tensor); the space builds
    that only for a whole cell, and uses a level-2 motif with no path as no edge."""

    def __init__(self, nodes: int, edges: dict[tuple[int, int], nn.Module],
                 merges: dict[int, nn.Module], empty: nn.Module | None = None):
        super().__init__()
        self.nodes = nodes
        self.pairs = [(i, j) for j in range(1, nodes) for i in range(j)]
        if sorted(edges) != sorted(self.pairs):
            raise ValueError(f"a motif of {nodes} nodes has edges {self.pairs}; "
                             f"got {sorted(edges)}")
        # One dict in execution order (node j's edges, then its merge), which is the order
        # the space makes them in and `ops()` lists them: parameters() then follows it too.
        self.parts = nn.ModuleDict()
        for j in range(1, nodes):
            for i in range(j):
                self.parts[f"e{i}_{j}"] = edges[i, j]
            if j in merges:
                self.parts[f"m{j}"] = merges[j]
        self.empty = empty if empty is not None else Zero()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, {})

    def run(self, x: torch.Tensor, pooled: dict[tuple, Any]) -> torch.Tensor:
        """The motif on `x`; `pooled` holds the pools computed so far in the cell, shared
        with the motifs nested in it (see `_edge`)."""
        values: list[torch.Tensor | None] = [x]
        for j in range(1, self.nodes):
            parts = []
            for i in range(j):
                edge = self.parts[f"e{i}_{j}"]
                source = values[i]
                if source is not None and not getattr(edge, "is_zero", False):
                    parts.append(self._edge(edge, source, pooled))
            if not parts:
                values.append(None)
            elif len(parts) == 1:
                values.append(parts[0])
            else:
                values.append(self.parts[f"m{j}"](parts))
        out = values[-1]
        return self.empty(x) if out is None else out

    @staticmethod
    def _edge(edge: nn.Module, x: torch.Tensor, pooled: dict[tuple, Any]) -> torch.Tensor:
        """An edge's output. A pool of a tensor the cell has already pooled the same way is
        that result again: ONNX export merges such twins on its own and torch would compute
        both, so computing it once makes every backend run what the space's `ops` lists.
        Keyed by the tensor: a node that is an identity of another is the same tensor."""
        if isinstance(edge, Motif):
            return edge.run(x, pooled)
        if not isinstance(edge, (nn.MaxPool2d, nn.AvgPool2d)):
            return edge(x)
        key = (type(edge).__name__, id(x))
        if key not in pooled:
            # the source is kept with the result: alive, its id cannot be reused in the cell
            pooled[key] = (x, edge(x))
        return pooled[key][1]


class HierNetwork(nn.Module):
    """Stem, then cells and reduction convolutions in order, then the last separable
    convolution and the head."""

    def __init__(self, stem: nn.Module, blocks: list[nn.Module], tail: nn.Module,
                 head: nn.Module):
        super().__init__()
        self.stem = stem
        self.cells = nn.ModuleList(blocks)
        self.tail = tail
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.cells:
            x = block(x)
        return self.head(self.tail(x))


class Head(nn.Module):
    """Global average pool, then the linear classifier."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.classifier = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def build_hier_op(sig: OpSignature) -> nn.Module:
    """One module per op kind that `HierarchicalSpace.ops` emits."""
    if sig.op == "conv_bn_relu":
        return ConvBNReLU(sig.cin, sig.cout, sig.kernel, sig.stride)
    if sig.op == "dwconv_bn_relu":
        return ConvBNReLU(sig.cin, sig.cout, sig.kernel, sig.stride, groups=sig.cin)
    if sig.op == "sepconv_bn_relu":
        return SepConvBNReLU(sig.cin, sig.cout, sig.kernel, sig.stride)
    if sig.op == "max_pool":
        return nn.MaxPool2d(sig.kernel, sig.stride, sig.kernel // 2)
    if sig.op == "avg_pool":
        return nn.AvgPool2d(sig.kernel, sig.stride, sig.kernel // 2, count_include_pad=False)
    if sig.op == "concat_merge":
        return ConcatMerge(int(dict(sig.extra)["inputs"]), sig.cin)
    if sig.op == "zero":
        return Zero()
    if sig.op == "gap_fc":
        return Head(sig.cin, sig.classes)
    raise ValueError(f"no module for op {sig.op!r} (signature {sig.key})")
