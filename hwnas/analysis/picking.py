"""Choose one candidate of a run: by key, by constraints, or the knee of the front.

Failed candidates (hwnas.core.failure) are never chosen by constraints or as the knee:
they have no objectives; nor are infeasible ones (a hard limit of the run broken,
hwnas.core.feasibility). A key names any candidate, failed, infeasible or not; the caller
decides what such a one means (export refuses it, saying why)."""

from __future__ import annotations

import numpy as np

from hwnas.core.failure import is_failed, summarize_failures
from hwnas.core.feasibility import none_usable, summarize_infeasible, usable
from hwnas.errors import BadInputError
from hwnas.objectives import parse_constraint, parse_objectives
from hwnas.quoting import shell_word


def pick_record(run, records: list[dict], objective_names: list[str], *,
                pick: list[str] | None = None, arch_key: str | None = None) -> dict:
    """One of `records` (`run`'s history, hwnas.runs.RunDir: only its `path` is read, for
    the messages): the candidate with key `arch_key`, else the best under `pick`, else the
    knee of the front."""
    if not records:
        raise BadInputError(f"run {run.path} has no evaluated candidates to export")
    failed = [r["result"] for r in records if is_failed(r["result"])]
    infeasible = summarize_infeasible(r["result"] for r in records)
    if not arch_key:
        records = [r for r in records if usable(r["result"])]
        if not records:
            feasible, why = none_usable(infeasible, summarize_failures(failed))
            raise BadInputError(f"run {run.path} has no {feasible}candidate that succeeded, "
                                f"nothing to export ({why}; see "
                                f"`hwnas runs {shell_word(run.path.parent)}`)")
    if arch_key:
        matches = [r for r in records if r["arch_key"].startswith(arch_key)]
        if len(matches) != 1:
            keys = ", ".join(r["arch_key"] for r in records[:5])
            what = "no" if not matches else "several"
            raise BadInputError(f"{what} candidate of {run.path} has key {arch_key!r}; some "
                                f"keys: {keys} (see `hwnas pareto {shell_word(run.path)}`)")
        return matches[0]
    objectives = parse_objectives(objective_names)
    if pick:
        return _best_under(run, records, objectives, [parse_constraint(p) for p in pick])
    from hwnas.analysis.pareto import knee_index, non_dominated_mask

    F = np.array([[r["result"][o.name] for o in objectives] for r in records], dtype=float)
    directions = [o.direction for o in objectives]
    front = np.flatnonzero(non_dominated_mask(F, directions))
    return records[front[knee_index(F[front], directions)]]


def marked_indices(F, directions, *, pick: list[str] | None = None,
                   names: list[str] | None = None) -> dict:
    """What a front's reader wants marked, as indices into the rows of ``F``: ``knee``, the
    knee of F's front (what `hwnas export` exports by default), and ``pick``, the row `hwnas
    export --pick` would choose under the constraints ``pick`` (None when none is given or no
    row meets them). ``names`` names F's columns (objective names, needed by ``pick``).

    The one place both are computed: `hwnas pareto` prints them, the plots mark them.
    """
    from hwnas.analysis.pareto import knee_index, non_dominated_mask

    F = np.asarray(F, dtype=float)
    front = np.flatnonzero(non_dominated_mask(F, directions))
    out = {"knee": int(front[knee_index(F[front], directions)]) if len(front) else None,
           "pick": None}
    if pick:
        if names is None:
            raise BadInputError("marked_indices needs the objective names to read --pick")
        objectives = parse_objectives(list(names))
        results = [dict(zip(names, row, strict=True)) for row in F.tolist()]
        out["pick"] = best_under_index(results, objectives,
                                       [parse_constraint(p) for p in pick])
    return out


def best_under_index(results: list[dict], objectives, constraints) -> int | None:
    """Index of the result meeting every constraint with the best first objective, ties broken
    by the following ones; None when none meets them all."""
    ok = [i for i, r in enumerate(results) if all(c.holds(r) for c in constraints)]
    if not ok:
        return None
    key = {i: tuple(-o.sign * results[i][o.name] for o in objectives) for i in ok}
    return min(ok, key=key.__getitem__)


def _best_under(run, records, objectives, constraints) -> dict:
    """Among candidates meeting every constraint: best first objective, then the others."""
    index = best_under_index([r["result"] for r in records], objectives, constraints)
    if index is None:
        c = constraints[0]
        values = [r["result"].get(c.name) for r in records if r["result"].get(c.name) is not None]
        best = min(values) if c.op.startswith("<") else max(values)
        wanted = " and ".join(map(str, constraints))
        raise BadInputError(f"no candidate of {run.path} meets {wanted}; the closest has "
                            f"{c.name}={best:.4g} (see `hwnas pareto {shell_word(run.path)}`)")
    return records[index]
