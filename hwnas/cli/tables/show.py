"""`hwnas tables show`: a table's device, backend, reference, calibration and entries."""

from __future__ import annotations

import re

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.fit import print_table
from hwnas.cli.render import console, print_json

TABLE = click.Path(dir_okay=False)
SORTS = ("name", "latency")
# entry column -> heading with its unit; cost columns appear only when every entry has them
COLUMNS = (("p0", "p0 (ms)"), ("p10", "p10 (ms)"), ("p50", "p50 (ms)"), ("p90", "p90 (ms)"),
           ("std", "std (ms)"),
           ("peak_mem_mb", "peak mem (MB)"), ("energy_mj", "energy (mJ)"))


def natural_key(key: str) -> list:
    """`cin=24` before `cin=192`: numbers in an op key compare as numbers, not as text."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", key) if part]


@click.command()
@click.argument("table", type=TABLE)
@click.option("--sort", type=click.Choice(SORTS), default="name", show_default=True,
              help="Order of the entries: name (numbers in keys compared as numbers) or "
                   "latency (the table's statistic, dearest first).")
@options.as_json
def show(table, sort, as_json):
    """Print a table's device, backend, reference, calibration and entries (with units).

    \b
    Examples:
      hwnas tables show TABLE
      hwnas tables show TABLE --sort latency
    """
    t = api.show_table(table)
    if as_json:
        print_json({**t.to_dict(), "hash": t.content_hash()})
        return
    console.print(f"{t.path}: {len(t.entries)} ops, backend {t.backend}, batch {t.batch}, "
                  f"{t.dtype}, {threads_text(t.threads)}, made {t.created}, hash {t.short_hash()}")
    name = (t.device.get("gpu") or t.device.get("cpu") or t.device.get("hardware")
            or t.device.get("machine"))
    cores = t.device.get("logical_cores")
    console.print(f"device: {name}" + (f" ({cores} logical cores)" if cores else "")
                  + (f"; {t.device['note']}" if t.device.get("note") else ""))
    console.print(f"space: {t.space.get('name')} {t.space.get('config')}")
    if t.quantization:  # int8: what its ops were quantized with (hwnas.nn.quantize)
        console.print("quantization: " + ", ".join(f"{k} {v}" for k, v in t.quantization.items()))
    console.print(f"predicts in: {t.stat}" + (f" ({t.machine['line']})" if t.machine and
                                              t.machine.get("line") else ""))
    _header_lines(t)
    columns = [(c, h) for c, h in COLUMNS
               if t.entries and all(c in e for e in t.entries.values())]
    rows = sorted(t.entries.items(), key=lambda kv: natural_key(kv[0]))
    if sort == "latency":
        rows.sort(key=lambda kv: -float(kv[1][t.stat]))
    # Numbers keep their column; an op key too long for the width wraps after a '|'
    # (hwnas.cli.fit) instead of pushing each row onto two lines.
    numbers = range(1, len(columns) + 2)
    print_table(None, ["op", *(h for _, h in columns), "n"],
                [[key, *(f"{float(entry[c]):.4f}" for c, _ in columns), str(int(entry["n"]))]
                 for key, entry in rows], right=numbers, indent=2, rule=False)


def threads_text(threads: int | None) -> str:
    """A table profiled without --threads left the count to the runtime: say so, not None."""
    if threads is None:
        return "threads unpinned (the runtime's own choice)"
    return f"{threads} thread{'s' if threads != 1 else ''}"


def floor_line(cal: dict) -> str:
    """What bounds the calibration's predictions from below (hwnas.latency.floor)."""
    from hwnas.latency.floor import LEGACY_SHARE

    if "floor_share" in cal:
        return (f"floor: no network predicted below {cal['floor_share']:.2f} x the plain sum "
                "of its ops")
    return (f"floor: this calibration predates the floor, so predictions below "
            f"{LEGACY_SHARE:.2f} x the plain sum of a network's ops are raised to it; re-run "
            "`hwnas tables calibrate` for a fit bounded by its own data")


def _header_lines(t) -> None:
    ref = t.reference
    if ref:
        console.print(f"reference workload: {ref['key']} at {ref['ms']:.4f} ms "
                      f"({ref.get('source', '?')}, {ref.get('measured', '?')})")
    cal = t.calibration
    if cal:
        chosen = (cal.get("fitted_on", {}).get("residual_selection") or {}).get("chosen")
        console.print(f"calibration: intercept {cal['intercept_ms']:+.4f} ms, per op "
                      f"{cal['per_op_ms']:+.4f} ms, scales "
                      + ", ".join(f"{k} x{v:.3f}" for k, v in cal["scales"].items())
                      + (f"; residual model {chosen}" if chosen else ""))
        console.print(floor_line(cal))
        if cal.get("kept"):
            console.print(f"last calibration: {cal['kept']['why']}")
