"""The architectures a model-based step scores, and those already handed out.

A space no larger than `enumerate_max` (NB201: 15,625) is scored whole: every architecture
not handed out yet, its one-hot rows built once per process. A larger one is scored on a pool:
single-label changes (mutations) of the current front, at most `max_neighbours` of them (a
seeded sample), plus `n_random` random samples, none handed out before; their exact costs are
read from the cost model, so the pool stays a few hundred. Architectures are handled as
integer codes (`space.encode`) until kept: no Arch is built, nor key hashed, for a child that
is not. Every random choice draws from the generator given (the strategy's), in a fixed order.
"""

from __future__ import annotations

import itertools
import json

import numpy as np

from hwnas.arch import Arch

_ENUMERATED: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}


def enumerate_space(space, encode) -> tuple[np.ndarray, np.ndarray]:
    """Every architecture of a small space (an object array) and its one-hot rows, built once
    per process and space configuration (a league runs many seeds; read-only once built)."""
    key = (space.name, json.dumps(space.config(), sort_keys=True, default=str))
    if key not in _ENUMERATED:
        pairs = space.choices()
        labels = [label for label, _ in pairs]
        archs = np.empty(space.size(), dtype=object)  # indexed by an array: fast
        archs[:] = [Arch(space.name, dict(zip(labels, combo, strict=True)))
                    for combo in itertools.product(*[opts for _, opts in pairs])]
        X = encode(list(archs))
        X.setflags(write=False)
        archs.setflags(write=False)
        while len(_ENUMERATED) >= 2:  # a few MB each (NB201: 15,625 x 90 float32)
            del _ENUMERATED[next(iter(_ENUMERATED))]
        _ENUMERATED[key] = (archs, X)
    return _ENUMERATED[key]


class CandidatePool:
    """What was handed out, and what a step may propose next.

    `encode(archs)`: one-hot rows; `exact_costs(archs)`: the cost model's known objectives
    (or None); `rng`: the strategy's generator, shared so draws keep one order."""

    def __init__(self, space, rng, encode, exact_costs, *, enumerate_max: int, n_random: int,
                 max_neighbours: int):
        self.space, self.rng = space, rng
        self.encode, self.exact_costs = encode, exact_costs
        self.enumerate_max, self.n_random, self.max_neighbours = (enumerate_max, n_random,
                                                                  max_neighbours)
        self.handed: set[tuple[int, ...]] = set()  # codes handed out
        self._handed_codes: list[tuple[int, ...]] = []  # the same, in order
        self._enum = None  # [archs, one-hot, exact costs, handed mask, #handed synced]

    # -- handing out ------------------------------------------------------------------------
    def hand_out(self, arch: Arch) -> None:
        code = self.code(arch)
        if code not in self.handed:
            self.handed.add(code)
            self._handed_codes.append(code)

    def random_archs(self, k: int) -> list[Arch]:
        """`k` uniform samples, drawn in one call."""
        sizes = [len(opts) for _, opts in self.space.choices()]
        return self.decode(self.rng.integers(0, sizes, size=(k, len(sizes))).tolist())

    def random_unseen(self, k: int, accept=None) -> list[Arch]:
        """Up to `k` distinct random architectures not handed out yet (and, with `accept`,
        for which `accept(arch)` holds: rejection sampling, e.g. a known hard limit)."""
        out: dict[tuple[int, ...], Arch] = {}
        for _ in range(100 if accept is None else 1000):
            if len(out) >= k:
                break
            for arch in self.random_archs(k - len(out)):
                code = self.code(arch)
                if code not in self.handed and (accept is None or accept(arch)):
                    out.setdefault(code, arch)
        return list(out.values())

    # -- scoring ----------------------------------------------------------------------------
    def enumerates(self) -> bool:
        return self.space.size() <= self.enumerate_max

    def universe(self) -> tuple[np.ndarray, np.ndarray]:
        """(archs, one-hot rows) of the whole space when it is enumerated."""
        archs, X, *_ = self.enumeration()
        return archs, X

    def candidates(self, front_archs: list[Arch]):
        """(archs, one-hot rows or None for the universe, exact costs, open mask): every
        architecture of a small space (open: not handed out yet), else a pool of unseen
        neighbours of `front_archs` and random samples (all open)."""
        if self.enumerates():
            archs, _, exact, handed = self.enumeration()
            return archs, None, exact, ~handed
        sizes = np.array([len(opts) for _, opts in self.space.choices()])
        parents = np.array([self.code(a) for a in front_archs], dtype=np.intp)
        children = [np.zeros((0, len(sizes)), dtype=np.intp)]
        for label, size in enumerate(sizes):
            block = np.repeat(parents, size, axis=0)
            block[:, label] = np.tile(np.arange(size), len(parents))
            children.append(block[block[:, label] != np.repeat(parents[:, label], size)])
        neighbours = [c for c in map(tuple, np.unique(np.vstack(children), axis=0).tolist())
                      if c not in self.handed]
        if len(neighbours) > self.max_neighbours:
            keep = self.rng.choice(len(neighbours), size=self.max_neighbours, replace=False)
            neighbours = [neighbours[i] for i in np.sort(keep)]
        pool = dict.fromkeys(neighbours)
        draws = self.rng.integers(0, sizes, size=(self.n_random, len(sizes)))
        for code in map(tuple, draws.tolist()):
            if code not in self.handed:
                pool.setdefault(code)
        if not pool:
            return [], np.zeros((0, 1), np.float32), None, np.zeros(0, dtype=bool)
        archs = self.decode(list(pool))
        return (archs, self.encode(archs), self.exact_costs(archs),
                np.ones(len(archs), dtype=bool))

    def enumeration(self):
        """Every architecture of a small space, encoded once, its exact costs and the
        handed-out mask, synced with what was handed out since the last call."""
        if self._enum is None:
            archs, X = enumerate_space(self.space, self.encode)
            self._enum = [archs, X, self.exact_costs(list(archs)),
                          np.zeros(len(archs), dtype=bool), 0]
        archs, X, exact, handed, synced = self._enum
        radix = [len(opts) for _, opts in self.space.choices()]
        for code in self._handed_codes[synced:]:
            index = 0
            for digit, base in zip(code, radix, strict=True):
                index = index * base + digit
            handed[index] = True
        self._enum[4] = len(self._handed_codes)
        return archs, X, exact, handed

    # -- codes ------------------------------------------------------------------------------
    def code(self, arch: Arch) -> tuple[int, ...]:
        return tuple(int(v) for v in self.space.encode(arch))

    def decode(self, codes) -> list[Arch]:
        pairs = self.space.choices()  # once: space.decode would recompute it per arch
        return [Arch(self.space.name, {label: opts[i] for (label, opts), i
                                       in zip(pairs, code, strict=True)}) for code in codes]
