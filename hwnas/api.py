"""What the CLI calls: profile(), search(), pareto(), export(). Owns the loops; no rendering.

Every function takes plain arguments, validates them where they enter, and returns data; the
optional `progress` callback receives one dict per step so a UI can render it.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import HwnasRuntimeError, MissingLatencyError
from hwnas.evaluation.scorer import Evaluator
from hwnas.latency.table import LatencyTable
from hwnas.objectives import parse_objectives
from hwnas.registry import ESTIMATORS, SPACES, STRATEGIES
from hwnas.runs import RunDir
from hwnas.search.config import SearchConfig
from hwnas.versions import versions

Progress = Callable[[dict], None] | None


def build_space(name: str, config: dict | None = None):
    return SPACES.get(name)(**(config or {}))


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# -- profile --------------------------------------------------------------------------------
def profile(space: str = "proxyless", space_config: dict | None = None, backend: str = "ort-cpu",
            *, threads: int | None = None, batch: int = 1, dtype: str = "fp32",
            out: str | Path | None = None, tables_dir: str | Path = "latency_tables",
            progress: Progress = None, memory: bool = False,
            energy: bool = False) -> LatencyTable:
    """Measure every distinct op of the space once and write a LatencyTable (optionally with
    peak-memory and energy columns, where the device can measure them)."""
    from hwnas.tables.profile import default_table_path, profile_ops

    space_obj = build_space(space, space_config)
    table = profile_ops(space_obj, space_obj.all_ops(), backend, threads=threads, batch=batch,
                        dtype=dtype, progress=progress, memory=memory, energy=energy)
    table.save(out or default_table_path(tables_dir, table))
    return table


# -- search ---------------------------------------------------------------------------------
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


# -- pareto ---------------------------------------------------------------------------------
def pareto(run_paths: list[str | Path], *, objectives: list[str] | None = None,
           plot: str | Path | None = None, write: bool = False) -> dict:
    """Front, hypervolume (one shared reference point) and plot over one or several runs."""
    from hwnas.analysis.pareto import compare_runs
    from hwnas.analysis.plots import plot_fronts

    runs = [RunDir.open(p) for p in run_paths]
    objs = parse_objectives(objectives or runs[0].config()["search"]["objectives"])
    names, directions = [o.name for o in objs], [o.direction for o in objs]
    points, records = {}, {}
    for run in runs:
        label = _label(run, points)
        records[label] = _unique_records(run.history())
        if not records[label]:
            raise HwnasRuntimeError(f"run {run.path} has no evaluated candidates yet")
        points[label] = np.array([[r["result"][n] for n in names] for r in records[label]],
                                 dtype=float)
    comparison = compare_runs(points, directions)
    per_run = comparison.pop("runs")
    report = {"objectives": names, "directions": directions, "reference": comparison, "runs": []}
    for run, label in zip(runs, points, strict=True):
        stats = per_run[label]
        front = [records[label][i] for i in stats.pop("front_indices")]
        report["runs"].append({"run": str(run.path), "label": label, "front": front, **stats})
    default_plot = "pareto.png" if len(runs) == 1 else "pareto_compare.png"
    plot_path = Path(plot) if plot else runs[0].path / "plots" / default_plot
    series = {e["label"]: (points[e["label"]], np.array([[r["result"][n] for n in names]
                                                         for r in e["front"]]))
              for e in report["runs"]}
    report["plot"] = str(plot_fronts(series, tuple(names[:2]), directions, plot_path))
    if write:
        for run, entry in zip(runs, report["runs"], strict=True):
            run.write_pareto({"objectives": names, "directions": directions,
                              "reference": comparison, **entry})
    return report


def _unique_records(history: list[dict]) -> list[dict]:
    seen, out = set(), []
    for record in history:
        if record["arch_key"] not in seen:
            seen.add(record["arch_key"])
            out.append(record)
    return out


def _label(run: RunDir, taken: dict) -> str:
    label, n = run.name, 2
    while label in taken:
        label, n = f"{run.name}#{n}", n + 1
    return label


# -- export ---------------------------------------------------------------------------------
def export(run_path: str | Path, *, pick: list[str] | None = None, arch_key: str | None = None,
           out: str | Path | None = None, backend: str = "ort-cpu",
           threads: int | None = None, allow_mismatch: bool = False):
    """Export one candidate of a run to ONNX: checked, parity-tested and re-timed."""
    from hwnas.analysis.picking import pick_record
    from hwnas.nn.export import export_arch

    run = RunDir.open(run_path)
    config = run.config()
    search_config = SearchConfig.from_dict(config["search"])
    record = pick_record(run, _unique_records(run.history()), search_config.objectives,
                         pick=pick, arch_key=arch_key)
    space = build_space(search_config.space, config["space_resolved"])
    arch = Arch.from_dict(record["arch"])
    predicted, warnings, table = None, [], None
    if search_config.table:  # a run on a tabular benchmark has no table to predict with
        table = LatencyTable.load(search_config.table)
        # The prediction is only comparable with the re-timing under the same conditions.
        warnings = table.check_compatible(backend=backend, batch=1, allow=allow_mismatch)
        predicted = table.predict_ops(space.ops(arch), search_config.latency_stat)
    out_path = Path(out) if out else run.path / "exports" / f"{arch.key}.onnx"
    report = export_arch(space, arch, out_path, state_dict=run.load_weights(arch.key),
                         predicted_ms=predicted, table_backend=table and table.backend,
                         backend=backend,
                         threads=threads if threads is not None else table_threads(config))
    from hwnas.fileio import atomic_write_json

    atomic_write_json(out_path.with_suffix(".json"), {**report.to_dict(), "record": record,
                                                      "warnings": warnings})
    return report, warnings


def table_threads(config: dict) -> int | None:
    """Re-time with the thread count the table was measured with, so the two compare."""
    return ((config.get("table") or {}).get("device") or {}).get("threads")
