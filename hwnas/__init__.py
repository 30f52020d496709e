"""hwnas: hardware-aware multi-objective neural architecture search.

The public API, re-exported explicitly. The CLI (`hwnas ...`) is a thin layer over `hwnas.api`.
"""

from hwnas.api import export, pareto, profile, search
from hwnas.arch import Arch
from hwnas.errors import (
    BackendUnavailableError,
    BadInputError,
    HwnasError,
    HwnasRuntimeError,
    MissingLatencyError,
)
from hwnas.latency.table import LatencyTable
from hwnas.objectives import OBJECTIVES, Constraint, Objective, mnasnet_reward
from hwnas.ops import OpSignature
from hwnas.registry import ESTIMATORS, PROFILERS, SPACES, STRATEGIES, Registry
from hwnas.runs import RunDir
from hwnas.search.config import SearchConfig
from hwnas.spaces.base import SearchSpace

__all__ = [
    "ESTIMATORS", "OBJECTIVES", "PROFILERS", "SPACES", "STRATEGIES", "Arch",
    "BackendUnavailableError", "BadInputError", "Constraint", "HwnasError", "HwnasRuntimeError",
    "LatencyTable", "MissingLatencyError", "Objective", "OpSignature", "Registry", "RunDir",
    "SearchConfig", "SearchSpace", "export", "mnasnet_reward", "pareto", "profile", "search",
]
__version__ = "0.1.0"
