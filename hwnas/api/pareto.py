"""`pareto()`: front, hypervolume and plot over one or several runs.

Failed candidates (hwnas.evaluation.failure) have no objectives: they never reach a front,
and each run's entry says how many distinct architectures failed and why (`failed`,
`failures`: the most common kinds of reason first)."""

from __future__ import annotations

from pathlib import Path

from hwnas.api.common import unique_records
from hwnas.errors import BadInputError, HwnasRuntimeError
from hwnas.evaluation.failure import failures_line, is_failed, summarize_failures
from hwnas.fileio import check_output
from hwnas.objectives import parse_objectives
from hwnas.runs import RunDir


def pareto(run_paths: list[str | Path], *, objectives: list[str] | None = None,
           plot: str | Path | None = None, write: bool = False) -> dict:
    """Front, hypervolume (one shared reference point) and plot over one or several runs."""
    import numpy as np

    from hwnas.analysis.pareto import compare_runs
    from hwnas.analysis.plots import plot_fronts

    runs = [RunDir.open(p) for p in run_paths]
    default_plot = "pareto.png" if len(runs) == 1 else "pareto_compare.png"
    plot_path = check_output(Path(plot) if plot else runs[0].path / "plots" / default_plot,
                             "--plot", suffixes=(".png", ".pdf", ".svg"), default=plot is None)
    objs = parse_objectives(objectives or runs[0].config()["search"]["objectives"])
    names, directions = [o.name for o in objs], [o.direction for o in objs]
    points, records, failures, unreadable = {}, {}, {}, {}
    for run in runs:
        label = _label(run, points)
        read = run.read_history()  # never writes; unreadable lines are reported, not cut
        unreadable[label] = read.problems
        every = unique_records(read.records)
        failures[label] = summarize_failures(r["result"] for r in every)
        records[label] = [r for r in every if not is_failed(r["result"])]
        if not records[label]:
            if failures[label]["failed"]:
                raise HwnasRuntimeError(f"run {run.path} has no candidate that succeeded, so no "
                                        f"front: {failures_line(failures[label])} (the reasons "
                                        f"are in {run.history_path})")
            raise HwnasRuntimeError(f"run {run.path} has no evaluated candidates yet")
        lacking = sorted({n for r in records[label] for n in names if n not in r["result"]})
        if lacking:  # runs searched for other objectives: name what they do share
            own = run.config()["search"]["objectives"]
            raise BadInputError(f"run {run.path} did not record {', '.join(lacking)} (its "
                                f"objectives: {', '.join(own)}); compare runs on objectives "
                                "every one recorded with `hwnas pareto RUNS --objectives A,B`")
        points[label] = np.array([[r["result"][n] for n in names] for r in records[label]],
                                 dtype=float)
    comparison = compare_runs(points, directions)
    per_run = comparison.pop("runs")
    report = {"objectives": names, "directions": directions, "reference": comparison, "runs": []}
    for run, label in zip(runs, points, strict=True):
        stats = per_run[label]
        front = [records[label][i] for i in stats.pop("front_indices")]
        report["runs"].append({"run": str(run.path), "label": label, "front": front, **stats,
                               "failed": failures[label]["failed"],
                               "failures": failures[label]["reasons"],
                               "unreadable_lines": unreadable[label]})
    series = {e["label"]: (points[e["label"]], np.array([[r["result"][n] for n in names]
                                                         for r in e["front"]]))
              for e in report["runs"]}
    report["plot"] = str(plot_fronts(series, tuple(names[:2]), directions, plot_path))
    if write:
        for run, entry in zip(runs, report["runs"], strict=True):
            run.write_pareto({"objectives": names, "directions": directions,
                              "reference": comparison, **entry})
    return report


def _label(run: RunDir, taken: dict) -> str:
    label, n = run.name, 2
    while label in taken:
        label, n = f"{run.name}#{n}", n + 1
    return label


