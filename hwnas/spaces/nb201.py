"""`nb201`: the NAS-Bench-201 cell space (Dong & Yang, ICLR 2020), 5^6 = 15,625 architectures.

A cell is a DAG of 4 nodes; each of its 6 edges (i -> j, i < j) picks one op of `CELL_OPS`;
a node is the sum of its incoming edges and node 3 is the cell's output. Every cell of a network
is the same. Macro skeleton: stem (3x3 conv C + BN), 3 stages of N cells with C / 2C / 4C
channels separated by stride-2 basic ResNet blocks, then BN + ReLU, global pool, linear.

Latency-table granularity (`ops`): one signature per ReLU-Conv-BN / pool edge instance (a node
pooled twice is pooled once), one `sum` per node that adds two or more incoming tensors, a
`zero` per cell where a used node gets only `none` inputs, plus stem, reduction blocks and head.
`none` edges run nothing; `skip_connect` edges run no compute of their own (an identity: their
cost is the extra input of the node's `sum`). Edge ops of one stage see the same shapes wherever
they sit in the cell, so they share a key: a table needs 22 entries for the whole space.

Edges into a node that cannot reach the cell output (node 2 when op_2to3 is `none`, ...) are
built and listed as `none`: they cannot change the output and ONNX export drops them (counting
them, a table's sum ranked 12 random nets on ort-cpu with Kendall tau 0.55 instead of 0.85).
Outputs equal NB201's network; `params` is below NB201's figure for such cells.
"""

from __future__ import annotations

import difflib
import re

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.limits import MAX_CELLS, MAX_CHANNELS, MAX_CLASSES, MAX_RESOLUTION
from hwnas.ops import OpSignature
from hwnas.options import Option, option_error
from hwnas.registry import SPACES
from hwnas.spaces.base import Position, SearchSpace

# The edge ops of an NB201 cell, in the benchmark's order (this order is the integer encoding).
CELL_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
CONV_KERNELS = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}
# `compact()`'s one character per op ('-' = nothing, as in proxyless's compact strings).
SHORT_OPS = {"none": "-", "skip_connect": "s", "nor_conv_1x1": "1", "nor_conv_3x3": "3",
             "avg_pool_3x3": "p"}
# (label, from node, to node) of the cell's 6 edges in NAS-Bench-201's order, by target node.
EDGES = tuple((f"op_{i}to{j}", i, j) for j in (1, 2, 3) for i in range(j))


def used_nodes(active: list[bool]) -> list[bool]:
    """Which nodes reach the cell output (node 3) through active (non-`none`) edges. An edge
    into an unused node cannot change the output: ONNX export drops it, so it is not built."""
    used = [False, False, False, True]
    for (_label, i, j), on in sorted(zip(EDGES, active, strict=True), key=lambda e: -e[0][2]):
        if on and used[j]:
            used[i] = True
    return used


LABELS = tuple(label for label, _, _ in EDGES)
_OP = "(?:" + "|".join(CELL_OPS) + ")"
# The whole string at once: validates a benchmark's 15,625 strings in milliseconds.
ARCH_PATTERN = re.compile(
    r"\+".join(r"\|" + r"\|".join(f"{_OP}~{i}" for i in range(j)) + r"\|" for j in (1, 2, 3)))
EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|"


def arch_to_string(arch: Arch) -> str:
    """NB201's string: `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` (node j's inputs, in order)."""
    nodes = ("|".join(f"{arch.values[f'op_{i}to{j}']}~{i}" for i in range(j)) for j in (1, 2, 3))
    return "+".join(f"|{node}|" for node in nodes)


def arch_from_string(text: str) -> Arch:
    """Parse NB201's arch string; one-line BadInputError saying what is wrong."""
    if not isinstance(text, str):
        _bad_string(text, "not a string")
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        _bad_string(text, f"{len(nodes)} node(s) separated by '+', expected 3")
    values = {}
    for j, node in enumerate(nodes, start=1):
        if len(node) < 2 or node[0] != "|" or node[-1] != "|":
            _bad_string(text, f"node {j} {node!r} must start and end with '|'")
        items = node[1:-1].split("|")
        if len(items) != j:
            _bad_string(text, f"node {j} needs {j} input(s), got {len(items)}")
        for i, item in enumerate(items):
            op, _, source = item.partition("~")
            if source != str(i):
                _bad_string(text, f"input {i} of node {j} is {item!r}, expected 'OP~{i}'")
            if op not in CELL_OPS:
                close = difflib.get_close_matches(op, CELL_OPS, n=1, cutoff=0.3)
                hint = f" (closest: {close[0]!r})" if close else ""
                _bad_string(text, f"unknown op {op!r}{hint}")
            values[f"op_{i}to{j}"] = op
    return Arch("nb201", values)


def live_choices(arch: Arch) -> dict[str, str]:
    """The edges' ops in `EDGES` order, with `none` for edges whose result never reaches the
    cell output (e.g. every edge into node 2 when op_2to3 is `none`)."""
    active = [arch.values[label] != "none" for label in LABELS]
    used = used_nodes(active)
    return {label: arch.values[label] if on and used[j] else "none"
            for (label, _i, j), on in zip(EDGES, active, strict=True)}


def effective_choices(arch: Arch) -> dict[str, str]:
    """Like `live_choices`, but also `none` for edges whose source node gets no input: what
    the cell computes (such an edge adds at most its BatchNorm's constant shift). Cells with
    equal effective choices are the same network up to that constant; NB201 trained each
    separately, so their accuracies differ by training noise."""
    live = live_choices(arch)
    fed = {0}
    for label, i, j in sorted(EDGES, key=lambda e: e[1]):
        if live[label] != "none" and i in fed:
            fed.add(j)
    return {label: op if i in fed else "none" for (label, i, _j), op
            in zip(EDGES, live.values(), strict=True)}


def _bad_string(text, reason: str):
    raise BadInputError(f"cannot read NB201 arch string {text!r}: {reason}; write e.g. "
                        f"'{EXAMPLE}' with ops {', '.join(CELL_OPS)}")


@SPACES.register("nb201")
class Nb201Space(SearchSpace):
    """NAS-Bench-201 cell DAG: 6 edges x 5 ops (none/skip/conv1x1/conv3x3/avgpool), 15,625 nets.

    Defaults are the benchmark's: C=16, N=5, 32x32x3 input, 10 classes. `is_chain` is False:
    the network is not the chain of its ops, though it holds exactly their modules."""

    is_chain = False
    arch_legend = ("NAS-Bench-201 cell, the inputs of nodes 1|2|3 from nodes 0, 1, 2: 3 = 3x3 "
                   "conv, 1 = 1x1 conv, p = 3x3 avg pool, s = skip, '-' = none")
    small_options = {"C": 8, "N": 1, "resolution": 16}
    positions_add_up = False  # node sums and dead edges depend on several edges (positions())

    option_specs = {
        "C": Option(16, int, low=1, high=MAX_CHANNELS, help="channels of the first stage's cells"),
        "N": Option(5, int, low=1, high=MAX_CELLS, help="cells per stage"),
        "resolution": Option(32, int, low=4, high=MAX_RESOLUTION, help="input height and width"),
        "num_classes": Option(10, int, low=2, high=MAX_CLASSES, help="classifier outputs"),
        "in_channels": Option(3, int, low=1, high=MAX_CHANNELS, help="input channels"),
    }
    C: int
    N: int
    resolution: int
    in_channels: int

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        if resolved["resolution"] % 4:
            # Two stride-2 reductions whose conv and pool paths must agree on the output size.
            raise option_error("resolution", cls.owner(), "a multiple of 4",
                               resolved["resolution"], f"(options: `{cls.list_command}`)")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.resolution, self.resolution)

    def choices(self) -> list[tuple[str, tuple]]:
        return [(label, CELL_OPS) for label in LABELS]

    def derived_choices(self) -> list[tuple[str, tuple]]:
        """Per edge: the op if it reaches the output (what a device runs), and the op if it
        also gets input (what is trained)."""
        return [(f"{kind}_{label}", CELL_OPS) for kind in ("runs", "trains") for label in LABELS]

    def derived(self, arch: Arch) -> dict:
        runs, trains = live_choices(arch), effective_choices(arch)
        return {**{f"runs_{k}": v for k, v in runs.items()},
                **{f"trains_{k}": v for k, v in trains.items()}}

    def network_key(self, arch: Arch) -> tuple:
        return tuple(effective_choices(arch).values())

    # -- strings ------------------------------------------------------------------------------
    def to_string(self, arch: Arch) -> str:
        return arch_to_string(self.check(arch))

    def from_string(self, text: str) -> Arch:
        return arch_from_string(text)

    def compact(self, arch: Arch) -> str:
        """One character per edge, the inputs of nodes 1|2|3 in order: `3|3 3|s 3 1` where
        NB201's own string takes 95 characters, so a table row holds it beside the numbers
        (the legend: `arch_legend`)."""
        arch = self.check(arch)
        return "|".join(" ".join(SHORT_OPS[arch.values[f"op_{i}to{j}"]] for i in range(j))
                        for j in (1, 2, 3))

    # -- ops ----------------------------------------------------------------------------------
    def stages(self) -> list[tuple[int, int]]:
        """(channels, spatial size) of the cells of each stage."""
        return [(self.C * 2 ** s, self.resolution // 2 ** s) for s in range(3)]

    def stem_sig(self) -> OpSignature:
        r = self.resolution
        return OpSignature("conv_bn", self.in_channels, self.C, r, r, kernel=3)

    def reduction_sig(self, stage: int) -> OpSignature:
        """The ResNet block entering `stage` (1 or 2)."""
        (cin, hw), (cout, _) = self.stages()[stage - 1], self.stages()[stage]
        return OpSignature("resnet_basic", cin, cout, hw, hw, kernel=3, stride=2)

    def head_sig(self) -> OpSignature:
        channels, hw = self.stages()[-1]
        return OpSignature("bn_relu_gap_fc", channels, channels, hw, hw, classes=self.num_classes)

    @staticmethod
    def edge_sig(choice: str, channels: int, hw: int) -> OpSignature | None:
        """The op one edge runs in a stage of this shape; None for `none` and `skip_connect`.
        Also what a supernet's expected latency needs per (edge, choice)."""
        if choice in CONV_KERNELS:
            return OpSignature("relu_conv_bn", channels, channels, hw, hw,
                               kernel=CONV_KERNELS[choice])
        if choice == "avg_pool_3x3":
            return OpSignature("avg_pool", channels, channels, hw, hw, kernel=3)
        return None

    @staticmethod
    def sum_sig(inputs: int, channels: int, hw: int) -> OpSignature:
        return OpSignature("sum", channels, channels, hw, hw, extra=(("inputs", inputs),))

    @staticmethod
    def zero_sig(channels: int, hw: int) -> OpSignature:
        return OpSignature("zero", channels, channels, hw, hw)

    def cell_ops(self, arch: Arch, channels: int, hw: int) -> list[OpSignature]:
        """One cell's ops in execution order (as `Cell.forward` runs them): each node's live
        edge ops, then its sum if it adds two or more tensors. Two things no edge owns:
        - a node whose inputs are all `none` but whose value is used is zero, computed once
          per cell (`zero`, a multiply by 0);
        - a second 3x3 pool of a tensor already pooled, or a second addition of the same two
          tensors, is the first one's result, not an op (ONNX export and ONNX Runtime merge
          them; `Cell.forward` computes them once in torch too).
        Both measured: without them a calibrated table under-predicted the 16 of 100 networks
        with such a node by 10% on average, and over-predicted twin pools by up to 28%."""
        choices = live_choices(arch)
        # Each node's value as an expression, so that what is computed twice is counted once:
        # a pool of a tensor already pooled, and an addition already made (a node that is one
        # skip of another is the same tensor; every zero node is the cell's one zero).
        tensor: list[object] = ["x"]
        sigs: list[OpSignature] = []
        seen: set = set()
        zero = False
        for j in (1, 2, 3):
            parts = []
            for label, i, target in EDGES:
                if target != j or choices[label] == "none":
                    continue
                choice, source = choices[label], tensor[i]
                value = (source if choice == "skip_connect" else ("pool", source)
                         if choice == "avg_pool_3x3" else ("conv", label))
                if value not in seen and choice != "skip_connect":
                    seen.add(value)
                    sigs.append(self.edge_sig(choice, channels, hw))
                parts.append(value)
            # node 3 is the cell's output; nodes 1 and 2 are computed if a live edge leaves them
            feeds = j == 3 or any(choices[label] != "none" for label, i, _t in EDGES if i == j)
            if not parts:
                if feeds and not zero:
                    sigs.append(self.zero_sig(channels, hw))
                    zero = True
                tensor.append("zero")
                continue
            total, adds = parts[0], 0
            for part in parts[1:]:  # added left to right, as Cell.forward does
                total = ("add", total, part)
                if total not in seen:
                    seen.add(total)
                    adds += 1
            if adds:
                sigs.append(self.sum_sig(adds + 1, channels, hw))
            tensor.append(total)
        return sigs

    def ops(self, arch: Arch) -> list[OpSignature]:
        self.check(arch)
        sigs = [self.stem_sig()]
        for stage, (channels, hw) in enumerate(self.stages()):
            if stage:
                sigs.append(self.reduction_sig(stage))
            sigs.extend(self.cell_ops(arch, channels, hw) * self.N)  # every cell is the same
        sigs.append(self.head_sig())
        return sigs

    def all_ops(self) -> list[OpSignature]:
        """Every op of the space (22 at any config): the base's one-label-at-a-time walk would
        miss the 2- and 3-input sums, which need several live edges at once."""
        sigs = [self.stem_sig(), self.reduction_sig(1), self.reduction_sig(2), self.head_sig()]
        for channels, hw in self.stages():
            sigs += [sig for c in CELL_OPS if (sig := self.edge_sig(c, channels, hw)) is not None]
            sigs += [self.sum_sig(n, channels, hw) for n in (2, 3)]
            sigs.append(self.zero_sig(channels, hw))
        return sigs

    def fixed_ops(self) -> list[OpSignature]:
        """Stem, the two reduction blocks and the head."""
        return [self.stem_sig(), self.reduction_sig(1), self.reduction_sig(2), self.head_sig()]

    def positions(self) -> list[Position]:
        """The 6 edges; an option's ops are its edge op in every cell (N per stage, each
        stage's shape), none for `none` and `skip_connect`.

        Two things in `ops(arch)` depend on several edges at once, so no position holds them:
        - the node sums (`sum` ops, one per node that adds two or more live inputs): they are
          the arch-dependent remainder `ops(arch) - fixed_ops() - Σ positions` (live edges
          only), to be priced per architecture (e.g. the derived one), not per position;
        - an edge into a node that does not reach the cell output runs nothing: for an arch,
          count a position's ops under `live_choices(arch)[label]` (`none` for such edges),
          not under its own value. An expected latency that weighs every edge independently
          overestimates by those edges."""
        positions = []
        for label in LABELS:
            ops = {}
            for choice in CELL_OPS:
                sigs = (self.edge_sig(choice, channels, hw) for channels, hw in self.stages())
                ops[choice] = tuple(sig for sig in sigs if sig is not None for _ in range(self.N))
            positions.append(Position(label, CELL_OPS, ops))
        return positions

    # -- modules ------------------------------------------------------------------------------
    def build_op(self, sig: OpSignature):
        # lazy: torch only when a module is built; cell_ops imports this module's constants
        from hwnas.spaces.modules.cell_ops import build_cell_op

        return build_cell_op(sig)

    def option_module(self, position: Position, option, instance: int = 0):
        """An edge's module in cell `instance` (N per stage): `none` is a Zero the cell skips,
        `skip_connect` an identity."""
        from hwnas.spaces.modules.cell_ops import edge_module  # lazy: as in build_op

        channels, hw = self.stages()[instance // self.N]
        return edge_module(option, self.edge_sig(option, channels, hw))

    def build_network(self, slot):
        """Stem, then per stage its reduction block (after the first) and N cells whose edge
        `p` in cell `i` (counted over the whole network) is `slot(p, i)`, then the head."""
        from hwnas.spaces.modules.cell_ops import Cell, Nb201Network  # lazy: as in build_op

        stem = self.build_op(self.stem_sig())
        blocks, cell = [], 0
        for stage in range(len(self.stages())):
            if stage:
                blocks.append(self.build_op(self.reduction_sig(stage)))
            for _ in range(self.N):
                blocks.append(Cell([slot(p, cell) for p in range(len(LABELS))]))
                cell += 1
        return Nb201Network(stem, blocks, self.build_op(self.head_sig()))

    def build(self, arch: Arch):
        """The network; an edge that cannot reach the output is built as `none` (ONNX export
        would drop it anyway). Modules are created in the order of `ops(arch)` (sums have no
        weights), so under one seed its weights equal those of the ops built one by one."""
        self.check(arch)
        live = list(live_choices(arch).values())
        positions = self.positions()
        return self.build_network(
            lambda p, i: self.option_module(positions[p], live[p], i))
