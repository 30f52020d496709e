"""The report's figures as PNG bytes, and what a front plot should say about its runs (title,
methods, chance level): `front_plot_options` is also what `hwnas pareto` can pass to
`hwnas.analysis.plots.plot_fronts`."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from hwnas.report.collect import RunData


def describe_run(config: dict) -> str:
    """'space nb201 · device pixel3 (benchmark nb201_hw.csv) · estimator tabular'."""
    search = config["search"]
    table = config.get("table") or {}
    est = config.get("estimator_resolved") or {}
    if table.get("path"):
        path = Path(table["path"])
        device = f"table {path.parent.name}/{path.name} ({table.get('backend', '?')})"
    else:
        devices = sorted({o.partition(":")[2] for o in search["objectives"]
                          if ":" in o and not o.startswith("accuracy")})
        bench = est.get("benchmark") or search.get("estimator_options", {}).get("benchmark")
        device = f"device {', '.join(devices) or '-'}" + \
            (f" (benchmark {Path(bench).name})" if bench else "")
    estimator = search["estimator"]
    if estimator == "scratch" and est.get("epochs") is not None:
        estimator += f" ({est['epochs']} epochs at {est.get('resolution', '?')} px)"
    return f"space {search['space']} · {device} · estimator {estimator}"


def front_plot_options(labels: list[str], configs: list[dict]) -> dict:
    """`plot_fronts` keywords for runs: a title naming the runs, their method, space,
    device/table and estimator; each run's method (its fixed colour); the chance-level
    accuracy (1.5 / classes) under which a point never drives the view."""
    described = sorted({describe_run(c) for c in configs})
    runs = ", ".join(f"{label} ({c['search']['strategy']})"
                     for label, c in zip(labels, configs, strict=True))
    options = {"title": runs + "\n" + "; ".join(described),
               "methods": {label: c["search"]["strategy"]
                           for label, c in zip(labels, configs, strict=True)}}
    classes = {(c.get("space_resolved") or {}).get("num_classes") for c in configs}
    classes.discard(None)
    if len(classes) == 1 and all(c["search"]["estimator"] != "tabular" for c in configs):
        options["floors"] = {"accuracy": 1.5 / classes.pop()}  # scratch-trained accuracy
    return options


def png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def front_png(runs: list[RunData], names: list[str], directions: list[str]) -> bytes:
    from hwnas.analysis.plots import front_figure

    shown = [d for d in runs if len(d.points)]
    series = {d.label: (d.points, d.points[d.front]) for d in shown}
    knees = {d.label: d.front.index(d.knee) for d in shown}
    options = front_plot_options([d.label for d in shown], [d.config for d in shown])
    return png(front_figure(series, names, directions, knees=knees, **options))


def hv_png(runs: list[RunData]) -> bytes:
    from hwnas.analysis.plots import hv_figure

    curves = {d.label: d.hv_curve for d in runs if d.hv_curve[0]}
    fig = hv_figure(curves, methods={d.label: d.method for d in runs},
                    title="hypervolume of each run's front after every evaluation",
                    ylabel="hypervolume (normalised, reference 1.1)")
    return png(fig)


def has_points(runs: list[RunData]) -> bool:
    return any(len(d.points) for d in runs) and bool(np.any([len(d.front) for d in runs]))
