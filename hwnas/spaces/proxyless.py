"""`proxyless`: a ProxylessNAS / MobileNetV2-style chain for small images.

Fixed stem and head; searchable layers grouped in stages of fixed width and stride. Each layer
picks an MBConv block (kernel 3/5/7 x expansion 3/6) or, where its input and output shapes match
(every layer of a stage but the first), `zero`, which removes the layer.
"""

from __future__ import annotations

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.ops import OpSignature
from hwnas.registry import SPACES
from hwnas.spaces.base import SearchSpace
from hwnas.spaces.mbconv import build_mbconv_op, make_divisible

# (width, layers, stride of the first layer) per stage, before the width multiplier.
STAGES = ((24, 2, 1), (40, 3, 2), (80, 3, 2), (96, 2, 1), (192, 2, 2))
STEM_WIDTH = 16
HEAD_WIDTH = 256
KERNELS = (3, 5, 7)
EXPANSIONS = (3, 6)
MB_CHOICES = tuple(f"mb_k{k}_e{e}" for k in KERNELS for e in EXPANSIONS)


def parse_choice(choice: str) -> tuple[int, int]:
    """'mb_k5_e6' -> (5, 6)."""
    _, k, e = choice.split("_")
    return int(k[1:]), int(e[1:])


@SPACES.register("proxyless")
class ProxylessSpace(SearchSpace):
    """ProxylessNAS/MobileNetV2 chain: 12 layers of MBConv k3/5/7 x e3/6 or zero, 5 stages."""

    def __init__(self, resolution: int = 32, width_mult: float = 1.0, num_classes: int = 10,
                 in_channels: int = 3):
        for name, value, low in (("resolution", resolution, 8), ("num_classes", num_classes, 2),
                                 ("in_channels", in_channels, 1)):
            if not isinstance(value, int) or value < low:
                raise BadInputError(f"The {name!r} parameter of proxyless must be an int >= {low}."
                                    f" Got {value!r} instead.")
        if not 0.1 <= float(width_mult) <= 4.0:
            raise BadInputError("The 'width_mult' parameter of proxyless must be in [0.1, 4]. "
                                f"Got {width_mult!r} instead.")
        self.resolution = resolution
        self.width_mult = float(width_mult)
        self.num_classes = num_classes
        self.in_channels = in_channels

    def config(self) -> dict:
        return {"resolution": self.resolution, "width_mult": self.width_mult,
                "num_classes": self.num_classes, "in_channels": self.in_channels}

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

    def ops(self, arch: Arch) -> list[OpSignature]:
        self.check(arch)
        hw = self.resolution
        stem = OpSignature("stem", self.in_channels, self._width(STEM_WIDTH), hw, hw, kernel=3,
                           stride=self.stem_stride)
        sigs = [stem]
        hw = stem.out_hw[0]
        cin = stem.cout
        for label, _cin, cout, stride in self.layer_slots():
            choice = arch.values[label]
            if choice == "zero":
                continue
            kernel, expand = parse_choice(choice)
            sig = OpSignature("mbconv", cin, cout, hw, hw, kernel=kernel, stride=stride,
                              expand=expand)
            sigs.append(sig)
            hw, cin = sig.out_hw[0], cout
        sigs.append(OpSignature("head", cin, self._width(HEAD_WIDTH), hw, hw,
                                classes=self.num_classes))
        return sigs

    def compact(self, arch: Arch) -> str:
        """'73 73|56 53 -|...': kernel and expansion per layer, '-' for zero, '|' between stages."""
        stages: dict[str, list[str]] = {}
        for label, _cin, _cout, _stride in self.layer_slots():
            choice = arch.values[label]
            short = "-" if choice == "zero" else "".join(map(str, parse_choice(choice)))
            stages.setdefault(label.split(".")[0], []).append(short)
        return "|".join(" ".join(layers) for layers in stages.values())

    def build_op(self, sig: OpSignature):
        return build_mbconv_op(sig)
