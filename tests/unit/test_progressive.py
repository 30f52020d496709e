"""PNAS / DPP-Net building blocks: levels, the surrogate, Pareto selection."""

import numpy as np

from hwnas.arch import Arch
from hwnas.spaces.nb201 import Nb201Space
from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.strategies.dppnet import pareto_select
from hwnas.strategies.pnas import expansions, level, max_level
from hwnas.strategies.surrogate import EnsembleSurrogate, OneHot


def test_expansions_increase_the_level_by_one():
    rng = np.random.default_rng(0)
    for space in (Nb201Space(), ProxylessSpace()):
        for _ in range(5):
            arch = space.sample(rng)
            kids = expansions(space, arch)
            assert all(level(space, k) == level(space, arch) + 1 for k in kids)
            assert level(space, arch) <= max_level(space)


def test_nb201_all_none_has_24_expansions():
    space = Nb201Space()
    root = Arch("nb201", {label: "none" for label, _ in space.choices()})
    assert level(space, root) == 0
    assert len({k.key for k in expansions(space, root)}) == 24


def test_surrogate_learns_an_additive_function():
    space = Nb201Space()
    rng = np.random.default_rng(0)
    archs = list({a.key: a for a in (space.sample(rng) for _ in range(400))}.values())
    weights = rng.normal(size=OneHot(space).width)
    y = OneHot(space)(archs) @ weights
    Y = np.column_stack([y, -2 * y])
    model = EnsembleSurrogate(space, n_models=3, hidden=32, seed=0).fit(archs[:250], Y[:250])
    pred, _ = model.predict(archs[250:])
    for j in range(2):
        resid = ((pred[:, j] - Y[250:, j]) ** 2).sum()
        r2 = 1 - resid / ((Y[250:, j] - Y[250:, j].mean()) ** 2).sum()
        assert r2 > 0.9


def test_pareto_select_returns_the_non_dominated_first():
    rng = np.random.default_rng(1)
    F = rng.random((200, 2))
    chosen = pareto_select(F, 5)
    assert len(chosen) == 5
    for i in chosen:  # nothing in F dominates a chosen point (front larger than 5 here)
        assert not ((F <= F[i]).all(axis=1) & (F < F[i]).any(axis=1)).any()
    assert len(pareto_select(F, 300)) == 200
