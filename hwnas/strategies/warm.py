"""Which of an earlier run's candidates a population-based strategy starts from.

A warm start (`--warm-start`, hwnas.strategies.base) may hand a strategy more evaluated
candidates than its population holds. A population is then seeded as NSGA-II's survival would
choose it (Deb et al., 2002), feasibility first by Deb's rules: the feasible candidates by
non-dominated rank (front first, then the front of the rest, ...), or by the strategy's
`scalar_fitness` when it has one; then the infeasible ones by their violation; failed ones
last. Ties keep the order the candidates were told in.
"""

from __future__ import annotations

import numpy as np


def best_first(strategy, results: list[dict]) -> list[int]:
    """Indices of `results`, best first (module docstring)."""
    from hwnas.analysis.pareto import non_dominated_mask

    ok = [i for i, r in enumerate(results) if strategy.usable(r)]
    score = strategy.scalar_fitness()
    ranked: list[int] = []
    if score is not None:
        values = [score(results[i]) for i in ok]
        ranked = [ok[j] for j in sorted(range(len(ok)), key=lambda j: -values[j])]
    else:
        directions = [o.direction for o in strategy.objectives]
        left = list(ok)
        while left:  # peel the non-dominated layers off, one at a time
            F = np.array([[results[i][o.name] for o in strategy.objectives] for i in left],
                         dtype=float)
            mask = non_dominated_mask(F, directions)
            ranked += [i for i, m in zip(left, mask, strict=True) if m]
            left = [i for i, m in zip(left, mask, strict=True) if not m]
    usable = set(ok)
    rest = [i for i in range(len(results)) if i not in usable]
    # infeasible by violation; a failure's violation is inf, so it sorts last
    return ranked + sorted(rest, key=lambda i: strategy.violation(results[i]))
