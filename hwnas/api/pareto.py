"""`pareto()`: front, hypervolume and plot over one or several runs.

Failed candidates (hwnas.core.failure) have no objectives: they never reach a front,
and each run's entry says how many distinct architectures failed and why (`failed`,
`failures`: the most common kinds of reason first). Infeasible ones (a hard limit broken,
hwnas.core.feasibility) never reach it either, and are counted apart (`infeasible`, of which
`ruled_out` were never trained, and `infeasible_limits`: which limit, how often). Repeats
(an architecture evaluated, or looked up, again) count once on the front and are counted in
`repeats`.

The hypervolume uses the reference each run stored when it was created (hwnas.api.hv_reference),
so a run's number is the same alone and beside others; runs that stored none (older runs, or
an objective without a known bound) are normalised over the runs shown, and `reference.source`
says which. Runs whose estimator, dataset or table differ are compared with a warning.
"""

from __future__ import annotations

from pathlib import Path

from hwnas.core.failure import summarize_failures
from hwnas.core.feasibility import none_usable, summarize_infeasible, usable
from hwnas.errors import BadInputError, HwnasRuntimeError
from hwnas.fileio import check_output
from hwnas.objectives import parse_constraint, parse_objectives
from hwnas.quoting import printable
from hwnas.runs import RunDir, is_warm, unique_records


def pareto(run_paths: list[str | Path], *, objectives: list[str] | None = None,
           plot: str | Path | None = None, write: bool = False, where: list[str] | None = None,
           sort: str | None = None, top: int | None = None, pick: list[str] | None = None,
           ref: dict[str, float] | None = None, draw: bool = True) -> dict:
    """Front, hypervolume (one reference for all runs) and plot over one or several runs.

    `where` (constraints such as 'latency_ms<=3'), `sort` ('NAME' or 'NAME:desc') and `top`
    choose which front members each run's entry lists (`front`); `front_size` and the
    hypervolume are always the whole front's. Every listed member says whether it is the
    `knee` and whether it is what `hwnas export --pick` would choose (`picked`). `ref` is a
    reference point in the user's units, name -> value, for every objective."""
    import numpy as np

    from hwnas.analysis.pareto import compare_runs
    from hwnas.analysis.picking import marked_indices
    from hwnas.analysis.reference import shared_reference

    runs = [RunDir.open(p) for p in run_paths]
    # One run's plot belongs in its folder; a comparison belongs to no single run, so by
    # default it goes to the current folder rather than into the first run's.
    default_plot = runs[0].path / "plots" / "pareto.png" if len(runs) == 1 else \
        Path("pareto_compare.png")
    plot_path = None
    if draw:
        plot_path = check_output(Path(plot) if plot else default_plot, "--plot",
                                 suffixes=(".png", ".pdf", ".svg"), default=plot is None)
    configs = [run.config() for run in runs]
    objs = parse_objectives(objectives or configs[0]["search"]["objectives"])
    names, directions = [o.name for o in objs], [o.direction for o in objs]
    constraints = [parse_constraint(c) for c in (where or [])]
    sort_key = _parse_sort(sort, names)
    for text in pick or []:
        parse_constraint(text)  # refused now, before any work
    ref_point = _ref_point(ref, names)
    points: dict[str, np.ndarray] = {}
    records: dict[str, list[dict]] = {}
    failures: dict[str, dict] = {}
    infeasible: dict[str, dict] = {}
    unreadable: dict[str, list] = {}
    repeats: dict[str, int] = {}
    warm: dict[str, int] = {}  # records an earlier run evaluated (`--warm-start`)
    for run in runs:
        label = _label(run, points)
        read = run.read_history()  # never writes; unreadable lines are reported, not cut
        unreadable[label] = read.problems
        every = unique_records(read.records)
        repeats[label] = len(read.records) - len(every)
        warm[label] = sum(1 for r in every if is_warm(r))
        failures[label] = summarize_failures(r["result"] for r in every)
        infeasible[label] = summarize_infeasible(r["result"] for r in every)
        records[label] = [r for r in every if usable(r["result"])]  # fronts: feasible only
        if not records[label]:
            if failures[label]["failed"] or infeasible[label]["infeasible"]:
                feasible, why = none_usable(infeasible[label], failures[label])
                raise HwnasRuntimeError(f"run {run.path} has no {feasible}candidate that "
                                        f"succeeded, so no front: {why} (the "
                                        f"reasons are in {run.history_path})")
            raise HwnasRuntimeError(f"run {run.path} has no evaluated candidates yet")
        lacking = sorted({n for r in records[label] for n in names if n not in r["result"]})
        if lacking:  # runs searched for other objectives: name what they do share
            own = run.config()["search"]["objectives"]
            raise BadInputError(f"run {run.path} did not record {', '.join(lacking)} (its "
                                f"objectives: {', '.join(own)}); compare runs on objectives "
                                "every one recorded with `hwnas pareto RUNS --objectives A,B`")
        points[label] = np.array([[r["result"][n] for n in names] for r in records[label]],
                                 dtype=float)
    normaliser, reference, warnings = shared_reference(runs, configs, names, directions)
    warnings += setting_warnings(runs, configs)
    comparison = compare_runs(points, directions, normaliser=normaliser, ref_point=ref_point)
    per_run = comparison.pop("runs")
    comparison.update(reference)
    report = {"objectives": names, "directions": directions, "reference": comparison,
              "warnings": warnings, "runs": []}
    for run, label in zip(runs, points, strict=True):
        stats = per_run[label]
        order = stats.pop("front_indices")
        marks = marked_indices(points[label], directions, pick=pick, names=names)
        front = [{**records[label][i], "knee": i == marks["knee"],
                  "picked": i == marks["pick"]} for i in order]
        entry = {"run": str(run.path), "label": label, "front": front, **stats,
                 "repeats": repeats[label], "warm": warm[label],
                 "failed": failures[label]["failed"],
                 "failures": failures[label]["reasons"], "unreadable_lines": unreadable[label],
                 "infeasible": infeasible[label]["infeasible"],
                 "ruled_out": infeasible[label]["ruled_out"],
                 "infeasible_limits": infeasible[label]["limits"],
                 "space": configs[runs.index(run)]["search"]["space"]}
        if pick and marks["pick"] is None:
            entry["pick_note"] = f"no candidate meets {' and '.join(pick)}"
        note = accuracy_note(configs[runs.index(run)], names)
        if note:
            entry["accuracy_note"] = note
        report["runs"].append(entry)
    if draw:
        series = {e["label"]: (points[e["label"]], np.array([[r["result"][n] for n in names]
                                                             for r in e["front"]]))
                  for e in report["runs"]}
        # the knee and the pick the table names are the ones the plot marks
        knees = {e["label"]: next(i for i, r in enumerate(e["front"]) if r["knee"])
                 for e in report["runs"] if any(r["knee"] for r in e["front"])}
        picks = {e["label"]: [r["result"][n] for n in names]
                 for e in report["runs"] for r in e["front"] if r["picked"]}
        report["plot"] = str(plot_fronts_of(series, names, directions, plot_path, configs,
                                            knees=knees, picks=picks or None))
    if write:
        for run, entry in zip(runs, report["runs"], strict=True):
            run.write_pareto({"objectives": names, "directions": directions,
                              "reference": comparison, **entry})
    if constraints or sort_key or top:
        for entry in report["runs"]:
            entry["front"] = query(entry["front"], constraints, sort_key, top)
            entry["shown"] = len(entry["front"])
    return report


def plot_fronts_of(series, names, directions, plot_path, configs=None, **marks):
    """The front plot; with the runs' configs, titled and coloured by method (every pair of
    objectives gets a panel)."""
    from hwnas.analysis.plots import plot_fronts

    if configs is None:
        return plot_fronts(series, tuple(names[:2]), directions, plot_path, **marks)
    from hwnas.report.figures import front_plot_options

    return plot_fronts(series, tuple(names), directions, plot_path,
                       **front_plot_options(list(series), configs), **marks)


def query(front: list[dict], constraints, sort_key: tuple[str, bool] | None,
          top: int | None) -> list[dict]:
    """The front members meeting every constraint, sorted by one objective, the first `top`."""
    rows = [r for r in front if all(c.holds(r["result"]) for c in constraints)]
    if sort_key:
        name, descending = sort_key
        rows.sort(key=lambda r: r["result"][name], reverse=descending)
    return rows[:top] if top else rows


def _parse_sort(sort: str | None, names: list[str]) -> tuple[str, bool] | None:
    if not sort:
        return None
    name, _, order = sort.rpartition(":") if sort.endswith((":desc", ":asc")) else (sort, "", "")
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=1, cutoff=0.3)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadInputError(f"--sort {sort!r}: {name!r} is not an objective of these runs; "
                            f"sort by one of {', '.join(names)}, optionally with :desc "
                            f"(e.g. --sort {names[-1]}:desc){hint}")
    return name, order == "desc"


def _ref_point(ref: dict[str, float] | None, names: list[str]) -> list[float] | None:
    if not ref:
        return None
    if set(ref) != set(names):
        raise BadInputError(f"--ref needs one value per objective compared ({', '.join(names)}); "
                            f"got {', '.join(ref) or 'none'}, e.g. --ref "
                            + ",".join(f"{n}=V" for n in names))
    return [float(ref[n]) for n in names]


def setting_warnings(runs: list[RunDir], configs: list[dict]) -> list[str]:
    """Runs scored by different estimators, estimator options, datasets or tables: the same
    architecture can score differently in each (0.983 in one, 0.942 in the other, in the
    session that found it), so their fronts do not compare as they look."""
    def settings(config: dict) -> dict:
        s = config["search"]
        table = config.get("table") or {}
        return {"estimator settings": (s.get("estimator"), sorted(
                    (s.get("estimator_options") or {}).items(), key=str)),
                "datasets": s.get("dataset"),
                "tables": (s.get("table"), str(table.get("device")),
                           s.get("latency_stat"))}

    first = settings(configs[0])
    out = []
    for run, config in zip(runs[1:], configs[1:], strict=True):
        other = settings(config)
        for what, value in first.items():
            if other[what] != value:
                out.append(f"{what} differ between {runs[0].path} and {run.path}: the same "
                           "architecture may score differently in each, so their fronts do "
                           "not compare as they look")
    return out


def _label(run: RunDir, taken: dict) -> str:
    """The run's name as shown in tables and figures: a control character in a folder's
    name is written out (a figure cannot draw one, a terminal would act on it)."""
    name = printable(run.name)
    label, n = name, 2
    while label in taken:
        label, n = f"{name}#{n}", n + 1
    return label


def accuracy_note(config: dict, names: list[str]) -> str | None:
    """What a front's accuracy is when a search trained its candidates: the estimator's proxy,
    not the accuracy of the network a user ships (`hwnas train` measures that)."""
    from hwnas.api.candidate import (
        deploy_resolution,
        proxy_description,
        proxy_resolution,
        trains_candidates,
    )

    if "accuracy" not in names or not trains_candidates(config) \
            or "space_resolved" not in config:  # a run written by hand (tests) says less
        return None
    how = proxy_description(config, {})
    deployed, trained = deploy_resolution(config), proxy_resolution(config, {})
    where = (f"; the network is deployed at {deployed}x{deployed}" if trained != deployed
             else "")
    return (f"accuracy is the search's estimate ({how}, validation split){where}; `hwnas "
            "train` trains a chosen network fully and reports it on held-out images")
