"""Issue 38: no text of any figure hwnas draws falls outside the image. Titles name runs, a
space, a table file and an estimator, and were clipped at both edges in every scratch run's
PNG and in the HTML report; a knee's label near the right edge ran off the figure.

Each figure kind is drawn with the long names a real run has, and every drawn text's extent
(matplotlib's renderer) must lie within the figure's box."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.analysis import plots
from hwnas.report.figures import front_plot_options
from tests.figure_helpers import texts_outside

# What a default run directory and a table beside it are called (api.search, tables profile).
LABELS = ["proxyless-evolution-s0-20261207-023030", "proxyless-random-s1-20261207-023031"]
TABLE = "latency_tables/amd-epyc-2c/proxyless-torch-cpu-b1-fp32-i3-n10-r32-w1.json"


def scratch_config(strategy: str) -> dict:
    """The parts of a scratch run's config.json a front plot's title is made of."""
    return {"search": {"space": "proxyless", "strategy": strategy, "estimator": "scratch",
                       "objectives": ["accuracy", "latency_ms"], "estimator_options": {}},
            "space_resolved": {"resolution": 32, "width_mult": 0.5, "num_classes": 10},
            "estimator_resolved": {"epochs": 2, "resolution": 16},
            "table": {"path": TABLE, "backend": "torch-cpu"}}


def points(seed: int, n_obj: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A run's candidates and its first few as the 'front' (the plot does not check it); the
    cheapest point sits at the right edge of the view, where its knee label goes."""
    rng = np.random.default_rng(seed)
    pts = np.c_[rng.uniform(0.9, 0.97, 20), rng.uniform(0.3, 0.7, (20, n_obj - 1))]
    return pts, pts[:5]


def assert_fits(fig) -> None:
    outside = texts_outside(fig)
    assert not outside, f"text outside the figure (x0, y0, x1, y1 vs {fig.bbox.extents}): " \
                        f"{outside}"


@pytest.mark.parametrize("runs", [1, 2])
def test_a_scratch_runs_front_plot_fits(runs):
    """`hwnas pareto` of one scratch run, and of two side by side (the report's figure)."""
    labels = LABELS[:runs]
    configs = [scratch_config(s) for s in ("evolution", "random")[:runs]]
    options = front_plot_options(labels, configs)
    series = {label: points(i) for i, label in enumerate(labels)}
    fig = plots.front_figure(series, ["accuracy", "latency_ms"], ["max", "min"],
                             knees={label: 4 for label in labels}, **options)
    assert_fits(fig)
    # the long title is wrapped, not shortened: every word of it is still there
    assert fig._suptitle.get_text().split() == options["title"].split()


def test_a_three_objective_front_plot_fits():
    series = {label: points(i, 3) for i, label in enumerate(LABELS)}
    fig = plots.front_figure(series, ["accuracy", "latency_ms", "energy_mj"],
                             ["max", "min", "min"], **front_plot_options(
                                 LABELS, [scratch_config("evolution"), scratch_config("random")]))
    assert_fits(fig)


def test_the_hypervolume_plots_fit():
    curves = {label: ([1, 2, 3, 4], [0.1, 0.3, 0.35, 0.5]) for label in LABELS}
    assert_fits(plots.hv_curves_figure(curves, title="hypervolume of each run's front after every "
                                              "evaluation, normalised with the bounds stored "
                                              "with each run"))
    from hwnas.league.metrics import hv_ratio_figure

    curve = {"evals": [10, 20, 30], "hv_ratio_mean": [0.8, 0.9, 0.95],
             "hv_ratio_std": [0.05, 0.03, 0.01]}
    results = {"league": ["random", "evolution"], "seeds": 5,
               "objectives": [{"name": "accuracy"}, {"name": "latency:pixel3"}],
               "methods": {"random": {"curve": curve}, "evolution": {"curve": curve}}}
    assert_fits(hv_ratio_figure(results))


def test_the_table_validation_scatter_fits():
    title = (f"{TABLE.rsplit('/', 1)[1]}.validation.json\ntorch-cpu: 83% within ±10%, "
             "τ=0.912, MAPE 6.4%")
    assert_fits(plots.prediction_figure([1.0, 2.0, 3.1], [1.1, 1.9, 3.0], title))


def test_a_one_shot_trajectory_plot_fits():
    from hwnas.oneshot.plots import trajectory_figure
    from hwnas.spaces.nb201 import Nb201Space

    positions = Nb201Space().positions()
    trajectory = [{"epoch": e, "probs": [[1 / len(p.options)] * len(p.options)
                                         for p in positions],
                   "expected_cost": 1.0 - 0.1 * e, "argmax_cost": 1.1 - 0.1 * e,
                   "target": 0.6} for e in range(3)]
    title = "proxyless sweep target_ms=0.311,0.5048,0.6986 cost=latency_ms mechanism=binary"
    assert_fits(trajectory_figure(trajectory, positions, title=title))
