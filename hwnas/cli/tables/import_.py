"""`hwnas tables import`: file a table made elsewhere (remote device, ProxylessNAS/OFA YAML)."""

from __future__ import annotations

import click

from hwnas.cli import options
from hwnas.cli.render import console, print_json

FILE = click.Path(dir_okay=False)


@click.command("import")
@click.argument("file", type=FILE)
@click.option("--out", "-o", type=FILE, default=None,
              help="Where to write (default: latency_tables/<device>/<space>-<backend>-....json).")
@click.option("--tables-dir", type=click.Path(file_okay=False), default="latency_tables",
              show_default=True, help="Root of the default destination.")
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
def import_(file, out, tables_dir, space, space_opt, backend, device, device_kind, force,
            as_json):
    """Import FILE: a hwnas table JSON (e.g. from `python -m profilers measure`) or a
    ProxylessNAS/Once-for-All latency YAML (mean/std/count per block string)."""
    from hwnas.errors import BadInputError
    from hwnas.latency.imports import import_table

    if space_opt and not space:
        raise BadInputError("--space-opt needs --space, e.g. --space proxyless "
                            "--space-opt resolution=224")
    report = import_table(file, out=out, tables_dir=tables_dir, space=space,
                          space_config=options.parse_kv(space_opt, "--space-opt"),
                          backend=backend, device=device, device_kind=device_kind, force=force)
    if as_json:
        print_json(report)
        return
    console.print(f"wrote {report['path']}: {report['entries']} entries from a "
                  f"{report['format']} table (backend {report['backend']})")
    if report["unmapped"]:
        console.print(f"not mapped: {len(report['unmapped'])} YAML entries")
        for item in report["unmapped"][:5]:
            console.print(f"  {item['key']}: {item['reason']}")
    cover = report.get("space")
    if cover:
        console.print(f"covers {cover['covered']} of {cover['ops']} ops of {cover['name']}"
                      + (f"; missing e.g. {cover['missing'][0]}" if cover["missing"] else ""))
    console.print(f"next: hwnas tables show {report['path']}")
