"""Exact expected hypervolume improvement (EHVI) for independent Gaussian objectives.

All objectives minimised. The region below the reference point that the front does not
dominate is cut into disjoint boxes (`nondominated_boxes`); the improvement of a point y is the
sum over boxes of prod_j (u_j - max(l_j, y_j))^+, and for independent objectives the
expectation of each factor is psi(u) - psi(l), psi(a) = E[(a - Y)^+] = sigma phi((a - mu) /
sigma) + (a - mu) Phi((a - mu) / sigma). A zero sigma is an exactly known objective. With two
objectives the boxes are the n + 1 stripes under the front's staircase (Emmerich et al. 2006,
Yang et al. 2019): O(n) per candidate; with M objectives, (n + 1)^(M - 1) boxes before merging.
Used by the `mobo` strategy (hwnas.strategies.mobo).
"""

from __future__ import annotations

import math

import numpy as np

PRUNE_SIGMAS = 8.0  # candidates dominated even this many sds better than predicted: skipped


def _phi(z):
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def psi(a, mu, sigma) -> np.ndarray:
    """E[(a - Y)^+] for Y ~ N(mu, sigma^2), broadcast; sigma 0 gives (a - mu)^+ and a = -inf
    gives 0."""
    from scipy.special import ndtr

    a, mu, sigma = np.broadcast_arrays(np.asarray(a, float), np.asarray(mu, float),
                                       np.asarray(sigma, float))
    with np.errstate(invalid="ignore"):
        diff = a - mu  # -inf where a is
    out = np.maximum(diff, 0.0)  # exact (sigma 0), and 0 where a = -inf
    random = (sigma > 0) & ~np.isneginf(a)
    if random.any():  # only where there is a distribution to integrate
        d, sd = diff[random], sigma[random]
        z = d / sd
        out[random] = sd * _phi(z) + d * ndtr(z)
    return out


def nondominated_boxes(front, ref) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper), each (B, M): disjoint boxes whose union is the part of the box below
    `ref` that no point of `front` weakly dominates (all minimised). Lower bounds may be -inf.

    A grid over the front's coordinates in the first M - 1 objectives; each cell is a column
    that runs in the last objective from -inf up to the lowest last coordinate among the
    front points that dominate the cell in the other objectives (or to `ref`). Neighbouring
    cells along the last grid axis with the same top are merged into one box (with 3
    objectives and 40 front points: about 380 boxes instead of 1,681)."""
    ref = np.asarray(ref, dtype=float)
    m = len(ref)
    front = np.asarray(front, dtype=float).reshape(-1, m)
    front = front[(front < ref).all(axis=1)]
    grids = [np.concatenate(([-np.inf], np.unique(front[:, j]), [ref[j]])) for j in range(m - 1)]
    cells = np.stack(np.meshgrid(*[np.arange(len(g) - 1) for g in grids], indexing="ij"),
                     axis=-1).reshape(-1, m - 1)  # the last grid axis varies fastest
    lower = np.column_stack([g[cells[:, j]] for j, g in enumerate(grids)])
    upper = np.column_stack([g[cells[:, j] + 1] for j, g in enumerate(grids)])
    top = np.full(len(cells), ref[-1])
    if len(front):
        dominates = (front[None, :, :-1] <= lower[:, None, :]).all(axis=-1)
        top = np.minimum(top, np.where(dominates, front[None, :, -1], np.inf).min(axis=1))
    # runs of equal tops along the last grid axis (a run never crosses into the next row)
    row_start = cells[:, -1] == 0
    start = row_start | np.concatenate(([True], top[1:] != top[:-1]))
    first = np.flatnonzero(start)
    last = np.concatenate((first[1:], [len(cells)])) - 1
    lower, top = lower[first], top[first]
    upper = np.column_stack([upper[first, :-1], upper[last, -1]])
    return (np.column_stack([lower, np.full(len(first), -np.inf)]),
            np.column_stack([upper, top]))


def expected_hvi(mu, sigma, front, ref, chunk_cells: int = 2_000_000) -> np.ndarray:
    """Expected hypervolume improvement of each row of `mu` (N, M) with independent Gaussian
    errors `sigma` (N, M; 0 where a value is exact) over `front`, below `ref` (all minimised).
    Exact (module docstring); with every sigma 0 it is the hypervolume improvement itself."""
    mu = np.atleast_2d(np.asarray(mu, dtype=float))
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), mu.shape)
    lower, upper = nondominated_boxes(front, ref)
    n, m = mu.shape
    values, lo_idx, up_idx = [], [], []
    for j in range(m):  # psi is evaluated once per distinct bound, then gathered per box
        v = np.unique(np.concatenate([lower[:, j], upper[:, j]]))
        values.append(v)
        lo_idx.append(np.searchsorted(v, lower[:, j]))
        up_idx.append(np.searchsorted(v, upper[:, j]))
    out = np.zeros(n)
    step = max(1, chunk_cells // max(len(lower), 1))
    for start in range(0, n, step):
        rows = slice(start, min(n, start + step))
        prod = None
        for j in range(m):
            p = psi(values[j][None, :], mu[rows, j, None], sigma[rows, j, None])
            factor = np.maximum(p[:, up_idx[j]] - p[:, lo_idx[j]], 0.0)
            prod = factor if prod is None else prod * factor
        out[rows] = prod.sum(axis=1)
    return out


def promising(mu, sigma, front, ref, chunk_cells: int = 4_000_000) -> np.ndarray:
    """Rows whose optimistic point mu - PRUNE_SIGMAS sigma is below `ref` and not weakly
    dominated by `front`. The others' hypervolume improvement is 0 unless some objective
    comes out more than PRUNE_SIGMAS standard deviations better than predicted (probability
    below M * Phi(-8), 6e-16 each), so their EHVI is below about 1e-15 of the reference box:
    skipping them changes no argmax and saves the Gaussian integrals (most of a step's time
    over NB201's 15,625 cells)."""
    mu = np.atleast_2d(np.asarray(mu, dtype=float))
    best = mu - PRUNE_SIGMAS * np.broadcast_to(np.asarray(sigma, dtype=float), mu.shape)
    keep = (best < np.asarray(ref, dtype=float)).all(axis=1)
    front = np.asarray(front, dtype=float).reshape(-1, mu.shape[1])
    if mu.shape[1] == 2 and len(front):  # the lowest second objective among front points
        order = np.argsort(front[:, 0], kind="stable")  # not worse in the first: O(log n)
        lowest = np.minimum.accumulate(front[order, 1])
        k = np.searchsorted(front[order, 0], best[:, 0], side="right")
        return keep & ~((k > 0) & (lowest[np.maximum(k - 1, 0)] <= best[:, 1]))
    step = max(1, chunk_cells // max(len(front) * mu.shape[1], 1))
    for start in range(0, len(mu), step) if len(front) else ():
        rows = slice(start, start + step)
        dominated = (front[None, :, :] <= best[rows, None, :]).all(axis=2).any(axis=1)
        keep[rows] &= ~dominated
    return keep


def front_mask(F: np.ndarray) -> np.ndarray:
    from hwnas.analysis.pareto import non_dominated_mask

    return non_dominated_mask(F, ["min"] * F.shape[1]) if len(F) else np.zeros(0, bool)
