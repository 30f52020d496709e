"""`hwnas tables import`: file a table made elsewhere (remote device, ProxylessNAS/OFA YAML,
HW-NAS-Bench's FBNet lookup CSV)."""

from __future__ import annotations

from pathlib import Path

import click

from hwnas.cli import options
from hwnas.cli.render import console, print_json

FILE = click.Path(dir_okay=False)
FORMATS = ("auto", "hwnas-bench-fbnet")


@click.command("import")
@click.argument("file", type=click.Path())
@click.option("--out", "-o", type=FILE, default=None,
              help="Where to write (default: latency_tables/<device>/<space>-<backend>-....json).")
@click.option("--tables-dir", type=click.Path(file_okay=False), default="latency_tables",
              show_default=True, help="Root of the default destination.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
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
    FBNet lookup CSV (--format hwnas-bench-fbnet --metric pixel3_latency --setting cifar100)."""
    from hwnas.errors import BadInputError

    path = Path(file)
    if fmt == "auto" and (path.is_dir() or path.suffix.lower() == ".csv"):
        fmt = "hwnas-bench-fbnet"  # neither JSON nor YAML: HW-NAS-Bench's CSV is the one left
    if fmt == "hwnas-bench-fbnet":
        yaml_only = [name for name, given in (("--space", space), ("--space-opt", space_opt),
                                              ("--backend", backend != "external"),
                                              ("--device", device),
                                              ("--device-kind", device_kind != "cpu")) if given]
        if yaml_only:
            verb = "does" if len(yaml_only) == 1 else "do"
            raise BadInputError(f"{', '.join(yaml_only)} {verb} not apply to --format "
                                "hwnas-bench-fbnet (space fbnet, device from --metric); drop "
                                "them, e.g. `hwnas tables import FOLDER --format "
                                "hwnas-bench-fbnet --metric pixel3_latency --setting cifar100`")
        report = _import_fbnet(path, metric, setting, out, tables_dir, force)
    else:
        if metric or setting:
            raise BadInputError("--metric/--setting apply only to --format hwnas-bench-fbnet "
                                f"(HW-NAS-Bench's FBNet lookup CSV); {file} is read as a hwnas "
                                "JSON or ProxylessNAS/OFA YAML table")
        report = _import_other(file, out, tables_dir, space, space_opt, backend, device,
                               device_kind, force)
    if as_json:
        print_json(report)
        return
    _render(report)


def _import_fbnet(path, metric, setting, out, tables_dir, force) -> dict:
    from hwnas.errors import BadInputError
    from hwnas.tables.hwnasbench import LATENCY_METRICS, import_fbnet

    if not metric:
        raise BadInputError("--format hwnas-bench-fbnet needs --metric, one of "
                            f"{', '.join(LATENCY_METRICS)}, e.g. --metric pixel3_latency")
    return import_fbnet(path, metric, setting or "cifar100", out=out, tables_dir=tables_dir,
                        force=force)


def _import_other(file, out, tables_dir, space, space_opt, backend, device, device_kind,
                  force) -> dict:
    from hwnas.errors import BadInputError
    from hwnas.tables.imports import import_table

    if space_opt and not space:
        raise BadInputError("--space-opt needs --space, e.g. --space proxyless "
                            "--space-opt resolution=224")
    return import_table(file, out=out, tables_dir=tables_dir, space=space,
                        space_config=options.parse_kv(space_opt, "--space-opt"),
                        backend=backend, device=device, device_kind=device_kind, force=force)


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
    console.print(f"next: hwnas tables show {report['path']}")
