"""Calibration: a learned, additive correction of a table's plain sum, fitted on whole networks.

    predicted = intercept + sum over ops o of (scale[type(o)] * table[o] + per_op)

Fitted by least squares on measured networks, bounded so that no prediction is impossible:
the intercept (the call overhead a network pays once) and the scales are >= 0, and no network
of the space is predicted below its floor, a fitted share of the plain sum of its ops
(hwnas.latency.floor). The per-op offset is otherwise free: timing one op alone pays a call
overhead a whole network pays once, so a negative offset is physical as long as no network
ends up below what its ops allow. Before these bounds, a fit on 24 networks found -0.36 ms
per op and predicted the space's cheapest network at -0.003 ms.

It stays a sum of per-op terms plus a constant, so the expected latency of a gradient method,
E[lat] = intercept + sum_layers sum_j p_j (scale_j F(o_j) + per_op), is still differentiable,
and since it is the expectation of the affine prediction over networks each above its floor,
it is above the expected floor too. Stored in the table as plain coefficients; no pickles. A
learned correction of what stays (whole-network effects), fitted after these coefficients, is
`hwnas.latency.residual`, stored under "residual" here; `predict` applies it to whole networks
and clips the result at the same floor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.errors import BadInputError
from hwnas.latency import floor as floors
from hwnas.ops import OpSignature

KIND = "affine-per-op-type"
MAX_CUTS = 30  # networks added as constraints before the fit is lifted instead (never seen)


def design_row(sigs: Sequence[OpSignature], entries: dict, types: list[str], stat: str):
    """[1, n_ops, sum of table latency per op type...] for one network."""
    row = np.zeros(2 + len(types))
    row[0], row[1] = 1.0, len(sigs)
    for sig in sigs:
        row[2 + types.index(sig.op)] += float(entries[sig.key][stat])
    return row


def fit(networks: Sequence[Sequence[OpSignature]], measured_ms: Sequence[float], entries: dict,
        stat: str = "p50", *, space=None, types: Sequence[str] | None = None,
        share: float | None = None) -> dict:
    """Coefficients minimising squared *relative* error over the measured networks, with no
    network of `space` (or, without one, of `networks`) predicted below its floor.

    `types`: the op types to fit scales for (default: those the networks run; a
    cross-validation fold passes every type of the whole set); `share`: the floor's share of
    the plain sum (default: fitted on these networks, hwnas.latency.floor)."""
    if len(networks) != len(measured_ms) or len(networks) < 4:
        raise BadInputError(f"calibration needs at least 4 measured networks; got "
                            f"{len(networks)}")
    return fit_unchecked(networks, measured_ms, entries, stat, space=space, types=types,
                         share=share)


def fit_unchecked(networks, measured_ms, entries, stat="p50", *, space=None, types=None,
                  share=None) -> dict:
    """`fit` without its minimum of networks: a cross-validation fold of a small calibration
    fits on three."""
    types = sorted(types or {sig.op for sigs in networks for sig in sigs})
    X = np.array([design_row(sigs, entries, types, stat) for sigs in networks])
    y = np.asarray(measured_ms, float)
    if share is None:
        share = floors.fitted_share(y, X[:, 2:].sum(axis=1))
    # An op type every network runs identically (a fixed stem or head) is collinear with the
    # intercept; its scale is pinned to 1 and its latency moved to the target side, so the
    # coefficients stay meaningful instead of an arbitrary split.
    constant = [j for j in range(len(types)) if np.ptp(X[:, 2 + j]) <= 1e-12 * (1 + X[0, 2 + j])]
    free = [j for j in range(len(types)) if j not in constant]
    problem = _Problem(X, y, constant, free, share)
    candidates = (floors.SpaceNetworks(space, entries, types, stat) if space is not None
                  else _Given(X, len(types)))
    z, cuts = problem.solve_above_floor(candidates)
    scales = dict.fromkeys((types[j] for j in constant), 1.0)
    scales.update({types[j]: float(s) for j, s in zip(free, z[2:], strict=True)})
    return {"kind": KIND, "stat": stat, "intercept_ms": float(z[0]), "per_op_ms": float(z[1]),
            "scales": dict(sorted(scales.items())), "floor_share": float(share),
            "floor_constraints": cuts, "fitted_on": {"networks": len(y)}}


class _Given:
    """The calibration networks themselves as the networks a fit must keep above the floor
    (a fit given no space)."""

    def __init__(self, X, n_types):
        self.X, self.n = X, n_types

    def closest(self, coef, share):
        margins = self.X @ (np.asarray(coef) - share * np.r_[0.0, 0.0, np.ones(self.n)])
        i = int(np.argmin(margins))
        return self.X[i], float(margins[i])


class _Problem:
    """min sum ((prediction - measured) / measured)^2 over z = [intercept, per_op, free
    scales], bounds intercept >= 0 and scales >= 0, and prediction >= floor for every network
    added as a cut."""

    def __init__(self, X, y, constant, free, share):
        self.constant, self.free, self.share = constant, free, share
        target = y - X[:, [2 + j for j in constant]].sum(axis=1)
        # Dividing each row by its measurement weights the fit by relative error, the
        # quantity the +-10% goal is stated in, so small networks count as much as large ones.
        self.A = X[:, [0, 1] + [2 + j for j in free]] / y[:, None]
        self.b = target / y
        self.lower = np.r_[0.0, -np.inf, np.zeros(len(free))]
        self.n_types = X.shape[1] - 2

    def full(self, z) -> np.ndarray:
        """The coefficient of every design column: pinned scales are 1."""
        coef = np.ones(2 + self.n_types)
        coef[0], coef[1] = z[0], z[1]
        for k, j in enumerate(self.free):
            coef[2 + j] = z[2 + k]
        return coef

    def cut(self, row) -> tuple[np.ndarray, float]:
        """A network's row as a constraint g . z >= h (prediction >= share x plain sum)."""
        g = row[[0, 1] + [2 + j for j in self.free]]
        h = self.share * row[2:].sum() - row[[2 + j for j in self.constant]].sum()
        return g, float(h)

    def solve_above_floor(self, candidates) -> tuple[np.ndarray, int]:
        """Cutting planes: fit, find the network furthest below its floor, add it as a
        constraint, fit again; usually none or one or two networks. Ends by lifting the
        intercept by whatever is left (a solver's tolerance), so every network is above its
        floor by construction. Returns (z, the number of networks constrained)."""
        from scipy.optimize import lsq_linear

        z = lsq_linear(self.A, self.b, bounds=(self.lower, np.full(len(self.lower), np.inf))).x
        cuts: list[tuple[np.ndarray, float]] = []
        for _ in range(MAX_CUTS):
            found = candidates.closest(self.full(z), self.share)
            # on a cut's boundary the solver leaves rounding (1e-17): the lift below takes it
            if found is None or found[1] >= -1e-9 * self.share * found[0][2:].sum():
                break
            cuts.append(self.cut(found[0]))
            z = self._constrained(cuts)
        found = candidates.closest(self.full(z), self.share)
        if found is not None:
            row, margin = found
            # a hair above the floor, so the floor's clip in `predict` never binds on an
            # affine prediction and an expected cost equals the prediction it is summed from
            slack = 1e-9 * self.share * row[2:].sum()
            if margin < slack:
                z = z.copy()
                z[0] += slack - margin
        return z, len(cuts)

    def _constrained(self, cuts) -> np.ndarray:
        from scipy.optimize import minimize

        G = np.array([g for g, _ in cuts])
        h = np.array([h for _, h in cuts])
        # SLSQP on columns scaled to unit norm (their units differ: 1, op counts, ms), from
        # the plain sum, which is feasible: (1 - share) x plain >= 0.
        scale = np.linalg.norm(self.A, axis=0)
        scale[scale == 0] = 1.0
        A, Gs = self.A / scale, G / scale
        start = np.r_[0.0, 0.0, np.ones(len(self.free))] * scale
        bounds = [(lo * s if np.isfinite(lo) else None, None)
                  for lo, s in zip(self.lower, scale, strict=True)]
        result = minimize(lambda u: 0.5 * float(np.sum((A @ u - self.b) ** 2)), start,
                          jac=lambda u: A.T @ (A @ u - self.b), bounds=bounds, method="SLSQP",
                          constraints=[{"type": "ineq", "fun": lambda u: Gs @ u - h,
                                        "jac": lambda u: Gs}],
                          options={"ftol": 1e-15, "maxiter": 1000})
        return np.maximum(result.x / scale, self.lower)


def apply(calibration: dict, sigs: Sequence[OpSignature], entries: dict, stat: str) -> float:
    """The affine prediction (no residual, no floor)."""
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


def predict(calibration: dict, sigs: Sequence[OpSignature], entries: dict, stat: str,
            residual: bool = True, floor: bool = True) -> float:
    """A whole network's prediction: affine, times the learned residual when `residual` and
    the calibration has one for `stat`, never below the network's floor when `floor` (a
    caller that adds up parts of networks, as the one-shot expected cost does, passes False:
    a part has no floor of its own)."""
    from hwnas.latency import residual as residual_model

    value = apply(calibration, sigs, entries, stat)
    model = calibration.get("residual")
    if residual and model and model.get("stat") == stat:
        value = residual_model.correct(model, sigs, entries, value)
    if floor:
        value = max(value, floors.share_of(calibration) * floors.plain_sum(sigs, entries, stat))
    return float(value)


def identity(types: Sequence[str], share: float, stat: str) -> dict:
    """Coefficients that predict the plain sum of ops of `types` in `stat` (what a
    calibration keeps when the plain sum validates better than any fit)."""
    return {"kind": KIND, "stat": stat, "intercept_ms": 0.0, "per_op_ms": 0.0,
            "scales": dict.fromkeys(sorted(types), 1.0), "floor_share": float(share)}


def check(calibration: dict, where: str) -> None:
    """Loading a table: the coefficients must be finite numbers of the known kind."""
    if not isinstance(calibration, dict) or calibration.get("kind") != KIND:
        raise BadInputError(f"{where}: calibration must be an object of kind {KIND!r}")
    values = [calibration.get("intercept_ms"), calibration.get("per_op_ms"),
              *dict(calibration.get("scales", {})).values()]
    if not all(isinstance(v, (int, float)) and np.isfinite(v) for v in values):
        raise BadInputError(f"{where}: calibration coefficients must be finite numbers")
    share = calibration.get("floor_share", floors.LEGACY_SHARE)
    if isinstance(share, bool) or not isinstance(share, (int, float)) \
            or not 0 <= share <= floors.MAX_SHARE:
        raise BadInputError(f"{where}: calibration floor_share must be a number in [0, "
                            f"{floors.MAX_SHARE}]; got {share!r}; re-run `hwnas tables "
                            "calibrate`")

