"""Peak memory of one inference: activations plus workspace, weights reported apart.

Measured once per model, after the timing loop, never inside it (resetting counters and
releasing the heap would perturb the timings).

- CUDA: the caching allocator's own peak (``torch.cuda.max_memory_allocated``) during one
  forward, minus what was allocated before it. The weights are already resident then, so the
  number is the input, the output, intermediates and cuDNN/cuBLAS workspace that the forward
  allocates. Allocator-exact, but it cannot see memory taken outside torch's allocator.
- CPU (Linux): the growth of the process's peak resident set (VmHWM in /proc/self/status)
  during one forward. VmHWM is reset by writing 5 to /proc/self/clear_refs; before that, the
  free heap is handed back to the kernel (glibc ``malloc_trim``) so that buffers malloc keeps
  cached from the previous call must be faulted in again, and are counted. Page granularity
  (4 KiB) and anything else the process allocates meanwhile limit its resolution to ~0.1 MB.
  Where VmHWM cannot be reset (not Linux, or clear_refs not writable) it is unavailable.

The input tensor is allocated inside the measured call, so each op's peak counts its input:
in a chain of ops the live set while op i runs is its input, its output and its workspace,
which is what makes the maximum over ops a network's activation peak (see
hwnas/latency/columns.py).

Standard library only at import; torch is imported inside the CUDA function.
"""

from __future__ import annotations

import ctypes
import functools
import gc
from collections.abc import Callable
from typing import Any

CLEAR_REFS = "/proc/self/clear_refs"
STATUS = "/proc/self/status"
_MB = 2**20


def _status_kb(field: str, status: str = STATUS) -> int | None:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM), or None where there is none."""
    try:
        with open(status, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak_rss(clear_refs: str = CLEAR_REFS) -> None:
    """Set VmHWM back to the current RSS (Linux >= 4.0: "5" resets the peak RSS)."""
    with open(clear_refs, "w", encoding="ascii") as handle:
        handle.write("5")


@functools.cache
def cpu_unavailable_reason(status: str = STATUS, clear_refs: str = CLEAR_REFS) -> str | None:
    """None when the CPU peak can be measured here, else one line why not. Cached."""
    if _status_kb("VmHWM", status) is None:
        return f"memory: {status} has no VmHWM here (the CPU peak needs Linux)"
    try:
        reset_peak_rss(clear_refs)
    except OSError as exc:
        return (f"memory: cannot reset the peak RSS by writing to {clear_refs} "
                f"({exc.strerror or exc}); the CPU peak needs it")
    return None


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only; musl and macOS lack it
    except (OSError, AttributeError):
        return None


def _release_free_heap() -> None:
    """Return free heap pages to the kernel so the measured call has to fault them in again.

    Without it, buffers that malloc cached from the previous call are already resident and a
    small op reads as 0 MB (measured here: a conv on 16x32x32 read 0.0 MB, with it 0.7 MB).
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def cpu_peak_growth_mb(run: Callable[[], Any]) -> float:
    """Peak RSS growth in MB while ``run()`` executes once. Raises OSError where unavailable."""
    _release_free_heap()
    reset_peak_rss()
    before = _status_kb("VmRSS")
    run()
    peak = _status_kb("VmHWM")
    if before is None or peak is None:
        raise OSError(f"{STATUS} lost its VmRSS/VmHWM fields")
    return max(peak - before, 0) / 1024


def cuda_peak_growth_mb(run: Callable[[], Any], device: Any) -> float:
    """Peak of torch's CUDA allocator above what was allocated before ``run()``, in MB.

    Resets the allocator's peak statistics of ``device`` (a process-wide side effect).
    """
    import torch

    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    run()
    torch.cuda.synchronize(device)
    return max(torch.cuda.max_memory_allocated(device) - before, 0) / _MB


def module_mb(module: Any) -> float:
    """Size of a torch module's parameters and buffers in MB: its weights, reported apart."""
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors) / _MB
