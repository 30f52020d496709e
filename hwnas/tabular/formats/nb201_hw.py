"""`nb201-hw`: NAS-Bench-201 accuracies x HW-NAS-Bench device costs (`nb201_hw.csv`).

One row per NB201 cell: an `arch_str` column in NB201's string form
(`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`) and numeric columns, empty where a value is missing.
Accuracies are in percent (`..._acc_200ep`, `..._acc_12ep`). HW-NAS-Bench's costs are those of
its CIFAR-10 configuration of each network (C=16, N=5, 32x32 input), so a space with other
widths or depths is not what the numbers describe.
"""

from __future__ import annotations

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.registry import BENCHMARK_FORMATS
from hwnas.spaces.nb201 import ARCH_PATTERN, arch_from_string, arch_to_string
from hwnas.tabular.formats.base import BenchmarkFormat

DEVICES = ("raspi4", "pixel3", "eyeriss", "fpga", "edgegpu", "edgetpu")
ALIASES = {
    "accuracy": "nats_c10_test_acc_200ep",
    "accuracy:cifar10": "nats_c10_test_acc_200ep",
    "accuracy:cifar100": "nats_c100_test_acc_200ep",
    "accuracy:imagenet16": "nats_in16_test_acc_200ep",
    **{f"latency:{dev}": f"hw_c10_{dev}_latency_ms" for dev in DEVICES},
    "energy:fpga": "hw_c10_fpga_energy_mJ_derived",
}


@BENCHMARK_FORMATS.register("nb201-hw")
class Nb201HwFormat(BenchmarkFormat):
    """NAS-Bench-201 accuracies x HW-NAS-Bench costs, one row per NB201 cell (nb201_hw.csv)."""

    space = "nb201"
    arch_column = "arch_str"
    aliases = ALIASES
    accuracy_scale = 100.0
    # Options that change the trained network, hence the numbers. (Resolution, classes and
    # input channels follow the dataset: ImageNet16-120 is 16x16 with 120 classes.)
    space_options = {"C": 16, "N": 5}
    example_path = "../shared/benchmarks/nb201_hw/nb201_hw.csv"
    header_hint = "an 'arch_str' column of NAS-Bench-201 cell strings"

    def is_accuracy(self, column: str) -> bool:
        return "_acc_" in column or column.endswith("_acc")

    def parse_arch(self, text: str) -> Arch:
        return arch_from_string(text)

    def is_arch_text(self, text: str) -> bool:
        # One regular expression per row: validates 15,625 strings in milliseconds.
        return ARCH_PATTERN.fullmatch(text) is not None

    def arch_text(self, arch: Arch) -> str:
        try:
            return arch_to_string(arch)
        except KeyError as exc:
            raise BadInputError(f"architecture {arch} lacks edge {exc}; an NB201 "
                                "architecture has op_0to1 ... op_2to3") from None
