"""`proxyless`: a ProxylessNAS / MobileNetV2-style chain for small images.

Fixed stem and head; searchable layers grouped in stages of fixed width and stride. Each layer
picks an MBConv block (kernel 3/5/7 x expansion 3/6) or, where its input and output shapes match
(every layer of a stage but the first), `zero`, which removes the layer.
"""

from __future__ import annotations

from hwnas.arch import Arch
from hwnas.limits import MAX_CHANNELS, MAX_CLASSES, MAX_RESOLUTION
from hwnas.ops import OpSignature
from hwnas.options import Option
from hwnas.registry import SPACES
from hwnas.spaces.base import Position, SearchSpace

# (width, layers, stride of the first layer) per stage, before the width multiplier.
STAGES = ((24, 2, 1), (40, 3, 2), (80, 3, 2), (96, 2, 1), (192, 2, 2))
STEM_WIDTH = 16
HEAD_WIDTH = 256
KERNELS = (3, 5, 7)
EXPANSIONS = (3, 6)
MB_CHOICES = tuple(f"mb_k{k}_e{e}" for k in KERNELS for e in EXPANSIONS)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of `divisor`, never below 90% of it (MobileNetV2)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def parse_choice(choice: str) -> tuple[int, int]:
    """'mb_k5_e6' -> (5, 6)."""
    _, k, e = choice.split("_")
    return int(k[1:]), int(e[1:])


@SPACES.register("proxyless")
class ProxylessSpace(SearchSpace):
    """ProxylessNAS/MobileNetV2 chain: 12 layers of MBConv k3/5/7 x e3/6 or zero, 5 stages."""

    arch_legend = ("per searchable layer, kernel size then expansion ratio (73 = 7x7 kernel, "
                   "expansion 3), '-' = zero (layer skipped), '|' between stages")
    small_options = {"resolution": 16, "width_mult": 0.25}
    option_specs = {
        "resolution": Option(32, int, low=8, high=MAX_RESOLUTION, help="input height and width"),
        "width_mult": Option(1.0, float, low=0.1, high=4.0, help="channel multiplier"),
        "num_classes": Option(10, int, low=2, high=MAX_CLASSES, help="classifier outputs"),
        "in_channels": Option(3, int, low=1, high=MAX_CHANNELS, help="input channels"),
    }
    resolution: int
    width_mult: float
    in_channels: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.resolution, self.resolution)

    @property
    def stem_stride(self) -> int:
        # Small images keep full resolution in the stem (CIFAR practice); large ones halve it.
        return 1 if self.resolution <= 64 else 2

    def _width(self, channels: int) -> int:
        return make_divisible(channels * self.width_mult)

    def layer_slots(self):
        """(label, cin, cout, stride) of every searchable layer, in order."""
        cin = self._width(STEM_WIDTH)
        for s, (width, layers, stride) in enumerate(STAGES, start=1):
            cout = self._width(width)
            for b in range(layers):
                yield f"s{s}.b{b}", cin, cout, stride if b == 0 else 1
                cin = cout

    def choices(self) -> list[tuple[str, tuple]]:
        return [(label, MB_CHOICES + (("zero",) if cin == cout and stride == 1 else ()))
                for label, cin, cout, stride in self.layer_slots()]

    def _sized_slots(self):
        """(label, cin, cout, stride, input size) of every searchable layer. The size is fixed
        per layer because `zero` is allowed only where it would not change the shape."""
        hw = self.stem_sig().out_hw[0]
        for label, cin, cout, stride in self.layer_slots():
            yield label, cin, cout, stride, hw
            hw = -(-hw // stride)

    def stem_sig(self) -> OpSignature:
        hw = self.resolution
        return OpSignature("stem", self.in_channels, self._width(STEM_WIDTH), hw, hw, kernel=3,
                           stride=self.stem_stride)

    def head_sig(self) -> OpSignature:
        *_, (_label, _cin, cout, stride, hw) = self._sized_slots()
        hw = -(-hw // stride)
        return OpSignature("head", cout, self._width(HEAD_WIDTH), hw, hw,
                           classes=self.num_classes)

    @staticmethod
    def layer_sig(choice: str, cin: int, cout: int, stride: int, hw: int) -> OpSignature | None:
        """The op one layer runs for `choice`; None for `zero`, which removes the layer."""
        if choice == "zero":
            return None
        kernel, expand = parse_choice(choice)
        return OpSignature("mbconv", cin, cout, hw, hw, kernel=kernel, stride=stride,
                           expand=expand)

    def ops(self, arch: Arch) -> list[OpSignature]:
        self.check(arch)
        layers = (self.layer_sig(arch.values[label], *shape)
                  for label, *shape in self._sized_slots())
        return [self.stem_sig(), *(sig for sig in layers if sig is not None), self.head_sig()]

    def fixed_ops(self) -> list[OpSignature]:
        return [self.stem_sig(), self.head_sig()]

    def positions(self) -> list[Position]:
        options = dict(self.choices())
        out = []
        for label, *shape in self._sized_slots():
            sigs = {opt: self.layer_sig(opt, *shape) for opt in options[label]}
            out.append(Position(label, options[label], {opt: () if sig is None else (sig,)
                                                        for opt, sig in sigs.items()}))
        return out

    def compact(self, arch: Arch) -> str:
        """'73 73|56 53 -|...': kernel and expansion per layer, '-' for zero, '|' between stages."""
        stages: dict[str, list[str]] = {}
        for label, _cin, _cout, _stride in self.layer_slots():
            choice = arch.values[label]
            short = "-" if choice == "zero" else "".join(map(str, parse_choice(choice)))
            stages.setdefault(label.split(".")[0], []).append(short)
        return "|".join(" ".join(layers) for layers in stages.values())

    def build_op(self, sig: OpSignature):
        from hwnas.spaces.modules.mbconv import build_mbconv_op  # torch only when a module is built

        return build_mbconv_op(sig)
