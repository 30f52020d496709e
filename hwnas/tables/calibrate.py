"""Calibrating a table: measure whole networks, fit the correction, keep what predicts best.

The networks are measured as validation measures them (hwnas.tables.validate: passes, the
reference workload timed next to each); the fit is hwnas.latency.calibration (affine, bounded
by the floor) and hwnas.latency.residual; which of the new fit, the table's previous
calibration and the plain sum the table keeps is hwnas.tables.calibration_choice; the one
line on whether to trust the result is hwnas.tables.verdict.
"""

from __future__ import annotations

import numpy as np

from hwnas.latency import drift
from hwnas.latency.table import LatencyTable
from hwnas.limits import DEFAULT_ROUNDS
from hwnas.tables.backend_model import quantization_note
from hwnas.tables.validate import (
    _clock,
    _normalised,
    accuracy_metrics,
    check_rounds,
    measure_rounds,
    per_network,
    sample_archs,
    table_backend,
    table_space,
)


def calibrate_table(table: LatencyTable, *, samples: int = 60, seed: int = 1,
                    progress=None, allow_mismatch: bool = False, reference: bool = True,
                    residual_model: str | None = None, rounds: int = DEFAULT_ROUNDS,
                    backend=None, stat: str | None = None) -> dict:
    """Measure `samples` networks, fit a calibration and store in the table whichever of it,
    the table's previous calibration and the plain sum predicts them best. Two thirds of the
    networks are drawn at random, one third spanning the space's latency range
    (hwnas.tables.spanning), so the fit holds at the cheap and dear ends a search is pushed
    to, not only in the middle.

    With `reference`, the networks are timed interleaved with the reference workload and
    normalised to its median speed during this run; when the new fit is kept, that speed
    becomes the table's reference speed: the calibration re-anchors the table's predictions
    at today's speed (the affine scales absorb any change since profiling). After the affine
    fit, a residual model of whole networks is chosen by cross-validation
    (hwnas.latency.residual; `residual_model` forces one of its candidates, "none"
    included). Each network is timed in `rounds` passes and its median kept, as in
    validation. `backend`: an already made backend (tests pass a fake one).

    `stat`: the statistic to calibrate for (default: the table's). Networks and reference
    are measured in it, the fit maps entries of it, and the table then predicts in it: a
    calibration per statistic. Switching a table to another statistic keeps the new fit
    (the previous calibration and the reference speed the entries were profiled at are of
    the other statistic, so neither can be compared).

    Returns {"calibration": what the table now holds, "fit": the new fit (kept or not),
    "kept": which was kept, why, the scores, and the verdict}."""
    from hwnas.latency import calibration
    from hwnas.tables.reference import reference_record
    from hwnas.tables.spanning import spanning_archs

    check_rounds(rounds)
    space = table_space(table)
    switch = stat is not None and stat != table.stat
    stat = table.check_stat(stat, calibrated=False)  # entries must hold it
    if switch:  # measured, predicted and stored in the new statistic from here on
        table.stat, table.calibration = stat, None
        if not reference:  # its time is of the old statistic and cannot be re-measured now
            table.reference = None
    backend, warnings = (backend, []) if backend is not None else table_backend(table,
                                                                                allow_mismatch)
    archs = sample_archs(space, samples - samples // 3, seed)
    archs += spanning_archs(space, lambda a: table.predict_ops(space.ops(a), calibrated=False),
                            samples // 3, seed, exclude={a.key for a in archs})
    if len(archs) < samples:  # walks that ended on networks already drawn: top up at random
        archs += sample_archs(space, samples - len(archs), seed + 1,
                              exclude={a.key for a in archs})
    clock = _clock(backend, space, table) if reference else None
    passes = measure_rounds(backend, space, archs, rounds, progress, clock=clock,
                            predict=lambda a: table.predict_ops(space.ops(a),
                                                                calibrated=False),
                            stat=stat)
    raw = per_network(passes)
    measured, drift_seen, normalised = list(raw), {}, passes
    notes = [n for n in (quantization_note(table),) if n]
    old_reference = table.reference
    new_reference = table.reference
    if clock is not None:
        run_ms = clock.median_ms()
        normalised = _normalised(passes, clock.local(), run_ms)
        measured = per_network(normalised)
        drift_seen = clock.drift()
        if table.reference and not switch:  # the stored time is of another statistic
            # a fact of the drift line, not a note: every network is normalised by it
            drift_seen = {**drift_seen, "vs_table": drift.speed_change(
                float(table.reference["ms"]), run_ms)}
        old = {} if switch else (table.reference or {})
        new_reference = reference_record(clock.sig, run_ms, "calibrate", drift_seen,
                                         profiled_ms=old.get("profiled_ms", run_ms), stat=stat)
    else:
        notes.append("no reference workload (--no-reference): the machine's drift during "
                     "the fit is neither measured nor removed")
    networks = [space.ops(a) for a in archs]
    # every op type of the space, not only those these networks ran: a type none of them ran
    # (nb201's `zero` is in about one network of six) is pinned at scale 1, its table entry,
    # where it would otherwise have no scale and every network running it no prediction
    types = sorted({s.op for sigs in networks for s in sigs} | {s.op for s in space.all_ops()})
    coefficients = calibration.fit(networks, measured, table.entries, stat, space=space,
                                   types=types)
    affine = [calibration.apply(coefficients, sigs, table.entries, stat) for sigs in networks]
    selection = _fit_residual(coefficients, networks, affine, measured, table.entries, seed,
                              residual_model, stat)
    fitted = [calibration.predict(coefficients, sigs, table.entries, stat)
              for sigs in networks]
    plain = [table.predict_ops(sigs, calibrated=False) for sigs in networks]
    coefficients["fitted_on"] = {
        "networks": len(archs), "seed": seed, "arch_keys": [a.key for a in archs],
        "rounds": rounds, "stat": stat,
        "warnings": warnings, "notes": notes, "reference": clock is not None,
        "drift": drift_seen, "measured_ms": measured, "measured_raw_ms": raw,
        "residual_selection": selection,
        "fit_metrics": _brief(accuracy_metrics(fitted, measured)),
        "affine_fit_metrics": _brief(accuracy_metrics(affine, measured)),
        "plain_sum_metrics": _brief(accuracy_metrics(plain, measured))}
    kept = _keep_best(table, archs, networks, measured, plain, types, space,
                      selection["chosen"], seed, new_reference, old_reference, switch)
    from hwnas.tables.calibration_choice import NEW, PLAIN, repeat_share
    from hwnas.tables.verdict import verdict

    score = kept["scores"][kept["kept"]]
    kept["repeats"] = repeat_share(normalised)
    kept["verdict"] = verdict(score["within_10"], score["kendall_tau"], kept["repeats"],
                              table=str(table.path or "TABLE"), threads=table.threads,
                              samples=len(archs), stat=stat,
                              basis="cross-validated" if kept["kept"] == NEW
                              else "on the calibration networks")
    if kept["kept"] == NEW:
        table.calibration, table.reference = coefficients, new_reference
    elif kept["kept"] == PLAIN:
        every_type = {key.split("|", 1)[0] for key in table.entries}
        table.calibration = {**calibration.identity(every_type, coefficients["floor_share"],
                                                    stat),
                             "fitted_on": coefficients["fitted_on"]}
        table.reference = _at_profile_speed(new_reference, drift_seen)
    else:
        table.calibration = dict(table.calibration)  # the previous one, anchored as it was
        kept["rejected_fit"] = {k: v for k, v in coefficients.items()
                                if k not in ("residual", "fitted_on")}
    table.calibration["kept"] = kept
    return {"calibration": table.calibration, "fit": coefficients, "kept": kept}


def _keep_best(table, archs, networks, measured, plain, types, space, residual_kind, seed,
               new_reference, old_reference, switch: bool = False) -> dict:
    """Score the new fit (cross-validated), the plain sum and the previous calibration (if
    any) on the networks just measured, each at its own speed (calibration_choice). After a
    switch of statistic only the new fit is scored: the others' speeds are of the old one."""
    from hwnas.latency import calibration
    from hwnas.tables.calibration_choice import NEW, PLAIN, PREVIOUS, choose, cross_validated

    run_ms = (new_reference or {}).get("ms")

    def factor(speed_ms) -> float:  # measured (at this run's speed) x factor: at speed_ms
        return float(speed_ms) / float(run_ms) if run_ms and speed_ms else 1.0

    candidates = {NEW: (cross_validated(networks, measured, table.entries, space=space,
                                        types=types, residual_kind=residual_kind, seed=seed,
                                        stat=table.stat), 1.0)}
    if not switch:
        candidates[PLAIN] = (plain, factor((new_reference or {}).get("profiled_ms")))
    fitted_before = 0
    if table.calibration:
        previous = [calibration.predict(table.calibration, sigs, table.entries, table.stat)
                    for sigs in networks]
        candidates[PREVIOUS] = (previous, factor((old_reference or {}).get("ms")))
        before = set(table.calibration.get("fitted_on", {}).get("arch_keys", []))
        fitted_before = sum(1 for a in archs if a.key in before)
    return choose(measured, candidates, fitted_before)


def _at_profile_speed(reference: dict | None, drift_seen: dict) -> dict | None:
    """The reference record of a table that predicts the plain sum: its speed is the one the
    entries were profiled at."""
    if not reference:
        return reference
    return {**reference, "ms": float(reference["profiled_ms"]), "drift": drift_seen}


def _brief(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "worst"}


def _fit_residual(coefficients, networks, affine, measured, entries, seed, force,
                  stat: str) -> dict:
    """Fit the whole-network residual on log(measured / affine); store the chosen model."""
    from hwnas.latency import residual

    types = sorted({s.op for sigs in networks for s in sigs})
    X = np.array([residual.features(sigs, entries, types, stat, a)
                  for sigs, a in zip(networks, affine, strict=True)])
    y = np.log(np.asarray(measured, float) / np.maximum(np.asarray(affine, float), 1e-9))
    result = residual.fit(X, y, types, stat, seed=seed, force=force)
    if result["model"] is not None:
        coefficients["residual"] = result["model"]
    return {k: v for k, v in result.items() if k != "model"}
