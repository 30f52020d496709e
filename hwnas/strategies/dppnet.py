"""DPP-Net, Device-aware Progressive search for Pareto-optimal networks (Dong et al., 2018).

DPP-Net follows PNAS's progressive expansion (hwnas.strategies.pnas: levels, expansions,
pool caps and the shared MLP-ensemble surrogate are the same) but chooses the K candidates of
each step by Pareto optimality over (predicted accuracy, device objectives) instead of a
single score: non-dominated sorting, whole fronts in order, the front that does not fit
whole cut by crowding distance (as NSGA-II does) so the chosen K spread along it.

As in the paper, the device costs of a candidate are computed, not predicted: by default
(`device_costs=auto`) the search's cost model supplies every objective it knows — the latency
table's prediction, params/FLOPs, a tabular benchmark's device costs — and the surrogate
predicts only accuracy. Where the cost model knows nothing (or `device_costs=predicted`), the
surrogate predicts the device objectives too.
The beam of each level is chosen the same way, on the evaluated (true) objectives.
"""

from __future__ import annotations

import numpy as np

from hwnas.analysis.pareto import non_dominated_mask
from hwnas.limits import MAX_POPULATION
from hwnas.options import Option
from hwnas.registry import STRATEGIES
from hwnas.strategies.pnas import DEVICE_COSTS, ProgressiveStrategy


def crowding_distance(F: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each point of one front (boundaries infinite)."""
    n, m = F.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(F[:, j], kind="stable")
        span = F[order[-1], j] - F[order[0], j]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (F[order[2:], j] - F[order[:-2], j]) / span
    return dist


def pareto_select(F: np.ndarray, k: int) -> np.ndarray:
    """Indices of k points of F (all minimised): fronts in order, the last cut by crowding."""
    remaining = np.arange(len(F))
    chosen: list[int] = []
    while remaining.size and len(chosen) < k:
        front = remaining[non_dominated_mask(F[remaining], ["min"] * F.shape[1])]
        room = k - len(chosen)
        if len(front) > room:
            cd = crowding_distance(F[front])
            front = front[np.argsort(-cd, kind="stable")[:room]]
        chosen += front.tolist()
        remaining = np.setdiff1d(remaining, front)
    return np.array(chosen, dtype=int)


@STRATEGIES.register("dppnet")
class DPPNet(ProgressiveStrategy):
    """DPP-Net: progressive search, K per step by predicted Pareto fronts + crowding."""

    plot_style = {"color": "#8c564b", "marker": "X"}
    batch_independent = True

    # K 10 rather than PNAS's 25: refitting the surrogate every 10 evaluations found more of
    # NB201's true front (C10 x pixel3, 5 seeds: 28.6% vs 25.5%, HV 0.9978 vs 0.9975) at about
    # twice the time per run (benchmarks/league.py).
    option_specs = {**ProgressiveStrategy.option_specs,
                    "k": Option(10, int, low=1, high=MAX_POPULATION),
                    "device_costs": Option("auto", str, choices=DEVICE_COSTS)}

    def _select(self, F: np.ndarray, k: int) -> np.ndarray:
        return pareto_select(F, k)
