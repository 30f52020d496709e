"""`search()`: the ask/tell loop over a space, a strategy, an estimator and cost models."""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path

from hwnas.api.common import Progress, build_space
from hwnas.api.common import now as _now
from hwnas.api.pareto import pareto
from hwnas.arch import Arch
from hwnas.errors import HwnasRuntimeError, MissingLatencyError
from hwnas.evaluation.scorer import Evaluator
from hwnas.latency.table import LatencyTable
from hwnas.objectives import parse_objectives
from hwnas.registry import ESTIMATORS, STRATEGIES
from hwnas.runs import RunDir
from hwnas.search.config import SearchConfig
from hwnas.versions import versions


def search(config: SearchConfig, *, resume: str | Path | None = None,
           progress: Progress = None) -> RunDir:
    """The ask/tell loop of DESIGN.md; history.jsonl is appended and flushed per candidate."""
    if resume:
        run = RunDir.open(resume)
        saved = SearchConfig.from_dict(run.config()["search"])
        saved.budget = max(saved.budget, config.budget) if config.budget else saved.budget
        config = saved
    config.validate()
    table = LatencyTable.load(config.table) if config.table else None
    space, objectives, estimator, evaluator = _prepare(config, table)
    strategy = STRATEGIES.get(config.strategy)(space, objectives, seed=config.seed,
                                               **config.strategy_options)
    if not resume:
        run = RunDir.create(config.run_dir or _default_run_dir(config), {
            "search": config.to_dict(), "space_resolved": space.config(),
            "strategy_resolved": strategy.config(), "estimator_resolved": estimator.config(),
            "table": None if table is None else {
                "path": str(config.table), "backend": table.backend, "batch": table.batch,
                "dtype": table.dtype, "device": table.device},
            "versions": versions(), "created": _now()})
    _run_loop(run, config, strategy, evaluator, progress)
    report = pareto([run.path], write=True)
    if config.keep_weights == "front":
        run.prune_weights({r["arch_key"] for r in report["runs"][0]["front"]})
    return run


def _prepare(config: SearchConfig, table: LatencyTable | None):
    """Everything checked before the run directory exists: a refusal writes nothing."""
    from hwnas.data import dataset_classes

    space_config = dict(config.space_config)
    space_config.setdefault("num_classes", len(dataset_classes(config.dataset)))
    config.space_config = space_config
    space = build_space(config.space, space_config)
    objectives = parse_objectives(config.objectives)
    if table is not None:
        missing = table.missing(space.all_ops())
        if missing:  # fail before any training, naming what to measure
            raise MissingLatencyError(missing, table.path, table.fill_command())
    estimator_cls = ESTIMATORS.get(config.estimator)
    options = dict(config.estimator_options)
    if "keep_weights" in getattr(estimator_cls, "option_specs", {}):
        options.setdefault("keep_weights", config.keep_weights != "none")
    estimator = estimator_cls(space, dataset=config.dataset, seed=config.seed, **options)
    estimator.config()  # validates the options now, not at the first candidate
    evaluator = Evaluator(space, estimator, table, config.latency_stat, objectives)
    return space, objectives, estimator, evaluator


def _default_run_dir(config: SearchConfig) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"runs/{config.space}-{config.strategy}-s{config.seed}-{stamp}"


def _run_loop(run: RunDir, config: SearchConfig, strategy, evaluator: Evaluator,
              progress: Progress) -> None:
    history = run.history()
    known = {rec["arch_key"]: rec["result"] for rec in history}
    position = 0
    while position < config.budget:
        archs = strategy.ask(min(config.batch, config.budget - position))
        results = []
        for arch in archs:
            if position < len(history):  # resuming: replay what was already evaluated
                record = history[position]
                if record["arch_key"] != arch.key:
                    raise HwnasRuntimeError(
                        f"run {run.path} does not replay: candidate {position} was "
                        f"{record['arch_key']}, the strategy now proposes {arch.key}")
            else:
                record = _evaluate_one(run, config, evaluator, arch, position, known)
                run.append(record)
            known[arch.key] = record["result"]
            results.append(record["result"])
            position += 1
            if progress:
                progress({"event": "candidate", "record": record, "budget": config.budget,
                          "replayed": position <= len(history)})
        strategy.tell(archs, results)


def _evaluate_one(run: RunDir, config: SearchConfig, evaluator: Evaluator, arch: Arch,
                  position: int, known: dict) -> dict:
    """An architecture already evaluated in this run is looked up, not retrained."""
    cached = arch.key in known
    start = time.perf_counter()
    if cached:
        result = dict(known[arch.key])
    else:
        result, estimate = evaluator.evaluate(arch)
        if estimate.state_dict is not None and config.keep_weights != "none":
            run.save_weights(arch.key, estimate.state_dict)
    return {"index": position, "arch_key": arch.key, "arch": arch.to_dict(), "arch_str": str(arch),
            "arch_short": evaluator.space.compact(arch),
            "result": result, "cached": cached, "strategy": config.strategy,
            "estimator": config.estimator, "wall_seconds": time.perf_counter() - start,
            "time": _now()}


