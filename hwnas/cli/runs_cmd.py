"""`hwnas runs`: the runs under a folder, with their progress, failures and front."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from hwnas.api.runs import DEFAULT_ROOT, list_runs
from hwnas.cli import options
from hwnas.cli.render import console, print_json
from hwnas.evaluation.failure import failures_line


@click.command()
@click.argument("folder", default=DEFAULT_ROOT, type=click.Path(file_okay=False))
@options.as_json
def runs(folder, as_json):
    """List the runs under FOLDER (default runs/): strategy, space, objectives, candidates,
    failures, front.

    It only reads: a run being written meanwhile is shown up to its last complete candidate.
    """
    entries = list_runs(folder)
    if as_json:
        print_json({"folder": folder, "runs": entries})
        return
    if not entries:
        console.print(f"no runs under {escape(folder)} (`hwnas search` writes them there)")
        return
    table = Table(title=f"runs under {escape(folder)}")
    for column in ("run", "strategy", "space", "objectives", "candidates", "failed", "front"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in ("candidates", "failed") else "left")
    notes = []
    for e in entries:
        if "error" in e:
            table.add_row(escape(e["name"]), "", "", "", "", "", escape(e["error"]))
            continue
        budget = "?" if e["budget"] is None else e["budget"]
        front = (f"{e['front_size']} points" if e["front_size"] is not None
                 else "written" if e["front_written"] else "none")
        if e["being_written"]:
            front += " (search running)"
        table.add_row(escape(e["name"]), escape(str(e["strategy"])), escape(str(e["space"])),
                      escape(",".join(e["objectives"] or [])), f"{e['candidates']}/{budget}",
                      str(e["failed"]), front)
        if e["failed"]:
            summary = {"failed": e["failed"], "reasons": e["failures"]}
            notes.append(f"{e['name']}: {failures_line(summary)}")
        if e["unreadable_lines"]:
            notes.append(f"{e['name']}: {e['unreadable_lines']} history line(s) cannot be "
                         f"read (see `hwnas search --resume {e['run']}`)")
    console.print(table)
    for note in notes:
        console.print(escape(note))
