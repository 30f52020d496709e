"""Output warping for a GP's targets: the Gaussian copula (rank) transform.

A stationary GP fitted to raw accuracies is dominated by its outliers: on NAS-Bench-201 a
cell whose input never reaches its output scores 10 % while its neighbours one edge away
score 85-94 %, so the standardised targets' variance is mostly that gap, the fitted noise
goes to its lower bound and the model smooths the jump into the good cells next to it (the
cheap end of the front, identity-like cells at 86-87 %, was predicted at 18-67 %). Mapping
each value to the standard-normal quantile of its rank, z = Phi^-1((rank - 1/2) / n), tied
values sharing their mean rank, keeps the order, which is all Pareto dominance reads, and
spreads the values the search cares about as evenly as the rest (HEBO and the "copula
process" BO of Salinas et al. warp outputs the same way). The acquisition then works in the
warped units; `inverse` maps predictions back to the objective's units, linearly beyond
the observed values so that a prediction above the best one stays above it.
"""

from __future__ import annotations

import numpy as np


class CopulaWarp:
    """z = Phi^-1((mean rank - 1/2) / n) of the values it was fitted on; `inverse` is the
    piecewise-linear map back through those (value, z) knots, extended linearly past both
    ends with the slope between the two outermost distinct knots."""

    def __init__(self, y: np.ndarray):
        from scipy.special import ndtri  # here: listing strategies imports this module, and
        from scipy.stats import rankdata  # must stay light (tests/unit/test_imports.py)

        y = np.asarray(y, dtype=float)
        self.z = ndtri((rankdata(y, method="average") - 0.5) / len(y)) if len(y) else y
        knots_y, first = np.unique(y, return_index=True)  # one knot per distinct value
        self._y, self._z = knots_y, self.z[first]

    def inverse(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        ky, kz = self._y, self._z
        if len(ky) < 2:
            return np.full_like(z, ky[0] if len(ky) else 0.0)
        out = np.interp(z, kz, ky)
        low, high = z < kz[0], z > kz[-1]
        out[low] = ky[0] + (z[low] - kz[0]) * (ky[1] - ky[0]) / (kz[1] - kz[0])
        out[high] = ky[-1] + (z[high] - kz[-1]) * (ky[-1] - ky[-2]) / (kz[-1] - kz[-2])
        return out
