"""The Gaussian copula warp of a GP's targets: rank-preserving, ties shared, and its inverse
returns the values at the knots and extends linearly past them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from hwnas.bayesopt.warp import CopulaWarp


def test_z_is_the_normal_quantile_of_the_mean_rank():
    y = np.array([0.1, 0.9, 0.1, 0.5, 0.7])
    z = CopulaWarp(y).z
    ranks = np.array([1.5, 5, 1.5, 3, 4])  # the two 0.1s share ranks 1 and 2
    np.testing.assert_allclose(z, norm.ppf((ranks - 0.5) / 5))
    assert z[0] == z[2]
    assert np.array_equal(np.argsort(z, kind="stable"), np.argsort(y, kind="stable"))


def test_an_outlier_cluster_no_longer_dominates_the_spread():
    rng = np.random.default_rng(0)
    y = np.concatenate([np.full(20, 10.0), rng.uniform(85, 94, 80)])  # dead cells, then good
    z = CopulaWarp(y).z
    good = y > 50
    # raw: the good cells hold a small part of the variance; warped: most of it
    assert y[good].std() / y.std() < 0.2
    assert z[good].std() / z.std() > 0.6


def test_inverse_hits_the_knots_and_extends_linearly():
    y = np.array([3.0, 1.0, 2.0, 2.0, 7.0])
    warp = CopulaWarp(y)
    np.testing.assert_allclose(warp.inverse(warp.z), y)
    knots = np.sort(np.unique(warp.z))
    top, below_top = knots[-1], knots[-2]
    slope = (7.0 - 3.0) / (top - below_top)
    assert warp.inverse(np.array([top + 0.5]))[0] == pytest.approx(7.0 + 0.5 * slope)
    assert warp.inverse(np.array([knots[0] - 1.0]))[0] < 1.0  # below the worst: still lower
    assert CopulaWarp(np.array([4.0, 4.0])).inverse(np.array([0.0, 9.0])).tolist() == [4, 4]
