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

from hwnas.errors import BadInputError
from hwnas.evaluation.failure import summarize_failures
from hwnas.runs import RunDir

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
    read = run.read_history()  # never writes; a line it cannot read is counted, left alone
    history = read.records
    failures = summarize_failures(r.get("result") or {} for r in history)
    pareto_path = path / "pareto.json"
    return {**entry, "strategy": search.get("strategy"), "space": search.get("space"),
            "estimator": search.get("estimator"), "objectives": search.get("objectives"),
            "candidates": len(history), "budget": search.get("budget"),
            "failed": failures["failed"], "failures": failures["reasons"],
            "front_written": pareto_path.is_file(), "front_size": _front_size(pareto_path),
            "being_written": run.being_written(), "unreadable_lines": len(read.problems)}


def _front_size(path: Path) -> int | None:
    """Size of the front in pareto.json; None when none was written (or it is unreadable)."""
    try:
        return int(json.loads(path.read_text())["front_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
