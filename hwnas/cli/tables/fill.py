"""`hwnas tables fill`: measure only the ops a table's space has and the table lacks."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, print_json, progress_bar

TABLE = click.Path(dir_okay=False)


@click.command()
@click.argument("table", type=TABLE)
@click.option("--allow-other-device", is_flag=True,
              help="Fill even when this machine is not the table's device (entries become "
                   "incomparable).")
@options.as_json
def fill(table, allow_other_device, as_json):
    """Measure the missing entries of TABLE on its own backend, threads, batch and dtype.

    \b
    Examples:
      hwnas tables fill TABLE
    """
    plan = api.plan_fill(table, allow_other_device)  # refuse before any progress bar is drawn
    if plan["warning"]:
        click.echo(plan["warning"], err=True)
    with progress_bar(quiet=as_json or not plan["missing"]) as bar:
        task = bar.add_task(f"filling on {plan['table'].backend}", total=len(plan["missing"]),
                            info="")

        def on_op(event: dict) -> None:
            # total: every missing op is measured in several passes
            bar.update(task, completed=event["index"] + 1, total=event["total"],
                       info=f"{event['key']}  {event['p50']:.3f} ms")

        report = api.fill_table(table, progress=on_op, plan=plan)
    if as_json:
        print_json(report)
        return
    n = len(report["measured"])
    console.print(f"measured {n} missing op(s) of {report['entries']}; kept {report['kept']} "
                  f"entries unchanged" + (f"; wrote {report['path']}" if n else
                                          "; table already complete, nothing written"))
