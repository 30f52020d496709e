"""`hwnas runs`: the runs under a folder with their status; `hwnas runs show RUN`: one run."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from hwnas.api.runs import DEFAULT_ROOT, list_runs
from hwnas.cli import options
from hwnas.cli.render import console, fmt, print_json
from hwnas.evaluation.failure import failures_line


@click.command()
@click.argument("folder", default=DEFAULT_ROOT, type=click.Path(file_okay=False))
@click.argument("run", required=False, type=click.Path(file_okay=False))
@options.as_json
def runs(folder, run, as_json):
    """List the runs under FOLDER (default runs/) with their status, or show one: `hwnas runs show RUN`.

    The list gives each run's status (done, incomplete, running), strategy, space, objectives,
    candidates against the budget, failures and front. `show` adds the hypervolume (with the
    bounds stored with the run), table and device, estimator and strategy with their options,
    seed and dates. It only reads: a run being written meanwhile is shown up to its last
    complete candidate.

    \b
    Examples:
      hwnas runs
      hwnas runs runs/demo-1 --json
      hwnas runs show runs/<run>
    """  # noqa: E501 - the first paragraph is the one-line summary of `hwnas --help`
    if folder == "show":
        if not run:
            from hwnas.errors import BadInputError

            raise BadInputError("`hwnas runs show` needs the run directory, e.g. `hwnas runs "
                                "show runs/<run>` (list them with `hwnas runs`)")
        return show(run, as_json)
    if run:
        from hwnas.errors import BadInputError

        raise BadInputError(f"`hwnas runs` takes one folder; got {folder} and {run} (to show "
                            f"one run: `hwnas runs show {run}`)")
    entries = list_runs(folder)
    if as_json:
        print_json({"folder": folder, "runs": entries})
        return
    if not entries:
        console.print(f"no runs under {escape(folder)} (`hwnas search` writes them there)")
        return
    table = Table(title=f"runs under {escape(folder)}")
    for column in ("run", "status", "strategy", "space", "objectives", "candidates", "failed",
                   "front"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in ("candidates", "failed") else "left")
    notes = []
    for e in entries:
        if "error" in e:
            table.add_row(escape(e["name"]), "", "", "", "", "", "", escape(e["error"]))
            continue
        budget = "?" if e["budget"] is None else e["budget"]
        front = (f"{e['front_size']} points" if e["front_size"] is not None
                 else "written" if e["front_written"] else "none")
        table.add_row(escape(e["name"]), e["status"], escape(str(e["strategy"])),
                      escape(str(e["space"])), escape(",".join(e["objectives"] or [])),
                      f"{e['candidates']}/{budget}", str(e["failed"]), front)
        if e["failed"]:
            summary = {"failed": e["failed"], "reasons": e["failures"]}
            notes.append(f"{e['name']}: {failures_line(summary)}")
        if e["unreadable_lines"]:
            notes.append(f"{e['name']}: {e['unreadable_lines']} history line(s) cannot be "
                         f"read (see `hwnas search --resume {e['run']}`)")
    console.print(table)
    for note in notes:
        console.print(escape(note))
    console.print("one run in detail: hwnas runs show RUN")


def show(path: str, as_json: bool) -> None:
    from hwnas.api.runs import show_run

    s = show_run(path)
    if as_json:
        print_json(s)
        return
    status = s["status"] + (f" (locked by {s['locked_by']})" if s["locked_by"] else "")
    rows = [("status", status), ("candidates", f"{s['candidates']} of budget {s['budget']}"),
            ("failed", failures_line({"failed": s["failed"], "reasons": s["failures"]})
             if s["failed"] else "0")]
    if s["unreadable_lines"]:
        rows.append(("unreadable", f"{s['unreadable_lines']} history line(s)"))
    rows.append(("front", "none yet" if s["front_size"] is None else
                 f"{s['front_size']} points"))
    if s["hypervolume"] is not None:
        rows.append(("hypervolume", f"{s['hypervolume']:.4f} ({s['reference']['source']})"))
    rows += [("objectives", ", ".join(s["objectives"] or [])),
             ("space", f"{s['space']} {_options(s['space_options'])}"),
             ("dataset", str(s["dataset"]))]
    if s["table"]:
        device = s["table"].get("device") or {}
        where = device.get("cpu") or device.get("name") or device if device else "?"
        rows.append(("table", f"{s['table']['path']} ({s['table']['backend']} on {where})"))
    else:
        rows.append(("table", "none (costs from the estimator)"))
    rows += [("estimator", f"{s['estimator']['name']} {_options(s['estimator']['options'])}"),
             ("strategy", f"{s['strategy']['name']} {_options(s['strategy']['options'])}"),
             ("seed", str(s["seed"])), ("created", str(s["created"])),
             ("last candidate", str(s["last_candidate"]))]
    for t in s.get("trained") or []:
        state = (f"test accuracy {t['test_accuracy']:.4f}" if t["finished"] else
                 f"{t['epochs_done']}/{t['epochs']} epochs, not finished (`hwnas train` again "
                 "resumes it)")
        rows.append(("trained", f"{t['arch_key']} at {t['resolution']}x{t['resolution']}: "
                                f"{state}"))
    if s["resume"]:
        rows.append(("resume", s["resume"]))
    table = Table(title=escape(f"run {s['run']}"), show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    for key, value in rows:
        table.add_row(key, escape(str(value)))
    console.print(table)


def _options(options: dict | None) -> str:
    if not options:
        return "(defaults)"
    return " ".join(f"{k}={fmt(v)}" for k, v in options.items())
