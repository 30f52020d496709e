"""Compare two latency tables: per-op p50 ratios, the same per op type, keys on one side only,
header differences.

An op type is what an op computes without where it sits: its name, kernel and expansion (and
any space-specific option), not its channels, size or stride. Per type the diff counts the
ops where B is faster, about equal or slower than A: what a user choosing a space's ops for a
backend or dtype (int8 against fp32) reads, when the overall ratio hides that some kinds of op
gain and others lose.
"""

from __future__ import annotations

import math

import numpy as np

from hwnas.latency.table import LatencyTable

HEADER_FIELDS = ("backend", "batch", "dtype", "threads")
TOP = 5
# |B/A - 1| within this counts as equal: a table's own entries repeat to a few percent on a
# quiet machine, so a smaller difference says nothing about which is faster
EQUAL = 0.05


def op_type(key: str) -> str:
    """`mbconv|cin=16|cout=24|hw=32|k=5|s=2|e=6` -> `mbconv k=5 e=6`: the op without its
    shapes and stride."""
    from hwnas.ops import OpSignature

    try:
        sig = OpSignature.from_key(key)
    except Exception:  # a key this hwnas cannot parse is its own type
        return key
    parts = [sig.op] + ([f"k={sig.kernel}"] if sig.kernel else []) + \
        ([f"e={sig.expand}"] if sig.expand else []) + [f"{k}={v}" for k, v in sig.extra]
    return " ".join(parts)


def by_type(a: LatencyTable, b: LatencyTable, ratios: dict, stat: str) -> list[dict]:
    """Per op type (`op_type`): ops, A's and B's summed `stat`, their ratio, and how many ops
    B runs faster, about equal (`EQUAL`) or slower than A."""
    groups: dict[str, list[str]] = {}
    for key in ratios:
        groups.setdefault(op_type(key), []).append(key)
    rows = []
    for kind, keys in sorted(groups.items()):
        sa = sum(float(a.entries[k][stat]) for k in keys)
        sb = sum(float(b.entries[k][stat]) for k in keys)
        rows.append({"type": kind, "ops": len(keys), "a_ms": sa, "b_ms": sb, "ratio": sb / sa,
                     "faster": sum(ratios[k] < 1 - EQUAL for k in keys),
                     "equal": sum(abs(ratios[k] - 1) <= EQUAL for k in keys),
                     "slower": sum(ratios[k] > 1 + EQUAL for k in keys)})
    return rows


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
        "by_type": by_type(a, b, ratios, stat),
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
