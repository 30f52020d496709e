"""`fbnet`: the FBNet space exactly as HW-NAS-Bench defines it, so its published per-block
costs (`hwnas tables import ... --format hwnas-bench-fbnet`) price every architecture.

22 searchable layers `l00`..`l21`, each one of 9 blocks, in HW-NAS-Bench's order, so the
integer encoding (`space.encode(arch)`) is HW-NAS-Bench's `op_idx_list`:

    0 k3_e1  1 k3_e1_g2  2 k3_e3  3 k3_e6  4 k5_e1  5 k5_e1_g2  6 k5_e3  7 k5_e6  8 skip

Macro-architecture (FBNet v1): stem 3x3 conv 3->16; 7 stages of [1,4,4,4,4,4,1] layers with
[16,24,32,64,112,184,352] channels, the first layer of a stage carrying its stride; head 1x1
conv, global average pool, linear. Two settings: `cifar100` (32x32 input, stem stride 1, stage
strides [1,1,2,2,1,2,1], head 352->1504, 100 classes) and `ImageNet` (224x224, stem stride 2,
strides [1,2,2,2,1,2,1], head 352->1984, 1000 classes). `num_classes` (default: the
setting's) changes only the last linear layer; HW-NAS-Bench's table prices 100 and 10 classes
for cifar100 and 1000 for ImageNet.

`skip` is allowed at every layer, as in HW-NAS-Bench: where the layer keeps its shape it is
the identity (still an op: the table prices it, 0 ms on most devices); where the layer changes
channels or strides (the first layer of stages 1-6) it is a strided 1x1 conv-BN-ReLU
projection, which the lookup table prices like any block (e.g. Skip_H32_W32_Cin16_Cout24).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.limits import MAX_CLASSES
from hwnas.ops import OpSignature
from hwnas.options import Option, option_error
from hwnas.registry import SPACES
from hwnas.spaces.base import Position, SearchSpace

CHOICES = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
STAGE_WIDTHS = (16, 24, 32, 64, 112, 184, 352)
STAGE_LAYERS = (1, 4, 4, 4, 4, 4, 1)
STEM_WIDTH = 16
N_LAYERS = sum(STAGE_LAYERS)


@dataclass(frozen=True)
class Setting:
    resolution: int
    stem_stride: int
    strides: tuple[int, ...]
    head_width: int
    num_classes: int


SETTINGS = {
    "cifar100": Setting(32, 1, (1, 1, 2, 2, 1, 2, 1), 1504, 100),
    "ImageNet": Setting(224, 2, (1, 2, 2, 2, 1, 2, 1), 1984, 1000),
}


def parse_choice(choice: str) -> tuple[int, int, int]:
    """'k5_e1_g2' -> (kernel 5, expansion 1, groups 2)."""
    parts = choice.split("_")
    groups = int(parts[2][1:]) if len(parts) == 3 else 1
    return int(parts[0][1:]), int(parts[1][1:]), groups


def hwnas_bench_key(sig: OpSignature) -> str:
    """HW-NAS-Bench's lookup-table key for one op of this space (its `HW_metrics['fbnet']`)."""
    shape = f"H{sig.h}_W{sig.w}_Cin{sig.cin}_Cout{sig.cout}"
    if sig.op == "fb_convnorm":
        return f"ConvNorm_{shape}_kernel{sig.kernel}_stride{sig.stride}_group1"
    if sig.op == "fb_block":
        groups = dict(sig.extra).get("g", "1")
        return (f"ConvBlock_{shape}_exp{sig.expand}_kernel{sig.kernel}_stride{sig.stride}"
                f"_group{groups}")
    if sig.op == "fb_skip":
        return f"Skip_{shape}_stride{sig.stride}"
    if sig.op == "fb_avgpool":
        return f"AvgP_{shape}_kernel{sig.kernel}_stride{sig.stride}"
    if sig.op == "fb_fc":
        return f"FC_Cin{sig.cin}_Cout{sig.cout}"
    raise BadInputError(f"op {sig.key} is not an fbnet op; HW-NAS-Bench has no entry for it")


@SPACES.register("fbnet")
class FBNetSpace(SearchSpace):
    """HW-NAS-Bench's FBNet space: 22 layers x 9 blocks (k3/k5, e1/e3/e6, 2-group, skip)."""

    option_specs = {
        "setting": Option("cifar100", str, choices=tuple(SETTINGS),
                          help="HW-NAS-Bench's input size, strides and head"),
        # None: the setting's own classifier, the one HW-NAS-Bench prices
        "num_classes": Option(None, int, low=2, high=MAX_CLASSES, none_ok=True,
                              help="classifier outputs"),
    }
    setting: str

    def __init__(self, setting: str = "cifar100", **options):
        # `setting` stays positional: HW-NAS-Bench's tools name it first (FBNetSpace("ImageNet")).
        super().__init__(setting=self._canonical_setting(setting), **options)
        # hwnas's search sets num_classes from the dataset; HW-NAS-Bench prices only its own
        # classifiers (FC 1504->100 and 1504->10 for cifar100, 1984->1000 for ImageNet)
        if self.num_classes is None:
            self.num_classes = self.options["num_classes"] = self._s.num_classes

    @classmethod
    def _canonical_setting(cls, setting):
        """Case is forgiven ('imagenet' -> 'ImageNet'); an unknown name gets the closest one.
        Anything but a str is left for `resolve_options` to refuse with the template."""
        if not isinstance(setting, str):
            return setting
        by_lower = {name.lower(): name for name in SETTINGS}
        if setting.lower() in by_lower:
            return by_lower[setting.lower()]
        spec = cls.option_specs["setting"]
        raise option_error("setting", cls.owner(), spec.describe(), setting,
                           f"(options: `{cls.list_command}`)", tuple(SETTINGS))

    @property
    def _s(self) -> Setting:
        return SETTINGS[self.setting]

    @property
    def resolution(self) -> int:
        return self._s.resolution

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.resolution, self.resolution)

    def layer_slots(self):
        """(label, cin, cout, stride, input size) of every searchable layer, in order."""
        cin, hw = STEM_WIDTH, -(-self.resolution // self._s.stem_stride)
        index = 0
        for width, layers, stride in zip(STAGE_WIDTHS, STAGE_LAYERS, self._s.strides,
                                         strict=True):
            for b in range(layers):
                s = stride if b == 0 else 1
                yield f"l{index:02d}", cin, width, s, hw
                cin, hw, index = width, -(-hw // s), index + 1

    def choices(self) -> list[tuple[str, tuple]]:
        return [(label, CHOICES) for label, *_ in self.layer_slots()]

    def stem_sig(self) -> OpSignature:
        r = self.resolution
        return OpSignature("fb_convnorm", 3, STEM_WIDTH, r, r, kernel=3, stride=self._s.stem_stride)

    def head_sigs(self) -> list[OpSignature]:
        """1x1 conv, average pool and linear: three ops, as HW-NAS-Bench's table prices them."""
        *_, (_label, _cin, _cout, stride, hw) = self.layer_slots()
        hw, head = -(-hw // stride), self._s.head_width
        return [OpSignature("fb_convnorm", STAGE_WIDTHS[-1], head, hw, hw, kernel=1),
                OpSignature("fb_avgpool", head, head, hw, hw, kernel=hw),
                OpSignature("fb_fc", head, self.num_classes, 1, 1)]

    def ops(self, arch: Arch) -> list[OpSignature]:
        self.check(arch)
        layers = [self._layer_op(arch.values[label], *shape)
                  for label, *shape in self.layer_slots()]
        return [self.stem_sig(), *layers, *self.head_sigs()]

    def fixed_ops(self) -> list[OpSignature]:
        return [self.stem_sig(), *self.head_sigs()]

    def positions(self) -> list[Position]:
        """Every option runs one op, `skip` included: where the layer keeps its shape the
        identity `fb_skip` is still listed, as in `ops`, because the table prices it."""
        return [Position(label, CHOICES, {c: (self._layer_op(c, *shape),) for c in CHOICES})
                for label, *shape in self.layer_slots()]

    @staticmethod
    def _layer_op(choice: str, cin: int, cout: int, stride: int, hw: int) -> OpSignature:
        if choice == "skip":
            return OpSignature("fb_skip", cin, cout, hw, hw, stride=stride)
        kernel, expand, groups = parse_choice(choice)
        return OpSignature("fb_block", cin, cout, hw, hw, kernel=kernel, stride=stride,
                           expand=expand, extra=(("g", groups),))

    def build_op(self, sig: OpSignature):
        from hwnas.spaces.modules.fbnet_blocks import build_fbnet_op

        return build_fbnet_op(sig)

    def from_indices(self, indices) -> Arch:
        """An arch from HW-NAS-Bench's `op_idx_list` (22 integers in 0..8), checked exactly."""
        indices = list(indices)
        bad = [i for i in indices if isinstance(i, bool) or not isinstance(i, Integral)
               or not 0 <= i < len(CHOICES)]
        if len(indices) != N_LAYERS or bad:
            raise BadInputError(f"an fbnet op_idx_list must be {N_LAYERS} integers in 0..8; got "
                                f"{len(indices)} entries{f', invalid {bad[:3]}' if bad else ''}")
        return self.decode(indices)

    def compact(self, arch: Arch) -> str:
        """HW-NAS-Bench's op_idx_list: '0 0 2 8 ...', 22 integers."""
        return " ".join(str(i) for i in self.encode(arch))
