"""The reference workload: one fixed op of the table's space, timed on the same backend between
the ops (profile) or networks (calibrate, validate) being measured, so each measurement can be
divided by the machine's speed at that moment (hwnas.latency.drift).

The reference is one of the space's own ops, chosen at profile time as the op whose time is
the median of a quick probe of ops spread over the space: it then takes about as long as a
typical op (a much longer one would double the profiling time), and it is rebuilt the same
way, with the same weights, by every later run from the signature stored in the table. The
median is not taken below `MIN_REFERENCE_MS`: a shorter op is mostly per-call overhead, whose
jitter says little about the machine's speed. NB201's median op on ort-cpu is a 23 us sum of
two tensors; as the reference it ranged 12-36 us within one minute, and normalising by it
made validation worse than raw times (36% against 45% within +-10%, BENCHMARKS.md).
"""

from __future__ import annotations

import datetime as _dt
import time

import numpy as np

from hwnas.latency import drift
from hwnas.ops import OpSignature

PROBE_OPS = 9  # ops timed briefly to choose the reference
MIN_REFERENCE_MS = 0.1  # shortest reference, where a probed op is that long (module docstring)
QUICK_REPEATS = 3  # reference measurements whose median a speed check uses


def build_model(backend, space, sig: OpSignature):
    """The reference op as the backend takes it (built once: ONNX export is not free)."""
    import torch

    from hwnas.tables.backend_model import backend_model

    torch.manual_seed(0)
    return backend_model(backend, space.build_op(sig).eval(), (sig.cin, sig.h, sig.w))


def choose_reference(backend, space, sigs: list[OpSignature]) -> OpSignature:  # by median
    """The op among `PROBE_OPS` spread over `sigs` whose quick time is the median; when that
    is under `MIN_REFERENCE_MS`, the fastest probed op that is not (the slowest if none is)."""
    ordered = sorted(sigs, key=lambda s: s.key)
    picks = [ordered[int(i)] for i in np.unique(np.linspace(0, len(ordered) - 1, PROBE_OPS)
                                                .round().astype(int))]
    times = []
    for sig in picks:
        model = build_model(backend, space, sig)
        times.append(backend.measure(model, (sig.cin, sig.h, sig.w)).p50)
    order = np.argsort(times, kind="stable")
    median = int(order[(len(times) - 1) // 2])
    if times[median] >= MIN_REFERENCE_MS:
        return picks[median]
    long_enough = [int(i) for i in order if times[i] >= MIN_REFERENCE_MS]
    return picks[long_enough[0] if long_enough else int(order[-1])]


def reference_sig(table) -> OpSignature | None:
    ref = table.reference
    return None if not ref else OpSignature.from_dict(ref["op"])


class ReferenceClock:
    """Times items interleaved with the reference and gives each item the reference time
    next to it. Positions count measurements (items and references alike)."""

    def __init__(self, backend, space, sig: OpSignature, window: int = drift.WINDOW,
                 stat: str = "p50"):
        # `stat`: the statistic the reference is read in, the one the items are measured in
        # (a low statistic of the items against the median of the reference would carry the
        # reference's own noise into every item)
        self.backend, self.sig, self.window, self.stat = backend, sig, window, stat
        self.model = build_model(backend, space, sig)
        self.shape = (sig.cin, sig.h, sig.w)
        self.ref_pos: list[int] = []
        self.ref_ms: list[float] = []
        self.ref_t: list[float] = []
        self.item_pos: list[int] = []
        self._pos = 0

    def tick(self) -> float:
        """Measure the reference now."""
        ms = self.backend.measure(self.model, self.shape).value(self.stat)
        self.ref_pos.append(self._pos)
        self.ref_ms.append(ms)
        self.ref_t.append(time.monotonic())
        self._pos += 1
        return ms

    def item(self, measure):
        """Run `measure()` (one item's measurement) and record where it sat."""
        result = measure()
        self.item_pos.append(self._pos)
        self._pos += 1
        return result

    def local(self, start: int = 0) -> np.ndarray:
        """The reference time next to each item from the `start`-th on."""
        return drift.local_reference(self.ref_pos, self.ref_ms, self.item_pos[start:],
                                     self.window)

    def median_ms(self) -> float:
        return float(np.median(self.ref_ms))

    def drift(self) -> dict:
        return drift.drift_summary(self.ref_t, self.ref_ms)


def quick_reference_ms(backend, space, sig: OpSignature, stat: str = "p50") -> float:
    """The reference's time now, from a few measurements (a speed check before using a table)."""
    clock = ReferenceClock(backend, space, sig, stat=stat)
    return float(np.median([clock.tick() for _ in range(QUICK_REPEATS)]))


def reference_record(sig: OpSignature, ms: float, source: str, run_drift: dict,
                     profiled_ms: float | None = None, stat: str = "p50") -> dict:
    """What a table stores about its reference: the op, and its time (in `stat`, the table's
    statistic) at the speed the table's predictions are expressed in."""
    return {"key": sig.key, "op": sig.to_dict(), "ms": float(ms), "stat": stat,
            "profiled_ms": float(ms if profiled_ms is None else profiled_ms), "source": source,
            "measured": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "drift": run_drift}
