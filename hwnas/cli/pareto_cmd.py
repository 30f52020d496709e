"""`hwnas pareto`: the front of one or several runs, queried (filter, sort, top N, CSV),
with the knee and the --pick point named, the hypervolume and a plot."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from hwnas import api
from hwnas.cli import options
from hwnas.cli.fit import echo, print_table
from hwnas.cli.render import console, fmt, print_json
from hwnas.core.failure import failures_line
from hwnas.core.feasibility import infeasible_line
from hwnas.quoting import printable


def arch_legend(space: str) -> str:
    """What the compact architecture strings of `space` mean: what the space declares
    (`SearchSpace.arch_legend`); the base class's words for a space not registered now."""
    from hwnas.registry import SPACES
    from hwnas.spaces.base import SearchSpace

    return (SPACES.find(space) or SearchSpace).arch_legend


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--objectives", default=None, help="Objectives to compare (default: the run's).")
@click.option("--where", default=None, metavar="'A<=X and B>=Y'",
              help="List only front members meeting every condition (objective OP number, "
                   "joined by 'and').")
@click.option("--sort", default=None, metavar="NAME[:desc]",
              help="Sort the listed members by one objective (ascending unless :desc).")
@click.option("--top", type=options.budget_type(), default=None,
              help="List only the first N members (after --where and --sort).")
@click.option("--pick", multiple=True,
              help="Mark what `hwnas export --pick` would choose, e.g. 'latency_ms<=3' "
                   "(repeatable).")
@click.option("--ref", default=None, metavar="NAME=V,NAME=V",
              help="Hypervolume reference point in the objectives' units (default: 1.1 of the "
                   "bounds stored with the first run).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, allow_dash=True),
              default=None,
              help="Also write the listed members to this CSV file ('-': standard output, "
                   "instead of the table).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="PNG path (default: RUN/plots/pareto.png; of several runs, "
                   "pareto_compare.png here).")
@options.as_json
def pareto(runs, objectives, where, sort, top, pick, ref, csv_path, plot, as_json):
    """Print each run's Pareto front and hypervolume, and write a plot (RUNS side by side).

    The hypervolume uses the bounds stored with the run when it was created, so a run's
    number is the same alone and beside others. Repeats (an architecture evaluated again)
    count once and are reported. The knee (what `hwnas export` exports by default) and the
    --pick point are marked.

    \b
    Examples:
      hwnas pareto runs/<run>
      hwnas pareto runs/<run> --where "latency_ms<=3 and accuracy>=0.9" \\
          --sort accuracy:desc
      hwnas pareto runs/<run> --top 5 --csv front.csv --pick "latency_ms<=2.5"
      hwnas pareto runs/<run> --csv - | head -3        # the CSV alone, to a pipe
      hwnas pareto runs/<a> runs/<b> --plot compare.png   # one scale for all
      hwnas pareto runs/<run> --json
    """
    from hwnas.fileio import check_output

    names = [o.strip() for o in objectives.split(",")] if objectives else None
    conditions = [c.strip() for c in where.split(" and ")] if where else None
    to_stdout = csv_path == "-"
    if to_stdout and as_json:
        from hwnas.errors import BadInputError

        raise BadInputError("--csv - and --json both write to standard output; give one, or "
                            "write the CSV to a file (--csv front.csv)")
    if csv_path and not to_stdout:
        check_output(csv_path, "--csv", suffixes=(".csv",))
    report = api.pareto(runs, objectives=names, plot=plot, where=conditions, sort=sort, top=top,
                        pick=list(pick), ref=parse_ref(ref))
    if csv_path:
        write_csv(report, csv_path)
    if to_stdout:  # standard output is the CSV alone, for a pipe; the plot is named apart
        if report.get("plot"):
            click.echo(printable(f"plot: {report['plot']}"), err=True)
        return
    if as_json:
        print_json(report)
        return
    render_report(report)
    if csv_path:
        console.print(f"csv: {escape(csv_path)}")


def parse_ref(text: str | None) -> dict[str, float] | None:
    from hwnas.errors import BadInputError

    if not text:
        return None
    out = {}
    for pair in text.split(","):
        name, sep, value = pair.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise BadInputError(f"--ref {text!r}: write NAME=NUMBER per objective, comma "
                                "separated, e.g. --ref accuracy=0,latency_ms=10")
    return out


def write_csv(report: dict, path: str) -> None:
    """The listed front members of every run, one row each, objectives in their units."""
    import csv
    import io

    from hwnas.fileio import atomic_write_bytes

    names = report["objectives"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    # arch: the space's compact form, as the table shows it; arch_str: every choice by name
    writer.writerow(["run", "arch_key", *names, "params", "knee", "picked", "arch",
                     "arch_str"])
    for entry in report["runs"]:
        for r in entry["front"]:
            writer.writerow([entry["label"], r["arch_key"], *(r["result"][n] for n in names),
                             r["result"].get("params", ""), int(r["knee"]), int(r["picked"]),
                             r.get("arch_short") or r["arch_str"], r["arch_str"]])
    if path == "-":
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
        return
    atomic_write_bytes(path, buf.getvalue().encode())


def render_report(report: dict) -> None:
    names = report["objectives"]
    for warning in report.get("warnings", []):
        console.print(escape(f"warning: {warning}"))
    spaces = []
    for entry in report["runs"]:
        failed = entry.get("failed", 0)  # a pareto.json written before failures were kept
        infeasible = entry.get("infeasible", 0)  # likewise, before hard limits
        shown = entry.get("shown")
        warm = entry.get("warm", 0)  # told from earlier runs (--warm-start)
        more = ", ".join([f"{infeasible} more infeasible"] * bool(infeasible)
                         + [f"{failed} more failed"] * bool(failed)
                         + [f"{warm} of all evaluated by earlier runs"] * bool(warm))
        title = (f"{entry['label']}: front of {entry['front_size']} among {entry['n_points']} "
                 + "feasible " * bool(infeasible) + "candidates"
                 + (f" ({more})" if more else "")
                 + (f", {shown} listed" if shown is not None else ""))
        # params only where the estimator counted them (a tabular benchmark does not)
        params = any("params" in record["result"] for record in entry["front"])
        headers = [*(f"{name} {'↑' if direction == 'max' else '↓'}"
                     for name, direction in zip(names, report["directions"], strict=True)),
                   *(["params"] if params else []), "key", "", "arch"]
        rows = []
        for record in entry["front"]:
            r = record["result"]
            mark = " ".join(m for m, on in (("knee", record.get("knee")),
                                            ("picked", record.get("picked"))) if on)
            rows.append([*(fmt(r[n], 4) for n in names),
                         *([fmt(r.get("params", ""))] if params else []), record["arch_key"],
                         mark, record.get("arch_short") or record["arch_str"]])
        print_table(title, headers, rows, right=range(len(names) + params),
                    fixed=[len(names) + params])
        if entry.get("repeats"):
            console.print(escape(f"{entry['label']}: {entry['repeats']} repeat(s) of an "
                                 "architecture already evaluated (looked up, counted once)"))
        if entry.get("pick_note"):
            console.print(escape(f"{entry['label']}: --pick: {entry['pick_note']}"))
        if entry.get("accuracy_note"):
            console.print(escape(f"{entry['label']}: {entry['accuracy_note']}"))
        if infeasible:
            summary = {"infeasible": infeasible, "limits": entry.get("infeasible_limits", [])}
            console.print(escape(f"{entry['label']}: {infeasible_line(summary)}"))
        if failed:
            summary = {"failed": failed, "reasons": entry["failures"]}
            console.print(escape(f"{entry['label']}: {failures_line(summary)}"))
        for problem in entry.get("unreadable_lines", []):
            console.print(escape(f"{entry['label']}: {problem}"))
        if entry.get("space") and entry["space"] not in spaces:
            spaces.append(entry["space"])
    for space in spaces:
        echo(f"arch legend ({space}): {arch_legend(space)}", hang=2)
    ref = report["reference"]
    ref_text = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, ref["ref_point"], strict=True))
    source = ref.get("source", "min-max over the runs shown")
    console.print(escape(f"hypervolume (bounds: {source}; reference point "
                         f"{ref_text}):"))
    for entry in report["runs"]:
        console.print(f"  {escape(entry['label'])}: {entry['hypervolume']:.4f}  "
                      f"({entry['front_in_union']} of its {entry['front_size']} front points "
                      "are non-dominated among all runs)")
    if report.get("plot"):
        console.print(f"plot: {escape(report['plot'])}")
