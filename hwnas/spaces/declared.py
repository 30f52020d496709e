"""`declared`: a user's chain space, written as a YAML or JSON file instead of a class.

The file's format and checks are in declared_spec.py. The space stores the file's checked
content as canonical JSON text (option `spec`), so `SPACES.get("declared")(**space.config())`
rebuilds it in any process without the file; `source` only names the file in messages.

Choices, per searchable layer `s<stage>.b<layer>` (stages counted from 1, as `proxyless`):
every combination of the stage's block, kernel, expansion, SE and shortcut choices, plus `zero`
on the layers past the stage's smallest depth; `s<stage>.width` where a stage lists several
output widths. A file that repeats `proxyless`'s stages (examples/spaces/proxyless.yaml) has
its labels, options, op keys and, under one torch seed, its very network.

A stage with several widths changes the shapes of the layers after it, so no supernet
position has fixed ops: such a space serves the sample-based strategies; the one-shot
methods are refused in one line.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hwnas.arch import Arch
from hwnas.errors import BadInputError
from hwnas.limits import MAX_CHANNELS, MAX_CLASSES, MAX_RESOLUTION
from hwnas.ops import OpSignature
from hwnas.options import Option
from hwnas.registry import SPACES
from hwnas.spaces.base import Position, SearchSpace
from hwnas.spaces.declared_spec import canonical_text, normalise_spec, read_spec_file
from hwnas.spaces.proxyless import make_divisible

# The space without a file (`hwnas profile --space declared`, the conformance tests):
# examples/spaces/tiny_chain.yaml, which a test holds equal to this.
TINY_CHAIN = {
    "resolution": 16, "in_channels": 3, "num_classes": 10,
    "stem": {"width": 8}, "head": {"width": 64},
    "stages": [
        {"width": 16, "stride": 1, "kernel": [3, 5], "expand": [3, 6], "depth": [1, 2]},
        {"width": 24, "stride": 2, "block": ["mbconv", "dwsep"], "kernel": [3, 5],
         "expand": [3], "depth": [1, 2], "se": [False, True]},
        {"width": 32, "stride": 2, "block": ["mbconv", "conv"], "kernel": [3],
         "expand": [6], "depth": [1, 2, 3]},
    ],
}
SE_RATIO = "0.25"  # MnasNet's squeeze-and-excitation ratio


def options_from_file(path: str | Path) -> dict:
    """The space options of a declared file (`--space FILE.yaml`): its content, checked in
    full and canonical, and where it came from."""
    spec = read_spec_file(path)
    return {"spec": canonical_text(spec), "source": str(Path(path).resolve())}


def option_name(block: str, kernel: int, expand: int, se: bool, residual: bool) -> str:
    """'mb_k5_e6' (proxyless's names), 'dw_k3', 'conv_k3'; '_se' with squeeze-excite,
    '_nores' without the shortcut a layer of that shape would have."""
    base = {"mbconv": f"mb_k{kernel}_e{expand}", "dwsep": f"dw_k{kernel}",
            "conv": f"conv_k{kernel}"}[block]
    return base + ("_se" if se else "") + ("" if residual else "_nores")


def short_name(option: str) -> str:
    """The compact form: 'mb_k5_e6' -> '56', 'dw_k3' -> 'd3', 'conv_k5_se' -> 'c5s'."""
    if option == "zero":
        return "-"
    parts = option.split("_")
    core = {"mb": lambda: parts[1][1:] + parts[2][1:], "dw": lambda: "d" + parts[1][1:],
            "conv": lambda: "c" + parts[1][1:]}[parts[0]]()
    return core + ("s" if "se" in parts else "") + ("n" if "nores" in parts else "")


@SPACES.register("declared")
class DeclaredSpace(SearchSpace):
    """Your chain of stages from a YAML/JSON file: `--space my_space.yaml`.

    MBConv, depthwise-separable or conv blocks; kernel, expansion, width, depth, SE and
    shortcut choices per stage (hwnas/spaces/declared_spec.py has the format)."""

    arch_legend = ("per searchable layer, its block: 56 = MBConv 5x5 expansion 6, d3 = "
                   "depthwise-separable 3x3, c3 = conv 3x3; s = with squeeze-excite, n = no "
                   "shortcut; '-' = zero (layer skipped); 'w24:' a stage's chosen width; "
                   "'|' between stages")
    option_specs = {
        "spec": Option("", str, help="the space as canonical JSON text (what --space FILE "
                                     "reads from the file); empty: the built-in tiny chain"),
        "source": Option("", str, help="the file the spec was read from, for messages"),
        # None: the file's own value
        "resolution": Option(None, int, low=8, high=MAX_RESOLUTION, none_ok=True,
                             help="input height and width (default: the file's)"),
        "in_channels": Option(None, int, low=1, high=MAX_CHANNELS, none_ok=True,
                              help="input channels (default: the file's)"),
        "num_classes": Option(None, int, low=2, high=MAX_CLASSES, none_ok=True,
                              help="classifier outputs (default: the file's)"),
        "width_mult": Option(None, float, low=0.1, high=4.0, none_ok=True,
                             help="channel multiplier (default: the file's, else 1.0)"),
    }
    resolution: int
    in_channels: int
    width_mult: float
    spec: str
    source: str

    @classmethod
    def command_words(cls, config: dict) -> tuple[str, dict]:
        """`--space FILE` where the file is still there: its content, not `spec=...`."""
        source = config.get("source") or ""
        if source and Path(source).is_file():
            return source, {k: v for k, v in config.items() if k not in ("spec", "source")}
        return super().command_words(config)

    def __init__(self, **options):
        super().__init__(**options)
        raw = self._parsed_spec_text() if self.spec.strip() else TINY_CHAIN
        if not self.source:  # named in messages, where a file's path would be
            self.source = self.options["source"] = (
                "(the spec option)" if self.spec.strip() else "(built-in tiny chain)")
        parsed = normalise_spec(raw, self.source)
        self._spec = parsed
        self.spec = self.options["spec"] = canonical_text(parsed)
        for name in ("resolution", "in_channels", "num_classes", "width_mult"):
            if self.options[name] is None:  # the file's value, stored so a run records it
                value = parsed[name]
                setattr(self, name, value)
                self.options[name] = value
        if self.width_choices():  # see the module docstring
            self.positions_add_up = False

    def _parsed_spec_text(self):
        try:
            return json.loads(self.spec)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"the 'spec' option of search space 'declared' must be JSON "
                                f"text (what --space FILE.yaml stores); {exc.msg} at line "
                                f"{exc.lineno} column {exc.colno}") from None

    # -- the layout -------------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.resolution, self.resolution)

    def _width(self, channels: float) -> int:
        return make_divisible(channels * self.width_mult)

    def stage_widths(self, index: int) -> tuple[int, ...]:
        stage = self._spec["stages"][index]
        out: list[int] = []
        for w in stage["widths"]:
            # an int is a channel count as written; a float multiplies the stage's width
            channels = w if isinstance(w, int) else self._width(stage["width"] * w)
            if channels not in out:
                out.append(channels)
        return tuple(out)

    def width_choices(self) -> list[tuple[str, tuple]]:
        return [(f"s{i + 1}.width", widths) for i in range(len(self._spec["stages"]))
                if len(widths := self.stage_widths(i)) > 1]

    @property
    def stem_width(self) -> int:
        return self._width(self._spec["stem"]["width"])

    @property
    def stem_stride(self) -> int:
        stride = self._spec["stem"]["stride"]
        # as proxyless: small images keep full resolution in the stem, large ones halve it
        return stride if stride is not None else (1 if self.resolution <= 64 else 2)

    def layers(self):
        """(stage index, label, stride, input size, may be zero) of every searchable layer.
        Zero only where the layer keeps its shape: past a stage's first layer, or a first
        layer of depth 0 whose stride is 1 and whose input has the stage's one width."""
        hw = -(-self.resolution // self.stem_stride)
        for s, stage in enumerate(self._spec["stages"]):
            for b in range(stage["depth"][-1]):
                stride = stage["stride"] if b == 0 else 1
                zero = b >= stage["depth"][0] and (b > 0 or self._first_may_vanish(s))
                yield s, f"s{s + 1}.b{b}", stride, hw, zero
                hw = -(-hw // stride)

    def _first_may_vanish(self, s: int) -> bool:
        before = (self.stem_width,) if s == 0 else self.stage_widths(s - 1)
        return (self._spec["stages"][s]["stride"] == 1
                and len(set(before)) == 1 and before == self.stage_widths(s))

    def layer_options(self, stage_index: int, shape_kept: bool, zero: bool) -> tuple[str, ...]:
        """Every block the layer may run; the shortcut choice only where the shapes allow
        one (elsewhere both values are the same network)."""
        stage = self._spec["stages"][stage_index]
        options: list[str] = []
        for block, k, e, se, skip in itertools.product(stage["block"], stage["kernel"],
                                                       stage["expand"], stage["se"],
                                                       stage["skip"]):
            name = option_name(block, k, e, se, skip or not shape_kept)
            if name not in options:
                options.append(name)
        return tuple(options) + (("zero",) if zero else ())

    def choices(self) -> list[tuple[str, tuple]]:
        out = []
        widths = dict(self.width_choices())
        for s, label, stride, _hw, zero in self.layers():
            if label.endswith(".b0") and f"s{s + 1}.width" in widths:
                out.append((f"s{s + 1}.width", widths[f"s{s + 1}.width"]))
            # past a stage's first layer every layer keeps its shape
            kept = not label.endswith(".b0") or self._keeps_shape(s, stride)
            out.append((label, self.layer_options(s, kept, zero)))
        return out

    def _keeps_shape(self, s: int, stride: int) -> bool:
        """Whether a stage's first layer can keep its input's shape (a shortcut fits)."""
        cin = self.stem_width if s == 0 else self.stage_widths(s - 1)
        cout = self.stage_widths(s)
        cins = {cin} if isinstance(cin, int) else set(cin)
        return stride == 1 and bool(cins & set(cout))

    # -- ops --------------------------------------------------------------------------------
    def _chosen_widths(self, values: dict) -> list[int]:
        return [values.get(f"s{s + 1}.width", self.stage_widths(s)[0])
                for s in range(len(self._spec["stages"]))]

    def layer_sig(self, option: str, cin: int, cout: int, stride: int,
                  hw: int) -> OpSignature | None:
        """The op one layer runs; None for `zero`. A plain MBConv's key is proxyless's."""
        if option == "zero":
            return None
        parts = option.split("_")
        kernel = int(parts[1][1:])
        extra = []
        if "se" in parts:
            extra.append(("se", SE_RATIO))
        if "nores" in parts and stride == 1 and cin == cout:
            extra.append(("res", "0"))
        if parts[0] == "conv":
            return OpSignature("conv", cin, cout, hw, hw, kernel=kernel, stride=stride,
                               extra=tuple(extra))
        expand = int(parts[2][1:]) if parts[0] == "mb" else 1
        return OpSignature("mbconv", cin, cout, hw, hw, kernel=kernel, stride=stride,
                           expand=expand, extra=tuple(extra))

    def stem_sig(self) -> OpSignature:
        r = self.resolution
        return OpSignature("stem", self.in_channels, self.stem_width, r, r, kernel=3,
                           stride=self.stem_stride)

    def head_sig(self, cin: int) -> OpSignature:
        hw = self.resolution
        hw = -(-hw // self.stem_stride)
        for stage in self._spec["stages"]:
            hw = -(-hw // stage["stride"])
        return OpSignature("head", cin, self._width(self._spec["head"]["width"]), hw, hw,
                           classes=self.num_classes)

    def _shapes(self, values: dict):
        """(label, cin, cout, stride, input size) of every layer at the arch's widths."""
        widths = self._chosen_widths(values)
        cin = self.stem_width
        for s, label, stride, hw, _zero in self.layers():
            yield label, cin, widths[s], stride, hw
            cin = widths[s]

    def _layer_sigs(self, values: dict):
        for label, *shape in self._shapes(values):
            yield label, self.layer_sig(values[label], *shape)

    def ops(self, arch: Arch) -> list[OpSignature]:
        self.check(arch)
        layers = [sig for _label, sig in self._layer_sigs(arch.values) if sig is not None]
        return [self.stem_sig(), *layers, self.head_sig(self._chosen_widths(arch.values)[-1])]

    def all_ops(self) -> list[OpSignature]:
        """Every op of every width combination (a stage's width sets its layers' and the next
        stage's first layer's channels), not only the default's neighbours."""
        seen: dict[str, OpSignature] = {}
        options = dict(self.choices())
        stages = len(self._spec["stages"])
        cins = [(self.stem_width,), *(self.stage_widths(s) for s in range(stages - 1))]
        for s, label, stride, hw, _zero in self.layers():
            first = label.endswith(".b0")
            for cin in (cins[s] if first else self.stage_widths(s)):
                for cout in self.stage_widths(s):
                    if not first and cin != cout:
                        continue  # within a stage the width is one choice
                    for option in options[label]:
                        sig = self.layer_sig(option, cin, cout, stride, hw)
                        if sig is not None:
                            seen.setdefault(sig.key, sig)
        for sig in [self.stem_sig(), *(self.head_sig(w) for w in self.stage_widths(-1))]:
            seen.setdefault(sig.key, sig)
        return list(seen.values())

    # -- supernet view ----------------------------------------------------------------------
    def _check_fixed_widths(self) -> None:
        if self.width_choices():
            labels = ", ".join(label for label, _ in self.width_choices())
            raise BadInputError(f"{self.source}: a supernet needs fixed stage widths, and "
                                f"{labels} have several: give each stage one width, or search "
                                "it with a sample-based method (evolution, nsga2, random, ...)")

    def fixed_ops(self) -> list[OpSignature]:
        self._check_fixed_widths()
        return [self.stem_sig(), self.head_sig(self.stage_widths(-1)[0])]

    def positions(self) -> list[Position]:
        self._check_fixed_widths()
        options = dict(self.choices())
        out = []
        for label, *shape in self._shapes({}):  # one width per stage: fixed shapes
            sigs = {opt: self.layer_sig(opt, *shape) for opt in options[label]}
            out.append(Position(label, options[label],
                                {opt: () if sig is None else (sig,) for opt, sig in sigs.items()}))
        return out

    def build(self, arch: Arch):
        if not self.width_choices():
            return super().build(arch)
        import torch.nn as nn  # no positions: the chain of the arch's own ops

        return nn.Sequential(*(self.build_op(sig) for sig in self.ops(arch)))

    def build_op(self, sig: OpSignature):
        from hwnas.spaces.modules.chain_blocks import build_chain_op

        return build_chain_op(sig)

    # -- reading ----------------------------------------------------------------------------
    def network_key(self, arch: Arch) -> tuple:
        """`zero` anywhere in a stage is the same network as at its end (every layer but the
        first keeps its shape), so a stage is its width and its blocks in order."""
        key = []
        for s in range(len(self._spec["stages"])):
            blocks = tuple(v for label, v in arch.values.items()
                           if label.startswith(f"s{s + 1}.b") and v != "zero")
            key.append((arch.values.get(f"s{s + 1}.width"), blocks))
        return tuple(key)

    def compact(self, arch: Arch) -> str:
        stages: dict[str, list[str]] = {}
        for label, value in arch.values.items():
            stage, part = label.split(".")
            text = f"w{value}:" if part == "width" else short_name(value)
            stages.setdefault(stage, []).append(text)
        return "|".join(" ".join(parts).replace(": ", ":") for parts in stages.values())
