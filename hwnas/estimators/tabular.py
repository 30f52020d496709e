"""`tabular`: look an architecture up in a benchmark table instead of training it.

The benchmark (e.g. `nb201_hw.csv`: NAS-Bench-201 accuracies x HW-NAS-Bench device costs) fixes
the data, the training recipe and the devices, so the estimator's `dataset` argument is ignored
(the base class still checks it is a valid spec; the default `digits` always is): pick the data
with `accuracy=accuracy:cifar100` and the devices with
`costs=latency:pixel3,energy:fpga`. Costs come back in `Estimate.extra["objectives"]` under the
names asked for, which the evaluator merges into the candidate's objectives. Which space and
space options the benchmark describes comes from its format (`hwnas.tabular.formats`).
"""

from __future__ import annotations

import time

import numpy as np

from hwnas.errors import BadInputError
from hwnas.estimators.base import Estimate, Estimator
from hwnas.options import Option, StrList, option_error
from hwnas.registry import ESTIMATORS
from hwnas.tabular.benchmark import BenchmarkTable
from hwnas.tabular.formats.base import example_benchmark


@ESTIMATORS.register("tabular")
class TabularEstimator(Estimator):
    """Accuracy (and device costs) of an architecture read from a benchmark CSV; 0 epochs."""

    option_specs = {
        "benchmark": Option(None, str, none_ok=True),  # required; checked in _resolve
        "accuracy": Option("accuracy", str),
        "costs": StrList((), str),
    }

    def _resolve(self) -> dict:
        if self.options.get("benchmark") is None:
            example = example_benchmark(getattr(self.space, "name", None))
            raise BadInputError("the tabular estimator needs a benchmark CSV: pass "
                                f"--estimator-opt benchmark={example}")
        resolved = super()._resolve()
        table = BenchmarkTable.load(resolved["benchmark"])
        table.format.check_space(self.space, table.path.name)
        column = table.resolve(resolved["accuracy"])
        if not table.is_accuracy(column):
            accuracies = [n for n, c in table.aliases().items() if table.is_accuracy(c)]
            raise option_error("accuracy", self.owner(), "an accuracy of the benchmark, one of "
                               f"{', '.join(accuracies)}", resolved["accuracy"],
                               f"(it reads {column}, not an accuracy)")
        costs = resolved["costs"]  # StrList: already a list of stripped names
        for name in costs:
            table.resolve(name)  # one-line error naming the allowed objectives
        if "accuracy" in costs or len(set(costs)) != len(costs):
            raise option_error("costs", self.owner(), "distinct costs other than accuracy",
                               costs)
        self._table = table  # loaded once; estimate() only indexes it
        return resolved

    def provides(self) -> set[str]:
        return {"accuracy", *self.resolved_options()["costs"]}

    def estimate(self, arch) -> Estimate:
        opts = self.resolved_options()  # validated and loaded once, not timed per lookup
        start = time.perf_counter()
        table = self._table
        row = table.row_of(arch)
        accuracy = self._lookup(table, opts["accuracy"], row)
        objectives = {name: self._lookup(table, name, row) for name in opts["costs"]}
        return Estimate(accuracy=accuracy, seconds=time.perf_counter() - start, epochs=0,
                        extra={"objectives": objectives, "row": row})

    @staticmethod
    def _lookup(table: BenchmarkTable, name: str, row: int) -> float:
        values = table.objective_values(name)
        value = float(values[row])
        if not np.isfinite(value):
            have = int(np.isfinite(values).sum())
            complete = [n for n, c in table.aliases().items()
                        if not table.is_accuracy(c) and np.isfinite(table.values(c)).all()]
            example = f", e.g. {complete[0]}" if complete else ""
            raise BadInputError(
                f"benchmark {table.path.name} has no {name} value for {table.arch_string(row)} "
                f"(row {row}; only {have:,} of {table.n_rows:,} rows have one); search with "
                f"objectives every row has{example}")
        return value
