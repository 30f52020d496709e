"""`tabular`: look an architecture up in a benchmark table instead of training it.

The benchmark (e.g. `nb201_hw.csv`: NAS-Bench-201 accuracies x HW-NAS-Bench device costs) fixes
the data, the training recipe and the devices, so the estimator's `dataset` argument is ignored
(the base class still checks it is a valid spec; the default `digits` always is): pick the data
with `accuracy=accuracy:cifar100` and the devices with
`costs=latency:pixel3,energy:fpga`. Costs come back in `Estimate.extra["objectives"]` under the
names asked for, which the evaluator merges into the candidate's objectives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwnas.errors import BadInputError
from hwnas.estimators.base import Estimate, Estimator, Option
from hwnas.registry import ESTIMATORS
from hwnas.tabular.benchmark import BenchmarkTable, is_accuracy_column

EXAMPLE_PATH = "../shared/benchmarks/nb201_hw/nb201_hw.csv"
# Space options that change the trained network, hence the benchmark's numbers. (Resolution,
# classes and input channels follow the dataset: ImageNet16-120 is 16x16 with 120 classes.)
BENCHMARK_SPACE = {"nb201": {"C": 16, "N": 5}}


@dataclass(frozen=True)
class NameList(Option):
    """Objective names as a list, or one comma-separated string (how the CLI passes them)."""

    def describe(self) -> str:
        return "a list of objective names or a comma-separated str"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str):
            return True
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def split_names(value: str | list | tuple) -> list[str]:
    parts = value.split(",") if isinstance(value, str) else value
    return [p.strip() for p in parts if p.strip()]


@ESTIMATORS.register("tabular")
class TabularEstimator(Estimator):
    """Accuracy (and device costs) of an architecture read from a benchmark CSV; 0 epochs."""

    option_specs = {
        "benchmark": Option(None, str, none_ok=True),  # required; checked in _resolve
        "accuracy": Option("accuracy", str),
        "costs": NameList((), str),
    }

    def _resolve(self) -> dict:
        if self.options.get("benchmark") is None:
            raise BadInputError("the tabular estimator needs a benchmark CSV: pass "
                                f"--estimator-opt benchmark={EXAMPLE_PATH}")
        resolved = super()._resolve()
        table = BenchmarkTable.load(resolved["benchmark"])
        self._check_space(table)
        column = table.resolve(resolved["accuracy"])
        if not is_accuracy_column(column):
            raise BadInputError(f"The 'accuracy' parameter of TabularEstimator must name an "
                                f"accuracy, e.g. accuracy:cifar100. Got {resolved['accuracy']!r} "
                                f"(column {column}) instead.")
        costs = split_names(resolved["costs"])
        for name in costs:
            table.resolve(name)  # one-line error naming the allowed objectives
        if "accuracy" in costs or len(set(costs)) != len(costs):
            raise BadInputError(f"The 'costs' parameter of TabularEstimator must list distinct "
                                f"costs other than accuracy. Got {costs!r} instead.")
        resolved["costs"] = costs
        self._table = table  # loaded once; estimate() only indexes it
        return resolved

    def _check_space(self, table: BenchmarkTable) -> None:
        name = getattr(self.space, "name", None)
        if name != table.space_name:
            raise BadInputError(f"benchmark {table.path.name} covers space {table.space_name!r}, "
                                f"not {name!r}; run with --space {table.space_name}")
        config = self.space.config()
        for option, value in BENCHMARK_SPACE.get(name, {}).items():
            if config.get(option) != value:
                raise BadInputError(
                    f"benchmark {table.path.name} measured {name} with {option}={value}, but the "
                    f"space has {option}={config.get(option)!r}; drop --space-opt {option}")

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
            raise BadInputError(
                f"benchmark {table.path.name} has no {name} value for {table.arch_string(row)} "
                f"(row {row}; only {have:,} of {table.n_rows:,} rows have one); search with "
                f"objectives every row has, e.g. latency:pixel3")
        return value
