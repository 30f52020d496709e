"""Which correction a calibration keeps: the new fit, the table's previous calibration, or the
plain sum, whichever predicts the networks just measured best.

A fit always looks best on the networks it was fitted on, so the new fit is scored
cross-validated: K folds, each predicted by a fit (affine, then a residual of the kind chosen
on all networks) on the others. The plain sum and a previous calibration were not fitted on
these measurements and are scored on all of them as they are. Each is compared at its own
speed: the networks are normalised to this run's reference speed, the plain sum predicts at
the speed the entries were profiled at and a previous calibration at the reference speed it
was anchored at, so a machine that moved since then does not count against them.

Without this, a calibration on 24 noisy networks that took a table from 29% to 17% of
networks within +-10% was stored without a word. The criterion is the mean absolute log error
(a relative error, continuous, so ten networks can tell two predictors apart where a share
within +-10% ties); ties keep the new fit, which is anchored at today's speed.
"""

from __future__ import annotations

import numpy as np

from hwnas.latency import calibration, residual

NEW, PREVIOUS, PLAIN = "new calibration", "previous calibration", "plain sum"
FOLDS = 5


def cross_validated(networks, measured, entries, *, space, types, residual_kind: str,
                    seed: int, stat: str = "p50") -> np.ndarray:
    """The new fit's prediction of each network from the folds that held it out."""
    from sklearn.model_selection import KFold

    y = np.asarray(measured, float)
    predicted = np.zeros(len(y))
    folds = KFold(n_splits=min(FOLDS, len(y)), shuffle=True, random_state=seed)
    for train, test in folds.split(y):
        coef = calibration.fit_unchecked([networks[i] for i in train], y[train], entries,
                                         stat, space=space, types=types)
        kind = residual_kind if len(train) >= residual.MIN_NETWORKS else "none"
        if kind != "none":
            affine = [calibration.apply(coef, networks[i], entries, stat) for i in train]
            X = np.array([residual.features(networks[i], entries, types, stat, a)
                          for i, a in zip(train, affine, strict=True)])
            logs = np.log(y[train] / np.maximum(np.asarray(affine), 1e-9))
            coef["residual"] = residual.fit_kind(X, logs, types, stat, kind, seed)
        for i in test:
            predicted[i] = calibration.predict(coef, networks[i], entries, stat)
    return predicted


def choose(measured, candidates: dict[str, tuple[list[float], float]],
           fitted_before: int = 0) -> dict:
    """`candidates`: name -> (predictions, speed factor: the measured networks times it are
    in the candidate's speed). Returns {"kept", "why", "scores": {name: metrics}}; the new
    calibration is among them, cross-validated."""
    from hwnas.tables.validate import accuracy_metrics

    scores = {}
    for name, (predicted, factor) in candidates.items():
        target = np.asarray(measured, float) * factor
        logs = np.log(np.maximum(np.asarray(predicted, float), 1e-12) / target)
        metrics = {k: v for k, v in accuracy_metrics(predicted, target).items() if k != "worst"}
        scores[name] = {**metrics, "mean_abs_log_error": float(np.mean(np.abs(logs))),
                        "speed_factor": float(factor)}
    best = min(scores, key=lambda n: (scores[n]["mean_abs_log_error"], n != NEW))
    return {"kept": best, "why": _why(best, scores, len(measured), fitted_before),
            "scores": scores}


def _score(s: dict) -> str:
    return (f"{100 * s['within_10']:.0f}% within ±10%, mean error "
            f"{100 * s['mean_abs_log_error']:.1f}%")


def _why(best: str, scores: dict, n: int, fitted_before: int) -> str:
    others = "; ".join(f"{name} {_score(s)}" for name, s in scores.items() if name != best)
    cv = " (cross-validated)" if best == NEW else ""
    line = f"kept the {best}: {_score(scores[best])}{cv} on the {n} networks measured"
    if others:
        line += f", against {others}"
    if best == PREVIOUS and fitted_before:
        line += (f" (it was fitted on {fitted_before} of these networks, measured then: "
                 "calibrate with another --seed for a comparison on networks new to it)")
    if best != NEW:
        line += "; the new fit is not stored"
    return line


def repeat_share(passes: list[list[float]]) -> float | None:
    """The share of networks whose second pass is within +-10% of their first: how well the
    machine repeats itself during a calibration (None with one pass)."""
    if len(passes) < 2:
        return None
    first, second = np.asarray(passes[0], float), np.asarray(passes[1], float)
    return float(np.mean(np.abs(second - first) <= 0.1 * first))
