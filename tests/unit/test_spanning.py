"""The calibration set spans a space's latency range: walks reach networks cheaper and dearer
than any random draw, stop at spread-out points, and are plain coordinate descent/ascent."""

import numpy as np
import pytest

from hwnas.spaces.proxyless import ProxylessSpace
from hwnas.tables.spanning import spanning_archs, walk
from hwnas.tables.validate import sample_archs


@pytest.fixture(scope="module")
def space():
    return ProxylessSpace(width_mult=0.5, num_classes=10)


def flops_like(space):
    """A deterministic, additive pseudo-cost per op, read off its key: no device needed, and
    like a table each distinct op has its own fixed cost."""
    def predict(arch):
        total = 0.0
        for sig in space.ops(arch):
            text = sig.key
            total += (1 + len(text) % 7) * (1 + sum(map(ord, text)) % 13)
        return total
    return predict


def test_walk_descends_to_a_coordinatewise_minimum(space):
    predict, rng = flops_like(space), np.random.default_rng(0)
    path = walk(space, predict, space.sample(rng), 1.0, rng, passes=10)
    values = [predict(a) for a in path]
    # each move strictly improves
    assert all(b < a for a, b in zip(values, values[1:], strict=False))
    end = dict(path[-1].values)
    for label, options in space.choices():  # no single change improves the end
        for opt in options:
            assert predict(type(path[-1])(space.name, {**end, label: opt})) >= values[-1]


def test_spanning_reaches_past_random_draws_at_both_ends(space):
    predict = flops_like(space)
    drawn = [predict(a) for a in sample_archs(space, 500, seed=0)]
    spread = [predict(a) for a in spanning_archs(space, predict, 10, seed=1)]
    assert len(spread) == 10
    assert min(spread) < min(drawn) and max(spread) > max(drawn)
    # stratified stops: the cheap half is spread out, not ten copies of the walk's end
    cheap = sorted(spread)[:5]
    assert len(set(np.round(cheap, 6))) == 5


def test_spanning_skips_excluded_and_repeats(space):
    predict = flops_like(space)
    first = spanning_archs(space, predict, 6, seed=2)
    again = spanning_archs(space, predict, 6, seed=2, exclude={a.key for a in first})
    keys = [a.key for a in first + again]
    assert len(keys) == len(set(keys))
