"""`mnasnet`: MnasNet's factorized hierarchical search space (Tan et al. 2019), for small images.

The network is a fixed stem (3x3 conv, 32 filters), B searchable blocks (7 by default) and a
fixed head (1x1 conv, global average pool, linear). Each block picks, once for all its
layers (the paper's factorization: layers differ between blocks, not within one):

    op       ConvOp: conv (regular kxk conv), dwsep (depthwise-separable: kxk depthwise + 1x1),
             mb3 / mb6 (mobile inverted bottleneck, expansion 3 / 6)
    k        kernel size 3 or 5
    se       squeeze-and-excitation ratio 0 or 0.25
    skip     identity residual on each layer whose shapes allow it (stride 1, cin == cout), or
             none. The paper also lists pooling; it is left out, as in the networks the paper
             reports (A1, B1, ...), which use only the identity
    filters  the block's width: 0.75, 1 or 1.25 of its base width (the paper's -25%, 0, +25%)
    layers   the block's depth relative to its base: -1, 0, +1 (never below one layer, so a
             block whose base is one layer offers 0 and +1 only: a block cannot vanish)

The first layer of a block carries its stride and takes the previous block's width; the others
keep the block's width. So a block's `filters` choice sets the input width of the next block's
ops (and the head's), and its `layers` choice adds or removes whole ops.

Base layout: MnasNet-A1's seven stages (filters 16, 24, 40, 80, 112, 160, 320; layers 1, 2,
3, 4, 2, 3, 1), the MobileNetV2 stages the paper's choices are relative to. On ImageNet-sized
inputs (resolution above 64) the strides are A1's (stem 2; blocks 1, 2, 2, 2, 1, 2, 1: 224 ->
7). Small images keep the resolution the stem and the second block would halve (stem 1;
blocks 1, 1, 2, 2, 1, 2, 1: 32 -> 4), as CIFAR versions of MobileNetV2 do, so the last blocks
still see more than one pixel. The head's 1x1 conv is A1's 1280 filters on ImageNet-sized
inputs and 256 on small images (the width hwnas's proxyless chain uses there): on digits at
16 px and width 0.5, `--preset fast` (2 epochs) reached 0.30 accuracy with A1's head (640 after
the multiplier) and 0.91 with 256, same blocks (all MBConv6 3x3 with the identity skip); a
head that wide needs more epochs than a proxy gives. `blocks` below 7 keeps the first stages.
`width_mult` scales the stem, the head and the base widths (rounded to multiples of 8, as
MobileNet's multiplier is); the filter ratios then apply to the rounded base exactly (to the
nearest integer), so the three filter choices are three widths at any multiplier, which
rounding them to multiples of 8 would not give (0.75 x 16 -> 16).

Ops (hwnas.spaces.modules.mnas_blocks): one OpSignature per layer, `mnas_conv`, `mnas_dwsep`
or `mnas_mbconv` (expand 3/6) with kernel and stride, `se` and `skip` in `extra`; the skip is
`identity` only where the layer's shapes allow it, so a layer that cannot have a residual has
one op whatever the block's skip choice. `ops(arch)` is a chain: the network is exactly its ops
run one after the other.

Supernets: none, and the space says so in one line (`check_supernet`, `option_module`). The
honest positions are one per block whose options are the block's joint choices (`positions()`:
4 x 2 x 2 x 2 x 3 x 3 = 288 options, 192 for a block whose base is one layer), but a block's
candidates cannot share one supernet slot: its `filters` options give outputs of three widths,
and the next block's candidates would each need the width the previous block chose. So the
positions carry each option's ops at the block's BASE input width (the previous block at
filters 1; an estimate, for tools that read positions), `positions_add_up = False` (ops depend
on the previous block's choice) and `positions_are_choices = False` (`position_values` and
`arch_from_positions` map an architecture to its per-block option and back, the argmax per
block). Methods that ask `check_supernet` (SPOS, ENAS, once-for-all, the shared-weights
estimator) are refused with this space's line; an expected cost (the gradient methods' latency
term) is refused by `hwnas.oneshot.expected_cost` (positions that neither add up nor are
choices), and the 288^5 x 192^2 ~ 7.3e16 architectures could not be enumerated anyway. Search
it with the sample-based strategies, which read `ops(arch)` against a latency table.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.limits import MAX_CHANNELS, MAX_CLASSES, MAX_RESOLUTION
from hwnas.ops import OpSignature
from hwnas.options import Option
from hwnas.registry import SPACES
from hwnas.spaces.base import Position, SearchSpace, weight_array
from hwnas.spaces.proxyless import make_divisible

# MnasNet-A1's stages: base filters and layers; strides on ImageNet and on small images.
BASE_FILTERS = (16, 24, 40, 80, 112, 160, 320)
BASE_LAYERS = (1, 2, 3, 4, 2, 3, 1)
IMAGENET_STRIDES = (1, 2, 2, 2, 1, 2, 1)
SMALL_STRIDES = (1, 1, 2, 2, 1, 2, 1)
SMALL_IMAGES = 64  # at most this: the small-image strides
STEM_WIDTH = 32
HEAD_WIDTH = 1280  # A1's, on ImageNet-sized inputs
SMALL_HEAD_WIDTH = 256  # on small images: see the module docstring

CONV_OPS = ("conv", "dwsep", "mb3", "mb6")
KERNELS = (3, 5)
SE_RATIOS = ("0", "0.25")
SKIPS = ("identity", "none")
FILTER_RATIOS = ("0.75", "1", "1.25")
LAYER_DELTAS = (-1, 0, 1)
OP_TYPES = {"conv": ("mnas_conv", 0), "dwsep": ("mnas_dwsep", 0), "mb3": ("mnas_mbconv", 3),
            "mb6": ("mnas_mbconv", 6)}
WIDTH_MARK = {"0.75": "-", "1": "=", "1.25": "+"}


class BlockChoice(NamedTuple):
    """One block's choices, in the paper's order (and the order of its labels)."""

    op: str
    k: int
    se: str
    skip: str
    filters: str
    layers: int


FIELDS = BlockChoice._fields


def _either(names: list[str]) -> str:
    if not names:
        return "another space"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


@SPACES.register("mnasnet")
class MnasNetSpace(SearchSpace):
    """MnasNet's factorized space: 7 blocks, each one ConvOp/kernel/SE/skip/width/depth.

    Every layer of a block shares the block's choices (the paper's factorization)."""

    arch_legend = ("per block: ConvOp (conv, dwsep = depthwise-separable, mb3/mb6 = inverted "
                   "bottleneck x3/x6), k + kernel, 'e' = squeeze-and-excitation 0.25, 'r' = "
                   "identity residual, width '-'/'='/'+' = 0.75/1/1.25 of the base, x + its "
                   "number of layers (mb6k5er+x3: MBConv6 5x5, SE, residual, +25%, 3 layers)")
    small_options = {"resolution": 16, "width_mult": 0.25}
    option_specs = {
        "resolution": Option(32, int, low=8, high=MAX_RESOLUTION, help="input height and width"),
        "width_mult": Option(1.0, float, low=0.1, high=4.0,
                             help="multiplier of the stem, head and base block widths"),
        "num_classes": Option(10, int, low=2, high=MAX_CLASSES, help="classifier outputs"),
        "in_channels": Option(3, int, low=1, high=MAX_CHANNELS, help="input channels"),
        "blocks": Option(len(BASE_FILTERS), int, low=1, high=len(BASE_FILTERS),
                         help="searchable blocks: the first of MnasNet-A1's 7 stages"),
    }
    # Ops depend on the previous block's width, and a block's position is its joint choice.
    positions_add_up = False
    positions_are_choices = False
    resolution: int
    width_mult: float
    in_channels: int
    blocks: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.resolution, self.resolution)

    # -- layout -------------------------------------------------------------------------------
    @property
    def _small(self) -> bool:
        return self.resolution <= SMALL_IMAGES

    @property
    def stem_stride(self) -> int:
        return 1 if self._small else 2

    def strides(self) -> tuple[int, ...]:
        return (SMALL_STRIDES if self._small else IMAGENET_STRIDES)[:self.blocks]

    def block_inputs(self) -> list[int]:
        """Input height (= width) of each block: fixed, since only strides change it."""
        hw, out = -(-self.resolution // self.stem_stride), []
        for stride in self.strides():
            out.append(hw)
            hw = -(-hw // stride)
        return out

    def widths(self, b: int) -> dict[str, int]:
        """Block `b`'s width per filter choice."""
        base = make_divisible(BASE_FILTERS[b] * self.width_mult)
        return {f: max(1, int(base * float(f) + 0.5)) for f in FILTER_RATIOS}

    def layer_deltas(self, b: int) -> tuple[int, ...]:
        return tuple(d for d in LAYER_DELTAS if BASE_LAYERS[b] + d >= 1)

    def choices(self) -> list[tuple[str, tuple]]:
        out: list[tuple[str, tuple]] = []
        for b in range(self.blocks):
            options = (CONV_OPS, KERNELS, SE_RATIOS, SKIPS, FILTER_RATIOS, self.layer_deltas(b))
            out += [(f"b{b + 1}.{name}", opts) for name, opts in zip(FIELDS, options, strict=True)]
        return out

    def block_choice(self, arch: Arch, b: int) -> BlockChoice:
        v, at = arch.values, f"b{b + 1}."
        return BlockChoice(str(v[at + "op"]), int(v[at + "k"]), str(v[at + "se"]),
                           str(v[at + "skip"]), str(v[at + "filters"]), int(v[at + "layers"]))

    # -- ops ----------------------------------------------------------------------------------
    def stem_sig(self) -> OpSignature:
        r, width = self.resolution, make_divisible(STEM_WIDTH * self.width_mult)
        return OpSignature("mnas_stem", self.in_channels, width, r, r, kernel=3,
                           stride=self.stem_stride)

    def head_sig(self, cin: int) -> OpSignature:
        hw = self.block_inputs()[-1]
        hw = -(-hw // self.strides()[-1])
        width = make_divisible((SMALL_HEAD_WIDTH if self._small else HEAD_WIDTH)
                               * self.width_mult)
        return OpSignature("mnas_head", cin, width, hw, hw, classes=self.num_classes)

    @staticmethod
    def layer_sig(choice: BlockChoice, cin: int, cout: int, hw: int, stride: int) -> OpSignature:
        op, expand = OP_TYPES[choice.op]
        # a residual exists only where the shapes allow it: elsewhere the choice changes nothing
        skip = "identity" if choice.skip == "identity" and stride == 1 and cin == cout else "none"
        return OpSignature(op, cin, cout, hw, hw, kernel=choice.k, stride=stride, expand=expand,
                           extra=(("se", choice.se), ("skip", skip)))

    def block_sigs(self, b: int, cin: int, choice: BlockChoice) -> list[OpSignature]:
        """The layers of block `b` fed `cin` channels: the first strided, the rest alike."""
        hw, stride = self.block_inputs()[b], self.strides()[b]
        cout = self.widths(b)[choice.filters]
        first = self.layer_sig(choice, cin, cout, hw, stride)
        rest = self.layer_sig(choice, cout, cout, -(-hw // stride), 1)
        return [first] + [rest] * (BASE_LAYERS[b] + choice.layers - 1)

    def _chain(self, arch: Arch) -> tuple[list[list[OpSignature]], int]:
        """Each block's ops for `arch`, and the width the head receives."""
        cin, blocks = self.stem_sig().cout, []
        for b in range(self.blocks):
            choice = self.block_choice(arch, b)
            blocks.append(self.block_sigs(b, cin, choice))
            cin = self.widths(b)[choice.filters]
        return blocks, cin

    def ops(self, arch: Arch) -> list[OpSignature]:
        self.check(arch)
        blocks, width = self._chain(arch)
        return [self.stem_sig(), *(sig for block in blocks for sig in block), self.head_sig(width)]

    def all_ops(self) -> list[OpSignature]:
        """Every layer any architecture runs: per block, its first layer for each input width
        (the previous block's three) x output width x ConvOp x kernel x SE x skip, and its
        later layers for each output width; the head for each last width. The base's walk, one
        label at a time from the default, would miss every op past a changed width (1588 ops
        at the defaults, most of them on the first layers' 3 x 3 widths)."""
        seen: dict[str, OpSignature] = {}
        stem = self.stem_sig()
        seen[stem.key] = stem
        cins = [stem.cout]
        for b in range(self.blocks):
            hw, stride = self.block_inputs()[b], self.strides()[b]
            couts = sorted(set(self.widths(b).values()))
            variants = [BlockChoice(op, k, se, skip, "1", 0) for op, k, se, skip
                        in itertools.product(CONV_OPS, KERNELS, SE_RATIOS, SKIPS)]
            for cin, cout, v in itertools.product(cins, couts, variants):
                sig = self.layer_sig(v, cin, cout, hw, stride)
                seen.setdefault(sig.key, sig)
            if BASE_LAYERS[b] + max(self.layer_deltas(b)) > 1:
                for cout, v in itertools.product(couts, variants):
                    sig = self.layer_sig(v, cout, cout, -(-hw // stride), 1)
                    seen.setdefault(sig.key, sig)
            cins = couts
        for cin in cins:
            head = self.head_sig(cin)
            seen[head.key] = head
        return list(seen.values())

    def fixed_ops(self) -> list[OpSignature]:
        """The stem, and the head at the last block's base width (its input width follows the
        last block's filter choice, as the positions' ops are at base input widths)."""
        return [self.stem_sig(), self.head_sig(self.widths(self.blocks - 1)["1"])]

    # -- positions: a per-block view, with no supernet ---------------------------------------
    def block_options(self, b: int) -> dict[str, BlockChoice]:
        """Block `b`'s joint choices by their token (`compact`'s per-block form)."""
        combos = itertools.product(CONV_OPS, KERNELS, SE_RATIOS, SKIPS, FILTER_RATIOS,
                                   self.layer_deltas(b))
        return {self.token(b, c): c for c in (BlockChoice(*combo) for combo in combos)}

    def token(self, b: int, choice: BlockChoice) -> str:
        return (f"{choice.op}k{choice.k}{'e' if choice.se != '0' else ''}"
                f"{'r' if choice.skip == 'identity' else ''}{WIDTH_MARK[choice.filters]}"
                f"x{BASE_LAYERS[b] + choice.layers}")

    def positions(self) -> list[Position]:
        """One position per block; an option's ops are the block's layers at the block's base
        input width (the previous block at filters 1): see the module's docstring."""
        out, cin = [], self.stem_sig().cout
        for b in range(self.blocks):
            options = self.block_options(b)
            out.append(Position(f"b{b + 1}", tuple(options), {
                token: tuple(self.block_sigs(b, cin, c)) for token, c in options.items()}))
            cin = self.widths(b)["1"]
        return out

    def position_values(self, arch: Arch, positions=None) -> list:
        return [self.token(b, self.block_choice(arch, b)) for b in range(self.blocks)]

    def arch_from_positions(self, weights, positions=None) -> Arch:
        """The strongest joint option of each block, read back into the block's labels."""
        positions = self.positions() if positions is None else positions
        if len(weights) != len(positions):
            raise ValueError(f"expected {len(positions)} weight vectors, got {len(weights)}")
        values: dict[str, str | int] = {}
        for b, (position, w) in enumerate(zip(positions, weights, strict=True)):
            token = position.options[int(weight_array(w).argmax())]
            choice = self.block_options(b)[token]
            values.update({f"b{b + 1}.{name}": v for name, v in choice._asdict().items()})
        return Arch(self.name, values)

    def _no_supernet(self, who: str) -> str:
        others = sorted(n for n in SPACES.names()  # the spaces that can have one
                        if SPACES.get(n).check_supernet is SearchSpace.check_supernet
                        and SPACES.get(n).positions is not SearchSpace.positions)
        return (f"{who} needs a supernet, and space {self.name!r} cannot have one: a block's "
                "filter choice sets the width every later block sees, so a block's candidates "
                "cannot share one slot; search it with a sample-based method (e.g. --method "
                f"evolution), or use --space {_either(others)}")

    def check_supernet(self, who: str) -> None:
        raise BadInputError(self._no_supernet(who))

    def option_module(self, position: Position, option, instance: int = 0):
        raise BadInputError(self._no_supernet("a one-shot method"))

    # -- modules ------------------------------------------------------------------------------
    def build_op(self, sig: OpSignature):
        from hwnas.spaces.modules.mnas_blocks import build_mnas_op  # torch only when built

        return build_mnas_op(sig)

    def build_network(self, slot):
        """Stem, `slot(b, 0)` for each block (an `MnasBlock`, whose width sizes the head),
        head: created in the order of `ops(arch)`."""
        import torch.nn as nn

        stem = self.build_op(self.stem_sig())
        blocks = [slot(b, 0) for b in range(self.blocks)]
        head = self.build_op(self.head_sig(blocks[-1].out_channels))
        return nn.Sequential(stem, *blocks, head)

    def build(self, arch: Arch):
        """The network of `arch`, each block built at the width the previous block chose."""
        from hwnas.spaces.modules.mnas_blocks import MnasBlock

        self.check(arch)
        chain, _ = self._chain(arch)
        return self.build_network(lambda b, _i: MnasBlock(
            [self.build_op(sig) for sig in chain[b]], chain[b][-1].cout))

    # -- names --------------------------------------------------------------------------------
    def network_key(self, arch: Arch) -> tuple:
        """Architectures differing only in a skip choice no layer can take compute the same
        network: their ops are equal (the skip is in each layer's op only where it applies)."""
        return tuple(sig.key for sig in self.ops(arch))

    def compact(self, arch: Arch) -> str:
        """'mb6k5er+x3 dwsepk3=x1 ...': one token per block (`arch_legend`)."""
        return " ".join(self.position_values(arch))
