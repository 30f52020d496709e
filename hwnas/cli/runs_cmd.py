"""`hwnas runs`: the runs under a folder with their status; `hwnas runs show RUN`: one run."""

from __future__ import annotations

import click
from rich.markup import escape

from hwnas.api.runs import DEFAULT_ROOT, list_runs
from hwnas.cli import options
from hwnas.cli.fit import echo, print_table
from hwnas.cli.render import console, fmt, print_json
from hwnas.core.failure import failures_line
from hwnas.core.feasibility import infeasible_line
from hwnas.quoting import shell_word


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
                            f"one run: `hwnas runs show {shell_word(run)}`)")
    entries = list_runs(folder)
    if as_json:
        print_json({"folder": folder, "runs": entries})
        return
    if not entries:
        console.print(f"no runs under {escape(folder)} (`hwnas search` writes them there)")
        return
    # Plain columns that fit the width (hwnas.cli.fit): failures share the candidates'
    # column, so that eight narrow columns need not fit in 80.
    rows = []
    notes = []
    for e in entries:
        if "error" in e:
            rows.append([e["name"], "", "", "", "", "", e["error"]])
            continue
        budget = "?" if e["budget"] is None else e["budget"]
        front = (points(e["front_size"]) if e["front_size"] is not None
                 else "written" if e["front_written"] else "none")
        candidates = f"{e['candidates']}/{budget}" + (
            f", {e['infeasible']} infeasible" if e.get("infeasible") else "") + (
            f", {e['failed']} failed" if e["failed"] else "")
        rows.append([e["name"], e["status"], str(e["strategy"]), str(e["space"]),
                     ", ".join(e["objectives"] or []), candidates, front])
        if e.get("infeasible"):
            notes.append(f"{e['name']}: {infeasible_of(e)}")
        if e["failed"]:
            summary = {"failed": e["failed"], "reasons": e["failures"]}
            notes.append(f"{e['name']}: {failures_line(summary)}")
        if e["unreadable_lines"]:
            notes.append(f"{e['name']}: {e['unreadable_lines']} history line(s) cannot be "
                         f"read (see `hwnas search --resume {shell_word(e['run'])}`)")
    print_table(f"runs under {folder}", ("run", "status", "strategy", "space", "objectives",
                                         "candidates", "front"), rows)
    for note in notes:
        echo(note, hang=2)
    echo("one run in detail: hwnas runs show RUN")


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
    if s.get("warm"):  # earlier runs' candidates it started from: none is a candidate
        sources = ", ".join(f"{n} from {where}" for where, n in s["warm_from"].items())
        rows.insert(2, ("warm start", f"{s['warm']} evaluated earlier ({sources}), not "
                                      "counted in the candidates"))
    if s.get("constraints") or s.get("infeasible"):
        rows.insert(2, ("constraints", ", ".join(s.get("constraints") or []) or "none"))
        rows.insert(3, ("infeasible", infeasible_of(s, in_row=True)))
    if s["unreadable_lines"]:
        rows.append(("unreadable", f"{s['unreadable_lines']} history line(s)"))
    rows.append(("front", "none yet" if s["front_size"] is None else points(s["front_size"])))
    if s["hypervolume"] is not None:
        rows.append(("hypervolume", f"{s['hypervolume']:.4f} ({s['reference']['source']})"))
    rows += [("objectives", ", ".join(s["objectives"] or [])),
             ("space", f"{s['space']} {_options(s['space_options'])}"),
             benchmark_row(s["benchmark"]) if s.get("benchmark") else
             ("dataset", str(s["dataset"]))]
    if s["table"]:
        device = s["table"].get("device") or {}
        where = device.get("cpu") or device.get("name") or device if device else "?"
        deploy = s["table"].get("deploy_dtype") or "fp32"
        rows.append(("table", f"{s['table']['path']} ({s['table']['backend']} on {where}; "
                              f"deploys {deploy}: what `hwnas export` writes and times)"))
    else:
        rows.append(("table", "none (costs from the estimator)"))
    rows += [("estimator", f"{s['estimator']['name']} {_options(s['estimator']['options'])}"),
             ("strategy", f"{s['strategy']['name']} {_options(s['strategy']['options'])}"),
             *([("picked by", (s.get("auto") or {}).get("why", "--method auto"))]
               if s.get("auto") else []),
             ("seed", str(s["seed"])), ("created", str(s["created"])),
             ("last candidate", s["last_candidate"] or "none yet")]
    for t in s.get("trained") or []:
        state = (f"test accuracy {t['test_accuracy']:.4f}" if t["finished"] else
                 f"{t['epochs_done']}/{t['epochs']} epochs, not finished (`hwnas train` again "
                 "resumes it)")
        rows.append(("trained", f"{t['arch_key']} at {t['resolution']}x{t['resolution']}: "
                                f"{state}"))
    if s["resume"]:
        rows.append(("resume", s["resume"]))
    # the keys are never wrapped: "last candidate" split over two lines reads as two fields
    print_table(f"run {s['run']}", ("", ""), [(key, str(value)) for key, value in rows],
                fixed=(0,))
    for note in s.get("notes") or []:
        console.print(escape(f"note: {note}"))


def infeasible_of(entry: dict, in_row: bool = False) -> str:
    """'3 infeasible (broke latency_ms<=3 by the table), 3 never trained; 22 more draw(s)
    discarded by the strategy before proposing (never trained)'; in a row named "infeasible"
    (`in_row`) without the word again."""
    line = infeasible_line({"infeasible": entry.get("infeasible") or 0,
                            "limits": entry.get("infeasible_limits") or []})
    if in_row:
        line = line.replace(" infeasible", "", 1)
    out = entry.get("ruled_out") or 0
    discarded = entry.get("discarded") or 0
    return line + (f", {out} never trained" if out else "") + (
        f"; {discarded} more draw(s) discarded by the strategy before proposing (never trained)"
        if discarded else "")


def benchmark_row(benchmark: dict) -> tuple[str, str]:
    """A benchmark run's accuracies are looked up, not trained on --dataset: say where."""
    column = f"column {benchmark['column']}" if benchmark["column"] else "its column"
    return ("accuracy", f"{benchmark['accuracy']}: {column} of {benchmark['path']} (looked "
                        "up, not trained)")


def points(n: int) -> str:
    return f"{n} point" + ("" if n == 1 else "s")


def _options(options: dict | None) -> str:
    if not options:
        return "(defaults)"
    return " ".join(f"{k}={fmt(v)}" for k, v in options.items())
