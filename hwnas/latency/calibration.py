"""Calibration: a learned, additive correction of a table's plain sum, fitted on whole networks.

    predicted = intercept + sum over ops o of (scale[type(o)] * table[o] + per_op)

Fitted by bounded least squares on measured networks (scales >= 0; intercept and per-op offset
free, since timing one op alone pays a call overhead a whole network pays once). It stays a sum
of per-op terms plus a constant, so the expected latency of a gradient method,
E[lat] = intercept + sum_layers sum_j p_j (scale_j F(o_j) + per_op), is still differentiable.
Stored in the table as plain coefficients; no pickles. A learned correction of what stays
(whole-network effects), fitted after these coefficients, is `hwnas.latency.residual`, stored
under "residual" here and applied by `LatencyTable.predict_ops` to whole networks only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.errors import BadInputError
from hwnas.ops import OpSignature

KIND = "affine-per-op-type"


def design_row(sigs: Sequence[OpSignature], entries: dict, types: list[str], stat: str):
    """[1, n_ops, sum of table latency per op type...] for one network."""
    row = np.zeros(2 + len(types))
    row[0], row[1] = 1.0, len(sigs)
    for sig in sigs:
        row[2 + types.index(sig.op)] += float(entries[sig.key][stat])
    return row


def fit(networks: Sequence[Sequence[OpSignature]], measured_ms: Sequence[float], entries: dict,
        stat: str = "p50") -> dict:
    """Coefficients minimising squared *relative* error over the measured networks."""
    from scipy.optimize import lsq_linear

    if len(networks) != len(measured_ms) or len(networks) < 4:
        raise BadInputError(f"calibration needs at least 4 measured networks; got "
                            f"{len(networks)}")
    types = sorted({sig.op for sigs in networks for sig in sigs})
    X = np.array([design_row(sigs, entries, types, stat) for sigs in networks])
    y = np.asarray(measured_ms, float)
    # An op type every network runs identically (a fixed stem or head) is collinear with the
    # intercept; its scale is pinned to 1 and its latency moved to the target side, so the
    # coefficients stay meaningful instead of an arbitrary split.
    constant = [j for j in range(len(types)) if np.ptp(X[:, 2 + j]) <= 1e-12 * (1 + X[0, 2 + j])]
    free = [j for j in range(len(types)) if j not in constant]
    target = y - X[:, [2 + j for j in constant]].sum(axis=1)
    A = X[:, [0, 1] + [2 + j for j in free]]
    # Dividing each row by its measurement weights the fit by relative error, the quantity
    # the +-10% goal is stated in, so small networks count as much as large ones.
    lower = np.r_[-np.inf, -np.inf, np.zeros(len(free))]
    sol = lsq_linear(A / y[:, None], target / y, bounds=(lower, np.full(len(lower), np.inf)))
    scales = dict.fromkeys((types[j] for j in constant), 1.0)
    scales.update({types[j]: float(s) for j, s in zip(free, sol.x[2:], strict=True)})
    coef = sol.x
    return {"kind": KIND, "stat": stat, "intercept_ms": float(coef[0]),
            "per_op_ms": float(coef[1]),
            "scales": dict(sorted(scales.items())),
            "fitted_on": {"networks": len(y)}}


def apply(calibration: dict, sigs: Sequence[OpSignature], entries: dict, stat: str) -> float:
    if calibration.get("kind") != KIND:
        raise BadInputError(f"unknown calibration kind {calibration.get('kind')!r}; this hwnas "
                            f"reads {KIND!r}")
    scales = calibration["scales"]
    total = calibration["intercept_ms"]
    for sig in sigs:
        scale = scales.get(sig.op)
        if scale is None:
            raise BadInputError(f"the table's calibration has no scale for op type {sig.op!r}; "
                                "re-run `hwnas tables calibrate`")
        total += scale * float(entries[sig.key][stat]) + calibration["per_op_ms"]
    return float(total)


def check(calibration: dict, where: str) -> None:
    """Loading a table: the coefficients must be finite numbers of the known kind."""
    if not isinstance(calibration, dict) or calibration.get("kind") != KIND:
        raise BadInputError(f"{where}: calibration must be an object of kind {KIND!r}")
    values = [calibration.get("intercept_ms"), calibration.get("per_op_ms"),
              *dict(calibration.get("scales", {})).values()]
    if not all(isinstance(v, (int, float)) and np.isfinite(v) for v in values):
        raise BadInputError(f"{where}: calibration coefficients must be finite numbers")
