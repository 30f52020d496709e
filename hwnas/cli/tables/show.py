"""`hwnas tables show`: a table's device, backend and entries."""

from __future__ import annotations

import click

from hwnas.cli import options
from hwnas.cli.render import console, print_json
from hwnas.latency.table import LatencyTable

TABLE = click.Path(dir_okay=False)


@click.command()
@click.argument("table", type=TABLE)
@options.as_json
def show(table, as_json):
    """Print a table's device, backend and entries."""
    t = LatencyTable.load(table)
    if as_json:
        print_json(t.to_dict())
        return
    console.print(f"{t.path}: {len(t.entries)} ops, backend {t.backend}, batch {t.batch}, "
                  f"{t.dtype}, threads {t.threads}, made {t.created}")
    console.print(f"device: {t.device.get('gpu') or t.device.get('cpu')} "
                  f"({t.device.get('logical_cores')} logical cores)")
    console.print(f"space: {t.space.get('name')} {t.space.get('config')}")
    for key, entry in sorted(t.entries.items()):
        console.print(f"  {key:<48} p50 {entry['p50']:8.4f}  p90 {entry['p90']:8.4f}  "
                      f"n {entry['n']}")
