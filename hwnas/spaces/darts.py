"""`darts`: the CNN cell space of DARTS (Liu, Simonyan & Yang, ICLR 2019), about 10^18 genotypes.

Two cell types, normal and reduction, each used by every cell of its type. A cell has two
inputs, the outputs of the two cells before it (c_{k-2}, c_{k-1}), preprocessed to the cell's
channels: ReLU-1x1 conv-BN, or FactorizedReduce when c_{k-2} has twice the resolution (the cell
before is a reduction). Then 4 nodes: node j is the sum of two edges, each from a distinct one
of the two inputs and nodes 0..j-1 through one of 7 ops (sep conv 3x3/5x5, dil conv 3x3/5x5,
max/avg pool 3x3, skip); the cell's output is the 4 nodes concatenated. In a reduction cell the
edges from the two inputs have stride 2 (a skip there is FactorizedReduce). Macro skeleton as
the paper's search network: a 3x3 conv-BN stem of 3C channels, `layers` cells (8) with C
channels per node, doubled at the reductions at 1/3 and 2/3 of the depth, global average pool
and a linear classifier. Modules: hwnas.spaces.modules.darts_cell (BatchNorms inside cells are
not affine, and pools are followed by one, as in the paper's search network).

Two views of one space:
- `choices()`, the discrete genotype strategies sample (the paper's random-search baseline
  samples it this way too): per cell type and node j, `inputs` (the unordered pair of distinct
  inputs, e.g. "0+2": 0 = c_{k-2}, 1 = c_{k-1}, 2 + i = node i) and `op0`/`op1` (the op on the
  pair's smaller / larger input). Every combination is a genotype; none keeps `none`.
- `positions()`, the supernet's: every candidate edge (14 per cell type, 28 in all) with all 8
  ops, `none` included. `position_values` gives a genotype's edges (`none` on the 6 unused ones
  per cell type) and `arch_from_positions` the paper's derivation (each node keeps the two
  incoming edges whose strongest op other than `none` is strongest, each with that op).

Costs add up per position: every genotype node is exactly one 2-input sum (a fixed op, like the
stem, the preprocessing, the concatenation and the head), so `ops(arch)` is `fixed_ops()` plus
the ops of each position's value. A supernet's expected latency Σ_edges Σ_o p·F(o) weighs all 14
edges of a cell while a genotype keeps 8: during the search it counts the 6 edges the
derivation drops (by their weight), the approximation hardware-aware DARTS variants make; under
a genotype's one-hot values it is exactly the table's prediction. What an additive table cannot
see: ONNX Runtime computes once what two edges compute alike from one tensor (two pools of one
input; the ReLU every conv edge from one input starts with), which the table counts twice.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.limits import MAX_CELLS, MAX_CHANNELS, MAX_CLASSES, MAX_RESOLUTION
from hwnas.ops import OpSignature
from hwnas.options import Option, option_error
from hwnas.registry import SPACES
from hwnas.spaces.base import Position, SearchSpace, weight_array

# The paper's 8 candidate ops (its PRIMITIVES), in its order: an edge's option order.
OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
       "dil_conv_3x3", "dil_conv_5x5")
GENOTYPE_OPS = OPS[1:]  # a genotype never keeps `none`
NODES = 4
CELL_TYPES = ("normal", "reduce")
# (node, source) of each candidate edge of a cell, by node then source: the paper's edge order
EDGES = tuple((j, s) for j in range(NODES) for s in range(2 + j))
# Node j's possible input pairs, as "a+b" with a < b (0, 1: the cell inputs; 2 + i: node i)
PAIRS = tuple(tuple(f"{a}+{b}" for a, b in combinations(range(2 + j), 2)) for j in range(NODES))
# `compact()`'s letter per op
SHORT = {"max_pool_3x3": "m", "avg_pool_3x3": "a", "skip_connect": "s", "sep_conv_3x3": "c",
         "sep_conv_5x5": "C", "dil_conv_3x3": "d", "dil_conv_5x5": "D"}
OP_KINDS = {"max_pool_3x3": "darts_max_pool", "avg_pool_3x3": "darts_avg_pool",
            "sep_conv_3x3": "darts_sep_conv", "sep_conv_5x5": "darts_sep_conv",
            "dil_conv_3x3": "darts_dil_conv", "dil_conv_5x5": "darts_dil_conv"}


def edge_label(cell_type: str, node: int, source: int) -> str:
    return f"{cell_type}.n{node}.e{source}"


EDGE_LABELS = tuple(edge_label(t, j, s) for t in CELL_TYPES for j, s in EDGES)


def parse_pair(pair: str) -> tuple[int, int]:
    """'0+2' -> (0, 2)."""
    a, b = pair.split("+")
    return int(a), int(b)


@dataclass(frozen=True)
class CellPlan:
    """The shapes of one cell: its type's inputs (channels, resolution of c_{k-2} and c_{k-1}),
    its nodes' channels and the resolution its edges read."""

    reduction: bool
    reduction_prev: bool
    c_pp: int
    c_p: int
    c: int
    hw_pp: int
    hw: int
    index: int  # among the cells of its type: the instance of its type's positions

    @property
    def cell_type(self) -> str:
        return "reduce" if self.reduction else "normal"

    @property
    def hw_out(self) -> int:
        return self.hw // 2 if self.reduction else self.hw

    def stride(self, source: int) -> int:
        """A reduction cell's edges from its two inputs halve the resolution."""
        return 2 if self.reduction and source < 2 else 1


@SPACES.register("darts")
class DartsSpace(SearchSpace):
    """DARTS CNN cells: normal + reduction cell, 4 nodes of 2 edges x 7 ops, ~1e18 genotypes.

    Defaults are the paper's search network (C=16, 8 cells, 32x32x3 input, 10 classes).
    `is_chain` is False: cells read the two cells before them."""

    is_chain = False
    positions_are_choices = False  # positions: the 28 candidate edges; choices: a genotype
    positions_add_up = True  # every node is one 2-input sum, a fixed op (module docstring)
    arch_legend = ("DARTS genotype, normal cell / reduction cell; per node 0-3 its two inputs, "
                   "each an op letter then the input (0 = cell k-2, 1 = cell k-1, 2-4 = nodes "
                   "0-2): c/C = sep conv 3x3/5x5, d/D = dil conv 3x3/5x5, m = max pool, "
                   "a = avg pool, s = skip")
    small_options = {"C": 4, "layers": 3, "resolution": 8}

    option_specs = {
        "C": Option(16, int, low=2, high=MAX_CHANNELS,
                    help="channels per node of the first cells (x2 at each reduction); even"),
        "layers": Option(8, int, low=3, high=MAX_CELLS,
                         help="cells; the reductions are at 1/3 and 2/3 of them"),
        "resolution": Option(32, int, low=4, high=MAX_RESOLUTION,
                             help="input height and width; a multiple of 4"),
        "num_classes": Option(10, int, low=2, high=MAX_CLASSES, help="classifier outputs"),
        "in_channels": Option(3, int, low=1, high=MAX_CHANNELS, help="input channels"),
    }
    C: int
    layers: int
    resolution: int
    in_channels: int

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        hint = f"(options: `{cls.list_command}`)"
        if resolved["C"] % 2:
            # FactorizedReduce makes half of its channels from each of two shifted inputs
            raise option_error("C", cls.owner(), "an even number", resolved["C"], hint)
        if resolved["resolution"] % 4:
            # two reductions, each of whose FactorizedReduce halves must agree on the size
            raise option_error("resolution", cls.owner(), "a multiple of 4",
                               resolved["resolution"], hint)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.resolution, self.resolution)

    # -- the genotype -------------------------------------------------------------------------
    def choices(self) -> list[tuple[str, tuple]]:
        return [(f"{t}.n{j}.{part}", PAIRS[j] if part == "inputs" else GENOTYPE_OPS)
                for t in CELL_TYPES for j in range(NODES) for part in ("inputs", "op0", "op1")]

    def genotype(self, arch: Arch) -> dict[str, list[tuple[str, int]]]:
        """The paper's genotype: per cell type 8 (op, input) pairs, node by node (inputs as in
        `choices()`; every cell concatenates nodes 2..5)."""
        arch = self.check(arch)
        out: dict[str, list[tuple[str, int]]] = {}
        for t in CELL_TYPES:
            out[t] = []
            for j in range(NODES):
                a, b = parse_pair(str(arch.values[f"{t}.n{j}.inputs"]))
                out[t] += [(str(arch.values[f"{t}.n{j}.op0"]), a),
                           (str(arch.values[f"{t}.n{j}.op1"]), b)]
        return out

    def from_genotype(self, normal, reduce) -> Arch:
        """The architecture of a genotype given as the paper writes it: per cell type 8
        (op, input) pairs, two per node in any order; one clear line for a bad one."""
        values: dict[str, str] = {}
        for t, pairs in zip(CELL_TYPES, (normal, reduce), strict=True):
            pairs = [tuple(p) for p in pairs]
            if len(pairs) != 2 * NODES or any(len(p) != 2 for p in pairs):
                raise BadInputError(f"a DARTS {t} cell is {2 * NODES} (op, input) pairs, two per "
                                    f"node; got {pairs!r}")
            for j in range(NODES):
                (op_x, x), (op_y, y) = sorted(pairs[2 * j:2 * j + 2], key=lambda p: p[1])
                for op in (op_x, op_y):
                    if op not in GENOTYPE_OPS:
                        close = difflib.get_close_matches(str(op), GENOTYPE_OPS, n=1, cutoff=0.3)
                        hint = f" (closest: {close[0]!r})" if close else ""
                        raise BadInputError(f"{t} node {j}: unknown op {op!r}{hint}; allowed: "
                                            f"{', '.join(GENOTYPE_OPS)}")
                pair = f"{x}+{y}"
                if pair not in PAIRS[j]:
                    raise BadInputError(f"{t} node {j}: inputs {x} and {y} are not two distinct "
                                        f"inputs among 0..{j + 1}")
                values.update({f"{t}.n{j}.inputs": pair, f"{t}.n{j}.op0": op_x,
                               f"{t}.n{j}.op1": op_y})
        return Arch(self.name, values)

    def compact(self, arch: Arch) -> str:
        """Per node its two inputs as op letter + input, normal / reduce: `c0c1 c0c1 s0c1 s0d2 /
        m0m1 m1s2 m0s2 m1s2` (legend: `arch_legend`)."""
        genotype = self.genotype(arch)
        return " / ".join(
            " ".join("".join(f"{SHORT[op]}{src}" for op, src in genotype[t][2 * j:2 * j + 2])
                     for j in range(NODES))
            for t in CELL_TYPES)

    # -- shapes and ops -----------------------------------------------------------------------
    def reduction_cells(self) -> tuple[int, ...]:
        return tuple(sorted({self.layers // 3, 2 * self.layers // 3}))

    def cells(self) -> list[CellPlan]:
        """Each cell's shapes, as the paper's search network chains them."""
        plans: list[CellPlan] = []
        c_pp = c_p = 3 * self.C  # the stem's output feeds both inputs of the first cell
        hw_pp = hw = self.resolution
        c, reduction_prev = self.C, False
        counts = dict.fromkeys(CELL_TYPES, 0)
        for i in range(self.layers):
            reduction = i in self.reduction_cells()
            c = 2 * c if reduction else c
            cell_type = "reduce" if reduction else "normal"
            plans.append(CellPlan(reduction, reduction_prev, c_pp, c_p, c, hw_pp, hw,
                                  counts[cell_type]))
            counts[cell_type] += 1
            c_pp, c_p = c_p, NODES * c
            hw_pp, hw = hw, plans[-1].hw_out
            reduction_prev = reduction
        return plans

    def stem_sig(self) -> OpSignature:
        r = self.resolution
        return OpSignature("darts_stem", self.in_channels, 3 * self.C, r, r, kernel=3)

    def head_sig(self) -> OpSignature:
        last = self.cells()[-1]
        return OpSignature("darts_head", NODES * last.c, NODES * last.c, last.hw_out,
                           last.hw_out, classes=self.num_classes)

    @staticmethod
    def preprocess_sigs(plan: CellPlan) -> list[OpSignature]:
        """The cell's two inputs brought to its channels (and c_{k-2} to c_{k-1}'s size)."""
        pre0 = (OpSignature("darts_fact_reduce", plan.c_pp, plan.c, plan.hw_pp, plan.hw_pp,
                            stride=2) if plan.reduction_prev else
                OpSignature("darts_relu_conv_bn", plan.c_pp, plan.c, plan.hw_pp, plan.hw_pp,
                            kernel=1))
        pre1 = OpSignature("darts_relu_conv_bn", plan.c_p, plan.c, plan.hw, plan.hw, kernel=1)
        return [pre0, pre1]

    @staticmethod
    def edge_sig(op: str, plan: CellPlan, source: int) -> OpSignature | None:
        """The op one edge runs in a cell of this shape; None where it runs none (`none`, a
        stride-1 skip)."""
        c, hw, stride = plan.c, plan.hw, plan.stride(source)
        if op == "none" or (op == "skip_connect" and stride == 1):
            return None
        if op == "skip_connect":
            return OpSignature("darts_fact_reduce", c, c, hw, hw, stride=2)
        kernel = int(op[-1])  # "..._3x3" -> 3
        return OpSignature(OP_KINDS[op], c, c, hw, hw, kernel=kernel, stride=stride)

    @staticmethod
    def sum_sig(plan: CellPlan) -> OpSignature:
        hw = plan.hw_out
        return OpSignature("darts_sum", plan.c, plan.c, hw, hw, extra=(("inputs", "2"),))

    @staticmethod
    def concat_sig(plan: CellPlan) -> OpSignature:
        hw = plan.hw_out
        return OpSignature("darts_concat", plan.c, NODES * plan.c, hw, hw,
                           extra=(("inputs", str(NODES)),))

    def ops(self, arch: Arch) -> list[OpSignature]:
        """Stem; per cell its preprocessing, per node its two edges' ops (by input) and their
        sum, the concatenation; the head. The order the network creates its modules in."""
        genotype = self.genotype(arch)
        sigs = [self.stem_sig()]
        for plan in self.cells():
            sigs += self.preprocess_sigs(plan)
            kept = genotype[plan.cell_type]
            for j in range(NODES):
                for op, source in sorted(kept[2 * j:2 * j + 2], key=lambda e: e[1]):
                    sig = self.edge_sig(op, plan, source)
                    if sig is not None:
                        sigs.append(sig)
                sigs.append(self.sum_sig(plan))
            sigs.append(self.concat_sig(plan))
        sigs.append(self.head_sig())
        return sigs

    def fixed_ops(self) -> list[OpSignature]:
        """What every genotype runs: stem, per cell its preprocessing, 4 sums and the
        concatenation, and the head."""
        sigs = [self.stem_sig()]
        for plan in self.cells():
            sigs += [*self.preprocess_sigs(plan), *[self.sum_sig(plan)] * NODES,
                     self.concat_sig(plan)]
        return [*sigs, self.head_sig()]

    def positions(self) -> list[Position]:
        """The 28 candidate edges, normal then reduce, by node then source; an option's ops are
        that edge's op in every cell of the type, in cell order (none for `none` and a
        stride-1 skip)."""
        plans = self.cells()
        positions = []
        for t in CELL_TYPES:
            typed = [plan for plan in plans if plan.cell_type == t]
            for j, s in EDGES:
                ops = {op: tuple(sig for plan in typed
                                 if (sig := self.edge_sig(op, plan, s)) is not None)
                       for op in OPS}
                positions.append(Position(edge_label(t, j, s), OPS, ops))
        return positions

    def all_ops(self) -> list[OpSignature]:
        seen: dict[str, OpSignature] = {}
        every = [*self.fixed_ops(),
                 *(sig for p in self.positions() for sigs in p.ops.values() for sig in sigs)]
        for sig in every:
            seen.setdefault(sig.key, sig)
        return list(seen.values())

    # -- the two views --------------------------------------------------------------------------
    def position_values(self, arch: Arch, positions=None) -> list:
        """Each candidate edge's op in `arch`: the genotype's op on its kept edges, `none` on
        the others."""
        genotype = self.genotype(arch)
        values = dict.fromkeys(EDGE_LABELS, "none")
        for t in CELL_TYPES:
            for j in range(NODES):
                for op, source in genotype[t][2 * j:2 * j + 2]:
                    values[edge_label(t, j, source)] = op
        labels = EDGE_LABELS if positions is None else [p.label for p in positions]
        return [values[label] for label in labels]

    def arch_from_positions(self, weights, positions=None) -> Arch:
        """The paper's derivation: each node keeps the two incoming edges whose strongest op
        other than `none` is strongest, each with that op. Ties go to the earlier edge and the
        earlier op (in `OPS` order), as the paper's code sorts and takes the argmax."""
        labels = EDGE_LABELS if positions is None else [p.label for p in positions]
        if len(weights) != len(labels) or set(labels) != set(EDGE_LABELS):
            raise ValueError(f"expected weights for the {len(EDGE_LABELS)} edges of "
                             f"{self.name}'s positions(), got {len(weights)}")
        by_label = {}
        for label, w in zip(labels, weights, strict=True):
            w = weight_array(w)
            if w.shape != (len(OPS),) or not np.isfinite(w).all():
                raise ValueError(f"edge {label}: expected {len(OPS)} finite weights, got {w}")
            by_label[label] = w
        values: dict[str, str] = {}
        for t in CELL_TYPES:
            for j in range(NODES):
                real = [by_label[edge_label(t, j, s)][1:] for s in range(2 + j)]
                strength = [float(w.max()) for w in real]
                a, b = sorted(sorted(range(2 + j), key=lambda s: -strength[s])[:2])
                values.update({f"{t}.n{j}.inputs": f"{a}+{b}",
                               f"{t}.n{j}.op0": GENOTYPE_OPS[int(np.argmax(real[a]))],
                               f"{t}.n{j}.op1": GENOTYPE_OPS[int(np.argmax(real[b]))]})
        return Arch(self.name, values)

    def position_groups(self) -> list[list[tuple[tuple[int, int], tuple[int, int]]]]:
        """The positions grouped by the node they feed, for a derivation repaired to a latency
        target (hwnas.oneshot.derive): a group's options are its node's genotypes, two distinct
        incoming edges each with an op other than `none`, as (position, option index) pairs
        in `positions()` order; the node's other edges are `none` (index 0), which runs
        nothing. A genotype is one option per group."""
        index = {label: p for p, label in enumerate(EDGE_LABELS)}
        groups = []
        for t in CELL_TYPES:
            for j in range(NODES):
                groups.append([((index[edge_label(t, j, a)], OPS.index(x)),
                                (index[edge_label(t, j, b)], OPS.index(y)))
                               for a, b in combinations(range(2 + j), 2)
                               for x in GENOTYPE_OPS for y in GENOTYPE_OPS])
        return groups

    # -- modules --------------------------------------------------------------------------------
    def build_op(self, sig: OpSignature):
        from hwnas.spaces.modules.darts_cell import build_darts_op  # lazy: no torch to list

        return build_darts_op(sig)

    def option_module(self, position: Position, option, instance: int = 0):
        """An edge's module in cell `instance` of its type: `none` is a Zero the node skips
        (strided where the edge is, so a supernet's candidates agree in shape), a stride-1
        skip an identity."""
        import torch.nn as nn

        from hwnas.spaces.modules.darts_cell import Zero  # lazy: as in build_op

        if option == "none":
            cell_type, _node, source = position.label.split(".")
            reduce_input = cell_type == "reduce" and int(source[1:]) < 2
            return Zero(2 if reduce_input else 1)
        sigs = position.ops[option]
        return self.build_op(sigs[instance]) if sigs else nn.Identity()

    def build_network(self, slot):
        """Stem, the cells (edge e of a cell of type t is `slot(p, k)`, p the position of
        (t, e), k the cell's index among the cells of type t), head. Modules are created in the
        order of `ops(arch)`."""
        from hwnas.spaces.modules.darts_cell import DartsCell  # lazy: as in build_op
        from hwnas.spaces.modules.two_input_cells import TwoInputCellNetwork

        stem = self.build_op(self.stem_sig())
        cells: list = []
        for plan in self.cells():
            pre0, pre1 = (self.build_op(sig) for sig in self.preprocess_sigs(plan))
            first = CELL_TYPES.index(plan.cell_type) * len(EDGES)
            edges = [slot(first + e, plan.index) for e in range(len(EDGES))]
            cells.append(DartsCell(pre0, pre1, edges, NODES))
        return TwoInputCellNetwork(stem, cells, self.build_op(self.head_sig()))
