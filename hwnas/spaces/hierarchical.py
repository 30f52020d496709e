"""`hierarchical`: the hierarchical search space of Liu et al., "Hierarchical Representations
for Efficient Architecture Search" (ICLR 2018).

Levels (the paper's L = 3):
- level 1, the paper's M_1 = 6 primitives: 1x1 convolution of C channels, 3x3 depthwise
  convolution, 3x3 separable convolution of C channels, 3x3 max pool, 3x3 average pool,
  identity; stride 1, padded, every convolution followed by BatchNorm and ReLU; plus the
  paper's `none` (no edge), an option of every edge here, at levels 2 and 3.
- level 2: `motifs` motifs (the paper: M_2 = 6), each a DAG over `motif_nodes` nodes (the
  paper: 4), one label per edge of its upper-triangular adjacency matrix naming a primitive or
  `none`: `m2_{k}.e{i}{j}`.
- level 3: one motif (M_3 = 1) over `cell_nodes` nodes (the paper: 5) whose edges name a level-2
  motif by index, or `none`: `m3.e{i}{j}`. It is the cell.
So at the defaults an architecture is 6 x 6 + 10 = 46 labels, 7^36 x 7^10 ~ 7.5e38 codes.

A motif is assembled recursively: node 0 is its input, node j (in order) merges what its
incoming edges compute from nodes i < j, and the last node is the output. The paper merges by
depth-wise concatenation and fixes every convolution's output to C channels, which leaves the
width of a node whose inputs are identities or pools (and of a motif's output) depending on
the graph; here a node with two or more inputs concatenates them and a 1x1 convolution (+ BN
+ ReLU) brings them back to C (`concat_merge`), so every node, motif and cell has C channels
and the level-3 motif can place any level-2 motif on any edge. A node with one input is that
input (no op).

No edge, no node: a node none of whose edges carries anything does not exist, and an edge
leaving it carries nothing either; a level-2 motif with no path from its input to its output
is, where the cell uses it, no edge. Nodes that cannot reach the output (or that nothing
reaches) are dead: they are neither built nor priced. A cell whose output node gets nothing
is a zero tensor (`zero`, x * 0: the network stays defined, its prediction constant). So every
combination of labels is a valid network.

Network skeleton (the paper's small CIFAR model, Fig. 2, used during its search): 3x3 conv of
C channels (+ BN + ReLU), then 3 stages of N cells (the paper: 1) with C, 2C and 4C channels
separated by 3x3 separable convolutions of stride 2, then a 3x3 separable convolution, global
average pool and a linear layer. Defaults: C = 16, N = 1, 32x32x3 inputs, 10 classes.

Search: the paper's evolution mutates one edge of one motif (a level, then a motif of it, then
an edge, then a new op for it) and its random search samples the same codes; on this encoding
(one label per edge of every motif) hwnas's `evolution` mutation, which changes one label to
another of its options, makes exactly the paper's moves, though it draws the edge uniformly
over all 46 labels where the paper draws the level first (so level-3 edges are mutated 10 in
46 times, not one in two), and it is aging evolution where the paper kept every individual
and selected by tournaments of 5% of them.

Latency-table granularity (`ops`): every primitive that runs, each level-2 motif expanded at
each live level-3 edge that uses it (its own weights there), every merge, stem, reductions,
the last separable convolution and the head, in execution order. Identity and `none` run
nothing, and a 3x3 pool of a tensor the cell has already pooled that way is that result (ONNX
export merges such twins; `Motif` computes them once in torch too): at the paper's sizes 84%
of random networks have one, 30% of their pools. Export also merges two Concats of the same
tensors (one motif at two edges from one tensor, only pools and identities inside); `ops`
still lists a merge for each, over-counting one copy (9 of 462 merges in 15 random networks).

Supernet (`positions()`, one per label): built from the same `build_network`, the level-3
edges' mixed ops holding every motif, whose edges are the level-2 positions' mixed ops. Its
positions do not add up (a level-3 edge runs what its motif holds), so an exact expected cost
would enumerate 7^46 architectures and is refused in one line; a supernet path is not
`build(arch)` either (its merges concatenate every predecessor, `none` as zeros, where the
network concatenates the live ones only), so its children's weights cannot be taken out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from hwnas.arch import Arch
from hwnas.limits import MAX_CELLS, MAX_CHANNELS, MAX_CLASSES, MAX_RESOLUTION
from hwnas.ops import OpSignature
from hwnas.options import Option
from hwnas.registry import SPACES
from hwnas.spaces.base import Position, SearchSpace

# The paper's six level-1 primitives, in its order (this order is the integer encoding).
PRIMITIVES = ("conv_1x1", "dwconv_3x3", "sepconv_3x3", "max_pool_3x3", "avg_pool_3x3",
              "identity")
NONE = "none"
LEVEL2_OPTIONS = PRIMITIVES + (NONE,)
# (op name of the signature, kernel) of each primitive that runs an op
PRIMITIVE_OPS = {"conv_1x1": ("conv_bn_relu", 1), "dwconv_3x3": ("dwconv_bn_relu", 3),
                 "sepconv_3x3": ("sepconv_bn_relu", 3), "max_pool_3x3": ("max_pool", 3),
                 "avg_pool_3x3": ("avg_pool", 3)}
# `compact()`'s one character per edge
SHORT = {"conv_1x1": "1", "dwconv_3x3": "d", "sepconv_3x3": "s", "max_pool_3x3": "m",
         "avg_pool_3x3": "a", "identity": "i", NONE: "-"}
DIGITS = "0123456789abcdef"  # a level-3 edge's motif, one character (up to 16 motifs)
MAX_NODES = 8  # labels write a node as one digit; 8 nodes are 28 edges per motif


def edge_pairs(nodes: int) -> list[tuple[int, int]]:
    """The edges (i, j), i < j, of a motif's upper-triangular adjacency matrix, by target node
    then source: the order a motif is computed in."""
    return [(i, j) for j in range(1, nodes) for i in range(j)]


def live_edges(nodes: int, present: dict[tuple[int, int], bool]) -> set[tuple[int, int]]:
    """The edges whose result reaches the output: present, from a node the input reaches, into
    a node that reaches the output. Empty when no path joins input and output."""
    fed = [True] + [False] * (nodes - 1)
    for i, j in edge_pairs(nodes):
        fed[j] = fed[j] or (present[i, j] and fed[i])
    useful = [False] * (nodes - 1) + [True]
    for i, j in reversed(edge_pairs(nodes)):
        useful[i] = useful[i] or (present[i, j] and useful[j])
    return {(i, j) for (i, j), on in present.items() if on and fed[i] and useful[j]}


@SPACES.register("hierarchical")
class HierarchicalSpace(SearchSpace):
    """Liu et al. 2018: 6 motifs of 4 nodes over 6 primitives, a 5-node cell over the motifs.

    Every edge may also be `none`; 3 cells (one per stage) by default. The module docstring
    says what is built and what is priced."""

    is_chain = False
    positions_add_up = False  # a level-3 edge runs what its motif holds (positions())
    # its merges concatenate only live inputs and its motifs nest: no child weights to take
    supernet_children = False
    arch_legend = ("each level-2 motif, then after ':' the cell; per motif the inputs of nodes "
                   "1|2|3.. from nodes 0, 1, ..: 1 = 1x1 conv, d = 3x3 depthwise, s = 3x3 "
                   "separable, m = max pool, a = avg pool, i = identity, '-' = none; the cell's "
                   "edges name a motif by its index")
    small_options = {"C": 4, "N": 1, "resolution": 8, "motifs": 2, "motif_nodes": 3,
                     "cell_nodes": 4}

    option_specs = {
        "C": Option(16, int, low=1, high=MAX_CHANNELS, help="channels of the first stage"),
        "N": Option(1, int, low=1, high=MAX_CELLS, help="cells per stage"),
        "resolution": Option(32, int, low=4, high=MAX_RESOLUTION, help="input height and width"),
        "num_classes": Option(10, int, low=2, high=MAX_CLASSES, help="classifier outputs"),
        "in_channels": Option(3, int, low=1, high=MAX_CHANNELS, help="input channels"),
        "motifs": Option(6, int, low=1, high=len(DIGITS), help="level-2 motifs (M_2)"),
        "motif_nodes": Option(4, int, low=2, high=MAX_NODES, help="nodes of a level-2 motif"),
        "cell_nodes": Option(5, int, low=2, high=MAX_NODES,
                             help="nodes of the level-3 motif (the cell)"),
    }
    C: int
    N: int
    resolution: int
    in_channels: int
    motifs: int
    motif_nodes: int
    cell_nodes: int

    def __init__(self, **options):
        super().__init__(**options)
        # the slot of the `build_network` under way: a level-3 edge's motif (`option_module`)
        # takes its level-2 edges from it, so a supernet nests its mixed ops there too
        self._slot: Callable[[int, int], Any] | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.resolution, self.resolution)

    # -- labels -------------------------------------------------------------------------------
    def motif_labels(self, k: int) -> list[str]:
        return [f"m2_{k}.e{i}{j}" for i, j in edge_pairs(self.motif_nodes)]

    def cell_labels(self) -> list[str]:
        return [f"m3.e{i}{j}" for i, j in edge_pairs(self.cell_nodes)]

    def choices(self) -> list[tuple[str, tuple]]:
        level3 = tuple(range(self.motifs)) + (NONE,)
        return ([(label, LEVEL2_OPTIONS) for k in range(self.motifs)
                 for label in self.motif_labels(k)]
                + [(label, level3) for label in self.cell_labels()])

    def live_values(self, arch: Arch) -> dict[str, str | int]:
        """Every label's value where its edge reaches an output, `none` where it does not: an
        edge of a dead node, a level-3 edge naming a motif with no path, ... What `build` and
        `ops` run."""
        values = arch.values
        out: dict[str, str | int] = {}
        empty = set()
        pairs2 = edge_pairs(self.motif_nodes)
        for k in range(self.motifs):
            labels = self.motif_labels(k)
            live = live_edges(self.motif_nodes, {e: values[label] != NONE
                                                 for e, label in zip(pairs2, labels, strict=True)})
            if not live:
                empty.add(k)
            out.update({label: values[label] if e in live else NONE
                        for e, label in zip(pairs2, labels, strict=True)})
        pairs3, labels3 = edge_pairs(self.cell_nodes), self.cell_labels()
        live3 = live_edges(self.cell_nodes, {e: values[label] != NONE and values[label] not in empty
                                             for e, label in zip(pairs3, labels3, strict=True)})
        out.update({label: values[label] if e in live3 else NONE
                    for e, label in zip(pairs3, labels3, strict=True)})
        return out

    def effective_values(self, arch: Arch) -> dict[str, str | int]:
        """`live_values`, also with every edge of a motif the cell does not use at `none`: the
        network itself, whatever the unused motifs hold."""
        live = self.live_values(arch)
        used = {live[label] for label in self.cell_labels()} - {NONE}
        return {label: (NONE if label.startswith("m2_")
                        and int(label[3:label.index(".")]) not in used else value)
                for label, value in live.items()}

    def network_key(self, arch: Arch) -> tuple:
        values = self.effective_values(self.check(arch))
        return tuple(values[label] for label, _ in self.choices())

    def compact(self, arch: Arch) -> str:
        """Per motif one character per edge, the inputs of node 1|2|.., then ': ' and the
        cell's edges (e.g. `1|d-|s1i 1|ii|--m : 0|1-|0-1|--01`); legend in `arch_legend`."""
        values = self.check(arch).values

        def graph(labels: list[str], nodes: int, char) -> str:
            by_edge = dict(zip(edge_pairs(nodes), labels, strict=True))
            return "|".join("".join(char(values[by_edge[i, j]]) for i in range(j))
                            for j in range(1, nodes))

        motifs = " ".join(graph(self.motif_labels(k), self.motif_nodes, SHORT.__getitem__)
                          for k in range(self.motifs))
        cell = graph(self.cell_labels(), self.cell_nodes,
                     lambda v: "-" if v == NONE else DIGITS[int(v)])
        return f"{motifs} : {cell}"

    # -- shapes and signatures ------------------------------------------------------------------
    def stages(self) -> list[tuple[int, int]]:
        """(channels, spatial size) of the cells of each stage; a stride-2 padded 3x3
        convolution halves the size, rounding up."""
        out, hw = [], self.resolution
        for s in range(3):
            out.append((self.C * 2 ** s, hw))
            hw = (hw + 1) // 2
        return out

    def cell_shape(self, cell: int) -> tuple[int, int]:
        return self.stages()[cell // self.N]

    @property
    def n_cells(self) -> int:
        return 3 * self.N

    def stem_sig(self) -> OpSignature:
        r = self.resolution
        return OpSignature("conv_bn_relu", self.in_channels, self.C, r, r, kernel=3)

    def reduction_sig(self, stage: int) -> OpSignature:
        """The stride-2 separable convolution entering `stage` (1 or 2)."""
        (cin, hw), (cout, _) = self.stages()[stage - 1], self.stages()[stage]
        return OpSignature("sepconv_bn_relu", cin, cout, hw, hw, kernel=3, stride=2)

    def tail_sig(self) -> OpSignature:
        channels, hw = self.stages()[-1]
        return OpSignature("sepconv_bn_relu", channels, channels, hw, hw, kernel=3)

    def head_sig(self) -> OpSignature:
        channels, hw = self.stages()[-1]
        return OpSignature("gap_fc", channels, channels, hw, hw, classes=self.num_classes)

    @staticmethod
    def primitive_sig(primitive: str, channels: int, hw: int) -> OpSignature | None:
        """The op a level-1 primitive runs at this shape; None for `identity` and `none`."""
        if primitive not in PRIMITIVE_OPS:
            return None
        op, kernel = PRIMITIVE_OPS[primitive]
        return OpSignature(op, channels, channels, hw, hw, kernel=kernel)

    @staticmethod
    def merge_sig(inputs: int, channels: int, hw: int) -> OpSignature:
        """Concatenation of `inputs` tensors of `channels` each and the 1x1 convolution back to
        `channels` (`cin` is one input's channels: a profiler feeds it copies of one tensor)."""
        return OpSignature("concat_merge", channels, channels, hw, hw, kernel=1,
                           extra=(("inputs", str(inputs)),))

    @staticmethod
    def zero_sig(channels: int, hw: int) -> OpSignature:
        return OpSignature("zero", channels, channels, hw, hw)

    # -- ops ----------------------------------------------------------------------------------
    def _graph_ops(self, nodes: int, values: list, source, edge_ops, channels: int,
                   hw: int) -> tuple[list[OpSignature], Any]:
        """The ops of one motif whose input is the tensor `source`, in execution order: per
        node, its live edges' ops (`edge_ops(value, tensor)` -> (ops, result tensor)), then
        its merge if it joins two or more. Returns them and the output tensor (None when
        nothing reaches it). Tensors are expressions: equal when they are the same tensor."""
        sigs: list[OpSignature] = []
        by_edge = dict(zip(edge_pairs(nodes), values, strict=True))
        tensors: list[Any] = [source]
        for j in range(1, nodes):
            parts = []
            for i in range(j):
                if by_edge[i, j] != NONE and tensors[i] is not None:
                    ops, tensor = edge_ops(by_edge[i, j], tensors[i])
                    sigs.extend(ops)
                    parts.append(tensor)
            if len(parts) > 1:
                sigs.append(self.merge_sig(len(parts), channels, hw))
            tensors.append(None if not parts else parts[0] if len(parts) == 1
                           else ("merge", object()))  # a new tensor, equal to no other
        return sigs, tensors[-1]

    def _primitive_ops(self, primitive: str, tensor, channels: int, hw: int,
                       pooled: set) -> tuple[list[OpSignature], Any]:
        """One level-2 edge: an identity is its input tensor; a pool of a tensor this cell has
        pooled that way already is that result, not an op (ONNX export already merges such
        twins, and `Motif` computes them once in torch); a convolution is a new tensor."""
        if primitive == "identity":
            return [], tensor
        sig = self.primitive_sig(primitive, channels, hw)
        assert sig is not None
        if primitive in ("max_pool_3x3", "avg_pool_3x3"):
            result = (primitive, tensor)
            if result in pooled:
                return [], result
            pooled.add(result)
            return [sig], result
        return [sig], ("conv", object())

    def motif_ops(self, live: dict, k: int, tensor, channels: int, hw: int,
                  pooled: set) -> tuple[list[OpSignature], Any]:
        """Level-2 motif `k` applied to `tensor`, from `live_values`: (ops, output)."""
        return self._graph_ops(
            self.motif_nodes, [live[label] for label in self.motif_labels(k)], tensor,
            lambda v, t: self._primitive_ops(v, t, channels, hw, pooled), channels, hw)

    def cell_ops(self, live: dict, channels: int, hw: int) -> list[OpSignature]:
        """One cell: every live level-3 edge's motif expanded, the merges, and `zero` when
        nothing reaches the cell's output. Twin pools are counted once per cell."""
        pooled: set = set()
        sigs, out = self._graph_ops(
            self.cell_nodes, [live[label] for label in self.cell_labels()], "x",
            lambda k, t: self.motif_ops(live, int(k), t, channels, hw, pooled), channels, hw)
        if out is None:
            sigs.append(self.zero_sig(channels, hw))
        return sigs

    def ops(self, arch: Arch) -> list[OpSignature]:
        live = self.live_values(self.check(arch))
        sigs = [self.stem_sig()]
        for stage, (channels, hw) in enumerate(self.stages()):
            if stage:
                sigs.append(self.reduction_sig(stage))
            sigs.extend(self.cell_ops(live, channels, hw) * self.N)  # every cell is the same
        return sigs + [self.tail_sig(), self.head_sig()]

    def fixed_ops(self) -> list[OpSignature]:
        """Stem, the two reduction convolutions, the last separable convolution and the head."""
        return [self.stem_sig(), self.reduction_sig(1), self.reduction_sig(2), self.tail_sig(),
                self.head_sig()]

    def all_ops(self) -> list[OpSignature]:
        """Every op any architecture runs: per stage each primitive, merges of 2 up to the most
        inputs a node can have, `zero`; and the fixed ops. (The base's one-label-at-a-time walk
        would miss merges of more inputs than one change makes.)"""
        most = max(self.motif_nodes, self.cell_nodes) - 1
        seen: dict[str, OpSignature] = {s.key: s for s in self.fixed_ops()}
        for channels, hw in self.stages():
            sigs = [self.primitive_sig(p, channels, hw) for p in PRIMITIVES]
            sigs += [self.merge_sig(n, channels, hw) for n in range(2, most + 1)]
            sigs.append(self.zero_sig(channels, hw))
            seen.update({s.key: s for s in sigs if s is not None})
        return list(seen.values())

    def positions(self) -> list[Position]:
        """One position per label, options as in `choices()`. The supernet nests them: each
        level-3 edge of each cell holds every motif, each holding its level-2 edges.

        - `m2_{k}.e{i}{j}`: a primitive's ops are its op at every place motif k can sit, each
          level-3 edge of each cell (instance cell x level-3 edges + edge), as the supernet
          builds it; an architecture runs those at the live level-3 edges that name k only.
        - `m3.e{i}{j}`: no ops of its own: what a motif runs is its level-2 positions' ops.
        The merges depend on several labels at once and belong to no position: for an
        architecture they are `ops(arch)` less `fixed_ops()` and its primitives. Hence
        `positions_add_up = False`, and an exact expected cost would need every architecture
        (7^46 at the defaults): refused."""
        level3 = len(edge_pairs(self.cell_nodes))
        places = [self.cell_shape(cell) for cell in range(self.n_cells) for _ in range(level3)]
        positions = []
        for label, options in self.choices():
            if label.startswith("m2_"):
                ops = {o: tuple(s for c, hw in places
                                if (s := self.primitive_sig(o, c, hw)) is not None)
                       for o in options}
            else:
                ops = {o: () for o in options}
            positions.append(Position(label, options, ops))
        return positions

    # -- modules ------------------------------------------------------------------------------
    def build_op(self, sig: OpSignature):
        # lazy: torch only when a module is built
        from hwnas.spaces.modules.hier_motifs import build_hier_op

        return build_hier_op(sig)

    def option_module(self, position: Position, option, instance: int = 0):
        """A level-2 edge's primitive at place `instance`; a level-3 edge's motif in cell
        `instance`, its edges taken from the slot of the `build_network` under way; `none` a
        Zero the motif skips."""
        import torch.nn as nn

        from hwnas.spaces.modules.hier_motifs import Zero

        if option == NONE:
            return Zero()
        if position.label.startswith("m2_"):
            if option == "identity":
                return nn.Identity()
            return self.build_op(position.ops[option][instance])
        if self._slot is None:
            raise RuntimeError("a level-3 edge's motif is built inside build_network")
        e3 = self.cell_labels().index(position.label)
        return self._motif(int(option), instance, e3)

    @contextlib.contextmanager
    def _building(self, slot) -> Iterator[None]:
        previous, self._slot = self._slot, slot
        try:
            yield
        finally:
            self._slot = previous

    def _graph(self, nodes: int, slot_of, channels: int, hw: int, empty=None):
        """A Motif whose edge (i, j) is `slot_of(edge index)`, made node by node (edges, then
        the merge of those that carry something) in the order `_graph_ops` lists them."""
        from hwnas.spaces.modules.hier_motifs import Motif

        edges: dict[tuple[int, int], Any] = {}
        merges: dict[int, Any] = {}
        for j in range(1, nodes):
            for i in range(j):
                edges[i, j] = slot_of(len(edges))
            inputs = sum(not getattr(edges[i, j], "is_zero", False) for i in range(j))
            if inputs > 1:
                merges[j] = self.build_op(self.merge_sig(inputs, channels, hw))
        return Motif(nodes, edges, merges, empty)

    def _motif(self, k: int, cell: int, e3: int):
        first = k * len(edge_pairs(self.motif_nodes))  # motif k's first position
        place = cell * len(edge_pairs(self.cell_nodes)) + e3
        slot = self._slot
        assert slot is not None  # option_module checked it
        return self._graph(self.motif_nodes, lambda e: slot(first + e, place),
                           *self.cell_shape(cell))

    def build_network(self, slot):
        """Stem, per stage its reduction (after the first) and N cells, then the last separable
        convolution and the head. Level-3 edge e of cell c is `slot(p, c)`; a motif placed
        there takes level-2 edge e2 from `slot(p2, c x level-3 edges + e)` (`option_module`),
        so modules are made in the order of `ops(arch)`."""
        from hwnas.spaces.modules.hier_motifs import HierNetwork

        first3 = self.motifs * len(edge_pairs(self.motif_nodes))
        with self._building(slot):
            stem = self.build_op(self.stem_sig())
            blocks, cell = [], 0
            for stage in range(len(self.stages())):
                if stage:
                    blocks.append(self.build_op(self.reduction_sig(stage)))
                for _ in range(self.N):
                    c = cell  # bound now: the lambda runs inside _graph
                    empty = self.build_op(self.zero_sig(*self.cell_shape(c)))
                    blocks.append(self._graph(self.cell_nodes, lambda e, c=c: slot(first3 + e, c),
                                              *self.cell_shape(c), empty=empty))
                    cell += 1
            return HierNetwork(stem, blocks, self.build_op(self.tail_sig()),
                               self.build_op(self.head_sig()))

    def build(self, arch: Arch):
        """The network; an edge whose result cannot reach an output is built as `none`."""
        live = self.live_values(self.check(arch))
        positions = self.positions()
        return self.build_network(
            lambda p, i: self.option_module(positions[p], live[positions[p].label], i))
