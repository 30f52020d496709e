"""HW-NAS-Bench's FBNet-space lookup table as a LatencyTable of the `fbnet` space.

HW-NAS-Bench (Li et al., ICLR 2021) prices an FBNet architecture as the sum of per-block
entries (stem, 22 layers, head conv, average pool, FC) on five devices. `fbnet_hw_lookup.csv`
holds that table, one row per block key (e.g. `ConvBlock_H32_W32_Cin16_Cout24_exp1_kernel3_
stride1_group2`) with 8 metric columns. Each op of the `fbnet` space names exactly one key
(`hwnas.spaces.fbnet.hwnas_bench_key`), so `table.predict_ops(space.ops(arch))` is
HW-NAS-Bench's own cost of `arch`.

What a table holds: one device's latency in ms. The published value is a single number per
block, so p50 = p90 = mean = that value, std = 0, n = 1. Energy (edgegpu, eyeriss, fpga) is
not a latency and never goes into the ms fields: a device's table carries it per op in the
`energy_mj` column (objective `energy_mj`), and an energy metric given as --metric is refused
with the latency metric to import instead. raspi4 and pixel3 have no energy.
"""

from __future__ import annotations

import csv
import difflib
import math
from pathlib import Path

from hwnas.errors import BadInputError
from hwnas.fileio import check_input_file, check_output
from hwnas.latency.table import LatencyTable
from hwnas.ops import OpSignature
from hwnas.spaces.fbnet import FBNetSpace, hwnas_bench_key

LOOKUP_FILE = "fbnet_hw_lookup.csv"
LAYERWISE_FILE = "fbnet_hw_layerwise.csv"
FORMAT = "hwnas-bench-fbnet"
DEVICES = {  # HW-NAS-Bench's device names -> what they are (its paper)
    "edgegpu": "NVIDIA Jetson TX2 edge GPU (measured)",
    "raspi4": "Raspberry Pi 4 (measured)",
    "pixel3": "Google Pixel 3 phone (measured)",
    "eyeriss": "Eyeriss ASIC accelerator (estimated)",
    "fpga": "FPGA accelerator (estimated)",
}
LATENCY_METRICS = tuple(f"{d}_latency" for d in DEVICES)
ENERGY_METRICS = ("edgegpu_energy", "eyeriss_energy", "fpga_energy")
NOTE = "single published value per block"


def parse_metric(metric: str) -> str:
    """The device of a latency metric ('pixel3_latency' or the CSV's 'pixel3_latency_ms')."""
    name = str(metric).strip().lower()
    for suffix in ("_ms", "_mj"):
        name = name.removesuffix(suffix)
    if name in LATENCY_METRICS:
        return name.removesuffix("_latency")
    allowed = ", ".join(LATENCY_METRICS)
    if name in ENERGY_METRICS:
        device = name.removesuffix("_energy")
        raise BadInputError(f"{metric!r} is an energy metric, and a table's values are latencies "
                            f"in ms; import --metric {device}_latency instead: its table carries "
                            f"{name} per op as energy_mj (latency metrics: {allowed})")
    close = difflib.get_close_matches(name, [*LATENCY_METRICS, *ENERGY_METRICS], n=1,
                                      cutoff=0.3)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise BadInputError(f"unknown HW-NAS-Bench FBNet metric {metric!r}; allowed: {allowed}"
                        f"{hint}")


def lookup_file(path: str | Path) -> Path:
    """The lookup CSV: `path` itself, or fbnet_hw_lookup.csv inside the folder `path`."""
    path = Path(path)
    try:
        folder = path.is_dir()
    except OSError:  # a name too long: check_input_file below says so
        folder = False
    if folder:
        path = path / LOOKUP_FILE
    return check_input_file(path, "HW-NAS-Bench lookup", f"pass {LOOKUP_FILE} or the folder "
                            "holding it (e.g. shared/benchmarks/nb201_hw)")


def read_lookup(path: Path) -> tuple[list[str], dict[str, dict]]:
    """(columns, rows by key) of the lookup CSV; the layer-wise arrangement is refused."""
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            columns = list(reader.fieldnames or [])
            if "lookup_keys" in columns:
                raise BadInputError(f"{path} is the layer-wise arrangement, whose 'fixed' row "
                                    "sums stem and head into one value; pass "
                                    f"{LOOKUP_FILE} (or its folder), which prices them apart")
            if "key" not in columns:
                raise BadInputError(f"{path} has no 'key' column; it is not HW-NAS-Bench's "
                                    f"FBNet lookup table ({LOOKUP_FILE})")
            rows = {row["key"]: row for row in reader}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadInputError(f"{path} is not a readable CSV ({type(exc).__name__}: {exc})") \
            from None
    return columns, rows


def _number(row: dict, column: str, path: Path) -> float:
    text = row.get(column)
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise BadInputError(f"{path}: {row['key']} has {column}={text!r}; must be a finite "
                            "number >= 0")
    return value


def _entry(row: dict, path: Path, latency: str, energy: str | None) -> dict:
    ms = _number(row, latency, path)
    entry = {"p50": ms, "p90": ms, "mean": ms, "std": 0.0, "n": 1,
             "extra": {"from": [row["key"]]}}
    if energy:
        entry["energy_mj"] = _number(row, energy, path)
    return entry


def import_fbnet_table(path_or_folder: str | Path, metric: str,
                       setting: str = "cifar100") -> LatencyTable:
    """A LatencyTable of `fbnet` (`setting`) with HW-NAS-Bench's `metric` per op, in ms.

    Every op the space can run must have its block in the CSV (else one-line error naming the
    first missing key); blocks of the other setting are left out. The space's default classifier
    is the setting's (100 or 1000 classes); FC rows for other class counts are kept too.
    """
    device = parse_metric(metric)
    space = FBNetSpace(setting)
    path = lookup_file(path_or_folder)
    columns, rows = read_lookup(path)
    latency, energy = f"{device}_latency_ms", f"{device}_energy_mJ"
    if latency not in columns:
        raise BadInputError(f"{path} has no {latency!r} column (it has: "
                            f"{', '.join(c for c in columns if c.endswith(('_ms', '_mJ')))})")
    energy = energy if energy in columns else None
    entries, missing = {}, []
    for sig in space.all_ops():
        row = rows.get(hwnas_bench_key(sig))
        if row is None:
            missing.append(hwnas_bench_key(sig))
            continue
        entries[sig.key] = _entry(row, path, latency, energy)
    if missing:
        raise BadInputError(f"{path} lacks {len(missing)} of the blocks fbnet "
                            f"(setting={space.setting}) needs, e.g. {missing[0]}; use the "
                            "complete HW-NAS-Bench table")
    entries.update(_other_classifiers(space, rows, path, latency, energy, entries))
    fingerprint = {"source": "HW-NAS-Bench", "device": device, "hardware": DEVICES[device],
                   "metric": f"{device}_latency", "setting": space.setting,
                   "energy_metric": f"{device}_energy" if energy else None,
                   "machine": f"hwnas-bench-{device}", "file": path.name, "note": NOTE}
    return LatencyTable(backend=f"hwnas-bench:{device}", device=fingerprint, batch=1,
                        dtype="fp32", threads=None,
                        space={"name": space.name, "config": space.config()}, entries=entries)


def _other_classifiers(space: FBNetSpace, rows: dict, path: Path, latency: str,
                       energy: str | None, have: dict) -> dict:
    """FC entries of the same head width for other class counts (the CSV's cifar10 FC,
    FC_Cin1504_Cout10), so `num_classes=10` (what a search on a 10-class dataset sets) is
    priced by HW-NAS-Bench's own number."""
    head = space.ops(space.default_arch())[-1].cin
    found = {}
    for key, row in rows.items():
        classes = key.removeprefix(f"FC_Cin{head}_Cout")
        if classes != key and classes.isdigit() and int(classes) >= 2:
            sig = OpSignature("fb_fc", head, int(classes), 1, 1)
            if sig.key not in have:
                found[sig.key] = _entry(row, path, latency, energy)
    return found


def default_path(tables_dir: str | Path, table: LatencyTable) -> Path:
    """latency_tables/hwnas-bench-<device>/fbnet-hwnas-bench-<device>-b1-fp32-s<setting>.json

    Like `default_table_path`, without the ':' of the backend name, which some file systems
    refuse.
    """
    from profilers import device_slug

    device, setting = table.device["device"], table.space["config"]["setting"]
    name = f"fbnet-hwnas-bench-{device}-b{table.batch}-{table.dtype}-s{setting}.json"
    return Path(tables_dir) / device_slug(table.device) / name


def import_fbnet(path_or_folder: str | Path, metric: str, setting: str = "cifar100", *,
                 out: str | Path | None = None, tables_dir: str | Path = "latency_tables",
                 force: bool = False) -> dict:
    """Convert and write; returns the same report as `import_table` (+ metric, setting)."""
    table = import_fbnet_table(path_or_folder, metric, setting)
    dest = Path(out) if out else default_path(tables_dir, table)
    check_output(dest, "--out" if out else "--tables-dir", suffixes=(".json",))
    if dest.exists() and not force:
        raise BadInputError(f"{dest} already exists; pass --force to replace it, or -o to "
                            "write elsewhere")
    table.save(dest)
    n_ops = len(FBNetSpace(setting).all_ops())
    return {"path": str(dest), "format": FORMAT, "entries": len(table.entries), "unmapped": [],
            "backend": table.backend, "device": table.device,
            "metric": table.device["metric"], "setting": table.space["config"]["setting"],
            "columns": ["p50", *(["energy_mj"] if table.device["energy_metric"] else [])],
            "space": {"name": "fbnet", "ops": n_ops, "covered": n_ops, "missing": []}}
