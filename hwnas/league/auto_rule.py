"""The rule of `--method auto` (hwnas.searching.auto), derived from family league results
(`hwnas bench --family`, `benchmarks/family_league.py`), and its leave-one-problem-out check.

Input: one family folder per budget, or per budget and objective count (a folder of the
two-objective problems and one of the three-objective ones, run with other methods or seeds;
OUT/family.json for the problems' list, command and date; OUT/<slug>/results.json for the
numbers). Cells no folder holds may be kept from an earlier rule (`keep`): re-running one
objective count does not need the others re-run. Per problem a method's number is its mean HV
ratio over seeds and its rank is by that number (hwnas.league.family_summary.problem_entry).

Derivation, the same for the shipped rule and for each leave-one-out rule: per objective count
(two; three; four: the three- and four-objective problems behave apart, mobo first with three
at 500 evaluations and too slow to run with four) and budget, the methods in the family
summary's own order: mean rank over the cell's problems, then mean HV ratio (then the name).
Mean rank rather than mean HV ratio because ranks weigh every problem alike: on a problem where
every method is near 1.0 and on one where they spread from 0.4 to 0.9, the best method counts
as much, whereas a mean of HV ratios is decided by the problems where they spread. Auto takes
the first of that order that fits the search (hwnas.searching.auto).

Leave one problem out: for each problem, the rule derived from every folder with that problem
removed, applied by `choose` to the problem's own inputs (its objective count, the folder's
budget, costs known before evaluation as the league gives them, no limits), and the HV ratio
the method picked reached on it.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from hwnas.errors import BadInputError
from hwnas.league.family import TWO, FamilyProblem
from hwnas.league.family_summary import problem_entry, summarise
from hwnas.searching.auto import RULE_FORMAT, choose, count_words

# What auto must reach on every two-objective problem, left out, at each measured budget:
# (bar, goal) in HV ratio (the numbers).
GOALS = {100: (0.98, 0.99), 500: (0.998, 0.999)}
CRITERION = ("per cell, the family summary's order: mean rank over the cell's problems (1 = "
             "best on a problem, ties share the mean place), then mean HV ratio, then name")
BANDS = ("a budget takes the cell of the measured budget nearest to it, a tie to the smaller "
         "(100 and 500 measured: up to 300 the 100-evaluation cell, above it the 500 one); "
         "below the smallest or above the largest measured budget, that end's cell, said as "
         "not measured; an objective count no group measured takes the nearest group's")


def read_run(folder: str | Path) -> dict:
    """One family folder: its setting and one entry per problem (from its results.json)."""
    folder = Path(folder)
    path = folder / "family.json"
    try:
        family = json.loads(path.read_text(encoding="utf-8"))
        problems = [FamilyProblem(p["slug"], tuple(p["objectives"]), p["group"])
                    for p in family["problems"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{path}: not a family league's summary ({exc}); run "
                            "benchmarks/family_league.py --out DIR first") from None
    entries = []
    for p in problems:
        results_path = folder / p.slug / "results.json"
        try:
            results = json.loads(results_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadInputError(f"{results_path}: cannot read it ({exc})") from None
        entries.append(problem_entry(p, results))
    return {"folder": str(folder), "budget": int(family["budget"]),
            "seeds": int(family["seeds"]), "methods": list(family["methods"]),
            "command": family.get("command"), "created": family.get("created"),
            "machine": _machine_text(family.get("machine") or {}),
            "benchmark": family.get("benchmark_name"), "entries": entries}


def _machine_text(machine: Mapping) -> str:
    return f"{machine.get('processor', '?')} ({machine.get('cpus', '?')} CPUs)"


def derive(runs: Sequence[Mapping], *, ceilings: Mapping | None = None, note: str = "",
           created: str | None = None, keep: Mapping | None = None) -> dict:
    """The rule from family runs (`read_run`'s dicts): one cell per budget and objective count,
    each from the one run that holds that count at that budget. `keep`, an earlier rule: its
    cells at a budget and count no run holds are kept as they are (with that rule's sources)."""
    held: dict[tuple[int, int], str] = {}
    for run in runs:
        for count in sorted({len(e["objectives"]) for e in run["entries"]}):
            other = held.setdefault((run["budget"], count), run["folder"])
            if other != run["folder"]:
                raise BadInputError(
                    f"{other} and {run['folder']} both hold {count_words(count)}-objective "
                    f"problems at "
                    f"{run['budget']} evaluations; give one folder per budget and objective "
                    "count")
    cells = []
    for run in sorted(runs, key=lambda r: r["budget"]):
        for count in sorted({len(e["objectives"]) for e in run["entries"]}):
            entries = [e for e in run["entries"] if len(e["objectives"]) == count]
            for group, summary in summarise(entries).items():
                cells.append({
                    "group": group, "budget": run["budget"], "objectives": [count],
                    "problems": len(entries), "seeds": run["seeds"], "source": run["command"],
                    "order": summary["order"],
                    "methods": {m: {"mean_rank": s["mean_rank"], "hv_ratio": s["hv_ratio"],
                                    "worst": s["worst"], "first_on": _first_on(entries, m),
                                    "wall_s": s["wall_s"]}
                                for m, s in summary["methods"].items()}})
    sources = [{k: r[k] for k in ("budget", "seeds", "methods", "command", "created",
                                  "machine", "benchmark")}
               | {"problems": len(r["entries"])} for r in runs]
    if keep is not None:
        kept = [_kept_cell(keep, c) for c in keep["cells"]
                if not any((c["budget"], n) in held for n in c["objectives"])]
        cells = sorted(cells + kept, key=lambda c: (c["budget"], c["objectives"]))
        sources += [s | {"kept": True} for s in keep.get("sources", [])
                    if any(c["source"] == s.get("command") for c in kept)]
    return {"format": RULE_FORMAT,
            "what": "the rule of `hwnas search --method auto` (hwnas.searching.auto), "
                    "written by benchmarks/auto_rule.py from family league results",
            "created": created or _dt.datetime.now().isoformat(timespec="seconds"),
            "note": note, "criterion": CRITERION, "bands": BANDS, "sources": sources,
            "ceilings": dict(ceilings or {}), "cells": cells}


def _kept_cell(rule: Mapping, cell: Mapping) -> dict:
    """An earlier rule's cell, kept: marked so, with its seeds and source command (a rule
    written before cells named them: its first source at the cell's budget, the order such a
    rule's sources were written in)."""
    source: Mapping = next((s for s in rule.get("sources", [])
                            if s["budget"] == cell["budget"]), {})
    return {**cell, "seeds": cell.get("seeds", source.get("seeds")),
            "source": cell.get("source", source.get("command")), "kept": True}


def _first_on(entries: Sequence[Mapping], method: str) -> int:
    """Problems where `method`'s HV ratio is the largest (a tie counts for each)."""
    return sum(e["methods"][method]["hv_ratio"] >= max(v["hv_ratio"]
                                                       for v in e["methods"].values())
               for e in entries)


def without(runs: Sequence[Mapping], slug: str) -> list[dict]:
    """The runs with problem `slug` left out of each."""
    return [{**r, "entries": [e for e in r["entries"] if e["slug"] != slug]} for r in runs]


def leave_one_out(runs: Sequence[Mapping], *, ceilings: Mapping | None = None) -> list[dict]:
    """Per run and problem: auto's pick by the rule derived without the problem, its HV ratio
    there, and the best method's there. A problem alone in its cell (objective count and
    budget) has no rule left to be picked by (its row says so: pick None)."""
    rows = []
    for run in runs:
        for e in run["entries"]:
            rest = without(runs, e["slug"])
            count = len(e["objectives"])
            group_left = any(len(x["objectives"]) == count and r["budget"] == run["budget"]
                             for r in rest for x in r["entries"])
            best = max(e["methods"], key=lambda m: (e["methods"][m]["hv_ratio"], m))
            row = {"slug": e["slug"], "group": e["group"], "budget": run["budget"],
                   "best": best, "best_hv": e["methods"][best]["hv_ratio"], "pick": None,
                   "hv": None}
            if group_left:
                rule = derive([r for r in rest if r["entries"]], ceilings=ceilings)
                pick = choose(run["budget"], count, True, rule=rule).method
                row.update(pick=pick, hv=e["methods"][pick]["hv_ratio"])
            rows.append(row)
    return rows


def verdicts(rows: Sequence[Mapping]) -> list[dict]:
    """Per measured budget with a goal: auto's worst left-out HV ratio over the two-objective
    problems, against the bar and the goal; and the worst of the best method per problem (an
    oracle's: what no rule choosing one method per cell can beat)."""
    out = []
    for budget, (bar, goal) in GOALS.items():
        picked = [r for r in rows if r["group"] == TWO and r["budget"] == budget
                  and r["hv"] is not None]
        if not picked:
            continue
        worst = min(picked, key=lambda r: r["hv"])
        oracle = min(picked, key=lambda r: r["best_hv"])  # the best method on every problem
        out.append({"budget": budget, "bar": bar, "goal": goal, "problems": len(picked),
                    "worst": worst["hv"], "worst_slug": worst["slug"],
                    "oracle_worst": oracle["best_hv"], "oracle_worst_slug": oracle["slug"],
                    "holds": worst["hv"] >= bar, "goal_met": worst["hv"] >= goal,
                    "below_bar": sum(r["hv"] < bar for r in picked)})
    return out
