"""The report's figures as PNG bytes, and what a front plot should say about its runs (title,
methods, chance level): `front_plot_options` is also what `hwnas pareto` can pass to
`hwnas.analysis.plots.plot_fronts`."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from hwnas.registry import ESTIMATORS
from hwnas.report.collect import RunData
from hwnas.searching.config import stored_options


def describe_run(config: dict) -> str:
    """'space nb201 · device pixel3 (benchmark nb201_hw.csv) · estimator tabular': each part
    as the run's estimator describes itself (`Estimator.summary`, `cost_source`)."""
    search = config["search"]
    table = config.get("table") or {}
    est = stored_options(config, "estimator")  # a run of any age: the options alone
    cls = ESTIMATORS.find(search["estimator"])  # None: a plug-in not loaded; its name alone
    if table.get("path"):
        path = Path(table["path"])
        device = f"table {path.parent.name}/{path.name} ({table.get('backend', '?')})"
    else:
        devices = sorted({o.partition(":")[2] for o in search["objectives"]
                          if ":" in o and not o.startswith("accuracy")})
        source = cls and cls.cost_source({**search.get("estimator_options", {}), **est})
        device = f"device {', '.join(devices) or '-'}" + (f" ({source})" if source else "")
    estimator = cls.summary(est) if cls else search["estimator"]
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
    on_dataset = all(getattr(ESTIMATORS.find(c["search"]["estimator"]), "accuracy_on_dataset",
                             True) for c in configs)
    if len(classes) == 1 and on_dataset:  # accuracies of the run's own classes
        options["floors"] = {"accuracy": 1.5 / classes.pop()}
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
    from hwnas.analysis.plots import hv_curves_figure

    curves = {d.label: d.hv_curve for d in runs if d.hv_curve[0]}
    fig = hv_curves_figure(curves, methods={d.label: d.method for d in runs},
                    title="hypervolume of each run's front after every evaluation",
                    ylabel="hypervolume (normalised, reference 1.1)")
    return png(fig)


def has_points(runs: list[RunData]) -> bool:
    return any(len(d.points) for d in runs) and bool(np.any([len(d.front) for d in runs]))
