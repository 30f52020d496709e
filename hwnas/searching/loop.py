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
* Hard limits (`limits`, hwnas.searching.constraints): a proposal that breaks a limit on a
  cost known before training (table latency, params, FLOPs, a benchmark's device costs) is
  ruled out: recorded infeasible with the cost and the limit, neither trained nor looked up,
  told to the strategy, and not counted against the budget. So a strategy that proposes
  nothing else cannot loop for ever, at most `RULED_OUT_PER_EVALUATION` x budget proposals
  are ruled out in a run; past that the loop stops and `limits.stopped` says so. A result
  that breaks a limit on a cost known only after evaluation (accuracy) is marked infeasible
  and counted like any evaluation.
* Missing known costs: a proposal whose cost the cost model knows, but has no value for (a
  benchmark's device that could not run the network), is ruled out the same way
  (hwnas.core.feasibility.required_limits), with or without `--constraint`; `limits.missing`
  counts them. Where only a share s of the space has every such cost (11% of NB201 for the
  edge TPU), uniform draws are ruled out at (1 - s) / s per evaluation (8 there), near the
  cap, though such a search does nothing wrong: the cap is then `RULED_OUT_PER_EVALUATION`
  / s per evaluation (90 there), so the loop stops only a strategy ruled out ten times more
  often than uniform sampling would be, as it does on a complete space.
* A strategy with a fixed number of proposals (`max_proposals()`: one-shot settings, a
  weight-sharing search's `top`) that has made them all ends the loop, even short of the
  budget when some were ruled out.
* Replay: given the results already recorded (a resumed run), the first proposals must be
  exactly those architectures; their results are told again instead of evaluated. A strategy
  that proposes something else under the same seed cannot be resumed: that is an error. A gap
  in the replay (None: a record that could not be read back) is evaluated again.
* Threads: `ask` and `tell` run under `hwnas.threads.limit_threads` (a sample-based
  strategy's models are small: one BLAS/OpenMP/torch thread; a one-shot strategy trains its
  supernet in `ask` with its own `threads` option); the evaluator keeps its own `threads`.
* The strategy is told after the whole batch is recorded, so a crash mid-batch loses at most
  the candidates not yet recorded, and replay tells the same batches again.
* Warm start (`warm`: results of earlier runs, already judged under this run's limits,
  hwnas.api.warm_start): told once, before the first proposal and before any replay, through
  `strategy.warm_start`; none is a candidate or an evaluation of the budget. A later proposal
  of one of them is looked up like a repeat (marked `cached`, counted as one proposal).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from hwnas.arch import Arch
from hwnas.core.feasibility import missing_cost, ruled_out
from hwnas.core.outcome import Outcome
from hwnas.errors import HwnasRuntimeError
from hwnas.searching.constraints import Limits
from hwnas.threads import limit_threads, strategy_threads

# Proposals ruled out by a known cost, per evaluation of the budget, before the loop stops: a
# strategy honouring the limits rules out far fewer (tests/conformance/test_constraints.py).
RULED_OUT_PER_EVALUATION = 10


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
             | None = None, name: str = "", limits: Limits | None = None,
             warm: Sequence[tuple[Arch, dict]] = ()) -> int:
    """Drive `strategy` for `budget` evaluations; returns the number of candidates (ruled-out
    ones included: each is a candidate of the history, none an evaluation)."""
    if budget < 1 or batch < 1:
        raise ValueError(f"budget and batch must be >= 1; got {budget}, {batch}")
    limits = limits if limits is not None else Limits(())
    known = {arch.key: result for arch, result in warm}  # earlier runs' first, as told
    known.update({rec.arch_key: rec.result for rec in replay if rec is not None})
    position = spent = 0  # candidates so far; evaluations of the budget so far
    most_out = ruled_out_cap(limits, budget)
    threads = strategy_threads(strategy)  # hwnas.threads; the evaluator keeps its own
    if warm:  # before the first proposal, so a resume tells them at the same point again
        with limit_threads(threads):
            strategy.warm_start([a for a, _ in warm], [dict(r) for _, r in warm])
    while spent < budget:
        with limit_threads(threads):
            archs = list(strategy.ask(min(batch, budget - spent)))[: budget - spent]
        if not archs:
            most = strategy.max_proposals() if hasattr(strategy, "max_proposals") else None
            if most is not None and position >= most:  # all made, some ruled out
                break
            raise HwnasRuntimeError(f"strategy {name or type(strategy).__name__} proposed "
                                    f"nothing after {position} evaluations")
        candidates = _step(archs, position, evaluator, replay, known, limits)
        for candidate in candidates:
            if on_candidate is not None:
                on_candidate(candidate)
        with limit_threads(threads):
            strategy.tell(archs, [c.result for c in candidates])
        position += len(archs)
        out = sum(1 for c in candidates if ruled_out(c.result))
        spent += len(archs) - out
        limits.ruled_out += out
        limits.missing += sum(1 for c in candidates if missing_cost(c.result))
        if limits.ruled_out > most_out:
            limits.stopped = (f"stopped after {limits.ruled_out} proposals broke a limit "
                              f"known before training ({most_out / budget:.3g} per "
                              f"evaluation of the budget at most), {spent} of {budget} "
                              "evaluated: the limits may leave too little of the space")
            break
    return position


def ruled_out_cap(limits: Limits, budget: int) -> float:
    """Proposals ruled out before the loop stops: `RULED_OUT_PER_EVALUATION` per evaluation,
    over the share of the space whose known costs all exist (module docstring)."""
    share = limits.costs.known_share if limits.required else 1.0
    return RULED_OUT_PER_EVALUATION * budget / max(share, 1e-6)


def _step(archs: list[Arch], position: int, evaluator: MapsArchs,
          replay: Sequence[Recorded | None], known: dict, limits: Limits) -> list[Candidate]:
    """The candidates of one batch, in ask order; new archs evaluated in one `map` call,
    those a known cost rules out (`limits`) never."""
    fresh: dict[str, Arch] = {}
    recorded = [replay[position + k] if position + k < len(replay) else None
                for k in range(len(archs))]
    out_now: dict[str, dict] = {}  # ruled out in this batch, by key
    for offset, arch in enumerate(archs):
        index = position + offset
        if recorded[offset] is not None:
            if recorded[offset].arch_key != arch.key:
                raise HwnasRuntimeError(
                    f"the run does not replay: candidate {index} was "
                    f"{recorded[offset].arch_key}, "
                    f"the strategy now proposes {arch.key} (same seed and options?)")
        elif arch.key not in known and arch.key not in out_now:
            verdict = limits.rule_out(arch)
            if verdict is not None:
                out_now[arch.key] = verdict
            else:
                fresh.setdefault(arch.key, arch)
    outcomes = dict(zip(fresh, evaluator.map(list(fresh.values())), strict=True)) \
        if fresh else {}
    out = []
    for offset, arch in enumerate(archs):
        index = position + offset
        if recorded[offset] is not None:
            out.append(Candidate(index, arch, recorded[offset].result, False, True, None))
            continue
        verdict = out_now.pop(arch.key, None)  # only the first of a repeated arch
        if verdict is not None:
            known[arch.key] = verdict
            out.append(Candidate(index, arch, verdict, False, False, None))
            continue
        outcome = outcomes.pop(arch.key, None)  # only the first of a repeated arch
        if outcome is not None:
            result = limits.judge(outcome.result)  # a limit known only after evaluation
            known[arch.key] = result
            out.append(Candidate(index, arch, result, False, False,
                                 outcome if result is outcome.result else
                                 Outcome(result, outcome.state_dict, outcome.seconds,
                                         outcome.extra)))
        else:
            out.append(Candidate(index, arch, dict(known[arch.key]), True, False, None))
    return out
