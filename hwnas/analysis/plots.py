"""PNG plots: Pareto fronts, hypervolume over evaluations, predicted vs measured latency.

What a HW-NAS reader expects of a front plot, and why each rule is here:

* the cost (latency, energy, ...) on x and accuracy on y, each axis saying its unit and which
  way is better: the convention of the HW-NAS literature, so a plot reads at a glance;
* the view zoomed to the front: a chance-level network (the cheapest, so it is on the front)
  or a far-away slow one would squeeze every other point into a corner. Such outliers are drawn
  at the edge of the axes with an arrow-like marker and their values, never dropped silently;
* dominated candidates lighter but visible; the knee (and a picked point) marked and labelled;
* one colour and marker per method (`method_style`), the same in every figure hwnas draws;
* three or more objectives as pairwise panels.

matplotlib is imported inside the functions so that ``import hwnas`` stays fast, and the Agg
canvas is attached to a bare ``Figure`` so no global pyplot state or GUI backend is touched.
Every file goes through `hwnas.fileio.atomic_write` (mode 0666 less the umask: 0644 usually).
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwnas.analysis.figure_text import fit_width
from hwnas.analysis.pareto import _as_matrix, _signs
from hwnas.errors import BadInputError
from hwnas.fileio import atomic_write

_BETTER = {"min": "lower is better", "max": "higher is better"}

# A method keeps its colour and marker in every plot (fronts, hypervolume curves, the bench):
# each strategy declares its own (`Strategy.plot_style`). One that declares none, or a method
# no longer registered, gets a style from a hash of its name: stable across processes (crc32,
# not Python's salted hash), so still the same in every figure.
_SPARE_COLORS = ("#5254a3", "#8ca252", "#bd9e39", "#ad494a", "#a55194", "#6b6ecf", "#e7969c",
                 "#3182bd", "#31a354", "#756bb1")
_SPARE_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
_LINESTYLES = ("-", "--", ":", "-.")  # runs of one method told apart by their line
_DEFAULT_RUN_NAME = re.compile(r"^[^-]+-(?P<method>[^-]+)-s\d+(-|$)")  # api.search's default


@dataclass(frozen=True)
class MethodStyle:
    color: str
    marker: str


def method_style(method: str) -> MethodStyle:
    """The colour and marker of a search method, the same in every plot: what its strategy
    class declares (`plot_style`, its own, not a base class's), else one from its name."""
    from hwnas.registry import STRATEGIES

    cls = STRATEGIES.find(method)
    declared = vars(cls).get("plot_style") if cls is not None else None
    if declared:
        return MethodStyle(declared["color"], declared["marker"])
    h = zlib.crc32(method.encode())
    return MethodStyle(_SPARE_COLORS[h % len(_SPARE_COLORS)],
                       _SPARE_MARKERS[(h // len(_SPARE_COLORS)) % len(_SPARE_MARKERS)])


def method_of_label(label: str) -> str:
    """The strategy a run label names when none is given: the `<space>-<method>-s<seed>-...`
    of a default run directory, or a known method name as a whole label; else the label."""
    base = label.split("#")[0]
    m = _DEFAULT_RUN_NAME.match(base)
    if m:
        return m.group("method")
    return base


def axis_label(name: str, direction: str, values=None) -> str:
    """"latency on pixel3 (ms; lower is better)": what, its unit, which way is better."""
    from hwnas.objectives import get_objective

    try:
        unit = get_objective(name).unit
    except BadInputError:
        unit = ""
    kind, sep, where = name.partition(":")
    what = {"latency_ms": "latency", "energy_mj": "energy", "peak_mem_mb": "peak memory",
            "params": "parameters", "flops": "FLOPs"}.get(kind, kind)
    if sep:
        what = f"{what} on {where}"
    if kind == "accuracy":
        finite = np.asarray(values if values is not None else [], dtype=float)
        finite = finite[np.isfinite(finite)]
        unit = "%" if finite.size and finite.max() > 1.0 else "fraction correct"
    elif kind in ("params", "flops"):
        unit = "count"
    return f"{what} ({unit + '; ' if unit else ''}{_BETTER[direction]})"


def _axes_order(directions: Sequence[str], i: int, j: int) -> tuple[int, int]:
    """(x, y) objective indices of a panel: the cost on x and accuracy on y (a min and a max
    objective); two of one kind keep the given order."""
    if directions[i] == "max" and directions[j] == "min":
        return j, i
    return i, j


def _check_series(series: Mapping, n_obj: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if not series:
        raise BadInputError("plot_fronts needs at least one run to plot; got none.")
    checked = {}
    for name, pair in series.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise BadInputError(
                f"series[{name!r}] must be a pair (all_points, front_points). "
                f"Got {type(pair).__name__} instead."
            )
        pts, front = (_as_matrix(a, f"series[{name!r}][{i}]") for i, a in enumerate(pair))
        for what, A in (("all_points", pts), ("front_points", front)):
            if A.shape[1] != n_obj:
                raise BadInputError(
                    f"series[{name!r}] {what} has {A.shape[1]} objective(s) but "
                    f"{n_obj} direction(s) were given."
                )
        checked[str(name)] = (pts, front)
    return checked


# ---------------------------------------------------------------- the view (zoom and clip)


def _outliers_1d(values: np.ndarray, worse_low: bool, gap_factor: float = 2.0) -> np.ndarray:
    """Mask of front values far beyond the others on the bad end of one objective.

    The k worst values are outliers when the gap between them and the rest is larger than
    `gap_factor` times the span of the rest (a chance-level accuracy of 0.1, or two of them from
    two runs, below a front spanning 0.85-0.97). k is at most a quarter of the points and at
    least three always stay: a front that is genuinely spread keeps all of its points.
    """
    n = values.size
    out = np.zeros(n, dtype=bool)
    order = np.argsort(values if worse_low else -values, kind="stable")  # bad end first
    v = values[order]
    for k in range(n // 4, 0, -1):  # the largest outlying group
        rest = v[k:]
        if rest.size < 3:
            continue
        gap = abs(float(v[k - 1]) - float(v[k]))
        if gap > gap_factor * max(float(rest.max() - rest.min()), 1e-12):
            out[order[:k]] = True
            break
    return out


def _front_inliers(front: np.ndarray, directions: Sequence[str],
                   floors: Sequence[float | None]) -> np.ndarray:
    keep = np.ones(len(front), dtype=bool)
    for j, d in enumerate(directions):
        keep &= ~_outliers_1d(front[:, j], worse_low=(d == "max"))
        if floors[j] is not None:  # e.g. chance-level accuracy: never drives the view
            keep &= ~(front[:, j] <= floors[j] if d == "max" else front[:, j] >= floors[j])
    return keep if keep.any() else np.ones(len(front), dtype=bool)


def _view_1d(front: np.ndarray, everything: np.ndarray, direction: str) -> tuple[float, float]:
    """Axis limits from the front's inliers: a little room on the good side, and on the bad
    side room for dominated points up to half the front's span (context, not a squeeze)."""
    lo, hi = float(front.min()), float(front.max())
    span = hi - lo if hi > lo else max(abs(hi) * 0.1, 1e-9)
    finite = everything[np.isfinite(everything)]
    if direction == "max":  # bad side is low
        bad = max(lo - 0.5 * span, float(finite.min())) if finite.size else lo
        lo, hi = min(lo, bad), hi
    else:
        bad = min(hi + 0.5 * span, float(finite.max())) if finite.size else hi
        lo, hi = lo, max(hi, bad)
    pad = 0.04 * (hi - lo if hi > lo else span)
    return lo - pad, hi + pad


def front_view(data: Mapping[str, tuple[np.ndarray, np.ndarray]], directions: Sequence[str],
               floors: Sequence[float | None] | None = None) -> list[tuple[float, float]]:
    """Per objective, the (low, high) limits of the zoomed view over every series."""
    floors = list(floors) if floors is not None else [None] * len(directions)
    fronts = [f for _, f in data.values() if len(f)]
    everything = np.vstack([p for p, _ in data.values()] + fronts)
    front = np.vstack(fronts) if fronts else everything
    inliers = front[_front_inliers(front, directions, floors)]
    return [_view_1d(inliers[:, j], everything[:, j], d) for j, d in enumerate(directions)]


# ---------------------------------------------------------------- front plots


def plot_fronts(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    names: Sequence[str],
    directions: Sequence,
    path: str | os.PathLike,
    **options,
) -> Path:
    """`front_figure` written to `path` (atomically); returns the path."""
    return _save_atomic(front_figure(series, names, directions, **options), Path(path))


def front_figure(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    names: Sequence[str],
    directions: Sequence,
    *,
    title: str | None = None,
    methods: Mapping[str, str] | None = None,
    knees: Mapping[str, int] | None = None,
    picks: Mapping[str, Sequence[float]] | None = None,
    floors: Mapping[str, float] | None = None,
):
    """Each run's candidates (lighter) and front (step line and markers), as a Figure.

    ``series`` maps a run label to ``(all_points, front_points)`` in the user's units, columns
    in the order of ``names`` and ``directions``. Two objectives are one panel (cost on x,
    accuracy on y); three or more give one panel per pair (when fewer names than directions
    are given, only the named objectives are drawn). Optional:

    * ``title``: the figure's title (default: the runs' labels);
    * ``methods``: label -> strategy name, for the fixed colour and marker (default: read from
      the label, `method_of_label`);
    * ``knees``: label -> index into that run's front of its knee (default: the knee of each
      front, `hwnas.analysis.pareto.knee_index`, as `hwnas export` picks by default);
    * ``picks``: label -> one point (all objectives) marked as the picked candidate;
    * ``floors``: objective -> a value at or beyond which a point never drives the view (e.g.
      chance-level accuracy); such points are drawn at the edge like other outliers.
    """
    dirs = [getattr(d, "direction", d) for d in directions]
    if isinstance(directions, (str, bytes)) or len(dirs) < 2 or len(names) < 2:
        raise BadInputError(
            "plot_fronts draws two objectives or more; give at least 2 directions and 2 "
            f"names. Got directions {directions!r} and names {names!r} instead."
        )
    _signs(dirs)  # validates every direction with the usual message
    data = _check_series(series, len(dirs))
    k = min(len(names), len(dirs))
    names, dirs = [str(n) for n in names[:k]], dirs[:k]
    data = {label: (p[:, :k], f[:, :k]) for label, (p, f) in data.items()}
    methods = {label: (methods or {}).get(label) or method_of_label(label) for label in data}
    knees = _default_knees(data, dirs) if knees is None else dict(knees)
    picks = {label: np.asarray(p, dtype=float)[:k] for label, p in (picks or {}).items()}
    view = front_view(data, dirs, [(floors or {}).get(n) for n in names])

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    cols = min(len(pairs), 3)
    rows = -(-len(pairs) // cols)
    fig = Figure(figsize=(6.4 * cols if cols > 1 else 7.5, 5.2 * rows), dpi=110)
    FigureCanvasAgg(fig)
    for p, (i, j) in enumerate(pairs):
        ax = fig.add_subplot(rows, cols, p + 1)
        x, y = _axes_order(dirs, i, j)
        _draw_panel(ax, data, methods, knees, picks, names, dirs, view, x, y, steps=k == 2)
    # a title naming runs, a table file and an estimator is often wider than the figure
    fit_width(fig, fig.suptitle(title or ("Pareto front: " + ", ".join(data)), fontsize=10))
    handles, labels = fig.axes[0].get_legend_handles_labels()
    if len(pairs) == 1:
        fig.axes[0].legend(handles, labels, loc="best", fontsize="small")
        fig.tight_layout()
    else:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)),
                   fontsize="small")
        fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def _default_knees(data, dirs) -> dict[str, int]:
    from hwnas.analysis.pareto import knee_index

    return {label: knee_index(front, dirs) for label, (_, front) in data.items() if len(front)}


def _draw_panel(ax, data, methods, knees, picks, names, dirs, view, x, y, steps) -> None:
    """One pair of objectives. `steps`: the attainment line, only for a two-objective front
    (a projection of a 3-objective front is not a staircase)."""
    (x0, x1), (y0, y1) = view[x], view[y]
    seen: dict[str, int] = {}
    clipped_total = 0
    for label, (pts, front) in data.items():
        method = methods[label]
        style = method_style(method)
        run_of_method = seen[method] = seen.get(method, -1) + 1
        # a second run of one method: hollow markers (and its own line style), so its points
        # are not taken for the first run's
        hollow = run_of_method % 2 == 1
        dominated = pts[~_rows_in(pts, front)] if len(front) else pts
        inside = _inside(dominated, x, y, view)
        ax.scatter(dominated[inside, x], dominated[inside, y], s=18,
                   alpha=0.6 if hollow else 0.4, marker=style.marker,
                   facecolors="none" if hollow else style.color, edgecolors=style.color,
                   linewidths=0.9 if hollow else 0,
                   label=f"{label}: dominated ({len(dominated)})")
        clipped_total += _draw_clipped(ax, dominated[~inside], x, y, view, style.color, False)
        if not len(front):
            continue
        f = front[np.lexsort((front[:, y], front[:, x]))]
        where = "post" if dirs[x] == "min" else "pre"  # the attainment boundary's steps
        fin = _inside(f, x, y, view)
        if steps:
            ax.step(np.clip(f[:, x], x0, x1), np.clip(f[:, y], y0, y1), where=where,
                    color=style.color, linewidth=1.6, alpha=0.9,
                    linestyle=_LINESTYLES[run_of_method % len(_LINESTYLES)])
        ax.plot(f[fin, x], f[fin, y], linestyle="none", marker=style.marker, markersize=7,
                color=style.color, markeredgecolor="black", markeredgewidth=0.6,
                markerfacecolor="white" if hollow else style.color,
                label=f"{label} ({method}): front ({len(f)})")
        clipped_total += _draw_clipped(ax, f[~fin], x, y, view, style.color, True)
        many = len(data) > 1
        if label in knees:
            _mark(ax, front[knees[label]], x, y, view, "knee", "o", 16, label if many else "")
        if label in picks:
            _mark(ax, picks[label], x, y, view, "pick", "*", 20, label if many else "")
    if clipped_total:  # one legend entry saying what the edge markers are
        ax.scatter([], [], marker="$\u21a7$", s=60, color="black",
                   label=f"beyond the view, drawn at its edge ({clipped_total})")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    for axis, j in ((ax.set_xlabel, x), (ax.set_ylabel, y)):
        axis(axis_label(names[j], dirs[j], np.concatenate([p[:, j] for p, _ in data.values()])))
    ax.grid(True, alpha=0.3)


def _rows_in(pts: np.ndarray, front: np.ndarray) -> np.ndarray:
    return (pts[:, None, :] == front[None, :, :]).all(axis=2).any(axis=1)


def _inside(P: np.ndarray, x: int, y: int, view) -> np.ndarray:
    (x0, x1), (y0, y1) = view[x], view[y]
    return (P[:, x] >= x0) & (P[:, x] <= x1) & (P[:, y] >= y0) & (P[:, y] <= y1)


def _edge_marker(px: float, py: float, x0, x1, y0, y1) -> str:
    if py < y0:
        return "v"
    if py > y1:
        return "^"
    return "<" if px < x0 else ">"


def _draw_clipped(ax, P, x, y, view, color, on_front: bool) -> int:
    """Points outside the view, drawn on its edge with a triangle pointing where they are;
    front points also say their values (they matter: one may be the cheapest network)."""
    (x0, x1), (y0, y1) = view[x], view[y]
    for p in P:
        cx, cy = float(np.clip(p[x], x0, x1)), float(np.clip(p[y], y0, y1))
        ax.scatter([cx], [cy], marker=_edge_marker(p[x], p[y], x0, x1, y0, y1),
                   s=55 if on_front else 28, color=color, alpha=1.0 if on_front else 0.5,
                   edgecolors="black" if on_front else "none", linewidths=0.6,
                   clip_on=False, zorder=4, gid="clipped")
        if on_front:  # its values, on the side away from the right edge
            right = cx >= x1
            ax.annotate(f"({p[x]:.3g}, {p[y]:.3g})", (cx, cy), textcoords="offset points",
                        xytext=(-6 if right else 6, 6 if cy <= y0 else -10),
                        ha="right" if right else "left", fontsize=7, annotation_clip=False)
    return len(P)


def _mark(ax, point, x, y, view, text: str, marker: str, size: float, run: str) -> None:
    """A hollow black marker around the point and its values; one legend entry per kind."""
    (x0, x1), (y0, y1) = view[x], view[y]
    px, py = float(np.clip(point[x], x0, x1)), float(np.clip(point[y], y0, y1))
    first = text not in ax.get_legend_handles_labels()[1]
    ax.plot([px], [py], linestyle="none", marker=marker, markersize=size,
            markerfacecolor="none", markeredgecolor="black", markeredgewidth=1.4,
            label=text if first else "_" + text, gid=text, clip_on=False, zorder=5)
    # The label runs away from the nearer edges, so that a point in the right or bottom of
    # the view does not push its label off the figure.
    right, low = px > (x0 + x1) / 2, py < y0 + 0.15 * (y1 - y0)
    ax.annotate(f"{text}{' of ' + run if run else ''} ({point[x]:.3g}, {point[y]:.3g})",
                (px, py), textcoords="offset points",
                xytext=(-8 if right else 8, 8 if low else -14), ha="right" if right else "left",
                fontsize=7.5, fontweight="bold")


# ---------------------------------------------------------------- hypervolume curves


def plot_hv_curves(curves: Mapping[str, tuple[Sequence[int], Sequence[float]]],
                   path: str | os.PathLike, **options) -> Path:
    """`hv_curves_figure` written to `path` (atomically); returns the path."""
    return _save_atomic(hv_curves_figure(curves, **options), Path(path))


def hv_curves_figure(curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], *,
              methods: Mapping[str, str] | None = None, title: str | None = None,
              ylabel: str = "hypervolume of the front so far"):
    """Hypervolume after each evaluation, one step line per run (a run's method gives its
    colour and marker), as a Figure."""
    if not curves:
        raise BadInputError("plot_hv_curves needs at least one run's curve; got none.")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    seen: dict[str, int] = {}
    for label, (evals, hv) in curves.items():
        method = (methods or {}).get(label) or method_of_label(label)
        style = method_style(method)
        n = seen[method] = seen.get(method, -1) + 1
        ax.step(evals, hv, where="post", color=style.color, marker=style.marker,
                markevery=max(1, len(evals) // 8), markersize=6,
                linestyle=_LINESTYLES[n % len(_LINESTYLES)], label=f"{label} ({method})")
    ax.set_xlabel("evaluations (candidates, in the order evaluated)")
    ax.set_ylabel(ylabel)
    fit_width(fig, ax.set_title(title or "hypervolume over evaluations", fontsize=10))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def _save_atomic(fig, path: Path) -> Path:
    # Readers never see a half-written image, and it gets the mode of the tool's other files.
    with atomic_write(path) as fh:
        fig.savefig(fh, format=path.suffix.lstrip(".").lower() or "png")
    return path


def plot_prediction_scatter(predicted, measured, title: str, path: str | os.PathLike) -> Path:
    """`prediction_figure` written to `path` (atomically); returns the path."""
    return _save_atomic(prediction_figure(predicted, measured, title), Path(path))


def prediction_figure(predicted, measured, title: str):
    """Predicted vs measured latency with the y = x line and a +-10% band, as a Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pred, meas = np.asarray(predicted, float), np.asarray(measured, float)
    fig = Figure(figsize=(5.5, 5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    hi = float(max(pred.max(), meas.max())) * 1.05
    lo = float(min(pred.min(), meas.min())) * 0.95
    line = np.linspace(lo, hi, 50)
    ax.plot(line, line, color="black", lw=1, label="y = x")
    ax.fill_between(line, line * 0.9, line * 1.1, color="tab:green", alpha=0.15, label="±10%")
    ax.scatter(meas, pred, s=12, color="tab:blue", label=f"networks ({len(pred)})")
    ax.set_xlabel("measured latency (ms)")
    ax.set_ylabel("predicted latency (ms)")
    fit_width(fig, ax.set_title(title, fontsize=9))
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()  # room for the two-line title and the axis labels
    return fig
