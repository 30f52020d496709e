"""Architectures that span a space's table-latency range, for fitting a calibration.

Random architectures of a space cluster around its middle: in the proxyless space no random
draw comes near the cheapest or dearest network. A calibration fitted only there extrapolates
to the ends of the range, which is exactly where a latency target or a strong latency penalty
sends a search. So part of the calibration set walks from a random architecture towards the
cheapest (or dearest) network by coordinate descent (ascent) on the table's plain sum, and
stops at stratified fractions of the way: the fit then sees small, mid and large networks.

Generic over spaces: it only needs `choices()` and a prediction of an architecture.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hwnas.arch import Arch


def walk(space, predict: Callable[[Arch], float], start: Arch, sign: float,
         rng: np.random.Generator, passes: int = 3) -> list[Arch]:
    """Coordinate descent (`sign` +1) or ascent (-1) on `predict` from `start`; every
    architecture it moved through, `start` first."""
    path, current = [start], dict(start.values)
    choices = space.choices()
    for _ in range(passes):
        moved = False
        for i in rng.permutation(len(choices)):
            label, options = choices[i]
            scored = [(sign * predict(Arch(space.name, {**current, label: opt})), k)
                      for k, opt in enumerate(options)]
            best = options[min(scored)[1]]
            if best != current[label]:
                current[label] = best
                path.append(Arch(space.name, dict(current)))
                moved = True
        if not moved:
            break
    return path


def spanning_archs(space, predict: Callable[[Arch], float], n: int, seed: int,
                   exclude: set[str] = frozenset()) -> list[Arch]:
    """Up to `n` distinct architectures, half on walks down to cheap networks and half up to
    dear ones, each stopped at a stratified fraction (1/k .. 1) of its walk's latency change;
    the last of each direction is the end of its walk."""
    rng = np.random.default_rng(seed)
    per_direction = [(n + 1) // 2, n // 2]
    seen, out = set(exclude), []
    for sign, count in zip((1.0, -1.0), per_direction, strict=True):
        for j in range(count):
            path = walk(space, predict, space.sample(rng), sign, rng)
            values = np.array([predict(a) for a in path])
            goal = values[0] + (j + 1) / count * (values[-1] - values[0])
            for k in np.argsort(np.abs(values - goal), kind="stable"):
                if path[k].key not in seen:
                    seen.add(path[k].key)
                    out.append(path[k])
                    break
    return out
