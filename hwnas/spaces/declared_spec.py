"""The file format of the `declared` space: read, checked in full, normalised.

A chain of stages, MnasNet's factorized hierarchical space written as data (one stage = one
"block" of MnasNet: a fixed width and stride, the ops its layers may take, how many layers):

    resolution: 32          # input height and width
    in_channels: 3
    num_classes: 10
    width_mult: 1.0         # optional: every width below times this, rounded to 8 (MobileNetV2)
    stem: {width: 16}       # 3x3 conv; stride optional (1 up to 64 px, else 2)
    head: {width: 256}      # 1x1 conv, global average pool, linear
    stages:
      - {width: 24, stride: 1, block: [mbconv], kernel: [3, 5, 7], expand: [3, 6],
         depth: [1, 2], se: false, skip: true, widths: [0.75, 1.0]}

Per stage: `block` one or more of mbconv (inverted residual), dwsep (depthwise separable:
mbconv at expansion 1), conv (kxk conv); `kernel` and `expand` lists (expand applies to
mbconv); `depth` consecutive layer counts (layers past the smallest may be `zero`, skipped; 0 lets
the first layer be skipped too where it keeps its input's shape, as ProxylessNAS allows);
`se` and `skip` (squeeze-excite, identity shortcut) a bool or both; `widths` output-channel
choices: floats multiply `width`, ints are channel counts. Only `width` and `stride` are
required; everything else has the default shown above except `widths` (none: `width` only)
and `depth` (1).

Every mistake is one BadInputError line naming the file, the key path (`stages[2].kernel`),
the allowed values and the closest match, raised before anything is built or written.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from hwnas.errors import BadInputError
from hwnas.limits import MAX_CHANNELS, MAX_CLASSES, MAX_RESOLUTION

BLOCKS = ("mbconv", "dwsep", "conv")
KERNELS = (1, 3, 5, 7, 9)
EXPANSIONS = tuple(range(1, 9))
STRIDES = (1, 2)
MAX_DEPTH = 16
SUFFIXES = (".yaml", ".yml", ".json")

TOP_KEYS = ("resolution", "in_channels", "num_classes", "width_mult", "stem", "head", "stages")
STAGE_KEYS = ("width", "stride", "block", "kernel", "expand", "depth", "se", "skip", "widths")


class _Checker:
    """Checks values at key paths of one file, each refusal in one line."""

    def __init__(self, source: str):
        self.source = source or "the space spec"

    def fail(self, path: str, what: str, allowed: str = "", got: Any = None,
             names: tuple = ()) -> BadInputError:
        close = ""
        if isinstance(got, str) and names:
            match = difflib.get_close_matches(got, [str(n) for n in names], n=1, cutoff=0.3)
            close = f"; did you mean {match[0]!r}?" if match else ""
        elif isinstance(got, (int, float)) and not isinstance(got, bool) and names:
            numbers = [n for n in names if isinstance(n, (int, float))]
            close = (f"; closest: {min(numbers, key=lambda n: abs(n - got))}" if numbers
                     else "")
        text = f"{what}; allowed: {allowed}" if allowed else what
        return BadInputError(f"{self.source}: {path}: {text}{close}")

    def mapping(self, value: Any, path: str, keys: tuple[str, ...],
                required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a mapping of {', '.join(keys)}; got "
                                  f"{type(value).__name__} {value!r}")
        for key in value:
            if key not in keys:
                raise self.fail(f"{path}.{key}" if path else str(key), "unknown key",
                                ", ".join(keys), str(key), keys)
        for key in required:
            if key not in value:
                raise self.fail(path or "(top level)", f"missing key {key!r}",
                                ", ".join(keys))
        return value

    def integer(self, value: Any, path: str, low: int, high: int,
                allowed: tuple = ()) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be an integer; got {value!r}",
                            _text(allowed) if allowed else f"{low}..{high}")
        if allowed and value not in allowed:
            raise self.fail(path, f"{value} is not allowed", _text(allowed), value, allowed)
        if not low <= value <= high:
            raise self.fail(path, f"{value} is out of range", f"{low}..{high}")
        return value

    def number(self, value: Any, path: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not low < value <= high:
            raise self.fail(path, f"must be a number in ({low:g}, {high:g}]; got {value!r}")
        return float(value)

    def listed(self, value: Any, path: str, item, *, allowed: tuple = ()) -> list:
        """A list (a single value is a list of one), each item checked, no repeats."""
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(path, "is empty", _text(allowed) if allowed else "")
        out = [item(v, f"{path}[{i}]" if isinstance(value, list) else path)
               for i, v in enumerate(items)]
        if len(set(map(repr, out))) != len(out):
            raise self.fail(path, f"lists a value twice: {value!r}")
        return out

    def word(self, value: Any, path: str, allowed: tuple) -> str:
        if value not in allowed:
            raise self.fail(path, f"{value!r} is not allowed", _text(allowed),
                            str(value), allowed)
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false; got {value!r}", "true, false")
        return value


def _text(values: tuple) -> str:
    return ", ".join(map(str, values))


def read_spec_file(path: str | Path) -> dict:
    """The file's content, checked and normalised (`normalise_spec`)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise BadInputError(f"{path}: a space file must end in {', '.join(SUFFIXES)}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read the space file ({exc})") from None
    return normalise_spec(parse_text(text, str(path)), str(path))


def parse_text(text: str, source: str) -> Any:
    """JSON, or YAML for a .yaml/.yml source (PyYAML, a dependency already)."""
    if not source.lower().endswith((".yaml", ".yml")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} "
                                f"column {exc.colno}") from None
    try:
        import yaml
    except ImportError:
        raise BadInputError(f"{source}: reading YAML needs PyYAML (pip install pyyaml); or "
                            "write the space as JSON") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise BadInputError(f"{source}: not valid YAML: {problem}{where}") from None


def normalise_spec(raw: Any, source: str = "") -> dict:
    """Every key checked; defaults filled; single values as lists: the canonical form the
    space stores (as JSON text), so two files meaning the same space store the same text."""
    check = _Checker(source)
    top = check.mapping(raw, "", TOP_KEYS, required=("stages",))
    spec: dict[str, Any] = {
        "resolution": check.integer(top.get("resolution", 32), "resolution", 8,
                                    MAX_RESOLUTION),
        "in_channels": check.integer(top.get("in_channels", 3), "in_channels", 1,
                                     MAX_CHANNELS),
        "num_classes": check.integer(top.get("num_classes", 10), "num_classes", 2,
                                     MAX_CLASSES),
        "width_mult": check.number(top.get("width_mult", 1.0), "width_mult", 0.0, 4.0),
    }
    stem = check.mapping(top.get("stem", {"width": 16}), "stem", ("width", "stride"),
                         required=("width",))
    spec["stem"] = {"width": check.integer(stem["width"], "stem.width", 1, MAX_CHANNELS),
                    "stride": (None if stem.get("stride") is None else check.integer(
                        stem["stride"], "stem.stride", 1, 2, STRIDES))}
    head = check.mapping(top.get("head", {"width": 256}), "head", ("width",),
                         required=("width",))
    spec["head"] = {"width": check.integer(head["width"], "head.width", 1, MAX_CHANNELS)}
    stages = top["stages"]
    if not isinstance(stages, list) or not stages:
        raise check.fail("stages", f"must be a non-empty list of stages; got {stages!r}")
    spec["stages"] = [_stage(check, stage, f"stages[{i}]") for i, stage in enumerate(stages)]
    return spec


def _stage(check: _Checker, raw: Any, path: str) -> dict:
    stage = check.mapping(raw, path, STAGE_KEYS, required=("width", "stride"))
    width = check.integer(stage["width"], f"{path}.width", 1, MAX_CHANNELS)
    out = {
        "width": width,
        "stride": check.integer(stage["stride"], f"{path}.stride", 1, 2, STRIDES),
        "block": check.listed(stage.get("block", ["mbconv"]), f"{path}.block",
                              lambda v, p: check.word(v, p, BLOCKS)),
        "kernel": check.listed(stage.get("kernel", [3]), f"{path}.kernel",
                               lambda v, p: check.integer(v, p, 1, 9, KERNELS)),
        "expand": check.listed(stage.get("expand", [6]), f"{path}.expand",
                               lambda v, p: check.integer(v, p, 1, 8, EXPANSIONS)),
        "depth": check.listed(stage.get("depth", [1]), f"{path}.depth",
                              lambda v, p: check.integer(v, p, 0, MAX_DEPTH)),
        "se": check.listed(stage.get("se", [False]), f"{path}.se", check.boolean),
        "skip": check.listed(stage.get("skip", [True]), f"{path}.skip", check.boolean),
        "widths": check.listed(stage.get("widths", [1.0]), f"{path}.widths",
                               lambda v, p: _width_choice(check, v, p)),
    }
    depths = sorted(out["depth"])
    if depths[-1] == 0:
        raise check.fail(f"{path}.depth", "a stage needs at least one layer", "e.g. [0, 1]")
    if depths != list(range(depths[0], depths[-1] + 1)):
        # depth is encoded as ProxylessNAS's `zero` on the layers past the shallowest, which
        # makes every depth between the smallest and the largest reachable
        raise check.fail(f"{path}.depth", f"{out['depth']} skips a count: depths must be "
                                          "consecutive",
                         f"e.g. {list(range(depths[0], depths[-1] + 1))}")
    out["depth"] = depths
    return out


def _width_choice(check: _Checker, value: Any, path: str) -> int | float:
    """A float multiplies the stage's width; an int is a channel count. A small int is
    refused as the likely slip of `1` written for `1.0`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise check.fail(path, f"must be a number; got {value!r}",
                         "a multiplier of width (a float, e.g. 0.75) or a channel count "
                         "(an int >= 4)")
    if isinstance(value, int):
        if not 4 <= value <= MAX_CHANNELS:
            raise check.fail(path, f"channel count {value} is out of range",
                             f"4..{MAX_CHANNELS} (write {float(value)} for a multiplier)")
        return value
    return check.number(value, path, 0.0, 4.0)


def canonical_text(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def is_space_file(value: str) -> bool:
    """Whether `--space VALUE` names a space file rather than a registered space."""
    return value.lower().endswith(SUFFIXES)
