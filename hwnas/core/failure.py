"""A failed candidate: the one shape its result takes, and how it is recognised everywhere.

A candidate that cannot be scored (an exception while building, training or scoring it, a
diverged training, a non-finite objective) is not the end of a search: its result is
``{"failed": "<one-line reason>"}`` and nothing else, so no objective can be read from it by
mistake. The loop records it and tells it like any result; strategies treat it as the worst
(hwnas.strategies.base); fronts, picking and export leave it out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from hwnas.errors import CandidateFailed

FAILED = "failed"
REASON_CHARS = 300  # a reason is one line of a history record, not a traceback


def failed_result(reason: str) -> dict:
    """The result of a failed candidate: ``{"failed": reason}``, reason on one line."""
    text = " ".join(str(reason).split()) or "unknown failure"
    if len(text) > REASON_CHARS:
        text = text[: REASON_CHARS - 3] + "..."
    return {FAILED: text}


def is_failed(result: dict | None) -> bool:
    return isinstance(result, dict) and FAILED in result


def reason_of(exc: BaseException) -> str:
    """The reason recorded for an exception: a CandidateFailed's own message (it is written
    as a reason), any other as "TypeName: message"."""
    if isinstance(exc, CandidateFailed):
        return str(exc)
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def non_finite_reason(result: dict) -> str | None:
    """Why a result cannot stand (a NaN or infinite value), or None when every number in it
    is finite. A NaN accuracy would otherwise rank as chance, an inf latency as merely slow."""
    bad = [f"{name}={value}" for name, value in result.items()
           if isinstance(value, (int, float)) and not isinstance(value, bool)
           and not math.isfinite(value)]
    return f"non-finite result: {', '.join(bad)}" if bad else None


def failure_kind(reason: str) -> str:
    """The part of a reason that groups alike failures: what precedes the first colon
    ("diverged", "KeyError", "non-finite result"), or the whole reason when it has none."""
    head, sep, _ = reason.partition(":")
    return head.strip() if sep and head.strip() else reason


def summarize_failures(results: Iterable[dict]) -> dict:
    """{"failed": N, "reasons": [{"kind", "count", "example"}, most common first]}."""
    reasons = [r[FAILED] for r in results if is_failed(r)]
    kinds = Counter(failure_kind(r) for r in reasons)
    examples: dict[str, set[str]] = {}
    for reason in reasons:
        examples.setdefault(failure_kind(reason), set()).add(reason)
    return {"failed": len(reasons),
            "reasons": [{"kind": kind, "count": count,
                         "example": min(examples[kind]),
                         "same_reason": len(examples[kind]) == 1}
                        for kind, count in kinds.most_common()]}


def failures_line(summary: dict, width: int = 80) -> str:
    """'3 failed: diverged (2), KeyError: 'x' (1)': a kind whose reasons are all the same
    is shown with its reason (shortened to `width`), else by its kind alone."""
    if not summary["failed"]:
        return "0 failed"
    parts = []
    for entry in summary["reasons"]:
        text = entry["example"] if entry["same_reason"] else entry["kind"]
        if len(text) > width:
            text = text[: width - 3] + "..."
        parts.append(f"{text} ({entry['count']})")
    return f"{summary['failed']} failed: {', '.join(parts)}"
