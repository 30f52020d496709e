"""The rule of `--method auto` (hwnas.searching.auto), derived from family league results
(`hwnas bench --family`, `benchmarks/family_league.py`), and its leave-one-problem-out check.

Input: one family folder per budget, or per budget and group of problems (a folder of the
two-objective problems and one of the 3/4-objective sample, run with other methods or seeds;
OUT/family.json for the problems' list, command and date;
OUT/<slug>/results.json for the numbers). Per problem a method's number is its mean HV ratio
over seeds and its rank is by that number (hwnas.league.family_summary.problem_entry).

Derivation, the same for the shipped rule and for each leave-one-out rule: per group of
problems (two-objective; the three- and four-objective sample) and budget, the methods in the
family summary's own order: mean rank over the group's problems, then mean HV ratio (then the
name). Mean rank rather than mean HV ratio because ranks weigh every problem alike: on a
problem where every method is near 1.0 and on one where they spread from 0.4 to 0.9, the best
method counts as much, whereas a mean of HV ratios is decided by the problems where they
spread. Auto takes the first of that order that fits the search (hwnas.searching.auto).

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
from hwnas.searching.auto import RULE_FORMAT, choose

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
           created: str | None = None) -> dict:
    """The rule from family runs (`read_run`'s dicts): one cell per budget and group of
    problems, each from the one run that holds that group at that budget."""
    held: dict[tuple[int, str], str] = {}
    for run in runs:
        for group in sorted({e["group"] for e in run["entries"]}):
            other = held.setdefault((run["budget"], group), run["folder"])
            if other != run["folder"]:
                raise BadInputError(
                    f"{other} and {run['folder']} both hold {group} problems at "
                    f"{run['budget']} evaluations; give one folder per budget and group")
    cells = []
    for run in sorted(runs, key=lambda r: r["budget"]):
        for group, summary in summarise(run["entries"]).items():
            entries = [e for e in run["entries"] if e["group"] == group]
            cells.append({
                "group": group, "budget": run["budget"],
                "objectives": sorted({len(e["objectives"]) for e in entries}),
                "problems": len(entries), "order": summary["order"],
                "methods": {m: {"mean_rank": s["mean_rank"], "hv_ratio": s["hv_ratio"],
                                "worst": s["worst"], "first_on": _first_on(entries, m),
                                "wall_s": s["wall_s"]}
                            for m, s in summary["methods"].items()}})
    return {"format": RULE_FORMAT,
            "what": "the rule of `hwnas search --method auto` (hwnas.searching.auto), "
                    "written by benchmarks/auto_rule.py from family league results",
            "created": created or _dt.datetime.now().isoformat(timespec="seconds"),
            "note": note, "criterion": CRITERION, "bands": BANDS,
            "sources": [{k: r[k] for k in ("budget", "seeds", "methods", "command", "created",
                                           "machine", "benchmark")}
                        | {"problems": len(r["entries"])} for r in runs],
            "ceilings": dict(ceilings or {}), "cells": cells}


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
    there, and the best method's there. A problem alone in its group has no rule left to be
    picked by (its row says so: pick None)."""
    rows = []
    for run in runs:
        for e in run["entries"]:
            rest = without(runs, e["slug"])
            group_left = any(x["group"] == e["group"] for r in rest for x in r["entries"])
            best = max(e["methods"], key=lambda m: (e["methods"][m]["hv_ratio"], m))
            row = {"slug": e["slug"], "group": e["group"], "budget": run["budget"],
                   "best": best, "best_hv": e["methods"][best]["hv_ratio"], "pick": None,
                   "hv": None}
            if group_left:
                rule = derive([r for r in rest if r["entries"]], ceilings=ceilings)
                pick = choose(run["budget"], len(e["objectives"]), True, rule=rule).method
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
