"""hwnas: hardware-aware multi-objective neural architecture search.

The public API, re-exported explicitly. The CLI (`hwnas ...`) is a thin layer over `hwnas.api`.

Names are loaded on first use (PEP 562), so `import hwnas` costs milliseconds and `hwnas --help`
never pays for numpy, torch or pymoo; `from hwnas import search, LatencyTable` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS = {
    "export": "hwnas.api.export", "pareto": "hwnas.api.pareto", "profile": "hwnas.api.profile",
    "search": "hwnas.api.search",
    "Arch": "hwnas.arch",
    "choice": "hwnas.spaces.modules.choice",
    **dict.fromkeys(("BackendUnavailableError", "BadInputError", "HwnasError",
                     "HwnasRuntimeError", "MissingLatencyError"), "hwnas.errors"),
    "LatencyTable": "hwnas.latency.table",
    **dict.fromkeys(("OBJECTIVES", "Constraint", "Objective"), "hwnas.objectives"),
    "mnasnet_reward": "hwnas.rewards",
    "OpSignature": "hwnas.ops",
    **dict.fromkeys(("BENCHMARK_FORMATS", "ESTIMATORS", "EVALUATORS", "PROFILERS", "SPACES",
                     "STRATEGIES", "Registry"), "hwnas.registry"),
    "RunDir": "hwnas.runs",
    "SearchConfig": "hwnas.searching.config",
    # the plug-in base classes (hwnas.plugins has everything else a plug-in author needs)
    "SearchSpace": "hwnas.spaces.base",
    "Strategy": "hwnas.strategies.base",
    "OneShotStrategy": "hwnas.strategies.oneshot",
    "OneShotMethod": "hwnas.oneshot.method",
    "Estimator": "hwnas.estimators.base",
    "Evaluator": "hwnas.evaluation.evaluators.base",
    "BenchmarkFormat": "hwnas.tabular.formats.base",
    "Option": "hwnas.options",
}

__all__ = [
    "BENCHMARK_FORMATS", "ESTIMATORS", "EVALUATORS", "OBJECTIVES", "PROFILERS", "SPACES",
    "STRATEGIES", "Arch", "BackendUnavailableError", "BadInputError", "BenchmarkFormat",
    "Constraint", "Estimator", "Evaluator", "HwnasError", "HwnasRuntimeError", "LatencyTable",
    "MissingLatencyError", "Objective", "OneShotMethod", "OneShotStrategy", "OpSignature",
    "Option", "Registry", "RunDir", "SearchConfig", "SearchSpace", "Strategy", "choice",
    "export", "mnasnet_reward", "pareto", "profile", "search",
]
__version__ = "0.1.0"

# No subpackage may be named like a public name: importing a package sets it as an attribute
# of its parent, which would hide the function (the search loop lives in hwnas.searching so
# that `hwnas.search` is always the function).


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hwnas' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what static tools see; at run time __getattr__ loads these
    from hwnas.api.export import export
    from hwnas.api.pareto import pareto
    from hwnas.api.profile import profile
    from hwnas.api.search import search
    from hwnas.arch import Arch
    from hwnas.errors import (
        BackendUnavailableError,
        BadInputError,
        HwnasError,
        HwnasRuntimeError,
        MissingLatencyError,
    )
    from hwnas.estimators.base import Estimator
    from hwnas.evaluation.evaluators.base import Evaluator
    from hwnas.latency.table import LatencyTable
    from hwnas.objectives import OBJECTIVES, Constraint, Objective
    from hwnas.oneshot.method import OneShotMethod
    from hwnas.ops import OpSignature
    from hwnas.options import Option
    from hwnas.registry import (
        BENCHMARK_FORMATS,
        ESTIMATORS,
        EVALUATORS,
        PROFILERS,
        SPACES,
        STRATEGIES,
        Registry,
    )
    from hwnas.rewards import mnasnet_reward
    from hwnas.runs import RunDir
    from hwnas.searching.config import SearchConfig
    from hwnas.spaces.base import SearchSpace
    from hwnas.spaces.modules.choice import choice
    from hwnas.strategies.base import Strategy
    from hwnas.strategies.oneshot import OneShotStrategy
    from hwnas.tabular.formats.base import BenchmarkFormat
