"""Bring latency tables made elsewhere into latency_tables/: hwnas JSON from a remote device
(`python -m profilers measure`), or the ProxylessNAS / Once-for-All YAML look-up tables.

The YAML format maps block strings to statistics, e.g.
    expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:5-stride:2-idskip:0:
        {mean: 1.2, std: 0.03, count: 100}
Shapes are height x width x channels. What is mapped, and how:
  Conv            -> stem   (cin, cout, h, w from the shapes; stride from the shapes; kernel 3,
                             the 3x3 first conv of ProxylessNAS/OFA; the key carries no kernel)
  expanded_conv   -> mbconv (expand is the ratio; in the MobileNetV3 variant, which adds se:/hs:,
                             it is the middle width, divided by cin here; se:1 or hs:1 blocks are
                             not mapped, hwnas's mbconv has neither)
  Conv_1 + Logits -> head   (hwnas's head is 1x1 conv + pool + linear in one entry, so the final
                             1x1 conv and the pool+classifier entry are summed; with a separate
                             AvgPool2D, Conv_1 + AvgPool2D + Logits are summed)
Not mapped: Conv_2 (MobileNetV3's 1x1 conv after pooling, which hwnas's head lacks), any other
layer type, blocks whose idskip disagrees with hwnas's residual rule (stride 1 and cin == cout).
Statistics: mean is taken as milliseconds (the unit of the published tables); std is given or
sqrt(var); the YAML has no quantiles, so p50 := mean and p90 := mean + 1.2816 * std (the 90th
percentile of a normal distribution); n := count (1 when absent). A summed head adds means and
variances (independent parts) and takes the smallest count.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from hwnas.errors import BadInputError
from hwnas.fileio import check_input_file, check_output, may_exist
from hwnas.latency.table import LatencyTable
from hwnas.ops import OpSignature
from hwnas.registry import SPACES
from hwnas.tables.profile import default_table_path

YAML_SUFFIXES = (".yaml", ".yml")
Z90 = 1.2815515655446004  # standard normal 90th percentile


# -- reading -------------------------------------------------------------------------------
def read_any(path: Path):
    if not may_exist(path):
        raise BadInputError(f"{path} does not exist; pass a hwnas table JSON or a "
                            "ProxylessNAS/OFA latency YAML")
    check_input_file(path, "table file")  # a FIFO would block the read for ever
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path} is not readable text ({type(exc).__name__})") from None
    if path.suffix.lower() in YAML_SUFFIXES:
        import yaml

        try:  # safe loader: a table never needs Python objects, and must not build them
            return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadInputError(f"{path} is not readable YAML ({first})") from None
        except RecursionError:
            raise BadInputError(f"{path} is not readable YAML (nested too deeply)") from None
    from hwnas.latency.table import DuplicateKey, unique_keys

    try:
        return json.loads(text, object_pairs_hook=unique_keys)
    except RecursionError:
        raise BadInputError(f"{path} is not readable JSON (nested too deeply)") from None
    except DuplicateKey as exc:
        raise BadInputError(f"{path} names {exc.args[0]!r:.60} twice in one object: which "
                            "one counts is not said") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path} is not readable JSON ({exc}); a ProxylessNAS/OFA table "
                            "must end in .yaml or .yml") from None


# -- the YAML format -----------------------------------------------------------------------
def parse_block_key(key: str) -> tuple[str, dict[str, str]]:
    """'Conv-input:224x224x3-output:112x112x32' -> ('Conv', {'input': '224x224x3', ...})."""
    kind, *parts = key.split("-")
    fields = {}
    for part in parts:
        name, sep, value = part.partition(":")
        if not sep:
            raise ValueError(f"field {part!r} has no ':'")
        fields[name] = value
    if "input" not in fields or "output" not in fields:
        raise ValueError("no input:/output: shape")
    return kind, fields


def shape(text: str) -> tuple[int, ...]:
    dims = tuple(int(d) for d in text.split("x"))
    if not dims or min(dims) < 1:
        raise ValueError(f"shape {text!r} is not positive")
    return dims


def parse_stats(value) -> tuple[float, float, int]:
    """(mean ms, std ms, count) of one YAML entry; a bare number is a mean."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = {"mean": value}
    if not isinstance(value, dict) or "mean" not in value:
        raise ValueError("entry has no 'mean'")
    mean = float(value["mean"])
    std = float(value["std"]) if "std" in value else math.sqrt(float(value.get("var", 0.0)))
    count = int(value.get("count", 1))
    if not (math.isfinite(mean) and math.isfinite(std)) or mean < 0 or std < 0 or count < 1:
        raise ValueError(f"mean={mean}, std={std}, count={count} are not valid statistics")
    return mean, std, count


def _stride(hw: tuple[int, int], out: tuple[int, int]) -> int:
    for s in (1, 2, 4):
        if all((d + s - 1) // s == o for d, o in zip(hw, out, strict=True)):
            return s
    raise ValueError(f"no stride maps {hw} to {out}")


def map_single(kind: str, f: dict[str, str]) -> OpSignature:
    """The stem or mbconv a block string describes; ValueError says why it cannot be."""
    (h, w, cin), out = shape(f["input"]), shape(f["output"])
    if len(out) != 3:
        raise ValueError(f"output {f['output']!r} is not HxWxC")
    stride = _stride((h, w), out[:2])
    if kind == "Conv":
        return OpSignature("stem", cin, out[2], h, w, kernel=3, stride=stride)
    lacking = [name for name in ("expand", "kernel", "stride", "idskip") if name not in f]
    if lacking:
        raise ValueError(f"expanded_conv block lacks {', '.join(lacking)}")
    if int(f["stride"]) != stride:
        raise ValueError(f"stride:{f['stride']} disagrees with the shapes (stride {stride})")
    expand = int(f["expand"])
    if "se" in f or "hs" in f:  # the MobileNetV3 variant: expand is the middle width
        if int(f.get("se", 0)) or int(f.get("hs", 0)):
            raise ValueError("squeeze-excite / h-swish block; hwnas's mbconv has neither")
        if expand % cin:
            raise ValueError(f"middle width {expand} is not a multiple of cin {cin}")
        expand //= cin
    residual = stride == 1 and cin == out[2]
    if bool(int(f["idskip"])) != residual:
        raise ValueError(f"idskip:{f['idskip']} disagrees with hwnas's mbconv, which adds the "
                         f"residual {'' if residual else 'only '}when stride is 1 and cin == cout")
    return OpSignature("mbconv", cin, out[2], h, w, kernel=int(f["kernel"]), stride=stride,
                       expand=expand)


def _heads(blocks: dict[str, tuple[str, dict]]) -> list[tuple[OpSignature, list[str]]]:
    """Heads assembled from Conv_1 + Logits, or Conv_1 + AvgPool2D + Logits."""
    by_kind: dict[str, list[tuple[str, tuple, tuple]]] = {}
    for key, (kind, f) in blocks.items():
        try:
            by_kind.setdefault(kind, []).append((key, shape(f["input"]), shape(f["output"])))
        except ValueError:
            continue
    logits, pools = by_kind.get("Logits", []), by_kind.get("AvgPool2D", [])
    found = []
    for c1, (h, w, cin), out in by_kind.get("Conv_1", []):
        if len(out) != 3 or out[:2] != (h, w):
            continue
        feat = (h, w, out[2])
        chains = [[c1, lg] for lg, li, lo in logits if li == feat and len(lo) == 1]
        chains += [[c1, ap, lg] for ap, pi, po in pools if pi == feat and po == (1, 1, out[2])
                   for lg, li, lo in logits if li == (1, 1, out[2]) and len(lo) == 1]
        for chain in chains:
            classes = shape(blocks[chain[-1]][1]["output"])[0]
            found.append((OpSignature("head", cin, out[2], h, w, classes=classes), chain))
    return found


def _unmapped_reason(kind: str) -> str:
    if kind in ("Conv_1", "Logits", "AvgPool2D"):
        return (f"{kind} is not part of a complete Conv_1 + [AvgPool2D +] Logits chain; hwnas's "
                "head is 1x1 conv + pool + linear in one entry")
    if kind == "Conv_2":
        return "Conv_2 (MobileNetV3's 1x1 conv after pooling) has no counterpart in hwnas's head"
    return f"layer type {kind!r} has no hwnas op"


def _entry(parts: list[tuple[float, float, int]], sources: list[str]) -> dict:
    mean = sum(p[0] for p in parts)
    std = math.sqrt(sum(p[1] ** 2 for p in parts))
    return {"p50": mean, "p90": mean + Z90 * std, "mean": mean, "std": std,
            "n": min(p[2] for p in parts), "extra": {"from": sources}}


def convert_lut(lut) -> tuple[dict[str, dict], list[dict]]:
    """hwnas entries from a ProxylessNAS/OFA look-up table, and [{key, reason}] not mapped."""
    if not isinstance(lut, dict) or not lut:
        raise BadInputError("a ProxylessNAS/OFA latency table must be a non-empty mapping of "
                            "block strings to {mean, std, count}")
    stats, blocks, unmapped = {}, {}, []
    for key, value in lut.items():
        try:
            stats[key] = parse_stats(value)
            blocks[key] = parse_block_key(str(key))
        except (ValueError, TypeError, KeyError) as exc:
            unmapped.append({"key": str(key), "reason": f"unreadable: {exc}"})
    entries, used = {}, set()
    for key, (kind, f) in blocks.items():
        if kind not in ("Conv", "expanded_conv"):
            continue
        try:
            sig = map_single(kind, f)
        except ValueError as exc:
            unmapped.append({"key": key, "reason": str(exc)})
            continue
        used.add(key)
        entries.setdefault(sig.key, _entry([stats[key]], [key]))
    for sig, chain in _heads(blocks):
        used.update(chain)
        entries.setdefault(sig.key, _entry([stats[k] for k in chain], chain))
    unmapped += [{"key": k, "reason": _unmapped_reason(kind)} for k, (kind, _) in blocks.items()
                 if k not in used and kind not in ("Conv", "expanded_conv")]
    return entries, unmapped


# -- import --------------------------------------------------------------------------------
def _space_info(space: str | None, config: dict | None):
    if not space:
        return None, {}
    obj = SPACES.get(space)(**(config or {}))
    return obj, {"name": obj.name, "config": obj.config()}


def _from_hwnas(path: Path, space: str | None) -> LatencyTable:
    if space:
        raise BadInputError(f"{path} is a hwnas table, which records its own space; drop "
                            "--space/--space-opt")
    table = LatencyTable.load(path)
    for key in table.entries:
        OpSignature.from_key(key)  # a malformed key would never be looked up
    return table


def _from_lut(raw, path: Path, space_info: dict, backend: str, device: str | None,
              device_kind: str) -> tuple[LatencyTable, list[dict]]:
    entries, unmapped = convert_lut(raw)
    if not entries:
        first = f"; first: {unmapped[0]['key']}: {unmapped[0]['reason']}" if unmapped else ""
        raise BadInputError(f"{path}: none of its {len(raw)} entries maps to a hwnas op{first}")
    fingerprint = {device_kind: device or path.stem, "source": "proxylessnas-yaml",
                   "file": path.name}
    table = LatencyTable(backend=backend, device=fingerprint, batch=1, dtype="fp32",
                         threads=None, space=space_info, entries=entries)
    return table, unmapped


def import_table(path: str | Path, *, out: str | Path | None = None,
                 tables_dir: str | Path = "latency_tables", space: str | None = None,
                 space_config: dict | None = None, backend: str = "external",
                 device: str | None = None, device_kind: str = "cpu",
                 force: bool = False) -> dict:
    """Validate, convert where needed, and write into latency_tables/<device>/ (or `out`).

    Returns a report: where it went, the format, entries, unmapped YAML keys with reasons, and
    how much of the space (the table's own, or --space) the entries cover.
    """
    path = Path(path)
    raw = read_any(path)
    space_obj, space_info = _space_info(space, space_config)
    if isinstance(raw, dict) and "schema" in raw:
        table, unmapped, kind = _from_hwnas(path, space), [], "hwnas"
        if table.space.get("name"):
            space_obj, _ = _space_info(table.space["name"], table.space.get("config"))
    else:
        table, unmapped = _from_lut(raw, path, space_info, backend, device, device_kind)
        kind = "proxylessnas-yaml"
    dest = Path(out) if out else default_table_path(tables_dir, table)
    check_output(dest, "--out" if out else "--tables-dir", suffixes=(".json",))
    if dest.exists() and not force and dest.resolve() != path.resolve():
        raise BadInputError(f"{dest} already exists; pass --force to replace it, or -o to "
                            "write elsewhere")
    table.save(dest)
    report = {"path": str(dest), "format": kind, "entries": len(table.entries),
              "unmapped": unmapped, "backend": table.backend, "device": table.device}
    if space_obj is not None:
        keys = [s.key for s in space_obj.all_ops()]
        missing = [k for k in keys if k not in table.entries]
        report["space"] = {"name": space_obj.name, "ops": len(keys),
                           "covered": len(keys) - len(missing), "missing": missing}
    return report
