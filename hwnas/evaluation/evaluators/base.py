"""Evaluator: the plug-in that turns a batch of architectures into outcomes, in the order asked.

`Evaluator(task, **options)` rebuilds everything it needs from the plain `EvaluationTask`
(never from the driver's live objects), so the same contract serves one process (`local`) or
workers elsewhere. `map(archs)` returns one `Outcome` per arch, in order; `cost_model()` gives
strategies the cheap costs, computed in the driver. A new evaluator is one new file in this
package that registers itself with `@EVALUATORS.register(name)` (a plug-in elsewhere imports
this base, `EVALUATORS`, `Outcome` and `evaluate_candidate` from `hwnas.plugins`).

One candidate never ends a search. Every evaluator, local or distributed, must turn an
exception raised while building, training or scoring ONE architecture (any `Exception`: a
diverged training, a torch out-of-memory `RuntimeError`, the `KeyError` of a missing benchmark
value, a shape error) into that architecture's outcome, `Outcome(failed_result(reason), None,
seconds)` (hwnas.core.failure), and go on with the next one; a result holding a NaN or
infinite number is failed too. `evaluate_candidate` does all of it for a scorer: call it per
architecture (in a worker, for a distributed evaluator). `KeyboardInterrupt` and `SystemExit`
are not `Exception`s and still stop the run; an error that would fail every candidate (a bad
option, a missing table entry) is refused before the run instead (`EvaluationTask.build_scorer`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from hwnas.arch import Arch
from hwnas.core.costs import CostModel
from hwnas.core.failure import failed_result, non_finite_reason, reason_of
from hwnas.core.outcome import Outcome
from hwnas.evaluation.task import EvaluationTask
from hwnas.options import Configurable, Option

if TYPE_CHECKING:  # the scorer pulls in torch-side estimators; a type needs none of it
    from hwnas.evaluation.scorer import Scorer


class Evaluator(Configurable, ABC):
    kind: ClassVar[str] = "evaluator"
    list_command: ClassVar[str] = "hwnas list evaluators"
    option_specs: ClassVar[dict[str, Option]] = {}

    def __init__(self, task: EvaluationTask, **options: Any) -> None:
        self.task = task
        self.options = self.resolve_options(options)
        self._driver_scorer: Scorer | None = None

    @abstractmethod
    def map(self, archs: list[Arch]) -> list[Outcome]:
        """One outcome per architecture, in the order given; a candidate that cannot be
        scored is a failed outcome, never an exception (see the module docstring)."""

    def driver_scorer(self) -> Scorer:
        """A scorer in the driver's process, for what is cheap (costs, resolved configuration);
        it never trains."""
        if self._driver_scorer is None:
            self._driver_scorer = self.task.build_scorer()
        return self._driver_scorer

    def cost_model(self) -> CostModel:
        """Cheap costs for strategies (hwnas.core.costs)."""
        return self.driver_scorer().cost_model()

    def close(self) -> None:
        """Release workers or devices; the local evaluator holds none."""


def evaluate_candidate(scorer: Scorer, arch: Arch) -> Outcome:
    """Score one architecture; whatever goes wrong with it alone becomes a failed outcome."""
    start = time.perf_counter()
    try:
        result, estimate = scorer.evaluate(arch)
    except Exception as exc:  # noqa: BLE001 - one candidate's failure, recorded with its reason
        return Outcome(failed_result(reason_of(exc)), None, time.perf_counter() - start)
    bad = non_finite_reason(result)
    if bad is not None:  # weights that produced a NaN score are not worth keeping either
        return Outcome(failed_result(bad), None, time.perf_counter() - start)
    extra = {k: v for k, v in estimate.extra.items() if k != "objectives"} or None  # those
    # are in the result already
    return Outcome(result, estimate.state_dict, time.perf_counter() - start, extra)
