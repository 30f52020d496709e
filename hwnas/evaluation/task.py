"""EvaluationTask: what evaluating a candidate means, as plain data an evaluator rebuilds from.

An evaluator never receives live objects from the driver (a trained estimator, an open table):
it receives this task and builds its own scorer with `build_scorer()`, in-process for `local`,
on each worker for a distributed evaluator. Everything here round-trips through JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class EvaluationTask:
    space: str
    space_config: dict
    estimator: str
    estimator_options: dict
    dataset: str
    seed: int
    objectives: list[str]
    table: str = ""  # latency table path ("" for none: a tabular benchmark's own costs)
    latency_stat: str | None = None  # None: the table's own
    keep_weights: bool = False
    extra: dict = field(default_factory=dict)
    # the run's hard limits ('latency_ms<=3'): the costs they name are computed and recorded
    # with every candidate, objectives or not
    constraints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EvaluationTask:
        return cls(**d)

    def build_scorer(self):
        """The scorer of this task: space, estimator, table and objectives, all checked."""
        from hwnas.evaluation.scorer import Scorer
        from hwnas.latency.table import LatencyTable
        from hwnas.objectives import get_objective, parse_constraint, parse_objectives
        from hwnas.registry import ESTIMATORS, SPACES

        space = SPACES.get(self.space)(**self.space_config)
        objectives = parse_objectives(self.objectives)
        table = LatencyTable.load(self.table) if self.table else None
        if table is not None:
            missing = table.missing(space.all_ops())
            if missing:  # fail before any training, naming what to measure
                from hwnas.latency.space_match import missing_ops_error

                raise missing_ops_error(table, space, missing)
        estimator_cls = ESTIMATORS.get(self.estimator)
        options = dict(self.estimator_options)
        if "keep_weights" in estimator_cls.option_specs:
            options.setdefault("keep_weights", self.keep_weights)
        # checks its options as it is made: a bad one is refused here, not at a first candidate
        estimator = estimator_cls(space, dataset=self.dataset, seed=self.seed, **options)
        constrained = [get_objective(parse_constraint(c).name) for c in self.constraints]
        return Scorer(space, estimator, table, self.latency_stat, objectives, constrained)
