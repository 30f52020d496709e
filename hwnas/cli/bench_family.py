"""`hwnas bench --family`: the league on every problem of a benchmark (hwnas.api.family), one
line per problem as it ends, then the summary table of each group (family.md's rows)."""

from __future__ import annotations

import sys

import click
from click.core import ParameterSource

from hwnas.cli.render import console, print_json, progress_bar
from hwnas.errors import BadInputError
from hwnas.fileio import json_ready
from hwnas.quoting import command


def bench_family(*, benchmark, space, budget, seeds, methods, strategy_opt, constraints, batch,
                 every, out, family, problems, list_problems, as_json) -> None:
    from hwnas.api import family as api_family

    _refuse_mixed(family, problems, list_problems, constraints)
    if list_problems:
        listed = api_family.family_of(benchmark)
        if as_json:
            print_json([{"slug": p.slug, "objectives": list(p.objectives), "group": p.group}
                        for p in listed])
        else:
            width = max((len(p.slug) for p in listed), default=0)
            for p in listed:
                console.print(f"{p.slug:<{width}}  {p.group:<15}  {p.objectives_text}",
                              soft_wrap=True, highlight=False)
        return
    out = out or api_family.default_family_out()
    plan = api_family.prepare_family(benchmark, out=out, space=space, methods=methods,
                                     strategy_opts=strategy_opt, problems=problems,
                                     budget=budget, seeds=seeds, batch=batch,
                                     every=every)  # refused before a bar
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task("family evaluations",
                            total=max(1, len(plan.plans)) * len(plan.methods) * seeds * budget,
                            info="")

        def on_event(event: dict) -> None:
            if event["event"] == "evaluation":
                bar.update(task, completed=event["done"],
                           info=f"{event['slug']}: {event['method']} seed {event['seed']}")
            elif event["event"] == "problem" and not as_json:
                at = f"[{event['index']}/{event['of']}] {event['slug']}"
                bar.note(f"{at}: read from {event['results']}, not re-run" if event["reused"]
                         else f"{at}: done in {event['wall_s']:.0f} s")

        result = api_family.run_family(plan, command=command("hwnas", *sys.argv[1:]),
                                       progress=on_event)
    if as_json:
        print_json(json_ready(result))
        return
    render_family(result)


def _refuse_mixed(family: bool, problems, list_problems: bool, constraints) -> None:
    """Options that have no meaning with (or without) --family: one line, before anything."""
    ctx = click.get_current_context()
    if not family:
        flag = "--problems" if problems is not None else "--list-problems"
        raise BadInputError(f"{flag} is about the benchmark's family of problems: add --family "
                            "(or give one problem with --objectives)")
    if ctx.get_parameter_source("objectives") != ParameterSource.DEFAULT:
        raise BadInputError("--objectives and --family together: the family is every "
                            "objective combination of the benchmark; drop --objectives, or "
                            "drop --family to run one problem (--problems SLUG picks some of "
                            "the family)")
    if constraints:
        raise BadInputError("--constraint and --family together: a limit on one device's cost "
                            "means nothing on the family's other problems; run those problems "
                            "one by one with --objectives and --constraint")


def render_family(family: dict) -> None:
    from hwnas.cli.fit import print_table
    from hwnas.league.family_summary import (
        SUMMARY_HEADER,
        group_title,
        random_note,
        summary_rows,
    )

    for group, summary in family["summary"].items():
        print_table(f"{group_title(group, summary)}: {family['budget']} evaluations × "
                    f"{family['seeds']} seeds", SUMMARY_HEADER, summary_rows(summary),
                    right=[i for i in range(len(SUMMARY_HEADER)) if i not in (1, 3)],
                    heading=2)
    console.print(random_note(int(family["seeds"])))
    if family["reused"]:
        console.print(f"{len(family['reused'])} of {len(family['problems'])} problems read "
                      "from earlier runs in this folder, not re-run.")
    outs = family["outputs"]
    console.print(f"written: {outs['family']}, {outs['markdown']}; each problem's "
                  "results.json, league.md and hv.png in its folder beside them")
