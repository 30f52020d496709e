"""The log-form latency losses on tables whose calibration predicts the smallest networks at or
below zero: defined, finite, and never an endless search for a unit."""

from __future__ import annotations

import math

import pytest
import torch

from hwnas.oneshot.losses import fbnet, mul_log, positive_floor, unit_scale


def test_unit_scale_refuses_a_non_positive_cost():
    for bad in (0.0, -0.02, float("nan")):
        with pytest.raises(ValueError, match="positive cost"):
            unit_scale(bad)
    assert unit_scale(0.5) * 0.5 > math.e and unit_scale(5.0) == 1.0


def test_floor_is_positive_when_the_range_starts_below_zero():
    assert positive_floor(0.3, 2.0) == 0.3
    assert positive_floor(-0.02, 2.6) == pytest.approx(0.026)


def test_log_forms_stay_finite_at_and_below_zero_cost():
    ce = torch.tensor(2.0, dtype=torch.float64)
    floor = positive_floor(-0.02, 2.6)
    for cost in (-0.02, 0.0, 0.01, 1.0):
        c = torch.tensor(cost, dtype=torch.float64, requires_grad=True)
        for value in (fbnet(ce, c, beta=0.6, floor=floor), mul_log(ce, c, 1.3, beta=0.3)):
            assert torch.isfinite(value)
    # above the floor the paper's formula holds unchanged
    c = torch.tensor(1.0, dtype=torch.float64)
    assert float(fbnet(ce, c, beta=0.6, floor=floor)) == pytest.approx(
        2.0 * 0.2 * math.log(1.0 * unit_scale(floor)) ** 0.6)
