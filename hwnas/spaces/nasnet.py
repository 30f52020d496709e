"""`nasnet`: the NASNet cell space (Zoph et al., CVPR 2018), also searched by PNAS (Liu et al.
2018), ENAS's micro search (Pham et al. 2018) and RENAS (Chen et al. 2019).

Two cell types, normal and reduction, each of B blocks (5 by default, the paper's). Block b
picks two inputs among [h_{i-2}, h_{i-1}, block 0 .. block b-1] (the outputs of the two previous
cells, after preprocessing, and the earlier blocks of the same cell), an op for each from the
paper's 13 (`OPS`) and a combination: element-wise `add`, or `concat` along channels followed
by ReLU-1x1 conv-BN back to the cell's width F (so a later op's shape never depends on the
choice). The blocks no later block reads are the cell's output: concatenated and projected the
same way when there are two or more, the block itself when one (the projection makes every
cell's width fixed, as ENAS's micro cells do; NASNet instead lets the next cell's 1x1
preprocessing take the varying width). In a reduction cell every op that reads a cell input
has stride 2 (an identity there is a factorized reduction); ops on blocks have stride 1.

Network (the paper's CIFAR skeleton, smaller by default for 32x32 images): stem 3x3 conv-BN
with 3F channels, then [N normal] reduction [N normal] reduction [N normal] cells, filters
doubling at each reduction (the reduction cell already has the doubled width), then ReLU,
global pool and a linear classifier. Each cell's inputs are preprocessed to its width: h_{i-1}
by ReLU-1x1 conv-BN, h_{i-2} likewise or by a factorized reduction when it has twice the
resolution (after a reduction cell). The paper's search trained child networks of N=2 and
B=5 on CIFAR-10; F=16 here keeps a 32x32 network trainable on a CPU.

Latency granularity (`ops`): per cell its preprocessing (an input no block reads is not
built, as ONNX export would drop it), per block its two ops (an identity at stride 1 runs
nothing) and its combination (`sum` or `concat_project`), the output projection, plus stem
and head; a second identical pool of one input in a cell is the first's result (ONNX export
merges such twins), listed and run once. Ops see the same shapes wherever they sit in a stack
of cells, so they share keys.

Two views (`positions_are_choices = False`): strategies sample `choices()` (per block: in0,
op0, in1, op1, combine: what PNAS, ENAS-micro and RENAS search); a supernet has ENAS-micro's
weight sharing, one position per (block, path, candidate input) whose options are `none`
plus the 13 ops, and one per block's combination. `position_values` and
`arch_from_positions` map between them exactly (see `positions()`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hwnas.arch import Arch
from hwnas.limits import MAX_CELLS, MAX_CHANNELS, MAX_CLASSES, MAX_RESOLUTION
from hwnas.ops import OpSignature
from hwnas.options import Option
from hwnas.registry import SPACES
from hwnas.spaces.base import Position, SearchSpace

# The paper's op list (section 3), in its order: this order is the integer encoding.
OPS = ("identity", "conv_1x3_3x1", "conv_1x7_7x1", "dil_conv_3x3", "avg_pool_3x3",
       "max_pool_3x3", "max_pool_5x5", "max_pool_7x7", "conv_1x1", "conv_3x3",
       "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7")
POOLS = frozenset(op for op in OPS if "_pool_" in op)  # no weights: a twin is the same result
COMBINES = ("add", "concat")
CELL_TYPES = ("normal", "reduce")
NONE = "none"  # a supernet's edge the architecture does not take
EDGE_OPTIONS = (NONE, *OPS)
# op -> (signature op, kernel, extra): what `op_sig` emits for it
OP_SHAPES: dict[str, tuple[str, int, tuple]] = {
    "conv_1x3_3x1": ("conv_pair", 3, ()), "conv_1x7_7x1": ("conv_pair", 7, ()),
    "dil_conv_3x3": ("dil_conv", 3, (("dilation", "2"),)),
    "avg_pool_3x3": ("avg_pool", 3, ()), "max_pool_3x3": ("max_pool", 3, ()),
    "max_pool_5x5": ("max_pool", 5, ()), "max_pool_7x7": ("max_pool", 7, ()),
    "conv_1x1": ("relu_conv_bn", 1, ()), "conv_3x3": ("relu_conv_bn", 3, ()),
    "sep_conv_3x3": ("sep_conv", 3, ()), "sep_conv_5x5": ("sep_conv", 5, ()),
    "sep_conv_7x7": ("sep_conv", 7, ()),
}
SHORT_OPS = {"identity": "id", "conv_1x3_3x1": "c13", "conv_1x7_7x1": "c17",
             "dil_conv_3x3": "d3", "avg_pool_3x3": "a3", "max_pool_3x3": "m3",
             "max_pool_5x5": "m5", "max_pool_7x7": "m7", "conv_1x1": "c1", "conv_3x3": "c3",
             "sep_conv_3x3": "s3", "sep_conv_5x5": "s5", "sep_conv_7x7": "s7"}
SHORT_COMBINES = {"add": "+", "concat": "&"}
STEM_MULTIPLIER = 3  # stem width 3F, as NASNet's and DARTS's CIFAR networks


@dataclass(frozen=True)
class CellShape:
    """One cell of the network: its type, its index among cells of that type (`instance`),
    width, the resolution of its inputs and of its output, and (channels, size) of the
    tensors it reads as h_{i-2} and h_{i-1}."""

    kind: str
    instance: int
    channels: int
    in_hw: int
    out_hw: int
    prev_prev: tuple[int, int]
    prev: tuple[int, int]

    @property
    def stride(self) -> int:
        return 2 if self.kind == "reduce" else 1

    def source(self, k: int) -> tuple[int, int]:
        """(size, stride) of an op reading input k: a cell input or a block's output."""
        return (self.in_hw, self.stride) if k < 2 else (self.out_hw, 1)


def op_sig(op: str, channels: int, hw: int, stride: int) -> OpSignature | None:
    """The signature of one of `OPS` on a `channels` x hw x hw input; None for an identity at
    stride 1 (it runs nothing) and for `none`."""
    if op == NONE or (op == "identity" and stride == 1):
        return None
    if op == "identity":
        return OpSignature("factorized_reduce", channels, channels, hw, hw, stride=2)
    kind, kernel, extra = OP_SHAPES[op]
    return OpSignature(kind, channels, channels, hw, hw, kernel=kernel, stride=stride,
                       extra=extra)


def combine_sig(inputs: int, channels: int, hw: int, concat: bool) -> OpSignature:
    """`inputs` tensors of `channels` added (`sum`) or concatenated and projected back."""
    return OpSignature("concat_project" if concat else "sum", channels, channels, hw, hw,
                       extra=(("inputs", str(inputs)),))


def edge_label(kind: str, b: int, j: int, k: int) -> str:
    """The supernet position of path j (0 or 1) of block b reading candidate input k."""
    return f"{kind}.b{b}.op{j}.from{k}"


def _vector(w) -> np.ndarray:
    """A weight vector as floats: a list, an array or a torch tensor (one needing grad too)."""
    if hasattr(w, "detach"):
        w = w.detach().cpu().numpy()
    return np.asarray(w, dtype=float).reshape(-1)


@SPACES.register("nasnet")
class NasnetSpace(SearchSpace):
    """NASNet cells: B blocks x (2 inputs, 2 of 13 ops, add/concat), normal + reduction cell."""

    is_chain = False
    positions_are_choices = False  # a supernet of every candidate edge (positions())
    positions_add_up = False  # output projections and dead preprocessing span several blocks
    arch_legend = ("NASNet normal | reduction cell, one group per block: input, op, '+' add "
                   "or '&' concat, input, op; inputs 0 = h[i-2], 1 = h[i-1], 2.. = block 0..; "
                   "ops id identity, c13/c17 1x3+3x1 / 1x7+7x1 conv, d3 dilated 3x3, a3 avg "
                   "pool, m3/m5/m7 max pool, c1/c3 conv, s3/s5/s7 separable conv")
    small_options = {"B": 2, "N": 1, "F": 4, "resolution": 8}

    option_specs = {
        "B": Option(5, int, low=1, high=10, help="blocks per cell (the paper's 5)"),
        "N": Option(2, int, low=1, high=MAX_CELLS,
                    help="normal cells between reductions (the paper's search used 2)"),
        "F": Option(16, int, low=2, high=MAX_CHANNELS,
                    help="filters of the first cells, doubled at each reduction"),
        "resolution": Option(32, int, low=4, high=MAX_RESOLUTION, help="input height and width"),
        "num_classes": Option(10, int, low=2, high=MAX_CLASSES, help="classifier outputs"),
        "in_channels": Option(3, int, low=1, high=MAX_CHANNELS, help="input channels"),
    }
    B: int
    N: int
    F: int
    resolution: int
    in_channels: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.resolution, self.resolution)

    # -- choices ------------------------------------------------------------------------------
    def choices(self) -> list[tuple[str, tuple]]:
        """Per cell type and block: in0, op0, in1, op1, combine. Inputs index [h_{i-2},
        h_{i-1}, block 0 .. block b-1]; any pair is valid, the same input twice included (as
        in NASNet-A's cells)."""
        out: list[tuple[str, tuple]] = []
        for kind in CELL_TYPES:
            for b in range(self.B):
                inputs = tuple(range(2 + b))
                out += [(f"{kind}.b{b}.in0", inputs), (f"{kind}.b{b}.op0", OPS),
                        (f"{kind}.b{b}.in1", inputs), (f"{kind}.b{b}.op1", OPS),
                        (f"{kind}.b{b}.combine", COMBINES)]
        return out

    def blocks(self, arch: Arch, kind: str) -> list[tuple]:
        """(in0, op0, in1, op1, combine) of each block of one cell type."""
        v = arch.values
        return [(v[f"{kind}.b{b}.in0"], v[f"{kind}.b{b}.op0"], v[f"{kind}.b{b}.in1"],
                 v[f"{kind}.b{b}.op1"], v[f"{kind}.b{b}.combine"]) for b in range(self.B)]

    def wiring(self, arch: Arch, kind: str) -> tuple[tuple[bool, bool], tuple[int, ...]]:
        """Which cell inputs some block reads, and the blocks no block reads (the output)."""
        read = {k for in0, _, in1, _, _ in self.blocks(arch, kind) for k in (in0, in1)}
        return (0 in read, 1 in read), tuple(u for u in range(self.B) if 2 + u not in read)

    # -- network geometry ---------------------------------------------------------------------
    def cells(self) -> list[CellShape]:
        """Every cell in order: [N normal] reduce [N normal] reduce [N normal]."""
        stem = (STEM_MULTIPLIER * self.F, self.resolution)
        prev_prev = prev = stem
        out: list[CellShape] = []
        count = {kind: 0 for kind in CELL_TYPES}
        for stack in range(3):
            kinds = (["reduce"] if stack else []) + ["normal"] * self.N
            for kind in kinds:
                hw = prev[1]
                out_hw = -(-hw // 2) if kind == "reduce" else hw
                cell = CellShape(kind, count[kind], self.F * 2 ** stack, hw, out_hw,
                                 prev_prev, prev)
                out.append(cell)
                count[kind] += 1
                prev_prev, prev = prev, (cell.channels, out_hw)
        return out

    def instances(self, kind: str) -> list[CellShape]:
        return [cell for cell in self.cells() if cell.kind == kind]

    # -- ops ----------------------------------------------------------------------------------
    def stem_sig(self) -> OpSignature:
        r = self.resolution
        return OpSignature("conv_bn", self.in_channels, STEM_MULTIPLIER * self.F, r, r, kernel=3)

    def head_sig(self) -> OpSignature:
        last = self.cells()[-1]
        return OpSignature("relu_gap_fc", last.channels, last.channels, last.out_hw, last.out_hw,
                           classes=self.num_classes)

    @staticmethod
    def preprocess_sigs(cell: CellShape) -> tuple[OpSignature, OpSignature]:
        """The ops making h_{i-2} and h_{i-1} the cell's width (and size)."""
        (pp_c, pp_hw), (p_c, p_hw) = cell.prev_prev, cell.prev
        if pp_hw != p_hw:  # h_{i-2} comes from before a reduction cell
            first = OpSignature("factorized_reduce", pp_c, cell.channels, pp_hw, pp_hw, stride=2)
        else:
            first = OpSignature("relu_conv_bn", pp_c, cell.channels, pp_hw, pp_hw, kernel=1)
        return first, OpSignature("relu_conv_bn", p_c, cell.channels, p_hw, p_hw, kernel=1)

    @staticmethod
    def edge_sig(cell: CellShape, k: int, op: str) -> OpSignature | None:
        hw, stride = cell.source(k)
        return op_sig(op, cell.channels, hw, stride)

    @staticmethod
    def output_sig(cell: CellShape, outputs: int) -> OpSignature | None:
        """The output projection of `outputs` unused blocks; none for a single one."""
        if outputs < 2:
            return None
        return combine_sig(outputs, cell.channels, cell.out_hw, concat=True)

    def cell_ops(self, arch: Arch, cell: CellShape) -> list[OpSignature]:
        """One cell's ops in execution order (as `Cell.forward` runs them). A pool of an input
        already pooled the same way in the cell is that result again (ONNX Runtime merges
        such twins; `Block.forward` computes them once in torch too), so it is listed once."""
        used, outputs = self.wiring(arch, cell.kind)
        sigs = [sig for sig, on in zip(self.preprocess_sigs(cell), used, strict=True) if on]
        pooled: set = set()
        for in0, op0, in1, op1, combine in self.blocks(arch, cell.kind):
            for k, op in ((in0, op0), (in1, op1)):
                if op in POOLS:
                    if (k, op) in pooled:
                        continue
                    pooled.add((k, op))
                sig = self.edge_sig(cell, k, op)
                if sig is not None:
                    sigs.append(sig)
            sigs.append(combine_sig(2, cell.channels, cell.out_hw, combine == "concat"))
        out = self.output_sig(cell, len(outputs))
        return sigs + ([out] if out is not None else [])

    def ops(self, arch: Arch) -> list[OpSignature]:
        self.check(arch)
        return [self.stem_sig(), *(sig for cell in self.cells()
                                   for sig in self.cell_ops(arch, cell)), self.head_sig()]

    def fixed_ops(self) -> list[OpSignature]:
        """Stem, every cell's two preprocessing ops and head: what runs for (almost) every
        architecture. A preprocessing op whose input no block reads is not built; that and
        the output projections are the arch-dependent remainder of `ops(arch)` beyond
        fixed ops + positions (`positions()`)."""
        pre = [sig for cell in self.cells() for sig in self.preprocess_sigs(cell)]
        return [self.stem_sig(), *pre, self.head_sig()]

    def all_ops(self) -> list[OpSignature]:
        """Every op any arch can run: the base's one-label-at-a-time walk would miss output
        projections of 3+ blocks, which need several blocks' inputs changed at once."""
        seen: dict[str, OpSignature] = {}
        sigs = list(self.fixed_ops())
        for cell in self.cells():
            for k in (0, 2):  # a cell input, and a block (same shape for every block)
                sigs += [s for op in OPS if (s := self.edge_sig(cell, k, op)) is not None]
            sigs += [combine_sig(2, cell.channels, cell.out_hw, concat) for concat in (False, True)]
            sigs += [s for n in range(2, self.B + 1) if (s := self.output_sig(cell, n))]
        for sig in sigs:
            seen.setdefault(sig.key, sig)
        return list(seen.values())

    # -- supernet view ------------------------------------------------------------------------
    def positions(self) -> list[Position]:
        """Per cell type and block b: one position per (path j, candidate input k), options
        `none` + `OPS`, then one for the combination (`add` / `concat`). An option's ops are
        that op in every cell of the type.

        Two paths per block, not one position per input: ENAS's micro supernet keeps the two
        paths' weights apart (its x and y scopes), and a genotype whose two paths read one
        input with different ops (NASNet-A has such blocks) then has a supernet path, so
        `arch_from_positions(one_hot(position_values(arch))) == arch` for every arch.

        Where `ops(arch)` differs from fixed ops + the positions' values
        (`positions_add_up` is False): the output projection, whose width depends on which
        blocks are read by others, is in no position; the preprocessing of a cell input no
        block reads is not built; a twin pool (`cell_ops`) runs once but both positions
        count it."""
        out: list[Position] = []
        for kind in CELL_TYPES:
            cells = self.instances(kind)
            for b in range(self.B):
                for j in (0, 1):
                    for k in range(2 + b):
                        ops = {op: tuple(s for cell in cells
                                         if (s := self.edge_sig(cell, k, op)) is not None)
                               for op in EDGE_OPTIONS}
                        out.append(Position(edge_label(kind, b, j, k), EDGE_OPTIONS, ops))
                ops = {c: tuple(combine_sig(2, cell.channels, cell.out_hw, c == "concat")
                                for cell in cells) for c in COMBINES}
                out.append(Position(f"{kind}.b{b}.combine", COMBINES, ops))
        return out

    def position_values(self, arch: Arch, positions: Sequence[Position] | None = None) -> list:
        """Each path's op on its chosen input, `none` on its other candidate inputs; each
        block's combination as it is."""
        self.check(arch)
        positions = self.positions() if positions is None else positions
        values = {}
        for kind in CELL_TYPES:
            for b, (in0, op0, in1, op1, combine) in enumerate(self.blocks(arch, kind)):
                for j, (src, op) in enumerate(((in0, op0), (in1, op1))):
                    for k in range(2 + b):
                        values[edge_label(kind, b, j, k)] = op if k == src else NONE
                values[f"{kind}.b{b}.combine"] = combine
        return [values[p.label] for p in positions]

    def arch_from_positions(self, weights: Sequence[Sequence[float]],
                            positions: Sequence[Position] | None = None) -> Arch:
        """Each path keeps its strongest candidate input, by its strongest non-`none` op (the
        DARTS rule per path: a `none` that wins everywhere still leaves a real op), with that
        op; each block its stronger combination. Ties go to the lower input and the earlier
        op in `OPS`."""
        positions = self.positions() if positions is None else positions
        if len(weights) != len(positions):
            raise ValueError(f"expected {len(positions)} weight vectors, got {len(weights)}")
        by_label = {p.label: (p, _vector(w)) for p, w in zip(positions, weights, strict=True)}
        values: dict = {}
        for kind in CELL_TYPES:
            for b in range(self.B):
                for j in (0, 1):
                    best = None  # (strength, input, op)
                    for k in range(2 + b):
                        position, w = by_label[edge_label(kind, b, j, k)]
                        real = [(float(w[i]), op) for i, op in enumerate(position.options)
                                if op != NONE]
                        strength = max(s for s, _ in real)
                        if best is None or strength > best[0]:
                            op = next(op for s, op in real if s == strength)
                            best = (strength, k, op)
                    assert best is not None
                    values[f"{kind}.b{b}.in{j}"], values[f"{kind}.b{b}.op{j}"] = best[1], best[2]
                position, w = by_label[f"{kind}.b{b}.combine"]
                values[f"{kind}.b{b}.combine"] = position.options[int(np.argmax(w))]
        return Arch(self.name, {label: values[label] for label, _ in self.choices()})

    # -- modules ------------------------------------------------------------------------------
    def build_op(self, sig: OpSignature):
        from hwnas.spaces.modules.nasnet_cell import build_nasnet_op  # lazy: torch on build

        return build_nasnet_op(sig)

    def option_module(self, position: Position, option, instance: int = 0):
        """`none` is a Zero the block skips; an identity at stride 1 runs nothing."""
        import torch.nn as nn

        from hwnas.spaces.modules.nasnet_cell import Zero  # lazy: as in build_op

        if option == NONE:  # strided like the position's ops, for a supernet that weighs it
            strides = {sigs[instance].stride for sigs in position.ops.values() if sigs}
            return Zero(max(strides, default=1))
        sigs = position.ops[option]
        return self.build_op(sigs[instance]) if sigs else nn.Identity()

    def build_network(self, slot, wiring: dict | None = None):
        """Stem, cells, head; edge position p of the i-th cell of its type is `slot(p, i)`.
        `wiring` (cell type -> `self.wiring(arch, type)`) says which cell inputs are read and
        which blocks make the output; None (a supernet): every input, every block. Modules
        are created in the order of `ops(arch)`."""
        from hwnas.spaces.modules.nasnet_cell import Block, Cell, ConcatProject
        from hwnas.spaces.modules.two_input_cells import TwoInputCellNetwork

        index = {p.label: i for i, p in enumerate(self.positions())}
        every = ((True, True), None)  # a supernet's cell finds its output blocks itself
        stem = self.build_op(self.stem_sig())
        cells = []
        for cell in self.cells():
            used, outputs = every if wiring is None else wiring[cell.kind]
            pre = tuple(self.build_op(sig) if on else None
                        for sig, on in zip(self.preprocess_sigs(cell), used, strict=True))
            blocks = []
            for b in range(self.B):
                paths = [[slot(index[edge_label(cell.kind, b, j, k)], cell.instance)
                          for k in range(2 + b)] for j in (0, 1)]
                combine = slot(index[f"{cell.kind}.b{b}.combine"], cell.instance)
                blocks.append(Block(paths, combine))
            slices = range(self.B) if outputs is None else outputs
            out = None
            if len(slices) > 1:
                out = ConcatProject(cell.channels, len(slices), tuple(f"b{u}" for u in slices))
            cells.append(Cell((pre[0], pre[1]), blocks, out, outputs))
        return TwoInputCellNetwork(stem, cells, self.build_op(self.head_sig()))

    def build(self, arch: Arch):
        """The network: each path's op on its chosen input, its other candidate inputs
        `none`; only the preprocessing of inputs some block reads and, as output, the blocks
        no block reads (under one seed, weights equal those of `ops(arch)` built one by one)."""
        self.check(arch)
        positions = self.positions()
        values = self.position_values(arch, positions)
        wiring = {kind: self.wiring(arch, kind) for kind in CELL_TYPES}
        return self.build_network(
            lambda p, i: self.option_module(positions[p], values[p], i), wiring)

    # -- reading ------------------------------------------------------------------------------
    def network_key(self, arch: Arch) -> tuple:
        """`add` is commutative: a block adding (a, x) and (b, y) is the block adding (b, y)
        and (a, x). Concatenation's order changes which weights see which path, so it stays."""
        key = []
        for kind in CELL_TYPES:
            for in0, op0, in1, op1, combine in self.blocks(arch, kind):
                pair = ((in0, op0), (in1, op1))
                key.append((combine, tuple(sorted(pair)) if combine == "add" else pair))
        return tuple(key)

    def compact(self, arch: Arch) -> str:
        """`1s3+0id 2a3&0c3 | ...`: per block its first input and op, '+' (add) or '&'
        (concat), second input and op; normal cell, then reduction cell (`arch_legend`)."""
        arch = self.check(arch)
        cells = []
        for kind in CELL_TYPES:
            cells.append(" ".join(
                f"{in0}{SHORT_OPS[op0]}{SHORT_COMBINES[c]}{in1}{SHORT_OPS[op1]}"
                for in0, op0, in1, op1, c in self.blocks(arch, kind)))
        return " | ".join(cells)
