"""Scorer: one architecture -> its objective values (estimator + cost models)."""

from __future__ import annotations

import difflib
import time

from hwnas.arch import Arch
from hwnas.core.costs import CostModel
from hwnas.errors import BadInputError
from hwnas.estimators.base import Estimate, Estimator
from hwnas.latency.columns import (
    NETWORK_OBJECTIVES,
    available_columns,
    predict_network,
    require_column,
)
from hwnas.latency.table import LatencyTable
from hwnas.objectives import Objective
from hwnas.spaces.base import SearchSpace

# what a search may rank on: a table's statistics (std is a spread, not a latency)
LATENCY_STATS = ("p0", "p10", "p50", "p90", "mean")
TABLE_OBJECTIVES = set(NETWORK_OBJECTIVES)
_COST_COLUMNS = TABLE_OBJECTIVES - {"latency_ms"}
MODEL_OBJECTIVES = {"params", "flops"}


def check_objective_columns(table: LatencyTable, objectives: list[Objective]) -> None:
    """One-line BadInputError when an objective needs a cost column ``table`` lacks."""
    for objective in objectives:
        if objective.column:
            require_column(table, objective.column)


def check_objectives_provided(objectives: list[Objective], estimator: Estimator,
                              table: LatencyTable | None, what: str = "objective") -> None:
    """Every objective (or cost a constraint names, `what`) must come from somewhere: the
    estimator, the table, or the model."""
    provided = set(estimator.provides()) | MODEL_OBJECTIVES
    if table is not None:
        check_objective_columns(table, objectives)
        provided |= TABLE_OBJECTIVES
    for objective in objectives:
        if objective.name not in provided:
            if objective.name in TABLE_OBJECTIVES:
                source = "a latency table (--table, made by `hwnas profile`)"
            elif "accuracy" in estimator.option_specs and "benchmark" in estimator.option_specs:
                # a benchmark estimator that reads another column than the one named: the
                # user already chose it, so say which option points elsewhere
                reads = estimator.options
                source = (f"the estimator to read it, which reads {reads['accuracy']!r} as its "
                          f"accuracy and {', '.join(reads.get('costs') or ()) or 'no cost'} "
                          "beside it: drop --estimator-opt accuracy=/costs= (--objectives names "
                          "them, as in `hwnas bench`) or name the same columns in both")
            else:
                source = ("an estimator that looks it up (--estimator tabular --estimator-opt "
                          "benchmark=CSV)")
            # 0.5: a name that shares its stem (latency_ms ~ latency:pixel3), not any name
            close = difflib.get_close_matches(objective.name, sorted(provided), n=1,
                                              cutoff=0.5)
            hint = f"; closest: {close[0]!r}" if close else ""
            raise BadInputError(f"{what} {objective.name!r} needs {source}; this search "
                                f"provides {', '.join(sorted(provided))}{hint}")


class Scorer:
    """Accuracy (and benchmark costs, for tabular estimators) from the estimator; latency,
    energy and peak memory from the latency table when there is one; params/FLOPs from torch.

    With ``objectives``, a missing source is refused here, in one line, before any training.
    """

    def __init__(self, space: SearchSpace, estimator: Estimator, table: LatencyTable | None,
                 stat: str | None = None, objectives: list[Objective] | None = None,
                 constrained: list[Objective] | None = None):
        if stat is None:  # the table's own statistic (any, without a table)
            stat = table.stat if table is not None else "p50"
        if stat not in LATENCY_STATS:
            raise BadInputError(f"The 'latency_stat' parameter must be one of "
                                f"{', '.join(LATENCY_STATS)}. Got {stat!r} instead.")
        check_objectives_provided(objectives or [], estimator, table)
        # the costs the run's constraints (--constraint) name: computed and recorded like
        # objectives, refused in one line when nothing provides them
        check_objectives_provided(constrained or [], estimator, table, what="constraint")
        self.space = space
        self.objectives = list(objectives or [])
        self.constrained = [o for o in constrained or []
                            if o.name not in {x.name for x in self.objectives}]
        self.constraint_names = {o.name for o in constrained or []}
        self.estimator = estimator
        self.table = table
        if table is not None:  # every candidate's latency is predicted, objective or not
            table.check_stat(stat)  # a calibrated table predicts its own statistic only
        self.stat = stat
        self.wants_model = bool(MODEL_OBJECTIVES & {o.name for o in
                                                    [*self.objectives, *self.constrained]})
        # Filled only when every entry has the column: a partial sum would understate.
        self.columns = (sorted(_COST_COLUMNS & available_columns(table))
                        if table is not None else [])

    def costs(self, arch: Arch, names: set[str] | frozenset[str] | None = None) -> dict:
        """Everything but the estimator's numbers: cheap, and checked before any training
        (`names`: only those, e.g. a latency limit's check, which needs no network built).

        Params and FLOPs need the network built; with no latency table (a tabular benchmark,
        where a lookup takes microseconds) they are computed only when an objective or a
        constraint asks.
        """
        from hwnas.nn.model_costs import count_flops, count_params

        result = {}
        if (self.table is not None or self.wants_model) and \
                (names is None or names & MODEL_OBJECTIVES):
            model = self.space.build(arch)
            batch = self.table.batch if self.table is not None else 1
            result = {"params": count_params(model),
                      "flops": count_flops(model, (batch, *self.space.input_shape))}
        if self.table is not None:
            sigs = self.space.ops(arch)
            for name in ("latency_ms", *self.columns):
                if names is None or name in names:
                    result[name] = predict_network(self.table, sigs, name, self.stat)
        return result

    def cost_model(self) -> CostModel:
        """The run's objectives, and the costs its constraints name, known without training,
        for strategies and the search loop's check before evaluation (hwnas.core.costs): the
        table's, params/FLOPs, and what the estimator looks up (a benchmark's costs)."""
        names = {o.name for o in [*self.objectives, *self.constrained]}
        from_costs = names & (MODEL_OBJECTIVES | (TABLE_OBJECTIVES if self.table else set()))
        from_costs &= {"params", "flops", "latency_ms", *self.columns}
        # An estimator's lookups (a benchmark's device costs) are known before evaluation
        # like a table's: offered when an objective or a constraint names them, so a
        # strategy that reads device costs (DPP-Net's device model, mobo's exact costs) reads
        # them in `hwnas search` as it does in `hwnas bench`'s league, and those some
        # architectures lack are ruled out unevaluated.
        gaps, share = self.estimator.cheap_cost_gaps()
        cheap = (names | self.constraint_names | gaps) & set(self.estimator.cheap_cost_names())

        def compute(arch: Arch, wanted: frozenset[str]) -> dict:
            values = self.costs(arch, wanted & from_costs) if wanted & from_costs else {}
            return {**values, **(self.estimator.cheap_costs(arch) if wanted & cheap else {})}

        return CostModel(from_costs | cheap, compute, partial=True, gaps=gaps,
                         known_share=share)

    def evaluate(self, arch: Arch) -> tuple[dict, Estimate]:
        start = time.perf_counter()
        result = self.costs(arch)
        estimate = self.estimator.estimate(arch)
        result["accuracy"] = estimate.accuracy
        result.update(estimate.extra.get("objectives", {}))  # e.g. a benchmark's device costs
        result["eval_seconds"] = time.perf_counter() - start
        return result, estimate
