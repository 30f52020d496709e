"""The threads hwnas's own numerical work runs on, chosen here, not by the user's environment.

Strategies fit small models between evaluations: PNAS's and DPP-Net's MLP ensembles, MOBO's
Gaussian processes, REINFORCE's LSTM controller. Their matrices are tens to hundreds of rows,
so extra BLAS/OpenMP threads only add synchronisation, and on shared cores a thread pool sized
for the whole machine spins against the other processes: one 500-evaluation DPP-Net league
run took more than 5 minutes with the pools uncapped on 2 shared cores, 7 s with one thread.
Hence the default, `STRATEGY_THREADS = 1`: every call of a sample-based strategy (`ask`,
`tell`; the search loop and `hwnas bench` wrap them in `limit_threads()`) runs with one
BLAS/OpenMP thread per pool and one torch intra-op thread, whatever OMP_NUM_THREADS & co. say,
and the process's settings are restored when the call returns.

Training and latency measurement keep their own explicit `threads` options (the scratch
estimator's, a profiler backend's): the loop never wraps the evaluator. A one-shot strategy
trains its supernet inside `ask` with its own `threads` option, so its calls are left alone
(`strategy_threads`).

How: threadpoolctl (a scikit-learn dependency) sets the pools of the BLAS/OpenMP libraries
already loaded; torch's intra-op count is set only when torch is already imported (importing
it here would make `hwnas list` import torch). A library first loaded inside a limited call
(e.g. scipy's OpenBLAS on a strategy's first fit) runs that one call with its own default and
is limited from the next call on; `preload()` loads the usual ones up front where that
matters (`hwnas bench`). The loaded libraries are looked up again only when `sys.modules` has
grown, so a limited call costs about 50 µs, not the 4 ms of a fresh lookup.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

STRATEGY_THREADS = 1
"""Threads of a strategy's own model fitting and proposing (see the module docstring)."""

_controller = None
_modules_seen = -1


def _threadpools():
    """A threadpoolctl controller of the libraries loaded now (cached until an import);
    None where threadpoolctl is missing."""
    global _controller, _modules_seen
    if len(sys.modules) != _modules_seen:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - installed with scikit-learn
            return None
        _controller = ThreadpoolController()
        _modules_seen = len(sys.modules)
    return _controller


def strategy_threads(strategy) -> int | None:
    """Threads for `strategy`'s ask/tell: STRATEGY_THREADS for a sample-based strategy; None
    (leave them) for a one-shot one, which trains a supernet inside `ask` under its own
    `threads` option."""
    return STRATEGY_THREADS if getattr(strategy, "sample_based", True) else None


def preload() -> None:
    """Load the BLAS/OpenMP libraries strategies fit with (numpy's and scipy's OpenBLAS,
    scikit-learn's OpenMP), so a limit covers them from the first call."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import sklearn.utils._openmp_helpers  # noqa: F401


@contextlib.contextmanager
def limit_threads(threads: int | None = STRATEGY_THREADS) -> Iterator[None]:
    """Run the block with at most `threads` BLAS/OpenMP threads per pool and, when torch is
    already imported, `threads` torch intra-op threads; everything is restored after.
    `threads=None` changes nothing."""
    if threads is None:
        yield
        return
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    controller = _threadpools()
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    with controller.limit(limits=threads) if controller is not None else \
            contextlib.nullcontext():
        if torch_before is not None and torch_before != threads:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch_before is not None and torch_before != threads:
                torch.set_num_threads(torch_before)
