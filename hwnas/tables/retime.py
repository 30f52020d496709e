"""Re-time one network the way `hwnas tables validate` times networks: in passes, each next to
the table's reference workload, normalised to the table's reference speed, median kept.

`hwnas export` compares its network's measured latency with the table's prediction. Measured
once, a burst of load on a shared machine decides that comparison (the same network measured
1.143 ms and 0.762 ms in two exports a minute apart, BENCHMARKS.md), and a machine that is
slower today than when the table was calibrated reads as a wrong table. Timed like this, the
number compared with the prediction is in the prediction's own units (ms at the table's
reference speed), and the raw times and the speed change are reported beside it.
"""

from __future__ import annotations

import numpy as np

from hwnas.latency import drift


def reference_usable(table, backend) -> str | None:
    """None when `table`'s reference workload can normalise a re-timing on `backend` (a
    profiler), else why not (one clause): its reference time was measured on the table's own
    backend, threads, batch, dtype and device, and means nothing under others."""
    from profilers import device_slug

    if not table.reference:
        return "the table has no reference workload (`hwnas tables calibrate TABLE` adds one)"
    mismatched = [name for name, ours, theirs in (
        ("backend", backend.name, table.backend), ("threads", backend.threads, table.threads),
        ("batch", backend.batch, table.batch), ("dtype", backend.dtype, table.dtype),
        ("device", device_slug(backend.fingerprint()), device_slug(table.device)))
        if ours != theirs]
    if mismatched:
        return (f"re-timed with another {', '.join(mismatched)} than the table was measured "
                "with, so its reference workload cannot normalise the measurement")
    return None


def retime(backend, space, model, input_shape: tuple[int, ...], table, rounds: int) -> dict:
    """`rounds` measurements of `model` (what `backend.measure` takes), the reference timed
    before the first and after each; each normalised by the reference time next to it and
    expressed at the table's reference speed. `space` builds the reference op. Network and
    reference are both read in the table's statistic, the one its prediction is in."""
    from hwnas.tables.reference import ReferenceClock, reference_sig

    clock = ReferenceClock(backend, space, reference_sig(table), stat=table.stat)
    clock.tick()
    raw = []
    for _ in range(rounds):
        raw.append(clock.item(lambda: backend.measure(model, input_shape).value(table.stat)))
        clock.tick()
    local = clock.local()
    target = float(table.reference["ms"])
    normalised = [m * target / ref for m, ref in zip(raw, local, strict=True)]
    return {"ms": float(np.median(normalised)), "rounds": rounds,
            "normalised_ms": normalised, "raw_ms": [float(m) for m in raw],
            "reference_ms": [float(v) for v in local], "table_reference_ms": target,
            "reference_now_ms": clock.median_ms(), "reference_ticks_ms": list(clock.ref_ms),
            "speed_change": drift.speed_change(target, clock.median_ms())}
