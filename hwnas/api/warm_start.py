"""`hwnas search --warm-start RUN`: a new search starts from what earlier runs evaluated.

Before anything is written, each earlier run is checked to be of the same problem as the new
search: space and its options, objectives, estimator and its options, dataset, latency
statistic, and the content hash of the latency table (what a result depends on; the strategy,
seed, budget and limits may differ: that is the point). A difference is refused in one line
naming the setting, both values and what to do.

Its evaluated candidates (each architecture once, the first run and the first record of it
first; a failed one too) are judged again under the NEW run's limits, as the new run would
have judged them: one that a limit on a cost known before training rules out now is told as
ruled out (the costs read, no accuracy), an evaluated one is marked infeasible or feasible by
every limit of this run; one the earlier run ruled out unevaluated is kept only if this run
rules it out too (otherwise nothing is known of it).

They are written at the top of the new run's history when the run is created, each marked
`"warm": true` with the run it came from (`warm_from`) and no candidate index: they reach the
run's front, `runs show` counts them apart, and none is a candidate or an evaluation of the
budget. The loop reads them back from the run's own history, a resume included, so a resumed
run is told exactly the same ones, whatever happened to the earlier runs since.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from hwnas.arch import Arch
from hwnas.core.failure import is_failed
from hwnas.core.feasibility import INFEASIBLE, VIOLATION, ruled_out
from hwnas.errors import BadInputError
from hwnas.quoting import shell_word
from hwnas.runs import WARM, WARM_FROM, HistoryRead, RunDir, is_warm, unique_records
from hwnas.searching.config import stored_options
from hwnas.searching.constraints import Limits


def open_runs(paths: Sequence[str]) -> list[tuple[RunDir, dict]]:
    """Each earlier run and its config.json; one that is missing or unreadable is one line."""
    out: list[tuple[RunDir, dict]] = []
    for path in paths:
        if any(Path(path).resolve() == run.path.resolve() for run, _ in out):
            raise BadInputError(f"--warm-start {path} is given twice; give it once")
        try:
            run = RunDir.open(path)
            out.append((run, run.config()))
        except BadInputError as exc:
            raise BadInputError(f"--warm-start {path}: {exc}") from None
    return out


def check_same_problem(runs: Sequence[tuple[RunDir, dict]], new: dict) -> None:
    """Refuse, in one line, an earlier run whose results do not hold for the new search
    (`new`: the new run's config.json as it will be written)."""
    for run, old in runs:
        for setting, was, now, fix in _settings(old, new):
            if was != now:
                raise BadInputError(
                    f"--warm-start {run.path}: its {setting} is {_shown(was)}, this search's "
                    f"is {_shown(now)}; its results hold only for the same problem: {fix}, or "
                    f"leave out --warm-start {shell_word(run.path)}")


def _settings(old: dict, new: dict) -> list[tuple[str, object, object, str]]:
    """(setting, earlier run's value, new search's value, what to do), compared in order."""
    o, n = old["search"], new["search"]
    out: list[tuple[str, object, object, str]] = [
        ("space", o.get("space"), n["space"], f"search with --space {o.get('space')}"),
        ("objectives", sorted(o.get("objectives") or []), sorted(n["objectives"]),
         f"search with --objectives {','.join(o.get('objectives') or [])}"),
        ("estimator", o.get("estimator"), n["estimator"],
         f"search with --estimator {o.get('estimator')}"),
        ("dataset", o.get("dataset"), n["dataset"], f"search with --dataset {o.get('dataset')}")]
    out += _options("space option", old.get("space_resolved") or {}, new["space_resolved"],
                    "--space-opt")
    out += _options("estimator option", stored_options(old, "estimator"),
                    new["estimator_resolved"], "--estimator-opt")
    out.append(("latency statistic", o.get("latency_stat"), n["latency_stat"],
                f"search with --latency-stat {o.get('latency_stat')}"))
    was, now = (old.get("table") or {}).get("hash"), (new.get("table") or {}).get("hash")
    out.append(("latency table", f"table {was[:12]}" if was else "no table",
                f"table {now[:12]}" if now else "no table",
                "search with the table it used, unchanged (`hwnas tables show` prints a "
                "table's hash)"))
    return out


def _options(what: str, was: dict, now: dict, flag: str) -> list[tuple[str, object, object, str]]:
    missing = "(not set)"
    return [(f"{what} {name}", was.get(name, missing), now.get(name, missing),
             f"search with {flag} {name}={_shown(was.get(name, missing))}")
            for name in sorted(set(was) | set(now))]


def _shown(value: object) -> str:
    return f"{value!r:.60}" if not isinstance(value, str) else f"{value:.80}"


def collect(runs: Sequence[tuple[RunDir, dict]], limits: Limits) -> list[tuple[Arch, dict, str]]:
    """(arch, result judged under `limits`, the run it came from) for every usable record of
    the earlier runs, each architecture once (module docstring)."""
    seen: set[str] = set()
    out: list[tuple[Arch, dict, str]] = []
    for run, _ in runs:
        for record in unique_records(run.read_history().records):
            arch_dict = record.get("arch")
            if record["arch_key"] in seen or not isinstance(arch_dict, dict):
                continue  # a record without its architecture cannot be told
            arch = Arch.from_dict(arch_dict)
            result = rejudge(arch, record["result"], limits)
            if result is None:
                continue
            seen.add(arch.key)
            out.append((arch, result, str(record.get(WARM_FROM) or run.path)))
    return out


def rejudge(arch: Arch, result: dict, limits: Limits) -> dict | None:
    """`result` of an earlier run as this run would record it (module docstring); None when
    nothing of it is known (ruled out there, not here)."""
    if is_failed(result):
        return dict(result)
    verdict = limits.rule_out(arch)  # this run's limits on costs known before training
    if verdict is not None or ruled_out(result):
        return verdict
    plain = {k: v for k, v in result.items() if k not in (INFEASIBLE, VIOLATION)}
    return limits.judge(plain)


def history_records(warm: list[tuple[Arch, dict, str]], space) -> list[dict]:
    """The new run's history lines for them: no candidate index, marked warm, sourced."""
    return [{"arch_key": arch.key, "arch": arch.to_dict(), "arch_str": str(arch),
             "arch_short": space.compact(arch), "result": result, "cached": False,
             WARM: True, WARM_FROM: source, "wall_seconds": 0.0}
            for arch, result, source in warm]


def told(read: HistoryRead) -> list[tuple[Arch, dict]]:
    """The warm records of a run's own history, in order: what its loop tells first."""
    return [(Arch.from_dict(r["arch"]), r["result"]) for r in read.records
            if is_warm(r) and isinstance(r.get("arch"), dict)]


def summary(records: Sequence[dict]) -> dict:
    """{"warm": N, "warm_from": {run: n}} of a run's history records."""
    sources = Counter(str(r.get(WARM_FROM)) for r in records if is_warm(r))
    return {"warm": sum(sources.values()), "warm_from": dict(sources)}


def note(warm: list[tuple[Arch, dict, str]], strategy: str) -> str:
    """What a warm-started search says when it begins."""
    if not warm:
        return ("warm start: the earlier runs hold no candidate usable here (none evaluated, "
                "or each ruled out there by a limit this search does not hold); starting cold")
    sources = Counter(source for _, _, source in warm)
    where = ", ".join(f"{n} from {s}" for s, n in sources.items())
    results = [r for _, r, _ in warm]
    failed = sum(1 for r in results if is_failed(r))
    infeasible = sum(1 for r in results if INFEASIBLE in r)
    extra = ", ".join(part for part in (f"{infeasible} infeasible under this search's limits"
                                        * bool(infeasible), f"{failed} failed" * bool(failed))
                      if part)
    return (f"warm start: {len(warm)} evaluated candidate(s) ({where}"
            f"{'; ' + extra if extra else ''}) told to {strategy} before its first proposal; "
            "none is evaluated again or counted in the budget")


def check_strategy(name: str) -> None:
    """Refuse, in one line, a strategy that cannot learn from candidates it did not propose
    (`Strategy.takes_warm_start`), naming those that can."""
    from hwnas.registry import STRATEGIES

    if getattr(STRATEGIES.get(name), "takes_warm_start", False):
        return
    takers = [n for n in STRATEGIES.names()
              if getattr(STRATEGIES.get(n), "takes_warm_start", False)]
    raise BadInputError(f"--warm-start: --method {name} learns only from its own proposals "
                        "(a policy gradient, or a supernet trained inside the search), so it "
                        f"cannot start from earlier runs; the methods that take --warm-start: "
                        f"{', '.join(takers)}; choose one of them, or drop --warm-start")


def copy_weights(warm: list[tuple[Arch, dict, str]], run: RunDir) -> None:
    """The weights an earlier run kept of a usable candidate, into the new run, so that
    `hwnas export` of a front member that came from it finds them (the run's `keep_weights`
    prunes them as its own at the end)."""
    from hwnas.core.feasibility import usable
    from hwnas.fileio import atomic_write_bytes, read_regular

    for arch, result, source in warm:
        path = RunDir(source).weights_path(arch.key)
        if usable(result) and path.is_file() and not run.weights_path(arch.key).exists():
            atomic_write_bytes(run.weights_path(arch.key), read_regular(path))
