"""PNG plots: Pareto fronts, and predicted vs measured latency.

matplotlib is imported inside the function so that ``import hwnas`` stays fast, and the Agg
canvas is attached to a bare ``Figure`` so no global pyplot state or GUI backend is touched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from hwnas.analysis.pareto import _as_matrix, _signs
from hwnas.errors import BadInputError
from hwnas.fileio import atomic_write

_ARROW = {"min": "↓ better", "max": "↑ better"}


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
        checked[str(name)] = (pts[:, :2], front[:, :2])
    return checked


def plot_fronts(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    names: tuple[str, str],
    directions: Sequence,
    path: str | os.PathLike,
) -> Path:
    """Plot each run's candidates (faint) and front (step line + markers); return the path.

    ``series`` maps a run name to ``(all_points, front_points)`` in the user's units; only the
    first two objectives are drawn, labelled with ``names`` and which way is better. The
    step line follows the front's attainment boundary. The file is written atomically.
    """
    dirs = [getattr(d, "direction", d) for d in directions]
    if isinstance(directions, (str, bytes)) or len(dirs) < 2 or len(names) < 2:
        raise BadInputError(
            "plot_fronts draws two objectives; give at least 2 directions and 2 names. "
            f"Got directions {directions!r} and names {names!r} instead."
        )
    _signs(dirs)  # validates every direction with the usual message
    data = _check_series(series, len(dirs))

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    # Along a min x-axis a point covers everything to its right ('post'); along max, its left.
    where = "post" if dirs[0] == "min" else "pre"
    for i, (name, (pts, front)) in enumerate(data.items()):
        color = f"C{i % 10}"
        ax.scatter(pts[:, 0], pts[:, 1], s=10, alpha=0.25, color=color, linewidths=0,
                   label=f"{name}: all ({len(pts)})")
        if len(front):
            f = front[np.lexsort((front[:, 1], front[:, 0]))]
            ax.step(f[:, 0], f[:, 1], where=where, color=color, linewidth=1.8, alpha=0.9)
            ax.plot(f[:, 0], f[:, 1], linestyle="none", marker="o", markersize=5,
                    color=color, markeredgecolor="black", markeredgewidth=0.5,
                    label=f"{name}: front ({len(f)})")
    ax.set_xlabel(f"{names[0]} ({_ARROW[dirs[0]]})")
    ax.set_ylabel(f"{names[1]} ({_ARROW[dirs[1]]})")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return _save_atomic(fig, Path(path))


def _save_atomic(fig, path: Path) -> Path:
    # Readers never see a half-written image, and it gets the mode of the tool's other files.
    with atomic_write(path) as fh:
        fig.savefig(fh, format=path.suffix.lstrip(".").lower() or "png")
    return path


def plot_prediction_scatter(predicted, measured, title: str, path: str | os.PathLike) -> Path:
    """Predicted vs measured latency with the y = x line and a +-10% band."""
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
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save_atomic(fig, Path(path))
