"""The one search loop: budget, repeats, replay on resume, and the order results are recorded.

`hwnas search`, `hwnas bench` and the tests all run a strategy through `run_loop`; only what
happens to each candidate afterwards differs (a history line, a benchmark row), and that is the
caller's `on_candidate`. As in pymoo, the loop is outside the algorithm:

    while evaluations < budget:
        archs = strategy.ask(min(batch, budget - evaluations))   # may be fewer; never none
        new = the archs not seen before in this run, once each, in ask order
        outcomes = evaluator.map(new)                             # in the order asked
        every arch becomes a Candidate, in ask order: evaluated, or looked up (a repeat)
        strategy.tell(archs, results)

Rules:
* Every proposal is one evaluation of the budget, repeats included (a real search spends a
  step on it too); a repeat is looked up, never re-evaluated, and marked `cached`.
* Replay: given the results already recorded (a resumed run), the first proposals must be
  exactly those architectures; their results are told again instead of evaluated. A strategy
  that proposes something else under the same seed cannot be resumed: that is an error. A gap
  in the replay (None: a record that could not be read back) is evaluated again.
* Threads: `ask` and `tell` run under `hwnas.threads.limit_threads` (a sample-based
  strategy's models are small: one BLAS/OpenMP/torch thread; a one-shot strategy trains its
  supernet in `ask` with its own `threads` option); the evaluator keeps its own `threads`.
* The strategy is told after the whole batch is recorded, so a crash mid-batch loses at most
  the candidates not yet recorded, and replay tells the same batches again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from hwnas.arch import Arch
from hwnas.core.outcome import Outcome
from hwnas.errors import HwnasRuntimeError
from hwnas.threads import limit_threads, strategy_threads


class MapsArchs(Protocol):
    def map(self, archs: list[Arch]) -> list[Outcome]: ...


@dataclass(frozen=True)
class Candidate:
    """One proposal, in the order it was asked: evaluated, looked up, or replayed."""

    index: int
    arch: Arch
    result: dict
    cached: bool  # a repeat of an architecture evaluated earlier in the run
    replayed: bool  # recorded by an earlier session of the run, told again
    outcome: Outcome | None  # None unless evaluated now


@dataclass(frozen=True)
class Recorded:
    """A result already recorded for the candidate at this position (replay on resume)."""

    arch_key: str
    result: dict


def run_loop(strategy, evaluator: MapsArchs, budget: int, *, batch: int = 1,
             replay: Sequence[Recorded | None] = (), on_candidate: Callable[[Candidate], None]
             | None = None, name: str = "") -> int:
    """Drive `strategy` for `budget` evaluations; returns the number of candidates."""
    if budget < 1 or batch < 1:
        raise ValueError(f"budget and batch must be >= 1; got {budget}, {batch}")
    known = {rec.arch_key: rec.result for rec in replay if rec is not None}
    position = 0
    threads = strategy_threads(strategy)  # hwnas.threads; the evaluator keeps its own
    while position < budget:
        with limit_threads(threads):
            archs = list(strategy.ask(min(batch, budget - position)))[: budget - position]
        if not archs:
            raise HwnasRuntimeError(f"strategy {name or type(strategy).__name__} proposed "
                                    f"nothing after {position} evaluations")
        candidates = _step(archs, position, evaluator, replay, known)
        for candidate in candidates:
            if on_candidate is not None:
                on_candidate(candidate)
        with limit_threads(threads):
            strategy.tell(archs, [c.result for c in candidates])
        position += len(archs)
    return position


def _step(archs: list[Arch], position: int, evaluator: MapsArchs,
          replay: Sequence[Recorded | None], known: dict) -> list[Candidate]:
    """The candidates of one batch, in ask order; new archs evaluated in one `map` call."""
    fresh: dict[str, Arch] = {}
    recorded = [replay[position + k] if position + k < len(replay) else None
                for k in range(len(archs))]
    for offset, arch in enumerate(archs):
        index = position + offset
        if recorded[offset] is not None:
            if recorded[offset].arch_key != arch.key:
                raise HwnasRuntimeError(
                    f"the run does not replay: candidate {index} was "
                    f"{recorded[offset].arch_key}, "
                    f"the strategy now proposes {arch.key} (same seed and options?)")
        elif arch.key not in known:
            fresh.setdefault(arch.key, arch)
    outcomes = dict(zip(fresh, evaluator.map(list(fresh.values())), strict=True)) \
        if fresh else {}
    out = []
    for offset, arch in enumerate(archs):
        index = position + offset
        if recorded[offset] is not None:
            out.append(Candidate(index, arch, recorded[offset].result, False, True, None))
            continue
        outcome = outcomes.pop(arch.key, None)  # only the first of a repeated arch
        if outcome is not None:
            known[arch.key] = outcome.result
            out.append(Candidate(index, arch, outcome.result, False, False, outcome))
        else:
            out.append(Candidate(index, arch, dict(known[arch.key]), True, False, None))
    return out
