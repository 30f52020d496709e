"""The plots a HW-NAS reader expects (issue 14, "Plots"), checked through matplotlib's objects:
cost on x and accuracy on y with units, a title naming the runs, space, device and estimator,
the view zoomed to the front with outliers drawn at its edge, dominated points visible, the
knee and a pick marked, one colour per method in every figure, pairwise panels for three
objectives, the bench's hypervolume panels, files readable by others."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.colors import to_hex

from hwnas.analysis import plots
from hwnas.analysis.pareto import knee_index, non_dominated_mask

DIRS = ["max", "min"]


@pytest.fixture
def captured(monkeypatch):
    """Every figure the plot functions save, kept for inspection (the file is still written:
    the real writer is called too)."""
    figures = []
    real = plots._save_atomic

    def keep(fig, path):
        figures.append(fig)
        return real(fig, path)

    monkeypatch.setattr(plots, "_save_atomic", keep)
    return figures


def _front_with_chance_point(seed: int = 0, shift: float = 0.0):
    """A run's points (accuracy, latency_ms) whose front holds a chance-level network, the
    cheapest of all, far below a front spanning 0.66-0.92."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(1, 5, 40)
    acc = np.clip(0.7 + 0.25 * np.log(lat) / np.log(5) - rng.uniform(0, 0.15, 40), 0, 1)
    F = np.vstack([np.c_[acc, lat], [0.1, 0.5]]) + [[-shift, shift]]
    return F, F[non_dominated_mask(F, DIRS)]


def _main_axes(fig):
    return fig.axes[0]


def test_cost_on_x_and_accuracy_on_y_with_units(tmp_path, captured):
    F, front = _front_with_chance_point()
    plots.plot_fronts({"nb201-evolution-s0-x": (F, front)}, ("accuracy", "latency_ms"), DIRS,
                      tmp_path / "p.png")
    ax = _main_axes(captured[-1])
    assert ax.get_xlabel().startswith("latency (ms;"), ax.get_xlabel()
    assert ax.get_ylabel().startswith("accuracy (fraction correct;"), ax.get_ylabel()
    assert "lower is better" in ax.get_xlabel() and "higher is better" in ax.get_ylabel()
    # a device cost of a benchmark names its device and unit
    plots.plot_fronts({"r": (F, front)}, ("accuracy", "latency:pixel3"), DIRS,
                      tmp_path / "q.png")
    assert _main_axes(captured[-1]).get_xlabel().startswith("latency on pixel3 (ms;")


def test_title_names_runs_space_device_and_estimator(tmp_path, captured):
    from hwnas.report.figures import front_plot_options

    config = {"search": {"space": "nb201", "strategy": "nsga2", "estimator": "tabular",
                         "objectives": ["accuracy", "latency:pixel3"],
                         "estimator_options": {"benchmark": "/x/nb201_hw.csv"}},
              "estimator_resolved": {"benchmark": "/x/nb201_hw.csv"}, "table": None}
    F, front = _front_with_chance_point()
    options = front_plot_options(["my-run"], [config])
    plots.plot_fronts({"my-run": (F, front)}, ("accuracy", "latency:pixel3"), DIRS,
                      tmp_path / "p.png", **options)
    title = captured[-1]._suptitle.get_text()
    for needle in ("my-run", "nsga2", "nb201", "pixel3", "nb201_hw.csv", "tabular"):
        assert needle in title, (needle, title)


def test_a_chance_level_outlier_is_drawn_at_the_edge_not_driving_the_axes(tmp_path, captured):
    F, front = _front_with_chance_point()
    assert [0.1, 0.5] in front.tolist()  # it is on the front: the cheapest network
    plots.plot_fronts({"nb201-random-s0-x": (F, front)}, ("accuracy", "latency_ms"), DIRS,
                      tmp_path / "p.png")
    ax = _main_axes(captured[-1])
    inliers = front[front[:, 0] > 0.5]
    y0, y1 = ax.get_ylim()
    x0, x1 = ax.get_xlim()
    assert 0.1 < y0 < inliers[:, 0].min() and y1 > inliers[:, 0].max()
    assert 0.5 < x0 < inliers[:, 1].min()  # its latency does not stretch the x axis either
    clipped = [a for a in ax.collections if a.get_gid() == "clipped"]
    assert clipped, "the outlier is drawn, at the edge"
    (cx, cy), = clipped[0].get_offsets()
    assert cy == pytest.approx(y0) and cx == pytest.approx(x0)
    assert any("beyond the view" in t.get_text() for t in ax.get_legend().get_texts())
    assert any("0.1)" in t.get_text() for t in ax.texts)  # and says its values


def test_a_spread_front_is_not_clipped(tmp_path, captured):
    front = np.array([[0.1, 0.5], [0.4, 1.0], [0.6, 2.0], [0.8, 3.0], [0.9, 4.0]])
    plots.plot_fronts({"r": (front, front)}, ("accuracy", "latency_ms"), DIRS,
                      tmp_path / "p.png")
    ax = _main_axes(captured[-1])
    assert ax.get_ylim()[0] < 0.1 and ax.get_xlim()[0] < 0.5
    assert not [a for a in ax.collections if a.get_gid() == "clipped"]


def test_dominated_points_are_lighter_but_visible(tmp_path, captured):
    F, front = _front_with_chance_point()
    plots.plot_fronts({"r": (F, front)}, ("accuracy", "latency_ms"), DIRS, tmp_path / "p.png")
    ax = _main_axes(captured[-1])
    dominated = [c for c in ax.collections if "dominated" in str(c.get_label())]
    assert dominated
    assert dominated[0].get_alpha() >= 0.35 and dominated[0].get_sizes()[0] >= 15
    assert len(dominated[0].get_offsets()) > 10


def test_knee_and_pick_are_marked_and_labelled(tmp_path, captured):
    F, front = _front_with_chance_point()
    pick = front[2]
    plots.plot_fronts({"r": (F, front)}, ("accuracy", "latency_ms"), DIRS, tmp_path / "p.png",
                      picks={"r": pick})
    ax = _main_axes(captured[-1])
    knee = front[knee_index(front, DIRS)]
    marks = {line.get_gid(): line for line in ax.lines if line.get_gid() in ("knee", "pick")}
    assert set(marks) == {"knee", "pick"}
    assert marks["knee"].get_xydata()[0].tolist() == pytest.approx([knee[1], knee[0]])
    assert marks["pick"].get_xydata()[0].tolist() == pytest.approx([pick[1], pick[0]])
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "knee" in texts and "pick" in texts
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "knee" in labels and "pick" in labels


def _front_colour(ax, label: str) -> str:
    line = next(x for x in ax.lines if x.get_label().startswith(label + " ("))
    return to_hex(line.get_color())


def test_a_method_has_one_colour_and_marker_in_every_plot(tmp_path, captured):
    F, front = _front_with_chance_point()
    G, gfront = _front_with_chance_point(seed=1, shift=0.02)
    plots.plot_fronts({"nb201-random-s0-a": (F, front), "nb201-evolution-s0-b": (G, gfront)},
                      ("accuracy", "latency_ms"), DIRS, tmp_path / "one.png")
    plots.plot_fronts({"nb201-evolution-s1-c": (F, front), "nb201-nsga2-s0-d": (G, gfront)},
                      ("accuracy", "latency_ms"), DIRS, tmp_path / "two.png")
    first, second = (_main_axes(f) for f in captured[-2:])
    evolution = plots.method_style("evolution")
    assert _front_colour(first, "nb201-evolution-s0-b") == evolution.color
    assert _front_colour(second, "nb201-evolution-s1-c") == evolution.color
    assert _front_colour(first, "nb201-random-s0-a") != evolution.color
    marker = next(x for x in second.lines if x.get_label().startswith("nb201-evolution"))
    assert marker.get_marker() == evolution.marker
    # the hypervolume curves of runs, and the bench's league, use the same mapping
    fig = plots.hv_curves_figure({"a": ([1, 2], [0.1, 0.2])}, methods={"a": "evolution"})
    assert to_hex(fig.axes[0].lines[0].get_color()) == evolution.color
    league = _league_results(["nsga2", "evolution"])
    from hwnas.league.metrics import plot_hv

    plot_hv(league, tmp_path / "hv.png")
    lines = {x.get_label(): to_hex(x.get_color()) for x in captured[-1].axes[0].lines}
    assert lines["evolution"] == evolution.color
    # a plug-in method's style is stable across processes (not Python's salted hash): two
    # interpreters with different hash seeds draw it as this one does
    here = plots.method_style("my_plugin")
    for seed in ("1", "2"):
        drawn = subprocess.run(
            [sys.executable, "-c", "from hwnas.analysis.plots import method_style; "
             "s = method_style('my_plugin'); print(s.color, s.marker)"],
            env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True,
            check=True).stdout.split()
        assert drawn == [here.color, here.marker]


def test_two_runs_of_one_method_are_told_apart(tmp_path, captured):
    """Same colour and marker (the method's), but the second run's points are hollow and its
    front line has its own style: an fp32 and an int8 search by one method stay readable."""
    F, front = _front_with_chance_point()
    G, gfront = _front_with_chance_point(seed=1, shift=0.02)
    plots.plot_fronts({"fp32": (F, front), "int8": (G, gfront)}, ("accuracy", "latency_ms"),
                      DIRS, tmp_path / "p.png", methods={"fp32": "evolution",
                                                          "int8": "evolution"})
    ax = _main_axes(captured[-1])
    dots = {str(c.get_label()).split(":")[0]: c for c in ax.collections
            if "dominated" in str(c.get_label())}
    assert len(dots["fp32"].get_facecolors()) and dots["fp32"].get_facecolors()[0][3] > 0
    assert not len(dots["int8"].get_facecolors()) or dots["int8"].get_facecolors()[0][3] == 0
    fronts = {x.get_label().split(" ")[0]: x for x in ax.lines if "front" in x.get_label()}
    assert to_hex(fronts["int8"].get_markerfacecolor()) == "#ffffff"
    assert to_hex(fronts["fp32"].get_markerfacecolor()) == plots.method_style("evolution").color
    steps = [x for x in ax.lines if not x.get_label().startswith(("fp32", "int8", "_knee"))]
    assert len({x.get_linestyle() for x in steps if x.get_linestyle() != "None"}) == 2


def test_a_subclass_of_a_method_is_not_drawn_as_that_method(monkeypatch):
    """`plot_style` is read from the class itself: a variant registered on top of aging
    evolution is another method, and must not pass for evolution in a figure."""
    from hwnas.registry import STRATEGIES
    from hwnas.strategies.evolution import AgingEvolution

    class Variant(AgingEvolution):
        pass

    STRATEGIES.names()  # the built-ins loaded first
    monkeypatch.setitem(STRATEGIES._items, "evolution-variant", Variant)
    assert plots.method_style("evolution-variant").color != plots.method_style("evolution").color


def test_three_objectives_are_pairwise_panels(tmp_path, captured):
    rng = np.random.default_rng(0)
    F = np.c_[rng.uniform(0.5, 0.95, 30), rng.uniform(1, 5, 30), rng.uniform(1, 3, 30)]
    dirs = ["max", "min", "min"]
    front = F[non_dominated_mask(F, dirs)]
    plots.plot_fronts({"r": (F, front)}, ("accuracy", "latency_ms", "params"), dirs,
                      tmp_path / "p.png")
    axes = captured[-1].axes
    assert len(axes) == 3
    pairs = {(ax.get_xlabel().split(" (")[0], ax.get_ylabel().split(" (")[0]) for ax in axes}
    assert pairs == {("latency", "accuracy"), ("parameters", "accuracy"),
                     ("latency", "parameters")}


def _league_results(methods: list[str]) -> dict:
    evals = list(range(10, 210, 10))
    curves = {m: {"curve": {"evals": evals,
                            "hv_ratio_mean": [1 - 0.5 ** (1 + i / (3 + k)) for i in
                                              range(len(evals))],
                            "hv_ratio_std": [0.001] * len(evals)}}
              for k, m in enumerate(methods)}
    return {"league": methods, "methods": curves, "seeds": 3,
            "objectives": [{"name": "accuracy:cifar10"}, {"name": "latency:pixel3"}]}


def test_bench_hypervolume_panels_show_the_differences(tmp_path, captured):
    from hwnas.league.metrics import plot_hv

    plot_hv(_league_results(["random", "nsga2"]), tmp_path / "hv.png")
    left, right = captured[-1].axes
    assert right.get_yscale() == "log"  # the gap to the true front, where 0.99 and 0.999 differ
    low = min(min(line.get_ydata()[2:]) for line in left.lines)
    assert left.get_ylim()[0] > 0.5 and left.get_ylim()[0] <= low  # zoomed, nothing cut


def test_plot_files_are_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        F, front = _front_with_chance_point()
        path = plots.plot_fronts({"r": (F, front)}, ("accuracy", "latency_ms"), DIRS,
                                 tmp_path / "p.png")
        curves = plots.plot_hv_curves({"r": ([1, 2], [0.1, 0.2])}, tmp_path / "hv.png")
    finally:
        os.umask(old)
    for p in (path, curves):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o644
