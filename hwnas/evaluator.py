"""Evaluator: one architecture -> its objective values (estimator + cost models)."""

from __future__ import annotations

import time

from hwnas.arch import Arch
from hwnas.costs import count_flops, count_params
from hwnas.errors import BadInputError
from hwnas.estimators.base import Estimate, Estimator
from hwnas.latency.columns import (
    available_columns,
    predict_energy,
    predict_peak_memory,
    require_column,
)
from hwnas.latency.table import LatencyTable
from hwnas.objectives import Objective
from hwnas.spaces.base import SearchSpace

LATENCY_STATS = ("p50", "p90", "mean")  # std is a spread, not a latency
# cost column of the table -> how a network's value is predicted from its ops' entries
_COLUMN_PREDICTORS = {"energy_mj": predict_energy, "peak_mem_mb": predict_peak_memory}


def check_objective_columns(table: LatencyTable, objectives: list[Objective]) -> None:
    """One-line BadInputError when an objective needs a cost column ``table`` lacks."""
    for objective in objectives:
        if objective.column:
            require_column(table, objective.column)


class Evaluator:
    """Accuracy from the estimator; latency (and energy/peak memory where the table has those
    columns) from the table; params/FLOPs from torch.

    With ``objectives``, a table lacking a column an objective needs is refused here, in one
    line, before anything is trained.
    """

    def __init__(self, space: SearchSpace, estimator: Estimator, table: LatencyTable,
                 stat: str = "p50", objectives: list[Objective] | None = None):
        if stat not in LATENCY_STATS:
            raise BadInputError(f"The 'latency_stat' parameter must be one of "
                                f"{', '.join(LATENCY_STATS)}. Got {stat!r} instead.")
        check_objective_columns(table, objectives or [])
        self.space = space
        self.estimator = estimator
        self.table = table
        self.stat = stat
        # Filled only when every entry has the column: a partial sum would understate.
        self.columns = sorted(set(_COLUMN_PREDICTORS) & available_columns(table))

    def costs(self, arch: Arch) -> dict:
        """Everything but accuracy: cheap, and checked before any training starts."""
        sigs = self.space.ops(arch)
        model = self.space.build(arch)
        result = {"latency_ms": self.table.predict_ops(sigs, self.stat),
                  "params": count_params(model),
                  "flops": count_flops(model, (self.table.batch, *self.space.input_shape))}
        for column in self.columns:
            result[column] = _COLUMN_PREDICTORS[column](self.table, sigs)
        return result

    def evaluate(self, arch: Arch) -> tuple[dict, Estimate]:
        start = time.perf_counter()
        result = self.costs(arch)
        estimate = self.estimator.estimate(arch)
        result["accuracy"] = estimate.accuracy
        result["eval_seconds"] = time.perf_counter() - start
        return result, estimate
