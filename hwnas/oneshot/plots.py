"""The picture of a one-shot search: the probability of each option at each position, epoch by
epoch (one small panel per position), and E[cost] against the target. Written with a bare
matplotlib Figure (no pyplot state), atomically, like the tool's other plots."""

from __future__ import annotations

import math
from pathlib import Path

from hwnas.fileio import atomic_write


def plot_trajectory(trajectory: list[dict], positions, path: str | Path,
                    title: str = "") -> Path:
    """`trajectory_figure` written to `path` (atomically); returns the path."""
    path = Path(path)
    fig = trajectory_figure(trajectory, positions, title)
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=90)
    return path


def trajectory_figure(trajectory: list[dict], positions, title: str = ""):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from hwnas.analysis.figure_text import fit_width

    trajectory = [e for e in trajectory if "probs" in e]  # a diverged epoch has none
    n = len(positions) + 1  # + the cost panel
    cols = min(6, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(2.6 * cols, 2.0 * rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    epochs = [e["epoch"] + 1 for e in trajectory]
    for p, position in enumerate(positions):
        ax = fig.add_subplot(rows, cols, p + 1)
        for j, option in enumerate(position.options):
            ax.plot(epochs, [e["probs"][p][j] for e in trajectory], label=str(option), lw=1.2)
        ax.set_title(position.label, fontsize=8)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=6)
        if p == 0:
            ax.legend(fontsize=5, ncol=2, loc="upper left")
    ax = fig.add_subplot(rows, cols, n)
    costs = [e["expected_cost"] for e in trajectory]
    if any(c is not None for c in costs):
        ax.plot(epochs, costs, color="black", lw=1.4, label="E[cost]")
        ax.plot(epochs, [e["argmax_cost"] for e in trajectory], color="tab:red", lw=1,
                ls="--", label="argmax")
        target = trajectory[-1].get("target") if trajectory else None
        if target is not None:
            ax.axhline(target, color="gray", lw=0.8, ls=":", label="target")
        ax.legend(fontsize=5)
    ax.set_title("cost", fontsize=8)
    ax.tick_params(labelsize=6)
    # the setting in the title can be wider than a figure of few panels
    fit_width(fig, fig.suptitle(f"{title} — probability per option vs epoch", fontsize=9))
    return fig
