"""Compare two latency tables: per-op p50 ratios, keys on one side only, header differences."""

from __future__ import annotations

import math

import numpy as np

from hwnas.latency.table import LatencyTable

HEADER_FIELDS = ("backend", "batch", "dtype", "threads")
TOP = 5


def _header(table: LatencyTable) -> dict:
    from profilers import device_slug

    head = {name: getattr(table, name) for name in HEADER_FIELDS}
    head["device"] = device_slug(table.device or {})
    head["space"] = table.space or None
    head["quantization"] = table.quantization  # int8 only: the settings its ops were made with
    return head


def _differing_settings(a: dict | None, b: dict | None) -> dict:
    """Two int8 tables' quantization settings, only the fields that differ (all of each
    when one table has none)."""
    if a is None or b is None:
        return {"a": a, "b": b}
    fields = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return {"a": {k: a.get(k) for k in fields}, "b": {k: b.get(k) for k in fields}}


def diff_tables(a: LatencyTable, b: LatencyTable, stat: str = "p50") -> dict:
    """Ratios are B/A of `stat` on the keys both hold; "most_different" ranks by |log ratio|,
    so a 2x slow-down and a 2x speed-up count the same."""
    common = sorted(set(a.entries) & set(b.entries))
    ratios, zero = {}, []
    for key in common:
        va, vb = float(a.entries[key][stat]), float(b.entries[key][stat])
        if va > 0 and vb > 0:
            ratios[key] = vb / va
        else:  # a ratio with 0 ms is meaningless; list such keys instead of inventing one
            zero.append(key)
    values = np.array(list(ratios.values()), dtype=float)
    differing = [k for k in ratios if ratios[k] != 1.0]  # equal entries are not "different"
    ranked = sorted(differing, key=lambda k: (-abs(math.log(ratios[k])), k))[:TOP]
    head_a, head_b = _header(a), _header(b)
    sums = [sum(float(t.entries[k][stat]) for k in ratios) for t in (a, b)]
    return {
        "a": str(a.path) if a.path else None, "b": str(b.path) if b.path else None,
        "stat": stat,
        "common": len(common),
        "ratio": None if not len(values) else {
            "median": float(np.median(values)), "min": float(values.min()),
            "max": float(values.max()),
            "geomean": float(np.exp(np.log(values).mean())),
            "sum": sums[1] / sums[0] if sums[0] > 0 else None},
        "most_different": [{"key": k, "a": float(a.entries[k][stat]),
                            "b": float(b.entries[k][stat]), "ratio": ratios[k]}
                           for k in ranked],
        "zero_in_common": zero,
        "only_in_a": sorted(set(a.entries) - set(b.entries)),
        "only_in_b": sorted(set(b.entries) - set(a.entries)),
        "header": {name: _differing_settings(head_a[name], head_b[name])
                   if name == "quantization" else {"a": head_a[name], "b": head_b[name]}
                   for name in head_a if head_a[name] != head_b[name]},
    }
