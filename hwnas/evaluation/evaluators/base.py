"""Evaluator: the plug-in that turns a batch of architectures into outcomes, in the order asked.

`Evaluator(task, **options)` rebuilds everything it needs from the plain `EvaluationTask`
(never from the driver's live objects), so the same contract serves one process (`local`) or
workers elsewhere. `map(archs)` returns one `Outcome` per arch, in order; `cost_model()` gives
strategies the cheap costs, computed in the driver. A new evaluator is one new file in this
package that registers itself with `@EVALUATORS.register(name)`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from hwnas.arch import Arch
from hwnas.evaluation.costs import CostModel
from hwnas.evaluation.task import EvaluationTask
from hwnas.options import Configurable, Option
from hwnas.search.loop import Outcome


class Evaluator(Configurable, ABC):
    kind: ClassVar[str] = "evaluator"
    list_command: ClassVar[str] = "hwnas list evaluators"
    option_specs: ClassVar[dict[str, Option]] = {}

    def __init__(self, task: EvaluationTask, **options):
        self.task = task
        self.options = self.resolve_options(options)
        self._driver_scorer = None

    @abstractmethod
    def map(self, archs: list[Arch]) -> list[Outcome]:
        """One outcome per architecture, in the order given."""

    def driver_scorer(self):
        """A scorer in the driver's process, for what is cheap (costs, resolved configuration);
        it never trains."""
        if self._driver_scorer is None:
            self._driver_scorer = self.task.build_scorer()
        return self._driver_scorer

    def cost_model(self) -> CostModel:
        """Cheap costs for strategies (hwnas.evaluation.costs)."""
        return self.driver_scorer().cost_model()

    def config(self) -> dict:
        return {"name": self.registry_name, **self.options}

    def close(self) -> None:
        """Release workers or devices; the local evaluator holds none."""
