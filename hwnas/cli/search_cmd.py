"""`hwnas search`: run a strategy against a latency table and an accuracy estimator."""

from __future__ import annotations

import click
from rich.markup import escape

from hwnas import api
from hwnas.api.presets import PRESET_NAMES, apply_preset
from hwnas.api.resume import finished_note
from hwnas.api.search import default_run_dir
from hwnas.cli import options
from hwnas.cli.errors import Interrupted
from hwnas.cli.pareto_cmd import render_report
from hwnas.cli.render import console, print_json, progress_bar
from hwnas.cli.search_progress import SearchProgress, result_info
from hwnas.oneshot.stillness import oneshot_notes
from hwnas.quoting import printable, shell_word
from hwnas.searching.auto import AUTO, check_no_options
from hwnas.searching.config import KEEP_WEIGHTS, SearchConfig
from hwnas.searching.constraints import parse_constraints

PATH = click.Path(dir_okay=False)


@click.command()
@options.space
@options.space_opt
@click.option("--table", type=PATH, multiple=True,
              help="Latency table JSON (from `hwnas profile`). Repeatable with --method ofa: "
                   "one supernet trained once, one run per table (<run-dir>-<table name>).")
@click.option("--method", "--strategy", "method",
              type=options.PluginName("STRATEGIES", extra=(AUTO,)),
              default="evolution", show_default=True,
              help="Strategy (see `hwnas list strategies`); auto: the one the family league "
                   "ranks first for the budget, the number of objectives and whether the costs "
                   "are known before evaluation, said in one line and kept with the run.")
@click.option("--strategy-opt", multiple=True, metavar="KEY=VALUE",
              help="Strategy option, e.g. population=20 (repeatable).")
@click.option("--sweep", default=None, metavar="KEY=V1,V2,...",
              help="One-shot methods: one architecture per setting, e.g. lambda=0,0.1,0.2 or "
                   "target_ms=2,3,4 (the strategy option `sweep`).")
@click.option("--target-ms", type=float, default=None,
              help="Latency target T of the method's reward or loss (the strategy option "
                   "`target_ms`); one-shot methods also keep the derived architecture's "
                   "table latency at most T: for them it is --constraint latency_ms<=T.")
@options.constraint
@click.option("--estimator", type=options.PluginName("ESTIMATORS"), default="scratch",
              show_default=True, help="Accuracy estimator (see `hwnas list estimators`).")
@click.option("--estimator-opt", multiple=True, metavar="KEY=VALUE",
              help="Estimator option, e.g. epochs=3 (repeatable; wins over --preset).")
@click.option("--preset", type=click.Choice(PRESET_NAMES), default=None,
              help="Named estimator settings: fast = what `hwnas demo` runs (scratch: 2 "
                   "epochs, 768 images at 16x16, seconds per candidate); paper = the "
                   "estimator's own defaults (minutes per candidate on a small CPU).")
@click.option("--evaluator", type=options.PluginName("EVALUATORS"), default="local",
              show_default=True,
              help="Where candidates are evaluated (see `hwnas list evaluators`).")
@click.option("--evaluator-opt", multiple=True, metavar="KEY=VALUE",
              help="Evaluator option (repeatable).")
@click.option("--dataset", default="digits", show_default=True,
              help="digits | cifar10:PATH | imagefolder:PATH")
@click.option("--objectives", default="accuracy,latency_ms", show_default=True)
@click.option("--latency-stat", type=click.Choice(["p0", "p10", "p50", "p90"]), default=None,
              help="Table statistic behind latency_ms (objective and constraints; default: the "
                   "one the table was profiled and calibrated in). A calibrated table predicts "
                   "its own statistic only.")
@click.option("--budget", type=options.budget_type(), default=None,
              help="Candidates to evaluate (default: 20, or one per setting of a one-shot "
                   "sweep; on --resume, the run's own).")
@click.option("--ask", "batch", type=options.budget_type(), default=1, show_default=True,
              help="Candidates asked per step.")
@options.seed
@click.option("--run-dir", type=click.Path(file_okay=False), default=None,
              help="Where the run is written (default: runs/<space>-<method>-s<seed>-<time>).")
@click.option("--keep-weights", type=click.Choice(KEEP_WEIGHTS), default="front",
              show_default=True, help="Trained weights kept for export.")
@click.option("--resume", type=click.Path(file_okay=False), default=None,
              help="Continue the run in this directory (a larger --budget extends it).")
@click.option("--allow-mismatch", is_flag=True,
              help="Search with a table `hwnas export` cannot re-time (batch other than 1, "
                   "neither fp32 nor int8 on ort-cpu); export then needs --allow-mismatch too.")
@click.option("--warm-start", "warm_start", multiple=True, type=click.Path(file_okay=False),
              metavar="RUN",
              help="Start from every candidate an earlier run of the same problem evaluated "
                   "(same space, objectives, estimator, dataset and table; repeatable): told "
                   "to the strategy first, judged under this search's --constraint, never "
                   "evaluated again nor counted in the budget.")
@options.as_json
@click.pass_context
def search(ctx, space, space_opt, table, method, strategy_opt, sweep, target_ms, constraints,
           estimator, estimator_opt, preset, evaluator, evaluator_opt, dataset, objectives,
           latency_stat, budget, batch, seed, run_dir, keep_weights, resume, allow_mismatch,
           warm_start, as_json):
    """Search a space; objectives accuracy (max) and table latency (min) by default.

    Before the first candidate it warns when options make the method degenerate; after the
    second, it estimates the search's duration (the time per candidate after the first, which
    includes start-up, x candidates left). Ctrl-C stops it and prints the command that
    resumes it.

    \b
    Examples:
      hwnas search --table latency_tables/<device>/<table>.json --preset fast --budget 30
      hwnas search --table TABLE --method nsga2 --strategy-opt population=10 --budget 60
      hwnas search --table TABLE --method auto --budget 100   # the family league's pick
      hwnas search --space nb201 --estimator tabular --estimator-opt benchmark=nb201_hw.csv \\
                   --objectives accuracy,latency:pixel3 --method evolution --budget 200
      hwnas search --table TABLE --method proxyless --sweep lambda=0,0.3,1.2
      hwnas search --table TABLE --method nsga2 --constraint "latency_ms<=3" --budget 60
      hwnas search --table TABLE --method mobo --warm-start runs/<run> --budget 30
      hwnas search --resume runs/<run> --budget 50      # continue, with a larger budget
    """
    if resume:
        check_resume(ctx, resume)
        finished = finished_note(resume, budget)  # refuses a --budget below the run's
        if finished:  # one line, no bar: nothing is evaluated, the front is not rewritten
            click.echo(printable(f"hwnas: note: {finished}"), err=True)
            if as_json:
                print_json({"run": resume, "finished": True, "pareto": api.pareto([resume])})
            return
        # the run's own method and objectives, for the bar and the `next:` line (the
        # command line's defaults are not the run's)
        method, objectives = _saved_method_and_objectives(resume)
    elif run_dir is not None:  # '' too: refused as no path, not read as "the default"
        check_new_run_dir(run_dir)
    parse_constraints(constraints)  # their syntax, in one line, before anything else is read
    strategy_options = options.parse_kv(strategy_opt, "--strategy-opt")
    if method == AUTO:  # options belong to a method, which auto names when the run starts
        given = [("--strategy-opt", o) for o in strategy_opt]
        given += [("--sweep", sweep)] if sweep is not None else []
        given += [("--target-ms", f"{target_ms:g}")] if target_ms is not None else []
        check_no_options(given)
    for key, value in (("sweep", sweep), ("target_ms", target_ms)):
        if value is not None:  # shorthands for the one-shot strategies' options
            check_shorthand(method, key, value, strategy_options)
            strategy_options[key] = value
    estimator_options, strategy_options = apply_preset(
        preset, estimator, options.parse_kv(estimator_opt, "--estimator-opt"), method,
        strategy_options)
    space, space_config = options.space_and_options(space, space_opt)
    config = SearchConfig(
        table=table[0] if table else "", space=space,
        space_config=space_config, strategy=method,
        strategy_options=strategy_options, estimator=estimator,
        estimator_options=estimator_options,
        evaluator=evaluator, evaluator_options=options.parse_kv(evaluator_opt, "--evaluator-opt"),
        dataset=dataset,
        objectives=[o.strip() for o in objectives.split(",") if o.strip()],
        latency_stat=latency_stat, budget=budget,
        batch=batch, seed=seed, run_dir=run_dir or "", keep_weights=keep_weights,
        allow_mismatch=allow_mismatch, constraints=list(constraints),
        warm_start=list(warm_start))
    if not resume:  # named here, not by api.search (which copies config): Ctrl-C's resume line
        config.run_dir = config.run_dir or default_run_dir(config)
    if len(table) > 1:  # one run per table, from one trained supernet
        _search_tables(config, list(table), method, budget, as_json)
        return
    run = _run_search(config, f"search ({method})", budget, as_json, resume=resume,
                      names_pick=method == AUTO)
    report = api.pareto([run.path])
    if as_json:
        auto = (run.config().get("search") or {}).get("auto")
        print_json({"run": str(run.path), "pareto": report, **({"auto": auto} if auto else {})})
        return
    console.print(escape(f"run written to {run.path}"))
    render_report(report)
    for note in oneshot_notes(run.read_history().records):
        console.print(escape(f"note: {note}"))
    pick = shell_word(f"{config.objectives[-1]}<=X")
    where = shell_word(run.path)  # pasted into a shell, the run's name stays one word
    console.print(escape(f"next: hwnas train {where} --pick {pick}   (full training at the "
                         f"deploy resolution), then hwnas export {where} --pick {pick}"))


def _run_search(config, label: str, budget, as_json: bool, resume=None,
                names_pick: bool = False):
    """One search under a progress bar; Ctrl-C ends it with the line that resumes it."""
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task(label, total=budget, info="")
        on_event = SearchProgress(bar, task, result_info(config.objectives))
        if names_pick:
            on_event = _naming_the_pick(on_event, bar, task)
        try:
            return api.search(config, resume=resume, progress=on_event)
        except KeyboardInterrupt:
            raise Interrupted(_interrupted(resume or config.run_dir)) from None


def _search_tables(config, tables: list[str], method: str, budget, as_json: bool) -> None:
    """`--table A --table B ...`: every run checked first (hwnas.api.multi_table), then run
    in order; each one's front as a single search prints it."""
    from hwnas.api.multi_table import plan_table_runs

    configs = plan_table_runs(config, tables)
    done = []
    for i, one in enumerate(configs):
        run = _run_search(one, f"search ({method}, table {i + 1}/{len(configs)})", budget,
                          as_json)
        done.append(run)
        if not as_json:
            console.print(escape(f"run written to {run.path} (table {one.table})"))
            render_report(api.pareto([run.path]))
    if as_json:
        print_json({"runs": [{"run": str(r.path), "table": c.table,
                              "pareto": api.pareto([r.path])}
                             for r, c in zip(done, configs, strict=True)]})


# What --resume may be given with: a resumed run keeps its saved configuration, so every other
# option would be silently ignored; a larger --budget extends the run.
RESUME_ALLOWS = {"resume", "budget", "as_json"}


def check_resume(ctx: click.Context, resume: str) -> None:
    """Refuse options that define a run beside --resume (naming them), then the run itself:
    a damaged config.json, or a folder this process cannot write."""
    from hwnas.errors import BadInputError
    from hwnas.fileio import check_output
    from hwnas.searching.config import read_run_config

    given = [_flag(ctx, name) for name in ctx.params if name not in RESUME_ALLOWS
             and ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    if given:
        verb = "does" if len(given) == 1 else "do"
        raise BadInputError(f"{', '.join(given)} {verb} not apply with --resume: a resumed run "
                            f"keeps its saved configuration (only a larger --budget extends "
                            f"it); drop {'it' if len(given) == 1 else 'them'}, or start a new "
                            "run with --run-dir NEW")
    read_run_config(resume)
    check_output(resume, "--resume", folder=True)


def _saved_method_and_objectives(resume: str) -> tuple[str, str]:
    from hwnas.searching.config import read_run_config

    saved = read_run_config(resume)["search"]
    return str(saved.get("strategy")), ",".join(saved.get("objectives") or [])


def check_shorthand(method: str, key: str, value, given: dict) -> None:
    """--sweep and --target-ms set a strategy option of that name: on a method without it,
    say which methods take the flag, not that the strategy lacks an option never typed; and
    the same option given again with --strategy-opt is a conflict, not a choice to make."""
    from hwnas.errors import BadInputError
    from hwnas.registry import STRATEGIES

    flag = "--" + key.replace("_", "-")
    if key in given and str(given[key]) != str(value):
        raise BadInputError(f"{key} given twice: {flag} {value} and --strategy-opt "
                            f"{key}={given[key]}; keep one")
    if key in STRATEGIES.get(method).option_specs:
        return
    takers = [n for n in STRATEGIES.names() if key in STRATEGIES.get(n).option_specs]
    what = ("the one-shot methods, which derive one architecture per setting" if key == "sweep"
            else "the methods that hold a latency target")
    raise BadInputError(f"{flag} is for {what} ({', '.join(takers)}); --method {method} "
                        f"takes no {key}: drop {flag}, or choose one of those with --method")


def _naming_the_pick(on_event, bar, task):
    """The bar says the method auto picked once the search names it (its notice)."""
    def on_auto_event(event: dict) -> None:
        if event.get("event") == "notice" and event.get("auto"):
            bar.update(task, description=f"search ({event['auto']})")
        on_event(event)

    return on_auto_event


def _interrupted(run_dir: str) -> str:
    """What Ctrl-C says: the exact command that continues the run, when it was created."""
    from pathlib import Path

    if run_dir and (Path(run_dir) / "config.json").is_file():
        return (f"interrupted; every candidate finished so far is saved: resume with "
                f"`hwnas search --resume {shell_word(run_dir)}`")
    return "interrupted before the run directory was written; nothing to resume"


def check_new_run_dir(run_dir: str) -> None:
    """A folder that holds a run already is refused before minutes of setup (and before the
    run's lock is taken in it): it is resumed, not overwritten."""
    from pathlib import Path

    from hwnas.errors import BadInputError
    from hwnas.fileio import check_output

    check_output(run_dir, "--run-dir", folder=True)  # first: a bad name cannot even be tested
    if (Path(run_dir) / "config.json").exists():
        raise BadInputError(f"run directory {run_dir} already holds a run; resume it with "
                            f"`hwnas search --resume {shell_word(run_dir)}` or choose "
                            "another --run-dir")


def _flag(ctx: click.Context, name: str) -> str:
    return next(p for p in ctx.command.params if p.name == name).opts[0]
