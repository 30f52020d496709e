"""`hwnas pareto`: the front of one or several runs, hypervolume, plot."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, fmt, print_json
from hwnas.evaluation.failure import failures_line


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--objectives", default=None, help="Objectives to compare (default: the run's).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="PNG path (default: RUN/plots/pareto.png).")
@options.as_json
def pareto(runs, objectives, plot, as_json):
    """Print each run's Pareto front and hypervolume, and write a plot (RUNS side by side)."""
    names = [o.strip() for o in objectives.split(",")] if objectives else None
    report = api.pareto(runs, objectives=names, plot=plot)
    if as_json:
        print_json(report)
        return
    render_report(report)


def render_report(report: dict) -> None:
    names = report["objectives"]
    for entry in report["runs"]:
        failed = entry.get("failed", 0)  # a pareto.json written before failures were kept
        table = Table(title=f"{entry['label']}: front of {entry['front_size']} among "
                            f"{entry['n_points']} candidates"
                            + (f" ({failed} more failed)" if failed else ""))
        for name, direction in zip(names, report["directions"], strict=True):
            table.add_column(f"{name} {'↑' if direction == 'max' else '↓'}", justify="right")
        for extra in ("params", "key", "arch"):
            table.add_column(extra, overflow="fold")
        for record in entry["front"]:
            r = record["result"]
            table.add_row(*(fmt(r[n], 4) for n in names), fmt(r.get("params", "")),
                          record["arch_key"],
                          escape(record.get("arch_short") or record["arch_str"]))
        console.print(table)
        if failed:
            summary = {"failed": failed, "reasons": entry["failures"]}
            console.print(escape(f"{entry['label']}: {failures_line(summary)}"))
        for problem in entry.get("unreadable_lines", []):
            console.print(escape(f"{entry['label']}: {problem}"))
    ref = report["reference"]
    ref_text = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, ref["ref_point"], strict=True))
    console.print(f"hypervolume (objectives min-max normalised over all runs shown, reference "
                  f"point 1.1 normalised = {ref_text}):")
    for entry in report["runs"]:
        console.print(f"  {entry['label']}: {entry['hypervolume']:.4f}  "
                      f"({entry['front_in_union']} of its {entry['front_size']} front points "
                      "are non-dominated among all runs)")
    console.print(f"plot: {report['plot']}")
