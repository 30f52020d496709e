"""hwnas.analysis.pareto and hwnas.analysis.plots: known fronts, hand-computed indicators."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hwnas.analysis.pareto import (
    HypervolumeResult,
    Normaliser,
    compare_runs,
    front_order,
    hypervolume,
    igd,
    knee_index,
    non_dominated_mask,
    to_min,
)

MINMIN = ("min", "min")

# Hand-made 2-D set (both minimised): rows 0, 1, 3, 5 form the front.
POINTS = np.array([
    [1.0, 5.0],   # 0 front
    [2.0, 3.0],   # 1 front
    [3.0, 4.0],   # 2 dominated by 1
    [4.0, 1.0],   # 3 front
    [5.0, 5.0],   # 4 dominated by everything on the front
    [0.5, 9.0],   # 5 front (best on the first objective)
    [2.0, 3.5],   # 6 dominated by 1 (equal first, worse second)
])


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


# ---------------------------------------------------------------- to_min and validation


def test_to_min_negates_max_columns_only():
    F = np.array([[0.9, 3.0], [0.8, 1.0]])
    np.testing.assert_array_equal(to_min(F, ("max", "min")), [[-0.9, 3.0], [-0.8, 1.0]])
    np.testing.assert_array_equal(F, [[0.9, 3.0], [0.8, 1.0]])  # input untouched


@pytest.mark.parametrize(
    ("F", "dirs", "match"),
    [
        (np.ones((2, 2)), ("min", "maximum"), "did you mean 'max'"),
        (np.ones((2, 2)), "min", "sequence"),
        (np.ones((2, 3)), MINMIN, "2 direction"),
        (np.ones(3), MINMIN, "shape"),
        (np.array([[1.0, np.nan], [1.0, 2.0]]), MINMIN, "non-finite.*first row 0"),
        (np.array([[1.0, 2.0], [np.inf, 2.0]]), MINMIN, "first row 1"),
    ],
)
def test_to_min_rejects_bad_input_with_one_line(F, dirs, match):
    with pytest.raises(ValueError, match=match) as info:
        to_min(F, dirs)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- fronts


def test_known_front_mask_and_order():
    mask = non_dominated_mask(POINTS, MINMIN)
    assert mask.tolist() == [True, True, False, True, False, True, False]
    assert front_order(POINTS, MINMIN).tolist() == [5, 0, 1, 3]


def test_accuracy_max_latency_min():
    # (accuracy, latency_ms): higher accuracy and lower latency are better.
    F = np.array([[0.90, 10.0], [0.80, 5.0], [0.85, 12.0], [0.70, 6.0], [0.95, 20.0]])
    mask = non_dominated_mask(F, ("max", "min"))
    # 2 is beaten by 0 (more accurate and faster); 3 by 1.
    assert mask.tolist() == [True, True, False, False, True]
    # Best accuracy first.
    assert front_order(F, ("max", "min")).tolist() == [4, 0, 1]
    # With both minimised the meaning flips: the least accurate, fast point wins.
    assert non_dominated_mask(F, MINMIN).tolist() == [False, True, False, True, False]


def test_duplicates_are_all_on_the_front():
    F = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])
    assert non_dominated_mask(F, MINMIN).tolist() == [True, True, True, False]
    assert front_order(F, MINMIN).tolist() == [0, 1, 2]


def test_empty_set_has_empty_front():
    assert non_dominated_mask(np.empty((0, 2)), MINMIN).tolist() == []


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 25), st.integers(2, 3)),
           elements=st.integers(0, 6).map(float)),
    st.lists(st.sampled_from(["min", "max"]), min_size=3, max_size=3),
)
def test_front_property(F, dirs):
    dirs = dirs[: F.shape[1]]
    mask = non_dominated_mask(F, dirs)
    G = to_min(F, dirs)
    front, rest = G[mask], G[~mask]
    assert mask.any()
    for p in rest:
        assert any(dominates(q, p) for q in front)
    for p in front:
        assert not any(dominates(q, p) for q in G)


# ---------------------------------------------------------------- normaliser


def test_normaliser_maps_to_unit_box_and_guards_zero_range():
    F = np.array([[1.0, 7.0, 3.0], [3.0, 5.0, 3.0]])
    norm = Normaliser.from_points(F)
    np.testing.assert_allclose(norm.forward(F), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(norm.backward(norm.forward(F)), F)
    with pytest.raises(ValueError, match="nadir must be >= ideal"):
        Normaliser(np.array([1.0, 1.0]), np.array([0.0, 2.0]))


# ---------------------------------------------------------------- hypervolume


def test_hypervolume_single_point_is_ref_squared():
    res = hypervolume(np.array([[0.9, 4.0]]), ("max", "min"))
    assert isinstance(res, HypervolumeResult)
    assert res.value == pytest.approx(1.21)
    assert res.normalised
    # Zero range: scale 1, so the reference is 1.1 units beyond in each, in user units.
    assert res.ref_point == pytest.approx((0.9 - 1.1, 5.1))


def test_hypervolume_point_at_normalised_ideal():
    # Normalised: (0, 0), (1, 1) -> only (0, 0) counts: 1.1 * 1.1.
    F = np.array([[0.0, 0.0], [10.0, 100.0]])
    assert hypervolume(F, MINMIN).value == pytest.approx(1.21)


def test_hypervolume_staircase_is_sum_of_rectangles():
    # Normalised points (0, 1), (0.5, 0.5), (1, 0) with ref (1.1, 1.1):
    # columns [0, .5]x[1, 1.1], [.5, 1]x[.5, 1.1], [1, 1.1]x[0, 1.1].
    F = np.array([[0.0, 10.0], [5.0, 5.0], [10.0, 0.0]])
    expected = 0.5 * 0.1 + 0.5 * 0.6 + 0.1 * 1.1
    res = hypervolume(F, MINMIN)
    assert res.value == pytest.approx(expected)
    assert res.ref_point == pytest.approx((11.0, 11.0))
    assert res.ideal == (0.0, 0.0) and res.nadir == (10.0, 10.0)
    # The same with accuracy-like max columns mirrored.
    assert hypervolume(-F, ("max", "max")).value == pytest.approx(expected)


def test_hypervolume_raw_and_points_beyond_ref():
    F = np.array([[1.0, 2.0], [3.0, 1.0], [9.0, 9.0]])
    res = hypervolume(F, MINMIN, ref_point=[4.0, 3.0])
    assert not res.normalised
    # Union of [1,4]x[2,3] and [3,4]x[1,3]: 3 + 1; (9, 9) is beyond the ref and adds nothing.
    assert res.value == pytest.approx(4.0)
    assert res.ref_point == (4.0, 3.0)


def test_hypervolume_with_normaliser_and_explicit_ref():
    norm = Normaliser(np.array([0.0, 0.0]), np.array([2.0, 4.0]))
    res = hypervolume(np.array([[1.0, 2.0]]), MINMIN, ref_point=[2.0, 4.0], normaliser=norm)
    assert res.normalised
    assert res.value == pytest.approx(0.25)  # (1 - .5) * (1 - .5)


# ---------------------------------------------------------------- igd


def test_igd_of_front_against_itself_is_zero():
    front = POINTS[non_dominated_mask(POINTS, MINMIN)]
    assert igd(front, front, MINMIN) == pytest.approx(0.0)


def test_igd_known_value():
    ref = np.array([[0.0, 1.0], [1.0, 0.0]])
    approx = np.array([[0.0, 1.0]])
    # Distances from each reference point to the nearest approx point: 0 and sqrt(2).
    assert igd(approx, ref, MINMIN) == pytest.approx(np.sqrt(2) / 2)
    assert igd(np.empty((0, 2)), ref, MINMIN) == float("inf")


# ---------------------------------------------------------------- knee


def test_knee_of_convex_l_shape_is_the_corner():
    F = np.array([[0.0, 10.0], [0.5, 1.0], [1.0, 0.5], [0.2, 0.2], [10.0, 0.0], [5.0, 5.0]])
    assert knee_index(F, MINMIN) == 3
    # Same front with accuracy (max) as the first objective.
    assert knee_index(F * [-1, 1], ("max", "min")) == 3


def test_knee_is_farthest_from_line_not_nearest_ideal():
    # Normalised distance to x + y = 1: (.05, .5) -> .45/sqrt2, (.3, .3) -> .4/sqrt2, though
    # (.3, .3) is nearer the ideal: the definition is the line distance.
    F = np.array([[0.0, 1.0], [0.05, 0.5], [0.3, 0.3], [1.0, 0.0]])
    assert knee_index(F, MINMIN) == 1


def test_knee_in_three_objectives():
    F = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.2, 0.2, 0.2], [0.5, 0.4, 0.0]])
    assert knee_index(F, ("min", "min", "min")) == 3


def test_knee_falls_back_to_closest_to_ideal():
    two = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    assert knee_index(two, MINMIN) == 0  # tie on distance: best first objective
    linear = np.array([[0.0, 1.0], [0.4, 0.6], [1.0, 0.0]])
    assert knee_index(linear, MINMIN) == 1  # no bulge; (.4, .6) is nearest the ideal


# ---------------------------------------------------------------- compare_runs


def test_compare_runs_dominating_run_wins():
    weak = np.array([[1.0, 4.0], [2.0, 3.0], [4.0, 1.0], [4.0, 4.0]])
    strong = weak - 0.5
    out = compare_runs({"weak": weak, "strong": strong}, MINMIN)
    assert out["runs"]["strong"]["hypervolume"] > out["runs"]["weak"]["hypervolume"]
    assert out["runs"]["strong"]["front_in_union"] == 3
    assert out["runs"]["weak"]["front_in_union"] == 0
    assert out["runs"]["weak"]["front_size"] == 3
    assert out["runs"]["weak"]["front_indices"] == [0, 1, 2]
    assert out["ideal"] == [0.5, 0.5] and out["nadir"] == [4.0, 4.0]
    assert out["ref_point"] == pytest.approx([4.35, 4.35])
    # The shared scale: a run's hypervolume equals hypervolume() with the union's normaliser.
    norm = Normaliser.from_points(np.vstack([weak, strong]))
    assert out["runs"]["weak"]["hypervolume"] == pytest.approx(
        hypervolume(weak, MINMIN, normaliser=norm).value
    )


def test_compare_runs_rejects_mismatched_objectives():
    with pytest.raises(ValueError, match="direction"):
        compare_runs({"a": np.ones((2, 2)), "b": np.ones((2, 3))}, MINMIN)
    with pytest.raises(ValueError, match="at least one run"):
        compare_runs({}, MINMIN)


# ---------------------------------------------------------------- plots


def test_plot_fronts_writes_png(tmp_path):
    from hwnas.analysis.plots import plot_fronts

    F = np.array([[0.9, 10.0], [0.8, 5.0], [0.85, 12.0], [0.7, 6.0]])
    dirs = ("max", "min")
    front = F[front_order(F, dirs)]
    out = plot_fronts({"runA": (F, front), "runB": (F - [0.05, 1], front - [0.05, 1])},
                      ("accuracy", "latency_ms"), dirs, tmp_path / "plots" / "front.png")
    assert out.exists() and out.stat().st_size > 1000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["front.png"]  # no temp file left


def test_plot_fronts_needs_two_objectives(tmp_path):
    from hwnas.analysis.plots import plot_fronts

    F = np.array([[1.0], [2.0]])
    with pytest.raises(ValueError, match="two objectives"):
        plot_fronts({"a": (F, F)}, ("latency_ms",), ("min",), tmp_path / "x.png")
