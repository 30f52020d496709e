"""Outcome: what an evaluator returns for one architecture and the search loop records
(hwnas.searching.loop), in the evaluator's process or from a Ray worker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """What an evaluator says of one architecture: its objective values, and trained weights
    when the estimator kept them (CPU tensors), plus plain extra data."""

    result: dict
    state_dict: dict | None = None
    seconds: float = 0.0
    extra: dict | None = None  # the estimator's plain data (Estimate.extra), kept in the history
