"""`hwnas profile`: measure every distinct op of a space into a latency table."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, print_json, progress_bar


@click.command()
@options.space
@options.space_opt
@options.backend()
@options.threads
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size of the table.")
@click.option("--dtype", type=click.Choice(["fp32", "fp16"]), default="fp32", show_default=True,
              help="fp16 on GPU backends only.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="Table path (default: latency_tables/<device>/<space>-<backend>-....json).")
@options.as_json
def profile(space, space_opt, backend, threads, batch, dtype, out, as_json):
    """Measure each unique op of a space on a backend and write a LatencyTable JSON."""
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task(f"profiling {space} on {backend}", total=None, info="")

        def on_op(event: dict) -> None:
            bar.update(task, total=event["total"], completed=event["index"] + 1,
                       info=f"{event['key']}  {event['p50']:.3f} ms")

        table = api.profile(space, options.parse_kv(space_opt, "--space-opt"), backend,
                            threads=threads, batch=batch, dtype=dtype, out=out, progress=on_op)
    total = sum(e["p50"] for e in table.entries.values())
    if as_json:
        print_json({"path": str(table.path), "entries": len(table.entries),
                    "sum_p50_ms": total, "backend": table.backend, "device": table.device})
        return
    console.print(f"wrote {table.path}: {len(table.entries)} ops on {table.backend} "
                  f"(batch {table.batch}, {table.dtype}); sum of p50 = {total:.2f} ms")
    console.print(f"next: hwnas search --space {space} --table {table.path}")
