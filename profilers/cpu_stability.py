"""Process settings that make CPU latency repeatable on Linux/glibc.

Two effects made the same PyTorch network measure 20% apart from one measurement to the next
on a 2-core VM (bimodal medians), while ops timed alone did not:

- glibc's *dynamic* mmap threshold: tensors above the threshold are mmap'ed and unmapped on
  every forward (page faults each time), and the threshold moves with the history of frees,
  so the same network flips between a fast and a slow mode. Fixing the thresholds keeps large
  activations in the heap, as a long-running inference server ends up doing anyway.
- the scheduler moving a single-threaded measurement between cores: pinning it to one core
  for the duration of a measurement removes the migrations.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_LARGE = 1 << 30
_configured = False


def fix_malloc_thresholds() -> bool:
    """Once per process; True when glibc accepted it (no-op elsewhere)."""
    global _configured
    if _configured:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    _configured = bool(mallopt(_M_MMAP_THRESHOLD, _LARGE)) and bool(mallopt(_M_TRIM_THRESHOLD,
                                                                           _LARGE))
    return _configured


@contextlib.contextmanager
def pinned_to_one_core(threads: int | None):
    """Pin the process to its last allowed core while a single-threaded measurement runs."""
    getter = getattr(os, "sched_getaffinity", None)
    if threads != 1 or getter is None:
        yield
        return
    before = getter(0)
    try:
        os.sched_setaffinity(0, {max(before)})  # core 0 usually also serves interrupts
    except OSError:
        yield
        return
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
