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
from pathlib import Path

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

    accuracy_on_dataset = False  # the benchmark's accuracies, on its own data, not --dataset
    option_specs = {
        "benchmark": Option(None, str, none_ok=True, path=True),  # required; see _resolve
        "accuracy": Option("accuracy", str),
        "costs": StrList((), str),
    }

    def _resolve(self, given: dict) -> dict:
        if given.get("benchmark") is None:
            example = example_benchmark(getattr(self.space, "name", None))
            raise BadInputError("the tabular estimator needs a benchmark CSV: pass "
                                f"--estimator-opt benchmark={example}")
        resolved = super()._resolve(given)
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

    @classmethod
    def options_for_objectives(cls, objectives: list[str], given: dict) -> dict:
        """The objectives `hwnas bench` takes name the benchmark's columns here too: the
        first `accuracy:DATASET` is the accuracy looked up (and ranked on), device costs
        (`latency:pixel3`, `energy:fpga`) and any further accuracy are looked up beside it.
        Options given win: `--estimator-opt accuracy=...` or `costs=...` are kept as given."""
        from hwnas.objectives import DEVICE_COSTS

        out = dict(given)
        named = [o for o in objectives if o.partition(":")[2]]
        accuracies = [o for o in named if o.partition(":")[0] == "accuracy"]
        if accuracies and "accuracy" not in out:
            out["accuracy"] = accuracies[0]
        costs = [o for o in named if o.partition(":")[0] in DEVICE_COSTS
                 or (o.partition(":")[0] == "accuracy" and o != out.get("accuracy"))]
        if costs and "costs" not in out:
            out["costs"] = costs
        return out

    @classmethod
    def cost_source(cls, options: dict) -> str | None:
        bench = options.get("benchmark")
        return f"benchmark {Path(bench).name}" if bench else None

    def check_covers(self, space) -> None:
        """An architecture the benchmark lacks, or an empty cell of the accuracy it reads,
        would fail only when proposed: refused before the run is written. A cost's empty
        cells are known before evaluation (`cheap_cost_gaps`): the loop rules those
        architectures out; a cost with no value at all is refused."""
        opts = self.options  # the table was loaded at construction
        self._table.check_covers(space, [opts["accuracy"]])
        for name in opts["costs"]:
            if not np.isfinite(self._table.objective_values(name)).any():
                self._table.check_covers(space, [name])  # its one-line refusal

    def cheap_cost_gaps(self) -> tuple[set[str], float]:
        known = self._table.available(self.options["costs"])
        gaps = {n for n in self.options["costs"]
                if not np.isfinite(self._table.objective_values(n)).all()}
        return gaps, float(known.mean()) if gaps else 1.0

    def provides(self) -> set[str]:
        opts = self.options
        return {"accuracy", *self._accuracy_alias(opts), *opts["costs"]}

    def cheap_cost_names(self) -> set[str]:
        """The device costs it reads: a lookup, known without training (hwnas.core.costs)."""
        return set(self.options["costs"])

    def cheap_costs(self, arch) -> dict[str, float]:
        row = self._table.row_of(arch)
        return {name: float(self._table.objective_values(name)[row])
                for name in self.options["costs"]}

    @staticmethod
    def _accuracy_alias(opts: dict) -> list[str]:
        """The objective-style name of the accuracy looked up (`accuracy:cifar10`), which
        the result also carries, so that a run's objectives can name it as `hwnas bench`'s
        do; none for the default `accuracy` or a raw column name."""
        name = opts["accuracy"]
        return [name] if name.startswith("accuracy:") else []

    def estimate(self, arch) -> Estimate:
        opts = self.options  # checked and loaded at construction, not timed per lookup
        start = time.perf_counter()
        table = self._table
        row = table.row_of(arch)
        accuracy = self._lookup(table, opts["accuracy"], row)
        objectives = {name: self._lookup(table, name, row) for name in opts["costs"]}
        objectives.update({name: accuracy for name in self._accuracy_alias(opts)})
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
