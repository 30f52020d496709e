"""What `hwnas search --resume RUN [--budget N]` is asked to do with a run, before it does it.

A resume finishes a run (its saved budget), or extends it (a larger `--budget`, stored as the
run's budget from then on). It never shortens one: a `--budget` below the run's is refused
while the run still has candidates to evaluate. A run that is finished (every candidate of its
budget recorded and readable, its front written) has nothing to resume: replaying it would
only rewrite the front it has, so the answer is one line saying so and how to extend it, and
nothing is read into a strategy, evaluated or written.
"""

from __future__ import annotations

from pathlib import Path

from hwnas.core.feasibility import ruled_out
from hwnas.errors import BadInputError
from hwnas.quoting import shell_word
from hwnas.runs import RunDir, is_warm
from hwnas.searching.loop import Recorded


def finished_note(path: str | Path, asked: int | None) -> str | None:
    """The line for a finished run (`asked`: the --budget given, None when not), else None
    (the run has candidates left, or unreadable records to evaluate again, or no front yet).
    Refuses a `--budget` below the run's own when the run is not finished."""
    from hwnas.searching.config import SearchConfig

    run = RunDir.open(path)
    run.check_not_written()  # a live writer first: its run is neither finished nor resumable
    budget = SearchConfig.from_dict(run.config()["search"]).budget
    if budget is None:  # search() writes the resolved budget; only a hand edit removes it
        raise BadInputError(f"{run.path / 'config.json'} has no search budget (a run is "
                            "written with one), so it cannot be resumed; start a new run")
    if asked is not None and asked > budget:
        return None  # an extension: the run goes on
    replay, notes = replay_plan(run.read_history())
    # evaluations of the budget: a candidate ruled out by a known cost (a hard limit) is none
    done = sum(1 for r in replay if r is not None and not ruled_out(r.result))
    finished = (done >= budget and None not in replay and not notes
                and _front_is_current(run))
    lower = (f"--budget {asked} is below its budget of {budget}: a resume never shortens a "
             "run. ") if asked is not None and asked < budget else ""
    if not finished:
        if lower:
            raise BadInputError(f"{lower.strip()} Run {run.path} has {done} of its {budget} "
                                "candidates; drop --budget to finish it, or pass a larger one "
                                "to extend it")
        return None
    return (f"run {run.path} is finished: all {budget} candidates of its budget are recorded "
            f"and its front is written; nothing was evaluated or rewritten. {lower}To extend "
            f"it: `hwnas search --resume {shell_word(run.path)} --budget "
            f"{budget + max(1, budget // 2)}` "
            f"(any budget above {budget}); its front: `hwnas pareto {shell_word(run.path)}`")


def replay_plan(read) -> tuple[list[Recorded | None], list[str]]:
    """What a resume tells again, by candidate index, and what it says about the history.

    Unreadable lines are left in place (`RunDir.read_history`); the candidates whose records
    they were are the gaps, evaluated again when the strategy reaches them. A second record of
    one index (two writers before runs were locked) is ignored: the first was told first. A
    warm start's records (hwnas.api.warm_start) are no candidates: the loop tells them apart.
    """
    by_index: dict[int, Recorded] = {}
    notes = list(read.problems)
    for record in read.records:
        index = record.get("index")
        if is_warm(record):  # an earlier run's, told first: not a candidate
            continue
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            notes.append(f"a history record of {record['arch_key']} has no candidate index; "
                         "ignored")
        elif index in by_index:
            notes.append(f"history.jsonl holds candidate {index} twice; the first is kept")
        else:
            by_index[index] = Recorded(record["arch_key"], record["result"])
    size = max(by_index, default=-1) + 1
    gaps = [i for i in range(size) if i not in by_index]
    if gaps:
        shown = ", ".join(map(str, gaps[:5])) + (f" (+{len(gaps) - 5} more)"
                                                if len(gaps) > 5 else "")
        notes.append(f"candidate(s) {shown} will be evaluated again: their records cannot be "
                     "read")
    if notes and size:
        notes.append(f"resuming after candidate {size - 1}")
    return [by_index.get(i) for i in range(size)], notes


def _front_is_current(run: RunDir) -> bool:
    """Whether pareto.json was written after the last record: a search killed between its
    last record and its front (or a history that changed since) is resumed to write it."""
    front = run.path / "pareto.json"
    try:
        return front.stat().st_mtime_ns >= run.history_path.stat().st_mtime_ns
    except OSError:
        return False
