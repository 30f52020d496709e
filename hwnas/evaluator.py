"""Evaluator: one architecture -> its objective values (estimator + cost models)."""

from __future__ import annotations

import time

from hwnas.arch import Arch
from hwnas.costs import count_flops, count_params
from hwnas.estimators.base import Estimate, Estimator
from hwnas.latency.table import LatencyTable
from hwnas.spaces.base import SearchSpace


class Evaluator:
    """Accuracy from the estimator; latency from the table; params/FLOPs from torch."""

    def __init__(self, space: SearchSpace, estimator: Estimator, table: LatencyTable,
                 stat: str = "p50"):
        self.space = space
        self.estimator = estimator
        self.table = table
        self.stat = stat

    def costs(self, arch: Arch) -> dict:
        """Everything but accuracy: cheap, and checked before any training starts."""
        sigs = self.space.ops(arch)
        model = self.space.build(arch)
        return {"latency_ms": self.table.predict_ops(sigs, self.stat),
                "params": count_params(model),
                "flops": count_flops(model, (self.table.batch, *self.space.input_shape))}

    def evaluate(self, arch: Arch) -> tuple[dict, Estimate]:
        start = time.perf_counter()
        result = self.costs(arch)
        estimate = self.estimator.estimate(arch)
        result["accuracy"] = estimate.accuracy
        result["eval_seconds"] = time.perf_counter() - start
        return result, estimate
