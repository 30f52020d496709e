"""`search()`: a strategy, an evaluator and a run directory, driven by the one loop.

Everything is checked before the run directory exists, cheapest first (a refusal writes
nothing): the configuration, the space, the objectives, the strategy's and the evaluator's
options, then the evaluator itself (which loads the table and checks the estimator), then the
strategy, given the evaluator's cost model. Heavy libraries are imported by the plug-ins that
need them, not here.
"""

from __future__ import annotations

import copy
import datetime as _dt
from pathlib import Path

from hwnas.api import warm_start
from hwnas.api.common import Progress, build_space
from hwnas.api.common import now as _now
from hwnas.api.duration import DurationNote
from hwnas.api.resume import finished_note, replay_plan
from hwnas.core.context import SearchContext
from hwnas.core.feasibility import ruled_out
from hwnas.errors import BadInputError
from hwnas.evaluation.task import EvaluationTask
from hwnas.fileio import json_ready
from hwnas.objectives import parse_objectives
from hwnas.registry import ESTIMATORS, EVALUATORS, STRATEGIES
from hwnas.runs import RunDir
from hwnas.searching.auto import AUTO
from hwnas.searching.config import DEFAULT_BUDGET, SearchConfig
from hwnas.searching.constraints import Limits, parse_constraints
from hwnas.searching.loop import Candidate, run_loop


def search(config: SearchConfig, *, resume: str | Path | None = None,
           progress: Progress = None) -> RunDir:
    """Run (or resume) a search; history.jsonl is appended and flushed per candidate.

    `config` is left as it was given: the run resolves a copy (its run directory, paths made
    absolute, the budget), so one config can start several runs, e.g. in a loop over seeds.

    `progress` gets dicts by "event": "notice" (a line for the user), "start" (every input
    checked, the loop begins: a display can be drawn), "candidate" (one per candidate, in
    order; "replayed" on resume), and the strategy's own steps (a one-shot "epoch")."""
    from hwnas.api.pareto import pareto

    config = copy.deepcopy(config)
    if resume:
        run = RunDir.open(resume)
        run.check_not_written()
        finished = finished_note(run.path, config.budget)  # refuses a lower --budget
        if finished is not None:  # nothing to evaluate: the front it has is not rewritten
            if progress:
                progress({"event": "notice", "summary": finished})
            return run
        saved = SearchConfig.from_dict(run.config()["search"])
        saved.strategy_options = stored_strategy_options(saved, run.config())
        saved.estimator_options = stored_estimator_options(saved, run.config())
        # finished_note refused a run whose config.json has no budget
        extended = (config.budget is not None and saved.budget is not None
                    and config.budget > saved.budget)
        saved.budget = config.budget if extended else saved.budget
        config = saved
    warm_runs = None  # earlier runs to start from (--warm-start), checked before any setup
    if not resume:
        config.run_dir = config.run_dir or default_run_dir(config)
        absolute_paths(config)
        config.validate()  # the constraints' syntax, before they are read below
        if config.strategy == AUTO:  # picked in _prepare, with no options of its own
            from hwnas.searching.auto import check_no_options

            check_no_options([("--strategy-opt", f"{k}={v}")
                              for k, v in config.strategy_options.items()])
        target_as_constraint(config)
        infer_costs(config)
        if config.warm_start:  # stored absolute, as the table: readable from anywhere
            config.warm_start = [str(Path(p).expanduser().absolute()) for p in config.warm_start]
            if config.strategy != AUTO:  # auto picks among the methods that take it
                warm_start.check_strategy(config.strategy)
            warm_runs = warm_start.open_runs(config.warm_start)
    config.validate()
    space, strategy, evaluator = _prepare(config, run.path if resume else Path(config.run_dir),
                                          progress)
    limits = Limits(parse_constraints(config.constraints), strategy.costs)
    warm: list = []  # (arch, result judged under `limits`, source run), for a new run
    if warm_runs is not None:  # refused before any warning, and before anything is written
        try:
            run_config = _run_config(config, space, strategy, evaluator)
            warm_start.check_same_problem(warm_runs, run_config)
            warm = warm_start.collect(warm_runs, limits)
        except BaseException:
            evaluator.close()
            raise
        if progress:
            progress({"event": "notice", "summary": warm_start.note(warm, config.strategy)})
    budget = config.budget
    assert budget is not None, "_prepare resolves a budget left unset"
    # earlier runs' candidates stand for as many draws of the strategy (evolution seeds its
    # population with them): a budget is degenerate only beside what they do not cover
    warning = STRATEGIES.get(config.strategy).degenerate_warning(strategy.options,
                                                                 budget + len(warm))
    if warning and progress:
        progress({"event": "notice", "level": "warning", "summary": warning})
    if resume and progress:  # the run goes on with the table as it is now, and says so
        from hwnas.latency.identity import table_change_note

        changed = table_change_note(run.config())
        if changed:
            progress({"event": "notice", "summary": changed})
    try:
        # The lock is taken before the history is read and held until the front is written:
        # one writer per run, and what it replays is what it appends after.
        with (run if resume else RunDir(config.run_dir)).writing() as run:
            if warm_runs is not None:
                run.create_files(run_config, warm_start.history_records(warm, space))
                if config.keep_weights != "none":
                    warm_start.copy_weights(warm, run)
            elif not resume:
                run.create_files(_run_config(config, space, strategy, evaluator))
            elif extended:  # the run's budget from now on: `runs` counts against it, and a
                run.set_budget(budget)  # resume killed midway goes on to it
            read = run.read_history()
            replay, notes = replay_plan(read)
            for note in notes:
                if progress:
                    progress({"event": "notice", "summary": note})
            if progress:  # every input is checked: a display can be drawn now
                progress({"event": "start", "budget": budget})
            # told from the run's own history, so a resume tells exactly the same
            run_loop(strategy, evaluator, budget, batch=config.batch, replay=replay,
                     on_candidate=_recorder(run, config, space, strategy, progress),
                     name=config.strategy, limits=limits, warm=warm_start.told(read))
            for limits_note in limits_notes(limits, strategy):
                if progress:
                    progress({"event": "notice", **limits_note})
            report = pareto([run.path], write=True)
            if config.keep_weights == "front":
                run.prune_weights({r["arch_key"] for r in report["runs"][0]["front"]})
    finally:
        evaluator.close()
    return run


def pick_method(config: SearchConfig, space, costs, progress: Progress = None):
    """`--method auto`: the method picked for this search (hwnas.searching.auto.choose), set
    in `config` with its options and the choice (`config.auto`, what the run records); said
    in one line. Returns the strategy's class."""
    from hwnas.searching.auto import choose, costs_known, load_rule

    choice = choose(config.budget or DEFAULT_BUDGET, len(config.objectives),
                    costs_known(config.objectives, costs.provides), space.size(),
                    config.constraints, warm_start=bool(config.warm_start))
    strategy_cls = STRATEGIES.get(choice.method)
    config.strategy = choice.method
    config.strategy_options = strategy_cls.current_options(dict(choice.options))
    config.auto = choice.record(load_rule())
    if progress:
        progress({"event": "notice", "summary": choice.why, "auto": choice.method})
    return strategy_cls


def absolute_paths(config: SearchConfig) -> None:
    """Store the paths a run reads as absolute, so that `--resume` and `hwnas export` work from
    any working directory: the table, a dataset's folder (`cifar10:PATH`), and every estimator
    or strategy option its declaration marks as a path (`Option(path=True)`: the tabular
    benchmark CSV, ofa's earlier supernet)."""
    if config.table:
        config.table = str(Path(config.table).expanduser().absolute())
    kind, sep, where = config.dataset.partition(":")
    if sep and where and kind != "digits":
        config.dataset = f"{kind}:{Path(where).expanduser().absolute()}"
    specs = ESTIMATORS.get(config.estimator).option_specs
    options = dict(config.estimator_options)
    for name, value in options.items():
        if name in specs and specs[name].path and isinstance(value, str) and value:
            options[name] = str(Path(value).expanduser().absolute())
    config.estimator_options = options
    if config.strategy != AUTO:  # a strategy's path option too (ofa's earlier supernet)
        specs = STRATEGIES.get(config.strategy).option_specs
        config.strategy_options = {
            name: str(Path(value).expanduser().absolute())
            if name in specs and specs[name].path and isinstance(value, str) and value
            else value for name, value in config.strategy_options.items()}


def infer_costs(config: SearchConfig) -> None:
    """An estimator that looks objectives up (e.g. `tabular`) gets them from `--objectives`,
    written as `hwnas bench` takes them: `--objectives accuracy:cifar10,latency:pixel3` names
    the accuracy and the device once (the estimator's `options_for_objectives`); a cost that
    only a `--constraint` names is looked up beside them."""
    estimator = ESTIMATORS.get(config.estimator)
    names = list(config.objectives)
    names += [n for n in (c.name for c in parse_constraints(config.constraints))
              if n not in names]
    config.estimator_options = estimator.options_for_objectives(names,
                                                                config.estimator_options)


def target_as_constraint(config: SearchConfig) -> None:
    """A one-shot method's `--target-ms T` is its hard limit on the loss's cost: the run holds
    it as `--constraint latency_ms<=T` too (the other way round, the strategy takes its
    target from the constraint; two different values are refused there, in one line)."""
    from hwnas.strategies.oneshot import OneShotStrategy

    if config.strategy == AUTO:  # never a one-shot method, and no target (refused)
        return
    cls = STRATEGIES.get(config.strategy)
    target = config.strategy_options.get("target_ms")
    if not (isinstance(cls, type) and issubclass(cls, OneShotStrategy)) or target is None \
            or not config.table:  # no table: the strategy refuses the target, saying why
        return
    try:
        bound = float(target)
    except (TypeError, ValueError):
        return  # refused in one line by the strategy's option check
    cost = config.strategy_options.get("cost") or cls.option_specs["cost"].default
    given = [c for c in parse_constraints(config.constraints) if c.name == cost
             and c.op in ("<=", "<")]
    if not given:
        config.constraints = [*config.constraints, f"{cost}<={bound!r}"]


def limits_notes(limits: Limits, strategy) -> list[dict]:
    """What a search says at its end about its hard limits: the trainings the known costs
    saved (proposals ruled out by the loop, draws the strategy discarded before proposing),
    and, as a warning, a stop short of the budget."""
    notes = []
    discarded = getattr(strategy, "discarded", 0)
    checked = (*limits.before, *limits.required)  # required: a cost with gaps must exist
    if checked and (limits.ruled_out or discarded):
        named = ", ".join(map(str, checked))
        missing = f" ({limits.missing} for a missing cost)" if limits.required else ""
        notes.append({"summary": f"limits known before training ({named}): "
                                 f"{limits.ruled_out} proposal(s) ruled out without "
                                 f"training{missing}, {discarded} more discarded by the "
                                 "strategy before proposing"})
    if limits.stopped:
        notes.append({"level": "warning", "summary": limits.stopped})
    return notes


def evaluation_task(config: SearchConfig) -> EvaluationTask:
    return EvaluationTask(
        space=config.space, space_config=dict(config.space_config), estimator=config.estimator,
        estimator_options=dict(config.estimator_options), dataset=config.dataset,
        seed=config.seed, objectives=list(config.objectives), table=config.table,
        latency_stat=config.latency_stat, keep_weights=config.keep_weights != "none",
        constraints=list(config.constraints))


def _prepare(config: SearchConfig, run_path: Path, progress: Progress = None):
    """Space, strategy and evaluator, every input checked; nothing written. A budget left
    unset becomes the strategy's number of proposals (a one-shot sweep's settings) or
    DEFAULT_BUDGET."""
    from hwnas.data import check_dataset, dataset_classes
    from hwnas.fileio import check_output

    check_output(run_path, "--run-dir", folder=True)  # before minutes of data and setup
    check_dataset(config.dataset)  # every file read once now, not at the first candidate
    space_config = dict(config.space_config)
    space_config.setdefault("num_classes", len(dataset_classes(config.dataset)))
    config.space_config = space_config
    space = build_space(config.space, space_config)
    objectives = parse_objectives(config.objectives)
    if config.strategy != AUTO:  # else picked below, once the cost model is known
        strategy_cls = STRATEGIES.get(config.strategy)
        strategy_cls.resolve_options(config.strategy_options)  # cheap: before a table is read
        # made and stored under today's option names (an old name was said once, just above)
        config.strategy_options = strategy_cls.current_options(config.strategy_options)
    evaluator_cls = EVALUATORS.get(config.evaluator)
    evaluator_cls.resolve_options(config.evaluator_options)
    evaluator = evaluator_cls(evaluation_task(config), **config.evaluator_options)
    try:  # a refusal after this point must not leave the evaluator's workers running
        scorer = evaluator.driver_scorer()
        scorer.estimator.check_covers(space)
        # A run being resumed was accepted when it began: its table is not refused now.
        resumed = (run_path / "config.json").exists()
        notes = _check_table_exportable(scorer.table, config.allow_mismatch or resumed)
        notes.extend(n for n in [proxy_resolution_note(space, scorer.estimator)] if n)
        config.latency_stat = scorer.stat  # the run records the statistic it ranked on
        if config.strategy == AUTO:
            strategy_cls = pick_method(config, space, evaluator.cost_model(), progress)
        context = SearchContext(dataset=config.dataset, table=scorer.table,
                                latency_stat=scorer.stat,
                                workdir=run_path / "strategy", progress=progress)
        strategy = strategy_cls(space, objectives, seed=config.seed, costs=evaluator.cost_model(),
                                context=context, constraints=parse_constraints(config.constraints),
                                **config.strategy_options)
        if scorer.table is not None and not resumed:  # once per run, when it begins
            from hwnas.api.tables import table_speed_note

            notes.extend(n for n in [table_speed_note(scorer.table,
                                                      strategy.latency_limits())] if n)
        limit = strategy.max_proposals()
        if config.budget is None:
            config.budget = limit or DEFAULT_BUDGET
        elif limit is not None and config.budget > limit:
            raise BadInputError(f"--budget {config.budget} is more than the {limit} architectures "
                                f"strategy {config.strategy!r} proposes (one per sweep setting, "
                                f"or its `top` option); pass --budget {limit}, or more "
                                "settings or a larger top")
        for warning in notes:  # after every check: a refused input stays one line
            if progress:
                progress({"event": "notice", "summary": warning})
    except BaseException:
        evaluator.close()
        raise
    return space, strategy, evaluator


def stored_strategy_options(saved: SearchConfig, raw: dict) -> dict:
    """A run's own strategy options under today's names. A run written before the renaming
    (hwnas.option_names) reads every old name in its old meaning, ENAS's `lr` and SPOS's
    `target_ms` included, so that it resumes exactly as it began."""
    from hwnas.option_names import as_written, written_in_old_names

    strategy = STRATEGIES.find(saved.strategy) if isinstance(saved.strategy, str) else None
    if strategy is None or not isinstance(saved.strategy_options, dict):
        return saved.strategy_options  # refused in one line by the checks that follow
    stored = raw.get("strategy_resolved")
    before = written_in_old_names(strategy.option_specs, stored)
    options = strategy.current_options(saved.strategy_options, written_before=before)
    return as_written(strategy.option_specs, options, stored)


def stored_estimator_options(saved: SearchConfig, raw: dict) -> dict:
    """A run's own estimator options, with the `legacy` value of every option added since it
    was written (hwnas.option_names.as_written)."""
    from hwnas.option_names import as_written

    estimator = ESTIMATORS.find(saved.estimator) if isinstance(saved.estimator, str) else None
    if estimator is None or not isinstance(saved.estimator_options, dict):
        return saved.estimator_options  # refused in one line by the checks that follow
    return as_written(estimator.option_specs, saved.estimator_options,
                      raw.get("estimator_resolved"))


def proxy_resolution_note(space, estimator) -> str | None:
    """One line when the estimator trains candidates at another resolution than the space's
    (the one the table times and export writes): their accuracies are a proxy's, and their
    kept weights cannot be exported as they are."""
    trained_at = estimator.options.get("resolution")
    deployed_at = int(space.input_shape[-1])
    if not isinstance(trained_at, int) or trained_at == deployed_at:
        return None
    return (f"candidates are trained at {trained_at}x{trained_at}, a proxy: the table times "
            f"them, and `hwnas export` writes them, at {deployed_at}x{deployed_at}; the "
            f"accuracies rank networks, and `hwnas train RUN --pick ...` trains the one you "
            f"choose at {deployed_at}x{deployed_at} before export")


def _check_table_exportable(table, allow_mismatch: bool) -> list[str]:
    """`hwnas export` re-times a candidate at batch 1 in fp32, or in int8 (on ort-cpu, the
    only backend an int8 table exists for), and refuses a table measured otherwise (its
    prediction would not compare): refuse such a table now, with the same reason, rather than
    after the search (`allow_mismatch`: warnings instead, and export then needs
    --allow-mismatch too). An int8 table's dtype becomes the run's deploy dtype
    (hwnas.api.deploy_dtype)."""
    from hwnas.api import deploy_dtype

    if table is None:
        return []
    return table.check_compatible(batch=1, dtype=deploy_dtype.of_table(table),
                                  allow=allow_mismatch,
                                  why=" (`hwnas export` re-times the candidates of a run at "
                                      "batch 1 in fp32, or int8 on ort-cpu, and would refuse "
                                      "this table)")


def _run_config(config: SearchConfig, space, strategy, evaluator) -> dict:
    from hwnas.api import deploy_dtype
    from hwnas.api.hv_reference import derive_reference
    from hwnas.versions import versions

    scorer = evaluator.driver_scorer()
    table = scorer.table
    reference = derive_reference(space, strategy.objectives, scorer, evaluator.cost_model())
    return {"search": config.to_dict(), "hypervolume_reference": reference,
            "space_resolved": space.config(),
            "strategy_resolved": strategy.config(),
            "estimator_resolved": scorer.estimator.config(),
            "evaluator_resolved": evaluator.config(),
            "table": None if table is None else {
                "path": str(config.table), "backend": table.backend, "batch": table.batch,
                "dtype": table.dtype, "device": table.device, "hash": table.content_hash()},
            # what `hwnas export` writes and compares the prediction with: the table's dtype
            "deploy_dtype": deploy_dtype.of_table(table),
            "versions": versions(), "created": _now()}


def default_run_dir(config: SearchConfig) -> str:
    """runs/<space>-<strategy>-s<seed>-<time>: where a run goes when no --run-dir is given."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"runs/{config.space}-{config.strategy}-s{config.seed}-{stamp}"


def _recorder(run: RunDir, config: SearchConfig, space, strategy, progress: Progress):
    """What happens to each candidate of a search: weights saved, one history line, progress;
    early on, once, the duration estimate (hwnas.api.duration)."""
    assert config.budget is not None, "_prepare resolves a budget left unset"
    duration = DurationNote(config.budget)
    counted = [0]  # evaluations of the budget so far: a ruled-out candidate is none

    def on_candidate(candidate: Candidate) -> None:
        if candidate.replayed:
            record = {"result": candidate.result, "arch_key": candidate.arch.key}
        else:
            outcome = candidate.outcome
            if outcome is not None and outcome.state_dict is not None \
                    and config.keep_weights != "none":
                run.save_weights(candidate.arch.key, outcome.state_dict)
            record = history_record(candidate, config, space)
            if outcome is not None and outcome.extra:  # e.g. a shared-weight estimate's supernet
                record["estimate"] = json_ready(outcome.extra)
            info = strategy.proposal_info(candidate.arch)
            if info:
                record["proposal"] = info
            if strategy.known_limits:  # draws past a known limit never proposed, so far: the
                record["discarded"] = strategy.discarded  # trainings saved, for `runs show`
            run.append(record)
        out = ruled_out(candidate.result)
        if progress:
            progress({"event": "candidate", "record": record, "budget": config.budget,
                      "replayed": candidate.replayed, "counted": not out})
            note = None if out else duration.observe(
                counted[0], replayed=candidate.replayed,
                evaluated=candidate.outcome is not None, failed="failed" in candidate.result)
            if note:
                progress({"event": "notice", "summary": note})
        counted[0] += not out

    return on_candidate


def history_record(candidate: Candidate, config: SearchConfig, space) -> dict:
    arch = candidate.arch
    return {"index": candidate.index, "arch_key": arch.key, "arch": arch.to_dict(),
            "arch_str": str(arch), "arch_short": space.compact(arch),
            "result": candidate.result, "cached": candidate.cached,
            "strategy": config.strategy, "estimator": config.estimator,
            "evaluator": config.evaluator,
            "wall_seconds": candidate.outcome.seconds if candidate.outcome else 0.0,
            "time": _now()}
