"""`hwnas report`: one self-contained HTML page about one or several runs."""

from __future__ import annotations

import click
from rich.markup import escape

from hwnas.cli import options
from hwnas.cli.render import console, print_json


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
              help="The HTML file to write, e.g. report.html (its folder must exist).")
@click.option("--objectives", default=None,
              help="Objectives to report (default: the first run's), e.g. accuracy,latency_ms.")
@click.option("--figures", "figures_dir", type=click.Path(file_okay=False), default=None,
              help="Also write the report's images into this folder (front.png, "
                   "hypervolume.png).")
@options.as_json
def report(runs, out, objectives, figures_dir, as_json):
    """Write one self-contained HTML report (fronts, hypervolume, front members, table
    validation, configuration) of RUNS.

    The page holds every image inline and fetches nothing: it opens offline and can be
    mailed. Bad input (a missing run, a folder that does not exist, a read-only file) writes
    nothing.

    \b
    Examples:
      hwnas report runs/<run> -o report.html
      hwnas report runs/<a> runs/<b> runs/<c> -o compare.html --figures compare-figures/
    """
    from hwnas.api.report import report as make_report

    names = [o.strip() for o in objectives.split(",")] if objectives else None
    result = make_report(list(runs), out, objectives=names, figures_dir=figures_dir)
    if as_json:
        print_json(result)
        return
    console.print(escape(f"report written to {result['report']} ({result['bytes'] // 1024} "
                         f"KiB, {len(result['runs'])} run(s)); open it in a browser"))
    if result["figures"]:
        console.print(escape(f"figures: {', '.join(result['figures'])}"))
