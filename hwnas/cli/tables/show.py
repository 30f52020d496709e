"""`hwnas tables show`: a table's device, backend and entries."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, print_json

TABLE = click.Path(dir_okay=False)


@click.command()
@click.argument("table", type=TABLE)
@options.as_json
def show(table, as_json):
    """Print a table's device, backend and entries."""
    t = api.show_table(table)
    if as_json:
        print_json(t.to_dict())
        return
    console.print(f"{t.path}: {len(t.entries)} ops, backend {t.backend}, batch {t.batch}, "
                  f"{t.dtype}, threads {t.threads}, made {t.created}")
    name = (t.device.get("gpu") or t.device.get("cpu") or t.device.get("hardware")
            or t.device.get("machine"))
    cores = t.device.get("logical_cores")
    console.print(f"device: {name}" + (f" ({cores} logical cores)" if cores else "")
                  + (f"; {t.device['note']}" if t.device.get("note") else ""))
    console.print(f"space: {t.space.get('name')} {t.space.get('config')}")
    for key, entry in sorted(t.entries.items()):
        console.print(f"  {key:<48} p50 {entry['p50']:8.4f}  p90 {entry['p90']:8.4f}  "
                      f"n {entry['n']}")
