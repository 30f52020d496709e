"""Cost models a strategy may read before it proposes: the cheap objectives of any architecture.

Cheap means known without training: the latency table's prediction and its other columns,
params and FLOPs, or a tabular benchmark's device costs. DPP-Net computes device costs this
way instead of predicting them; any strategy may (`Strategy.costs`). The search's cost model
is built from the same scorer that evaluates candidates, so a cost read here equals the one
recorded in the history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from hwnas.arch import Arch


class CostModel:
    """`provides`: objective names it answers; `costs(arch)`: {name: value} for them.

    `compute(arch)` returns every provided cost; with `partial=True` it is called as
    `compute(arch, names)` and need return only `names`, so that a check of one cost (a
    latency limit read from the table) does not build the network for params and FLOPs.

    `gaps`: provided costs that some architectures have no value for (NaN: a benchmark's
    device that could not run the network); `known_share`: the share of the space where
    every one of them has a value. Such an architecture is known infeasible before evaluation
    (hwnas.core.feasibility.required_limits): the loop rules it out, strategies avoid it."""

    def __init__(self, provides: Iterable[str] = (),
                 compute: Callable[..., dict] | None = None, *, partial: bool = False,
                 gaps: Iterable[str] = (), known_share: float = 1.0):
        self.provides = frozenset(provides)
        self.gaps = frozenset(gaps) & self.provides
        self.known_share = float(known_share) if self.gaps else 1.0
        self._compute = compute
        self._partial = partial
        self._cache: dict[str, dict] = {}

    def knows(self, names: Iterable[str]) -> bool:
        names = list(names)
        return bool(names) and set(names) <= self.provides

    def costs(self, arch: Arch, names: Iterable[str] | None = None) -> dict[str, float]:
        """The provided costs of `arch`, or those of `names` it provides (memoised: a lookup
        is the same whoever asks)."""
        if self._compute is None:
            return {}
        wanted = self.provides if names is None else self.provides & set(names)
        have = self._cache.setdefault(arch.key, {})
        missing = wanted - have.keys()
        if missing:
            if self._partial:
                values = self._compute(arch, frozenset(missing))
                have.update({n: float(values[n]) for n in missing})
            else:
                values = self._compute(arch)
                have.update({n: float(values[n]) for n in self.provides})
        return {n: have[n] for n in self.provides if n in wanted}

    def matrix(self, archs: list[Arch], names: list[str]) -> np.ndarray:
        """Rows of `names` for `archs`; every name must be provided (`knows`)."""
        missing = sorted(set(names) - self.provides)
        if missing:
            raise KeyError(f"cost model does not provide {', '.join(missing)}")
        return np.array([[self.costs(a)[n] for n in names] for a in archs], dtype=float)


NO_COSTS = CostModel()
