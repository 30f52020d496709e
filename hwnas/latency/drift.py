"""Normalising measurements by a reference workload timed next to them, and saying when a
machine's speed moved.

A shared or cloud machine changes speed over minutes (frequency scaling, noisy neighbours,
thermal limits): a table profiled at one speed and validated at another reads 5-20% off
although every entry is right. A fixed reference workload, timed in the same process on the
same backend between the measured items, runs at whatever speed the machine has at that
moment; an item's time divided by the reference's time next to it is a speed-free number, and
times that ratio by the reference's time *when the table was measured* it is back in ms at the
table's speed.

Which reference time is "next to" an item: the median of the `window` reference measurements
nearest in the sequence. With window 1-2 (the references just before and after) one reference
measurement's own noise (a preempted sample) goes straight into the item; a median of a few
neighbours removes it while still following drift that is slow against the time of `window`
measurements (seconds, where the drift seen is over minutes). tests/unit/test_drift.py compares
the two on a fake backend that drifts linearly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WINDOW = 5  # reference measurements whose median stands for the speed at an item
THRESHOLD = 0.10  # a speed change above this is worth a line to the user


def local_reference(ref_positions: Sequence[float], ref_ms: Sequence[float],
                    item_positions: Sequence[float], window: int = WINDOW) -> np.ndarray:
    """For each item, the median of the `window` reference times nearest to it in position."""
    pos, ms = np.asarray(ref_positions, float), np.asarray(ref_ms, float)
    if not len(ms):
        raise ValueError("no reference measurement to normalise by")
    k = max(1, min(int(window), len(ms)))
    out = np.empty(len(item_positions))
    for i, p in enumerate(np.asarray(item_positions, float)):
        # ties broken towards the earlier reference, so the result does not depend on sorting
        nearest = np.lexsort((pos, np.abs(pos - p)))[:k]
        out[i] = float(np.median(ms[nearest]))
    return out


def drift_summary(times_s: Sequence[float], ref_ms: Sequence[float]) -> dict:
    """How the reference's time moved during a run: its range relative to its median, the
    least-squares trend in % per minute, and the last third's median against the first's."""
    t, ms = np.asarray(times_s, float), np.asarray(ref_ms, float)
    n = len(ms)
    if n == 0:
        return {"n": 0}
    med = float(np.median(ms))
    third = max(1, n // 3)
    minutes = (t - t[0]) / 60.0
    trend = (float(np.polyfit(minutes, ms / med, 1)[0])
             if n >= 3 and np.ptp(minutes) > 0 else 0.0)
    return {"n": n, "median_ms": med, "min_ms": float(ms.min()), "max_ms": float(ms.max()),
            "range": float((ms.max() - ms.min()) / med) if med > 0 else 0.0,
            "trend_per_min": trend, "minutes": float(minutes[-1]),
            "last_vs_first": float(np.median(ms[-third:]) / np.median(ms[:third]) - 1)}


def describe_drift(drift: dict) -> str:
    """One line for a run's drift summary."""
    if not drift or not drift.get("n"):
        return "drift: not measured (no reference workload)"
    line = (f"drift of the machine during the run (reference workload, n={drift['n']}): median "
            f"{drift['median_ms']:.4f} ms, range {100 * drift['range']:.1f}%, last third vs "
            f"first {100 * drift['last_vs_first']:+.1f}%, trend "
            f"{100 * drift['trend_per_min']:+.2f}%/min over {drift['minutes']:.1f} min")
    change = drift.get("vs_table")
    if isinstance(change, (int, float)) and abs(change) > THRESHOLD:
        line += (f"; {100 * abs(change):.0f}% {'slower' if change > 0 else 'faster'} than when "
                 "the table's reference was timed (each network is divided by it)")
    return line


def speed_change(stored_ms: float, now_ms: float) -> float:
    """Relative change of the reference's time: +0.2 = the machine is 20% slower now."""
    return now_ms / stored_ms - 1.0


def limit_message(where: str, stored_ms: float, now_ms: float,
                  limits: Sequence[tuple[str, Sequence[float]]],
                  threshold: float = THRESHOLD) -> str | None:
    """One line when the machine's speed moved more than `threshold` since the table's
    reference was timed and a search holds absolute latency limits (`limits`: [(flag,
    values)], hwnas.strategies.base.Strategy.latency_limits), else None.

    A search compares its limits with the table's predictions, which are at the table's speed
    and stay there whatever the machine does now; without a limit a uniform change of speed
    reorders no networks, so it changes no decision and is not worth a line. With one, the
    user may mean ms at this machine's speed now: the line says what a network at the limit
    takes here now, and the limit to pass for that instead. Re-calibrating is not the advice:
    on a machine that drifts the speed moves again, while the table's speed stays put."""
    change = speed_change(stored_ms, now_ms)
    if not limits or abs(change) <= threshold:
        return None
    ratio = now_ms / stored_ms
    flag, values = limits[0]
    given = ",".join(f"{v:g}" for v in values)
    scaled = ",".join(f"{v / ratio:.3g}" for v in values)
    others = " (and the run's other limits likewise)" if len(limits) > 1 else ""
    way = "slower" if change > 0 else "faster"
    return (f"the machine runs {100 * abs(change):.0f}% {way} than when {where} was measured "
            f"(reference workload {now_ms:.4f} ms now, {stored_ms:.4f} ms then), more than "
            f"the table's own error (±{100 * threshold:.0f}%): {flag}{given} is held against "
            f"the table's predictions at its speed then, so a network at {values[0]:g} ms takes "
            f"about {values[0] * ratio:.3g} ms here now; to mean ms at this speed, pass "
            f"{flag}{scaled} instead{others} (on a machine that drifts the speed moves again; "
            "the limit as given stays put at the table's speed, where `hwnas export` "
            "re-times the network)")
