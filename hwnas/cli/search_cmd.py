"""`hwnas search`: run a strategy against a latency table and an accuracy estimator."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.pareto_cmd import render_report
from hwnas.cli.render import console, print_json, progress_bar
from hwnas.search.config import KEEP_WEIGHTS, SearchConfig

PATH = click.Path(dir_okay=False)


@click.command()
@options.space
@options.space_opt
@click.option("--table", type=PATH, default=None,
              help="Latency table JSON (from `hwnas profile`).")
@click.option("--method", "--strategy", "method", type=options.PluginName("STRATEGIES"),
              default="evolution", show_default=True,
              help="Strategy (see `hwnas list strategies`).")
@click.option("--strategy-opt", multiple=True, metavar="KEY=VALUE",
              help="Strategy option, e.g. population=20 (repeatable).")
@click.option("--sweep", default=None, metavar="KEY=V1,V2,...",
              help="One-shot methods: one architecture per setting, e.g. lambda=0,0.1,0.2 or "
                   "target_ms=2,3,4 (the strategy option `sweep`).")
@click.option("--target-ms", type=float, default=None,
              help="One-shot methods: latency target T; the derived architecture's table "
                   "latency is at most T (the strategy option `target_ms`).")
@click.option("--estimator", type=options.PluginName("ESTIMATORS"), default="scratch",
              show_default=True, help="Accuracy estimator (see `hwnas list estimators`).")
@click.option("--estimator-opt", multiple=True, metavar="KEY=VALUE",
              help="Estimator option, e.g. epochs=3 (repeatable).")
@click.option("--evaluator", type=options.PluginName("EVALUATORS"), default="local",
              show_default=True,
              help="Where candidates are evaluated (see `hwnas list evaluators`).")
@click.option("--evaluator-opt", multiple=True, metavar="KEY=VALUE",
              help="Evaluator option (repeatable).")
@click.option("--dataset", default="digits", show_default=True,
              help="digits | cifar10:PATH | imagefolder:PATH")
@click.option("--objectives", default="accuracy,latency_ms", show_default=True)
@click.option("--latency-stat", type=click.Choice(["p50", "p90"]), default="p50",
              show_default=True,
              help="Table statistic behind latency_ms (objective and constraints): p90 for a "
                   "tail-latency budget.")
@click.option("--budget", type=click.IntRange(min=1), default=None,
              help="Candidates to evaluate (default: 20, or one per setting of a one-shot "
                   "sweep; on --resume, the run's own).")
@click.option("--ask", "batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Candidates asked per step.")
@options.seed
@click.option("--run-dir", type=click.Path(file_okay=False), default=None,
              help="Where the run is written (default: runs/<space>-<method>-s<seed>-<time>).")
@click.option("--keep-weights", type=click.Choice(KEEP_WEIGHTS), default="front",
              show_default=True, help="Trained weights kept for export.")
@click.option("--resume", type=click.Path(file_okay=False), default=None,
              help="Continue the run in this directory (a larger --budget extends it).")
@options.as_json
def search(space, space_opt, table, method, strategy_opt, sweep, target_ms, estimator,
           estimator_opt, evaluator, evaluator_opt, dataset, objectives, latency_stat, budget,
           batch, seed, run_dir, keep_weights, resume, as_json):
    """Search a space; objectives accuracy (max) and table latency (min) by default."""
    strategy_options = options.parse_kv(strategy_opt, "--strategy-opt")
    for key, value in (("sweep", sweep), ("target_ms", target_ms)):
        if value is not None:  # shorthands for the one-shot strategies' options
            strategy_options[key] = value
    config = SearchConfig(
        table=table or "", space=space,
        space_config=options.parse_kv(space_opt, "--space-opt"), strategy=method,
        strategy_options=strategy_options, estimator=estimator,
        estimator_options=options.parse_kv(estimator_opt, "--estimator-opt"),
        evaluator=evaluator, evaluator_options=options.parse_kv(evaluator_opt, "--evaluator-opt"),
        dataset=dataset,
        objectives=[o.strip() for o in objectives.split(",") if o.strip()],
        latency_stat=latency_stat, budget=budget,
        batch=batch, seed=seed, run_dir=run_dir or "", keep_weights=keep_weights)
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task(f"search ({method})", total=budget, info="")

        def on_event(event: dict) -> None:
            if event.get("event") == "notice":  # what a resume found in the history
                click.echo(f"hwnas: note: {event['summary']}", err=True)
                return
            if event.get("event") != "candidate":  # a strategy's own steps (one-shot epochs)
                if event.get("summary"):
                    bar.update(task, info=event["summary"])
                    if event.get("event") == "epoch" and not as_json:
                        bar.console.print(event["summary"], highlight=False, markup=False)
                return
            r = event["record"]["result"]
            info = (f"failed: {r['failed'][:60]}" if "failed" in r else
                    "  ".join(f"{o} {r[o]:.4g}" for o in config.objectives if o in r))
            bar.update(task, total=event["budget"], advance=1, info=info)

        run = api.search(config, resume=resume, progress=on_event)
    report = api.pareto([run.path])
    if as_json:
        print_json({"run": str(run.path), "pareto": report})
        return
    console.print(f"run written to {run.path}")
    render_report(report)
    console.print(f"next: hwnas export {run.path} --pick \"{config.objectives[-1]}<=X\"")
