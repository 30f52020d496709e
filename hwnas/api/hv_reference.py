"""The hypervolume reference of a run: fixed once per (space, objectives), stored with the run.

A hypervolume normalised over the runs shown beside it changes with its company (1.1630 alone,
1.1603 in a trio, in the session that found it). So a search stores, in its config.json, the
bounds every objective can take in its space, and `hwnas pareto` normalises with them: ideal
-> 0, nadir -> 1, reference point 1.1 (hwnas.analysis.pareto.DEFAULT_REF). Two runs of one
space, table or benchmark and objectives then get the same bounds, and a run's number is the
same alone and in any comparison.

Where each bound comes from (`how`, stored beside it):

* an objective to maximise is an accuracy (hwnas.objectives): [0, 1];
* a benchmark's column (`latency:pixel3`, the tabular estimator's `benchmark`): the column's
  own minimum and maximum over the benchmark's architectures;
* the latency table's costs (`latency_ms`, `energy_mj`, `peak_mem_mb`): the table's
  prediction for the cheapest and the dearest architecture, found by coordinate descent and
  ascent from the space's default architecture (hwnas.tables.spanning.walk). The prediction
  is a sum (or, for peak memory, a max) over positions, so the walk reaches the true ends.

Params and FLOPs have no stored bound: each step of such a walk builds a network (seconds per
step on NB201's cells), too slow to pay at every search's start. Nor does any objective none of
the above covers. `hwnas pareto` then normalises over the runs shown and says so; `--ref`
fixes a reference point by hand (a raw hypervolume, the same in any company).
"""

from __future__ import annotations

from hwnas.errors import BadInputError
from hwnas.objectives import Objective

TABLE_COSTS = ("latency_ms", "energy_mj", "peak_mem_mb")


def derive_reference(space, objectives: list[Objective], scorer, cost_model) -> dict:
    """{"objectives", "directions", "ideal", "nadir", "how"} in the user's units; an
    objective without a derivable bound is left out of `objectives`."""
    import numpy as np

    from hwnas.tables.spanning import walk

    benchmark = _benchmark(scorer)
    names: list[str] = []
    directions: list[str] = []
    ideal: list[float] = []
    nadir: list[float] = []
    hows: dict[str, str] = {}
    for objective in objectives:
        name = objective.name
        bounds, how = None, ""
        if objective.direction == "max":
            bounds, how = (1.0, 0.0), "an accuracy: [0, 1]"
        elif benchmark is not None and _answers(benchmark, name):
            values = np.asarray(benchmark.objective_values(name), dtype=float)
            values = values[np.isfinite(values)]
            if values.size:
                bounds = (float(values.min()), float(values.max()))
                how = f"min and max of the benchmark column ({benchmark.path.name})"
        elif name in TABLE_COSTS and scorer.table is not None and name in cost_model.provides:
            from hwnas.latency.columns import predict_network

            rng = np.random.default_rng(0)  # only orders the labels of each pass

            def cost(arch, name=name):
                return predict_network(scorer.table, space.ops(arch), name, scorer.stat)

            start = space.default_arch()
            bounds = (cost(walk(space, cost, start, 1.0, rng)[-1]),
                      cost(walk(space, cost, start, -1.0, rng)[-1]))
            how = ("the table's prediction for the cheapest and the dearest architecture "
                   "(coordinate descent and ascent)")
        if bounds is None:
            continue
        names.append(name)
        directions.append(objective.direction)
        ideal.append(bounds[0])
        nadir.append(bounds[1])
        hows[name] = how
    return {"objectives": names, "directions": directions, "ideal": ideal, "nadir": nadir,
            "how": hows}


def _benchmark(scorer):
    options = scorer.estimator.options
    if not options.get("benchmark"):
        return None
    from hwnas.tabular.benchmark import BenchmarkTable

    return BenchmarkTable.load(options["benchmark"])  # cached: the estimator read it already


def _answers(benchmark, name: str) -> bool:
    try:
        benchmark.resolve(name)
    except BadInputError:  # not one of this benchmark's columns
        return False
    return True
