"""`list_runs()`: the run directories under a folder, one summary each. It only reads.

A run directory is a folder holding config.json (hwnas.runs). Per run: strategy, space,
objectives, the candidates its history records against its budget, how many of them failed
and why, whether a front (pareto.json) was written, and whether a search is writing it now
(its lock is held). A record being written is not counted yet, a history line that cannot be
read is counted apart; a folder whose config cannot be read is listed with the reason instead
of stopping the listing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hwnas.api import warm_start
from hwnas.core.failure import summarize_failures
from hwnas.core.feasibility import summarize_infeasible
from hwnas.errors import BadInputError
from hwnas.fileio import read_regular
from hwnas.quoting import shell_word
from hwnas.runs import RunDir, is_warm

DEFAULT_ROOT = "runs"


def list_runs(root: str | Path = DEFAULT_ROOT) -> list[dict]:
    """One summary per run directory under `root`, at any depth (`hwnas demo` writes
    runs/demo-1/evolution), sorted by path; `root` itself when it is a run. A run's own
    folders are not searched: a run holds no runs."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"{root} is not a folder; runs are written under runs/ by "
                            "`hwnas search` (or pass the folder that holds them)")
    return [summarize_run(path, root) for path in _run_dirs(root)]


def _run_dirs(root: Path) -> list[Path]:
    found = []
    for folder, subfolders, files in os.walk(root):  # symlinks are not followed
        if "config.json" in files:
            found.append(Path(folder))
            subfolders.clear()
    return sorted(found)


def summarize_run(path: Path, root: Path | None = None) -> dict:
    """What `hwnas runs` shows of one run directory (`name`: its path under `root`)."""
    run = RunDir(path)  # not RunDir.open: the folder is known to hold config.json
    name = path.relative_to(root).as_posix() if root is not None and path != root else path.name
    entry = {"run": str(path), "name": name}
    try:
        search = run.config()["search"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return {**entry, "error": f"unreadable config.json: {type(exc).__name__}: {exc}"}
    try:  # never writes; a line it cannot read is counted, left alone
        read = run.read_history()
    except BadInputError as exc:  # a history that is no file: this run, not the listing
        return {**entry, "error": str(exc)}
    warm = warm_start.summary(read.records)  # earlier runs' candidates: not this run's
    history = [r for r in read.records if not is_warm(r)]
    failures = summarize_failures(r.get("result") or {} for r in history)
    infeasible = summarize_infeasible(r.get("result") or {} for r in history)
    # candidates of the budget: one ruled out by a known cost (a hard limit) is not one
    counted = len(history) - infeasible["ruled_out"]
    pareto_path = path / "pareto.json"
    being_written = run.being_written()
    return {**entry, "status": _status(counted, search.get("budget"), being_written),
            "strategy": search.get("strategy"), "space": search.get("space"),
            "estimator": search.get("estimator"), "objectives": search.get("objectives"),
            "candidates": counted, "budget": search.get("budget"),
            "constraints": search.get("constraints") or [],
            "infeasible": infeasible["infeasible"], "ruled_out": infeasible["ruled_out"],
            "infeasible_limits": infeasible["limits"], "discarded": _discarded(history),
            "failed": failures["failed"], "failures": failures["reasons"],
            "front_written": pareto_path.is_file(), "front_size": _front_size(pareto_path),
            "being_written": being_written, "unreadable_lines": len(read.problems),
            **(warm if warm["warm"] else {})}


def _status(candidates: int, budget, being_written: bool) -> str:
    if being_written:
        return "running"
    if isinstance(budget, int) and candidates >= budget:
        return "done"
    return "incomplete"


def _discarded(history: list[dict]) -> int:
    """Draws the strategy discarded before proposing because a known cost broke a limit (never
    trained): each record holds the count so far, so the latest one is the run's."""
    counts = [r["discarded"] for r in history
              if isinstance(r.get("discarded"), int) and not isinstance(r["discarded"], bool)]
    return max(counts, default=0)


def show_run(path: str | Path) -> dict:
    """One run in detail (`hwnas runs show RUN`): its status (done, incomplete, or running and
    by which process), budget and candidates, failures, front size and hypervolume (with the
    reference stored with the run), table, estimator, strategy, seed and dates. Reads only."""
    from hwnas.api import deploy_dtype
    from hwnas.errors import HwnasRuntimeError
    from hwnas.oneshot.stillness import oneshot_notes

    run = RunDir.open(path)
    config = run.config()  # a damaged config is one line, exit 2
    path = run.path
    entry = summarize_run(path)
    if "error" in entry:  # its history cannot be read: the listing goes on, this cannot
        raise BadInputError(entry["error"])
    search = config["search"]
    hypervolume, reference, front_size = None, None, entry["front_size"]
    try:
        from hwnas.api.pareto import pareto

        report = pareto([path], draw=False)  # the front as it is now, nothing written
        hypervolume = report["runs"][0]["hypervolume"]
        front_size = report["runs"][0]["front_size"]
        reference = report["reference"]
    except HwnasRuntimeError:  # nothing evaluated (or nothing succeeded) yet: no front
        pass
    records = run.read_history().records
    table = config.get("table") or None
    locked_by = _lock_holder(run) if entry["being_written"] else None
    resume = None if entry["status"] == "done" or locked_by else \
        f"hwnas search --resume {shell_word(path)}"
    return {"run": str(path), "status": entry["status"], "locked_by": locked_by,
            "resume": resume, "budget": search.get("budget"),
            "candidates": entry["candidates"], "failed": entry["failed"],
            "failures": entry["failures"], "unreadable_lines": entry["unreadable_lines"],
            "constraints": entry["constraints"], "infeasible": entry["infeasible"],
            "ruled_out": entry["ruled_out"], "infeasible_limits": entry["infeasible_limits"],
            "discarded": entry["discarded"],
            "front_size": front_size, "hypervolume": hypervolume, "reference": reference,
            "objectives": search.get("objectives"), "space": search.get("space"),
            "space_options": config.get("space_resolved") or search.get("space_config"),
            "dataset": search.get("dataset"),
            "benchmark": benchmark_accuracy(config),
            "table": None if not table else {"path": table.get("path") or search.get("table"),
                                             "backend": table.get("backend"),
                                             "device": table.get("device"),
                                             # what export writes and compares: fp32 or int8
                                             "deploy_dtype": deploy_dtype.of_run(config)},
            "estimator": {"name": search.get("estimator"),
                          "options": search.get("estimator_options") or {}},
            "strategy": {"name": search.get("strategy"),
                         "options": search.get("strategy_options") or {}},
            "auto": search.get("auto"),  # --method auto's choice, None when it was named
            "seed": search.get("seed"), "created": config.get("created"),
            "last_candidate": records[-1].get("time") if records else None,
            "warm": entry.get("warm", 0), "warm_from": entry.get("warm_from", {}),
            "trained": trained_summaries(path),
            "notes": oneshot_notes(records)}


def benchmark_accuracy(config: dict) -> dict | None:
    """Where a run's accuracies come from when its estimator looks them up in a benchmark
    (its `benchmark` option, e.g. `tabular`) instead of training on `--dataset`: the file,
    the accuracy asked (`accuracy:cifar10`) and the column it reads (None when the file
    cannot be read now). None for a run that trains."""
    options = {**(config["search"].get("estimator_options") or {}),
               **(config.get("estimator_resolved") or {})}
    path = options.get("benchmark")
    if not isinstance(path, str) or not path:
        return None
    accuracy = options.get("accuracy") or "accuracy"
    try:
        from hwnas.tabular.benchmark import BenchmarkTable

        column = BenchmarkTable.load(path).resolve(accuracy)
    except (BadInputError, OSError):  # moved or changed since: name what the run asked
        column = None
    return {"path": path, "accuracy": accuracy, "column": column}


def trained_summaries(path: Path) -> list[dict]:
    from hwnas.trained import summaries

    return summaries(path)


def _lock_holder(run: RunDir) -> str:
    try:
        return read_regular(run.lock_path).decode(errors="replace")[:200].strip() \
            or "another process"
    except OSError:
        return "another process"


def _front_size(path: Path) -> int | None:
    """Size of the front in pareto.json; None when none was written (or it is unreadable)."""
    try:
        size = json.loads(read_regular(path))["front_size"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
