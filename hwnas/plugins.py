"""Everything a plug-in author imports, from one place: `from hwnas.plugins import Strategy`.

A space, strategy, estimator, evaluator, benchmark format or profiler backend is one file that
subclasses a base class below, declares its options as data (`Option`) and registers itself
in a registry below (`@STRATEGIES.register("name")`); README "Adding a plug-in" shows one of
each. The modules these names live in are hwnas's own and may move; this list is the contract.
(The entry-point group that advertises an installed plug-in module is also named
`hwnas.plugins`: hwnas.registry.)

Names load on first use (PEP 562), as `hwnas`'s do: importing this module costs nothing, so a
plug-in module imported by `hwnas list` pulls in only the base classes it names (the strategy
bases bring numpy; none brings torch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS = {
    # base classes, one per kind (and the one-shot and weight-sharing strategy bases)
    **dict.fromkeys(("Position", "SearchSpace"), "hwnas.spaces.base"),
    "Strategy": "hwnas.strategies.base",
    "RewardedStrategy": "hwnas.strategies.rewarded",
    **dict.fromkeys(("COMMON_OPTIONS", "OneShotStrategy"), "hwnas.strategies.oneshot"),
    "OneShotMethod": "hwnas.oneshot.method",
    "LATENCY_LOSSES": "hwnas.oneshot.losses",
    "WeightSharingSearch": "hwnas.strategies.weight_sharing",
    **dict.fromkeys(("Estimate", "Estimator"), "hwnas.estimators.base"),
    **dict.fromkeys(("Evaluator", "evaluate_candidate"), "hwnas.evaluation.evaluators.base"),
    "BenchmarkFormat": "hwnas.tabular.formats.base",
    "Backend": "profilers.base",
    # the registries
    **dict.fromkeys(("BENCHMARK_FORMATS", "ESTIMATORS", "EVALUATORS", "PROFILERS", "SPACES",
                     "STRATEGIES", "Registry"), "hwnas.registry"),
    # options: declared as data, one template for a refused value
    **dict.fromkeys(("Option", "StrList", "option_error"), "hwnas.options"),
    "Device": "hwnas.devices",
    # the plain data a plug-in reads and returns
    "Arch": "hwnas.arch",
    "OpSignature": "hwnas.ops",
    "Objective": "hwnas.objectives",
    "EvaluationTask": "hwnas.evaluation.task",
    "Outcome": "hwnas.core.outcome",
    **dict.fromkeys(("failed_result", "is_failed"), "hwnas.core.failure"),
    "CostModel": "hwnas.core.costs",
    "SearchContext": "hwnas.core.context",
    # errors
    **dict.fromkeys(("BackendUnavailableError", "BadInputError", "CandidateFailed",
                     "HwnasError", "HwnasRuntimeError", "MissingLatencyError"), "hwnas.errors"),
}

# a literal list, for static tools (tests hold it equal to _EXPORTS)
__all__ = [
    "Arch", "BENCHMARK_FORMATS", "Backend", "BackendUnavailableError", "BadInputError",
    "BenchmarkFormat", "COMMON_OPTIONS", "CandidateFailed", "CostModel", "Device",
    "ESTIMATORS", "EVALUATORS", "Estimate", "Estimator", "EvaluationTask", "Evaluator",
    "HwnasError", "HwnasRuntimeError", "LATENCY_LOSSES", "MissingLatencyError", "Objective",
    "OneShotMethod", "OneShotStrategy", "OpSignature", "Option", "Outcome", "PROFILERS",
    "Position", "Registry", "RewardedStrategy", "SPACES", "STRATEGIES", "SearchContext",
    "SearchSpace", "StrList", "Strategy", "WeightSharingSearch", "evaluate_candidate",
    "failed_result", "is_failed", "option_error"
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hwnas.plugins' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what static tools see; at run time __getattr__ loads these
    from hwnas.arch import Arch
    from hwnas.core.context import SearchContext
    from hwnas.core.costs import CostModel
    from hwnas.core.failure import failed_result, is_failed
    from hwnas.core.outcome import Outcome
    from hwnas.devices import Device
    from hwnas.errors import (
        BackendUnavailableError,
        BadInputError,
        CandidateFailed,
        HwnasError,
        HwnasRuntimeError,
        MissingLatencyError,
    )
    from hwnas.estimators.base import Estimate, Estimator
    from hwnas.evaluation.evaluators.base import Evaluator, evaluate_candidate
    from hwnas.evaluation.task import EvaluationTask
    from hwnas.objectives import Objective
    from hwnas.oneshot.losses import LATENCY_LOSSES
    from hwnas.oneshot.method import OneShotMethod
    from hwnas.ops import OpSignature
    from hwnas.options import Option, StrList, option_error
    from hwnas.registry import (
        BENCHMARK_FORMATS,
        ESTIMATORS,
        EVALUATORS,
        PROFILERS,
        SPACES,
        STRATEGIES,
        Registry,
    )
    from hwnas.spaces.base import Position, SearchSpace
    from hwnas.strategies.base import Strategy
    from hwnas.strategies.oneshot import COMMON_OPTIONS, OneShotStrategy
    from hwnas.strategies.rewarded import RewardedStrategy
    from hwnas.strategies.weight_sharing import WeightSharingSearch
    from hwnas.tabular.formats.base import BenchmarkFormat
    from profilers.base import Backend
