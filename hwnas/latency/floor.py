"""The floor no latency prediction may go below, and the network of a space closest to it.

    floor(network) = share x (the plain sum of its ops' own entries)

Why a share of the plain sum: the plain sum is what the network's ops measured alone add up
to, the one physical quantity the table knows about that network. A network can run faster
than that sum (an op timed alone pays a call overhead the network pays once; a runtime fuses
ops or drops dead ones), but not arbitrarily faster: it still executes its ops. How much
faster is a property of the device and backend, so the share is fitted with the data: half
(`FLOOR_MARGIN`) the lowest measured / plain-sum ratio among the calibration networks, which
include networks walked to the space's cheap end (hwnas.tables.spanning), where that ratio is
lowest. Half leaves room for networks cheaper than any measured and for noise; on the
committed tables the lowest ratio on held-out networks (0.19, nb201 on ort-cpu) stayed above
the share fitted on their calibration networks (0.12). The share is capped at `MAX_SHARE`: a
floor guards against the impossible, it is not a model of the network.

Calibrations fitted before this floor existed store no share; they get `LEGACY_SHARE`, below
every ratio measured on the committed tables, so only a prediction that cannot be right (a
network at a tenth of its ops' cost, or at or below zero) is raised.

The affine fit (hwnas.latency.calibration) is constrained so that no network of the space is
predicted below its floor; `closest` finds the network that comes nearest, for a given set of
coefficients: per position for a space whose positions add up, by enumeration otherwise.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence

import numpy as np

FLOOR_MARGIN = 0.5
MAX_SHARE = 0.5
LEGACY_SHARE = 0.1
MAX_ENUMERATE = 200_000  # networks; a larger space whose positions do not add up is sampled
SAMPLED = 20_000


def fitted_share(measured: Sequence[float], plain: Sequence[float]) -> float:
    """FLOOR_MARGIN x the lowest measured / plain-sum ratio, at most MAX_SHARE."""
    measured, plain = np.asarray(measured, float), np.asarray(plain, float)
    ratios = measured[plain > 0] / plain[plain > 0]
    if not len(ratios):
        return LEGACY_SHARE
    return float(min(MAX_SHARE, FLOOR_MARGIN * float(np.min(ratios))))


def share_of(calibration: dict | None) -> float:
    """The share of the plain sum a prediction with this calibration may not go below."""
    if not calibration:
        return LEGACY_SHARE
    return float(calibration.get("floor_share", LEGACY_SHARE))


def plain_sum(sigs, entries: dict, stat: str) -> float:
    return float(sum(float(entries[s.key][stat]) for s in sigs))


class SpaceNetworks:
    """The networks of a space as design rows of the affine calibration ([1, number of ops,
    sum of entries per op type], hwnas.latency.calibration.design_row), to find the one whose
    prediction is closest to its floor. Networks running an op the table lacks, or an op type
    the fit does not know, cannot be predicted at all and are left out."""

    def __init__(self, space, entries: dict, types: Sequence[str], stat: str = "p50"):
        self.types, self.entries, self.stat = list(types), entries, stat
        if space.positions_add_up:
            self._additive(space)
        else:
            self._enumerated(space)

    def _row(self, sigs) -> np.ndarray | None:
        row = np.zeros(2 + len(self.types))
        row[1] = len(sigs)
        for s in sigs:
            if s.key not in self.entries or s.op not in self.types:
                return None
            row[2 + self.types.index(s.op)] += float(self.entries[s.key][self.stat])
        return row

    def _additive(self, space) -> None:
        self.fixed = self._row(space.fixed_ops())
        if self.fixed is not None:
            self.fixed[0] = 1.0
        self.options = []
        for position in space.positions():
            rows = [self._row(position.ops[o]) for o in position.options]
            self.options.append(np.array([r for r in rows if r is not None]))
        self.rows = None

    def _enumerated(self, space) -> None:
        keys, networks = _enumerate(space.name, json.dumps(space.config(), sort_keys=True))
        unknown = np.full(2 + len(self.types), np.nan)
        per_key = np.array([row if row is not None else unknown
                            for row in (self._row([sig]) for sig in keys)])
        rows = networks @ np.nan_to_num(per_key, nan=0.0)
        known = ~(networks @ np.isnan(per_key[:, 1]).astype(float) > 0)
        rows[:, 0] = 1.0
        self.rows = rows[known]

    def closest(self, coef: np.ndarray, share: float) -> tuple[np.ndarray, float] | None:
        """(design row, prediction - floor) of the network whose prediction is nearest its
        floor (most below it) for the full coefficient vector `coef`; None when no network
        can be predicted."""
        w = np.asarray(coef, float) - share * np.r_[0.0, 0.0, np.ones(len(self.types))]
        if self.rows is not None:
            if not len(self.rows):
                return None
            i = int(np.argmin(self.rows @ w))
            return self.rows[i], float(self.rows[i] @ w)
        if self.fixed is None or any(not len(o) for o in self.options):
            return None
        row = self.fixed.copy()
        for options in self.options:
            row += options[int(np.argmin(options @ w))]
        return row, float(row @ w)


@functools.lru_cache(maxsize=4)
def _enumerate(name: str, config: str):
    """Every network of a space whose positions do not add up (or SAMPLED random ones above
    MAX_ENUMERATE) as counts of its distinct ops: (ops, networks x ops matrix). Cached: NB201's
    15,625 networks take a second to list, and a calibration's folds reuse them."""
    import itertools

    from hwnas.arch import Arch
    from hwnas.registry import SPACES

    space = SPACES.get(name)(**json.loads(config))
    # its architectures, from its choices: a space may have none of a supernet's positions
    choices = space.choices()
    total = math.prod(len(opts) for _, opts in choices)  # no int64 wrap
    if total <= MAX_ENUMERATE:
        labels = [label for label, _ in choices]
        archs = (Arch(space.name, dict(zip(labels, combo, strict=True)))
                 for combo in itertools.product(*(opts for _, opts in choices)))
    else:
        rng = np.random.default_rng(0)
        archs = (space.sample(rng) for _ in range(SAMPLED))
    index: dict = {}
    counts: list[dict[int, int]] = []
    for arch in archs:
        row: dict[int, int] = {}
        for sig in space.ops(arch):
            j = index.setdefault(sig, len(index))
            row[j] = row.get(j, 0) + 1
        counts.append(row)
    matrix = np.zeros((len(counts), len(index)))
    for i, row in enumerate(counts):
        for j, n in row.items():
            matrix[i, j] = n
    return list(index), matrix
