"""`local`: evaluate candidates one after another in this process (the default)."""

from __future__ import annotations

import time

from hwnas.arch import Arch
from hwnas.evaluation.evaluators.base import Evaluator
from hwnas.registry import EVALUATORS
from hwnas.search.loop import Outcome


@EVALUATORS.register("local")
class LocalEvaluator(Evaluator):
    """In-process and sequential: training already uses every core through torch's threads."""

    def __init__(self, task, **options):
        super().__init__(task, **options)
        self.scorer = task.build_scorer()  # builds and checks everything before a run exists
        self._driver_scorer = self.scorer  # the cost model reads the same scorer

    def map(self, archs: list[Arch]) -> list[Outcome]:
        out = []
        for arch in archs:
            start = time.perf_counter()
            result, estimate = self.scorer.evaluate(arch)
            out.append(Outcome(result, estimate.state_dict, time.perf_counter() - start))
        return out
