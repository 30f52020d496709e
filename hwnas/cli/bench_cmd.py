"""`hwnas bench`: every strategy × seeds on a tabular benchmark, scored against its true front."""

from __future__ import annotations

import sys

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, print_json, progress_bar
from hwnas.quoting import command


@click.command()
@click.option("--benchmark", required=True, type=click.Path(dir_okay=False),
              help="Tabular benchmark CSV, e.g. ../shared/benchmarks/nb201_hw/nb201_hw.csv.")
@click.option("--space", default=None, help="Search space (default: the benchmark's, nb201).")
@click.option("--objectives", default="accuracy:cifar10,latency:pixel3", show_default=True,
              help="Comma-separated: accuracy[:DATASET] (max), latency:DEVICE, energy:DEVICE.")
@click.option("--budget", type=options.budget_type(), default=500, show_default=True,
              help="Evaluations per run (repeated architectures count).")
@click.option("--seeds", type=options.budget_type(), default=10, show_default=True,
              help="Runs per method, seeds 0..N-1.")
@click.option("--methods", default=None,
              help="Comma-separated strategies (default: every registered one).")
@click.option("--strategy-opt", multiple=True, metavar="METHOD:KEY=VALUE",
              help="Option of one method, e.g. nsga2:population=40 (repeatable).")
@options.constraint
@click.option("--ask", "batch", type=options.budget_type(), default=1, show_default=True,
              help="Candidates asked per step.")
@click.option("--every", type=click.IntRange(min=1), default=10, show_default=True,
              help="Curves are sampled every N evaluations.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: runs/bench-<time>; with --family "
                   "runs/bench-family-<time>).")
@click.option("--family", is_flag=True,
              help="Run the league on every problem of the benchmark: each accuracy x each "
                   "device cost, and a seeded sample of 3- and 4-objective problems; each in "
                   "OUT/<slug>/, the summary in OUT/family.md. A problem already in OUT with "
                   "the same setting is read, not re-run.")
@click.option("--problems", default=None, metavar="SLUG,SLUG",
              help="With --family: only these problems (see --list-problems).")
@click.option("--list-problems", is_flag=True,
              help="With --family: print the family's problems (slug, objectives) and exit.")
@options.as_json
def bench(benchmark, space, objectives, budget, seeds, methods, strategy_opt, constraints,
          batch, every, out, family, problems, list_problems, as_json):
    """League of search strategies at an equal evaluation budget on a tabular benchmark.

    The progress bar counts evaluations (methods x seeds x budget), not runs.

    \b
    Examples:
      hwnas bench --benchmark ../shared/benchmarks/nb201_hw/nb201_hw.csv \\
          --budget 500 --seeds 10
      hwnas bench --benchmark ../shared/benchmarks/nb201_hw/nb201_hw.csv \\
          --methods random,evolution,nsga2 --strategy-opt nsga2:population=40 \\
          --out runs/league
      hwnas bench --benchmark ../shared/benchmarks/nb201_hw/nb201_hw.csv \\
          --constraint "latency:pixel3<=5"   # scored against the feasible true front
      hwnas bench --benchmark ../shared/benchmarks/nb201_hw/nb201_hw.csv --family \\
          --budget 100 --seeds 4 --out runs/family   # every problem; run again to resume
    """
    if family or problems is not None or list_problems:
        from hwnas.cli.bench_family import bench_family

        bench_family(benchmark=benchmark, space=space, budget=budget, seeds=seeds,
                     methods=methods, strategy_opt=strategy_opt, constraints=constraints,
                     batch=batch, every=every, out=out, family=family, problems=problems,
                     list_problems=list_problems, as_json=as_json)
        return
    from hwnas.api.bench import default_out

    out = out or default_out()
    plan = api.prepare_bench(benchmark, objectives, space=space, methods=methods,
                             strategy_opts=strategy_opt, out=out,
                             constraints=constraints)  # refused before a bar
    with progress_bar(quiet=as_json) as bar:  # counts evaluations, not runs
        task = bar.add_task("bench evaluations", total=len(plan.methods) * seeds * budget,
                            info="")

        def on_run(event: dict) -> None:
            bar.update(task, completed=event["done"],
                       info=f"{event['method']} seed {event['seed']} (run "
                            f"{min(event['runs_done'] + 1, event['runs_total'])}/"
                            f"{event['runs_total']})")

        results = api.run_bench(plan, budget=budget, seeds=seeds, batch=batch, every=every,
                                out=out, command=command("hwnas", *sys.argv[1:]),
                                progress=on_run)
    if as_json:
        print_json(api.json_ready(results))
        return
    render_league(results)


def render_league(results: dict) -> None:
    from hwnas.cli.fit import print_table

    # The league's own text helpers: the same rows league.md is written with.
    from hwnas.league.metrics import league_header, league_rows, random_comparison

    objs = " × ".join(o["name"] for o in results["objectives"])
    tf = results["true_front"]
    header = league_header(results)  # two more columns under hard limits
    limits = f" within {', '.join(results['constraints'])}" if results.get("constraints") else ""
    # twelve columns fit a wide terminal; at 80 columns each method is a block of lines
    print_table(f"{objs}: {results['budget']} evaluations × {results['seeds']} seeds; "
                f"true front {tf['size']} of {tf['rows_available']} rows{limits}", header,
                league_rows(results), right=[i for i in range(len(header)) if i != 1],
                heading=2)
    verdict = random_comparison(results)
    if verdict:
        console.print(verdict)
    outs = results["outputs"]
    console.print(f"written: {outs['results']}, {outs['league']}, {outs['plot']}")
