"""From run directories to what a report shows: per run its configuration, successful
candidates, front, knee and hypervolume after every evaluation, and the validation summary of
the latency table it used. Reading only: nothing here writes. Fronts, knees and curves are
over the feasible successful candidates; failed and infeasible ones are counted apart."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwnas.core.failure import summarize_failures
from hwnas.core.feasibility import summarize_infeasible, usable
from hwnas.errors import BadInputError
from hwnas.fileio import read_regular
from hwnas.latency.identity import table_change_note
from hwnas.objectives import parse_objectives
from hwnas.quoting import printable, shell_word
from hwnas.runs import RunDir, is_warm, unique_records


@dataclass
class RunData:
    label: str
    run: RunDir
    config: dict
    history: list[dict]  # every readable candidate record, in the order evaluated
    records: list[dict]  # unique successful candidates
    points: np.ndarray  # records' objectives (user units)
    front: list[int] = field(default_factory=list)  # indices into records, front order
    knee: int | None = None  # index into records
    hv_curve: tuple[list[int], list[float]] = ([], [])
    failures: dict = field(default_factory=dict)
    infeasible: dict = field(default_factory=dict)  # hwnas.core.feasibility's summary
    problems: list[str] = field(default_factory=list)
    validation: dict | None = None
    table_note: str | None = None  # the run's table changed since the run used it
    # an earlier run's records it started from (`--warm-start`): in its front, but not
    # candidates, so its hypervolume curve starts from them at no evaluation
    warm: list[dict] = field(default_factory=list)
    hv_source: str = ""  # where the hypervolume's normalisation comes from

    @property
    def method(self) -> str:
        return self.config["search"]["strategy"]


def collect(run_paths, objectives: list[str] | None = None) -> tuple[list[str], list[str],
                                                                       list[RunData]]:
    """(objective names, directions, runs); refuses runs lacking an objective, in one line."""
    runs = [RunDir.open(p) for p in run_paths]  # a missing run: one line, before any work
    objs = parse_objectives(objectives or runs[0].config()["search"]["objectives"])
    names, directions = [o.name for o in objs], [o.direction for o in objs]
    data: list[RunData] = []
    for run in runs:
        label = _label(run, {d.label for d in data})
        read = run.read_history()
        every = unique_records(read.records)
        ok = [r for r in every if usable(r["result"])]  # fronts: feasible, successful
        lacking = sorted({n for r in ok for n in names if n not in r["result"]})
        if lacking:
            own = run.config()["search"]["objectives"]
            raise BadInputError(f"run {run.path} did not record {', '.join(lacking)} (its "
                                f"objectives: {', '.join(own)}); report runs searched for the "
                                "same objectives, or give `--objectives A,B` every run has")
        points = np.array([[r["result"][n] for n in names] for r in ok], dtype=float)
        data.append(RunData(label, run, run.config(),
                            [r for r in read.records if not is_warm(r)], ok,
                            points.reshape(-1, len(names)),
                            failures=summarize_failures(r["result"] for r in every),
                            infeasible=summarize_infeasible(r["result"] for r in every),
                            problems=list(read.problems),
                            warm=[r for r in read.records if is_warm(r)]))
    source = _fronts_and_curves(data, names, directions)
    for d in data:
        d.hv_source = source
        d.validation = validation_summary(d.config, d.run.path)
        d.table_note = table_change_note(d.config)
    return names, directions, data


def _label(run: RunDir, taken: set) -> str:
    """The run's name as shown in tables and figures: a control character in a folder's
    name is written out (a figure cannot draw one, a terminal would act on it)."""
    name = printable(run.name)
    label, n = name, 2
    while label in taken:
        label, n = f"{name}#{n}", n + 1
    return label


def _fronts_and_curves(data: list[RunData], names, directions) -> str:
    """Fronts, knees (`marked_indices`: the point `hwnas export` exports by default) and the
    hypervolume of each run's front after every evaluation, all on ONE normalisation, the one
    `hwnas pareto` uses (`shared_reference`: the bounds the first run stored for its space and
    objectives, else min-max over every successful point of the runs shown), reference 1.1.
    Returns where the normalisation comes from, for the figure's label."""
    from hwnas.analysis.pareto import (
        Normaliser,
        front_order,
        hypervolume,
        non_dominated_mask,
        to_min,
    )
    from hwnas.analysis.picking import marked_indices
    from hwnas.analysis.reference import shared_reference

    filled = [d.points for d in data if len(d.points)]
    if not filled:
        return ""
    norm, reference, _ = shared_reference([d.run for d in data], [d.config for d in data],
                                          names, directions)
    if norm is None:
        norm = Normaliser.from_points(to_min(np.vstack(filled), directions))
    for d in data:
        if not len(d.points):
            continue
        d.front = [int(i) for i in front_order(d.points, directions)]
        d.knee = marked_indices(d.points, directions)["knee"]
        evals, values, current, hv = [], [], np.empty((0, len(names))), 0.0
        known = [[r[k] for k in names] for r in (w["result"] for w in d.warm)
                 if usable(r) and all(k in r for k in names)]
        if known:  # a warm start's front, before the first evaluation
            current = np.array(known, dtype=float)
            current = current[non_dominated_mask(current, directions)]
            hv = hypervolume(current, directions, normaliser=norm).value
        for n, record in enumerate(d.history, start=1):
            r = record["result"]
            if usable(r) and all(k in r for k in names):
                candidate = np.vstack([current, [[r[k] for k in names]]])
                mask = non_dominated_mask(candidate, directions)
                if mask[-1]:  # it moves the front: only then the hypervolume changes
                    current = candidate[mask]
                    hv = hypervolume(current, directions, normaliser=norm).value
            evals.append(n)
            values.append(hv)
        d.hv_curve = (evals, values)
    return reference.get("source", "")


def validation_summary(config: dict, run_path: Path) -> dict | None:
    """The `<table>.validation.json` beside the run's latency table (`hwnas tables validate`),
    cut to what a reader needs, with its verdict; None without a table or a validation report.

    "status" says whether the report is of the table now at that path: "current" (it names
    the table's content hash), "stale" (it names another: "stale" holds the line to show, and
    nothing of it may be shown as the table's) or "unknown" (a report made before reports
    named their table, or a table that cannot be read now: "caveat" says which)."""
    table = (config.get("table") or {}).get("path") or config["search"].get("table")
    if not table:
        return None
    for candidate in (Path(table), run_path / table, run_path.parent / table):
        report = candidate.with_suffix(".validation.json")
        if report.is_file():
            try:
                full = json.loads(read_regular(report))
            except (OSError, ValueError, RecursionError):
                return {"report": str(report), "error": "the report cannot be read"}
            damage = _report_damage(full)
            if damage:
                return {"report": str(report), "error": f"the report is damaged: {damage}"}
            return {"report": str(report), "table": str(candidate),
                    **_identity(full.get("table_hash"), candidate), **_summary(full)}
    return {"table": str(table), "report": None}


# The numbers of a validation report a reader shows (`_summary`): each a number or null.
_REPORT_NUMBERS = ("mape", "within_5", "within_10", "kendall_tau")


def _report_damage(full) -> str | None:
    """Why a validation report's content cannot be shown, or None: a hand-edited or foreign
    file with a text where a number belongs would otherwise fail the report far from it."""
    def number(value) -> bool:
        return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)
                                 and math.isfinite(value))

    if not isinstance(full, dict) or not isinstance(full.get("metrics", {}), dict):
        return "it is not a validation report (no metrics object)"
    m = full.get("metrics", {})
    fields = [(f"metrics.{n}", m.get(n)) for n in _REPORT_NUMBERS] + [
        (f"metrics.{n}.{k}", (m.get(n) or {}).get(k) if isinstance(m.get(n) or {}, dict)
         else m.get(n)) for n, k in (("noise_floor", "median"), ("plain_sum", "mape"))] + [
        ("samples", full.get("samples"))]
    for name, value in fields:
        if not number(value):
            return f"{name} is {value!r:.40}, not a number"
    if not isinstance(m.get("warnings") or [], list):
        return "metrics.warnings is not a list"
    verdict = m.get("verdict")
    if verdict is not None and not (isinstance(verdict, dict)
                                    and isinstance(verdict.get("line", ""), str)):
        return "metrics.verdict is not a verdict"
    for name in ("table_hash", "backend"):
        if full.get(name) is not None and not isinstance(full[name], str):
            return f"{name} is {full[name]!r:.40}, not a text"
    return None


def _summary(full: dict) -> dict:
    from hwnas.tables.validate import report_verdict

    m = full.get("metrics", {})
    verdict = m.get("verdict")
    if not verdict and m.get("within_10") is not None:  # a report made before verdicts
        verdict = report_verdict(m)
    return {"backend": full.get("backend"), "samples": full.get("samples"),
            "calibrated": m.get("calibrated"), "mape": m.get("mape"),
            "within_5": m.get("within_5"), "within_10": m.get("within_10"),
            "kendall_tau": m.get("kendall_tau"),
            "noise_floor_median": (m.get("noise_floor") or {}).get("median"),
            "plain_sum_mape": (m.get("plain_sum") or {}).get("mape"),
            "warnings": m.get("warnings") or [], "verdict": verdict}


def _identity(validated: str | None, table: Path) -> dict:
    """Is the report of the table now at `table`? (see validation_summary)"""
    from hwnas.latency.table import LatencyTable, short_hash

    try:
        now = LatencyTable.load(table).content_hash()
    except BadInputError as exc:
        return {"status": "unknown", "table_hash": None, "validated_hash": validated,
                "caveat": f"the table cannot be read now ({exc}), so this report may be of "
                          "another table"}
    if not validated:
        return {"status": "unknown", "table_hash": now, "validated_hash": None,
                "caveat": "this report does not name the table it validated (made before "
                          "reports did), so it may be of an earlier table: re-run `hwnas "
                          f"tables validate {table}`"}
    if validated != now:
        return {"status": "stale", "table_hash": now, "validated_hash": validated,
                "stale": f"stale: made for table {short_hash(validated)}, the table is now "
                         f"{short_hash(now)}; re-run `hwnas tables validate {shell_word(table)}`"}
    return {"status": "current", "table_hash": now, "validated_hash": validated}
