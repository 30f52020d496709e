"""`hwnas tables import`: file a table made elsewhere (remote device, ProxylessNAS/OFA YAML,
HW-NAS-Bench's FBNet lookup CSV)."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.api.tables import IMPORT_FORMATS
from hwnas.cli import options
from hwnas.cli.render import console, print_json
from hwnas.quoting import shell_word

FILE = click.Path(dir_okay=False)


@click.command("import")
@click.argument("file", type=click.Path())
@click.option("--out", "-o", type=FILE, default=None,
              help="Where to write (default: latency_tables/<device>/<space>-<backend>-....json).")
@click.option("--tables-dir", type=click.Path(file_okay=False), default="latency_tables",
              show_default=True, help="Root of the default destination.")
@click.option("--format", "fmt", type=click.Choice(IMPORT_FORMATS), default="auto",
              show_default=True,
              help="auto: hwnas JSON or ProxylessNAS/OFA YAML by content (a folder or .csv is "
                   "read as hwnas-bench-fbnet); hwnas-bench-fbnet: HW-NAS-Bench's FBNet lookup "
                   "CSV (fbnet_hw_lookup.csv or its folder) for the fbnet space.")
@click.option("--metric", default=None,
              help="hwnas-bench-fbnet only: the device's latency metric, e.g. pixel3_latency "
                   "(edgegpu/eyeriss/fpga tables also carry their energy as energy_mj).")
@click.option("--setting", default=None,
              help="hwnas-bench-fbnet only: cifar100 (default) or ImageNet.")
@click.option("--space", default=None,
              help="YAML only: the space the table is for (recorded; coverage is reported).")
@options.space_opt
@click.option("--backend", default="external", show_default=True,
              help="YAML only: the name recorded as the table's backend.")
@click.option("--device", default=None,
              help="YAML only: the device's name (default: the file's stem).")
@click.option("--device-kind", type=click.Choice(["cpu", "gpu"]), default="cpu",
              show_default=True, help="YAML only: whether --device names a CPU or a GPU.")
@click.option("--force", is_flag=True, help="Replace an existing table at the destination.")
@options.as_json
def import_(file, out, tables_dir, fmt, metric, setting, space, space_opt, backend, device,
            device_kind, force, as_json):
    """Import FILE: a hwnas table JSON (e.g. from `python -m profilers measure`), a
    ProxylessNAS/Once-for-All latency YAML (mean/std/count per block string), or HW-NAS-Bench's
    FBNet lookup CSV (--format hwnas-bench-fbnet --metric pixel3_latency --setting cifar100).

    \b
    Examples:
      hwnas tables import table.json
      hwnas tables import mobile_lut.yaml --space proxyless
      hwnas tables import fbnet_hw_lookup.csv --format hwnas-bench-fbnet --metric pixel3_latency
    """
    report = api.import_table(file, format=fmt, metric=metric, setting=setting, out=out,
                              tables_dir=tables_dir, space=space,
                              space_config=options.parse_kv(space_opt, "--space-opt"),
                              backend=backend, device=device, device_kind=device_kind,
                              force=force)
    if as_json:
        print_json(report)
        return
    _render(report)


def _render(report: dict) -> None:
    console.print(f"wrote {report['path']}: {report['entries']} entries from a "
                  f"{report['format']} table (backend {report['backend']})")
    if "metric" in report:
        console.print(f"HW-NAS-Bench {report['metric']} (setting {report['setting']}), one "
                      f"published value per op; columns: {', '.join(report['columns'])}")
    if report["unmapped"]:
        console.print(f"not mapped: {len(report['unmapped'])} YAML entries")
        for item in report["unmapped"][:5]:
            console.print(f"  {item['key']}: {item['reason']}")
    cover = report.get("space")
    if cover:
        console.print(f"covers {cover['covered']} of {cover['ops']} ops of {cover['name']}"
                      + (f"; missing e.g. {cover['missing'][0]}" if cover["missing"] else ""))
    console.print(f"next: hwnas tables show {shell_word(report['path'])}")
