"""`local`: evaluate candidates one after another in this process (the default)."""

from __future__ import annotations

from hwnas.arch import Arch
from hwnas.core.outcome import Outcome
from hwnas.evaluation.evaluators.base import Evaluator, evaluate_candidate
from hwnas.registry import EVALUATORS


@EVALUATORS.register("local")
class LocalEvaluator(Evaluator):
    """In-process and sequential: training already uses every core through torch's threads."""

    def __init__(self, task, **options):
        super().__init__(task, **options)
        self.scorer = task.build_scorer()  # builds and checks everything before a run exists
        self._driver_scorer = self.scorer  # the cost model reads the same scorer

    def map(self, archs: list[Arch]) -> list[Outcome]:
        # one after another; a candidate that fails is recorded as failed, the next goes on
        return [evaluate_candidate(self.scorer, arch) for arch in archs]
