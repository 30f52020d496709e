"""The rule of `hwnas search --method auto`, derived from family league results, checked leaving
one problem out; `--write` ships it (hwnas/searching/auto_rule.json).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/family_league.py --budget 100 --out F100
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/family_league.py --budget 500 --out F500
    .venv/bin/python benchmarks/auto_rule.py --runs F100 F500            # the check, printed
    .venv/bin/python benchmarks/auto_rule.py --runs F100 F500 --write    # and the rule shipped

A budget may take one folder per objective count instead (e.g. `--problems` of the
three-objective ones, run with other methods or seeds): `--runs F100 F500 F500-3 F500-4`. And
an earlier rule's cells may be kept where no folder holds their budget and count (`--keep
hwnas/searching/auto_rule.json`): re-running the three-objective problems does not need the
two-objective ones re-run.

Per cell (objective count × budget run), the methods in the family summary's order (mean
rank over the cell's problems, then mean HV ratio; hwnas.league.auto_rule says why). Leave one
problem out: for each problem, the rule derived with it removed from every run, applied by
hwnas.searching.auto.choose to that problem's inputs; the table gives the method it picked,
that method's HV ratio there (its mean over seeds, from the problem's results.json) and the
best method's. Goals on the two-objective problems: auto >= 0.98 on every one at 100
evaluations (goal 0.99), >= 0.998 at 500 (goal 0.999). The shipped rule is derived from every
problem by the same function.

Cost ceilings (`--ceiling METHOD=BUDGET`): auto does not pick METHOD above BUDGET. mobo's time
per proposal grows with the observations (its GP's training set up to `max_train`, the EHVI's
boxes with the front); by default its ceiling is 500, the largest budget at which its time was
measured: 35-60 s per 500-evaluation run on this 2-CPU machine (BENCHMARKS.md, "Search
strategies on NAS-Bench-201 × HW-NAS-Bench"). benchmarks/mobo_cost.py measures seconds per
proposal at 100, 500 and 1,000 observations: where it finds 1,000 acceptable, pass
`--ceiling mobo=1000`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.errors import BadInputError  # noqa: E402
from hwnas.fileio import atomic_write_json, json_ready  # noqa: E402
from hwnas.league.auto_rule import derive, leave_one_out, read_run, verdicts  # noqa: E402
from hwnas.searching.auto import RULE_PATH, count_words, load_rule  # noqa: E402

CEILINGS = {"mobo": {"budget": 500, "source": (
    "the largest budget at which mobo's time was measured: 35-60 s per 500-evaluation run "
    "on a 2-CPU machine (BENCHMARKS.md, \"Search strategies on NAS-Bench-201 x HW-NAS-Bench\")")}}


def parse_ceilings(given: list[str], command: str) -> dict:
    ceilings = dict(CEILINGS)
    for text in given:
        method, sep, budget = text.partition("=")
        if not sep or not budget.isdigit():
            raise BadInputError(f"--ceiling {text!r} must be METHOD=BUDGET, e.g. mobo=1000")
        ceilings[method] = {"budget": int(budget), "source": f"given: `{command}`"}
    return ceilings


def markdown(rule: dict, rows: list[dict], checks: list[dict]) -> str:
    lines = []
    for cell in rule["cells"]:
        counts = "/".join(count_words(n) for n in cell["objectives"]).capitalize()
        kept = " (kept from the earlier rule)" if cell.get("kept") else ""
        lines += [f"#### {counts}-objective problems ({cell['problems']}), "
                  f"{cell['budget']} evaluations: auto's order{kept}", "",
                  "| # | method | mean rank | mean HV ratio | worst problem (HV ratio) | "
                  "first on | wall s/run |", "|---|---|---|---|---|---|---|"]
        for i, m in enumerate(cell["order"], 1):
            s = cell["methods"][m]
            wall = "n/a" if s["wall_s"] is None else f"{s['wall_s']:.2f}"
            lines.append(f"| {i} | {m} | {s['mean_rank']:.2f} | {s['hv_ratio']:.4f} | "
                         f"{s['worst']['slug']} ({s['worst']['hv_ratio']:.4f}) | "
                         f"{s['first_on']}/{cell['problems']} | {wall} |")
        lines.append("")
    lines += ["#### Leave one problem out: auto's pick without the problem, and its HV ratio "
              "there", "", "| budget | problem | auto's pick | its HV ratio | best there | "
              "best HV ratio | gap |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["pick"] is None:
            lines.append(f"| {r['budget']} | {r['slug']} | (alone in its cell) | | "
                         f"{r['best']} | {r['best_hv']:.4f} | |")
            continue
        lines.append(f"| {r['budget']} | {r['slug']} | {r['pick']} | {r['hv']:.4f} | "
                     f"{r['best']} | {r['best_hv']:.4f} | {r['best_hv'] - r['hv']:.4f} |")
    lines.append("")
    for c in checks:
        state = ("goal met" if c["goal_met"] else "bar held, goal not met" if c["holds"]
                 else f"bar NOT held ({c['below_bar']} problem(s) below it)")
        kept = " (kept from the earlier rule)" if c.get("kept") else ""
        lines.append(f"- {c['budget']} evaluations{kept}, {c['problems']} two-objective "
                     f"problems left "
                     f"out one at a time: worst {c['worst']:.4f} ({c['worst_slug']}); bar "
                     f">= {c['bar']}, goal >= {c['goal']}: {state}. The best method of each "
                     f"problem (an oracle) reaches {c['oracle_worst']:.4f} on its worst "
                     f"({c['oracle_worst_slug']}).")
    if not checks:
        lines.append("- No two-objective problems at 100 or 500 evaluations: no goal checked.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True, metavar="DIR",
                        help="family league folders (benchmarks/family_league.py --out), one "
                             "per budget, or one per budget and objective count")
    parser.add_argument("--keep", type=Path, default=None, metavar="RULE",
                        help="an earlier rule file (e.g. hwnas/searching/auto_rule.json) whose "
                             "cells at a budget and objective count no --runs folder holds are "
                             "kept, with their sources and leave-one-out verdicts")
    parser.add_argument("--ceiling", action="append", default=[], metavar="METHOD=BUDGET",
                        help="auto does not pick METHOD above BUDGET (default: mobo=500)")
    parser.add_argument("--note", default="", help="said in the rule file (e.g. a small run)")
    parser.add_argument("--write", action="store_true", help=f"write {RULE_PATH.name}")
    parser.add_argument("--out", type=Path, default=RULE_PATH, help=argparse.SUPPRESS)
    args = parser.parse_args()
    command = ".venv/bin/python benchmarks/auto_rule.py " + shlex.join(sys.argv[1:])
    try:
        ceilings = parse_ceilings(args.ceiling, command)
        runs = [read_run(d) for d in args.runs]
        earlier = None if args.keep is None else load_rule(args.keep)
        rule = derive(runs, ceilings=ceilings, note=args.note, keep=earlier)
        rows = leave_one_out(runs, ceilings=ceilings)
    except BadInputError as exc:
        parser.exit(2, f"auto_rule.py: error: {exc}\n")
    checks = verdicts(rows)
    if earlier is not None:  # the verdicts of budgets whose two-objective cells were kept
        checked = {c["budget"] for c in checks}
        checks += [{**c, "kept": True} for c in earlier.get("leave_one_out", [])
                   if c["budget"] not in checked]
    rule["command"] = command
    rule["leave_one_out"] = checks
    print("## Choosing the method: `--method auto` (`benchmarks/auto_rule.py`)\n")
    print(f"Command: `{command}` ({dt.date.today().isoformat()}). Family runs:")
    for s in rule["sources"]:
        print(f"- {s['budget']} evaluations x {s['seeds']} seed(s), {s['problems']} problems, "
              f"methods {', '.join(s['methods'])}: `{s['command']}` ({s['created']}, "
              f"{s['machine']}).")
    if args.note:
        print(f"\nNote: {args.note}")
    print(f"\nCriterion: {rule['criterion']}. Bands: {rule['bands']}.\n")
    print(markdown(rule, rows, checks))
    if args.write:
        atomic_write_json(args.out, json_ready(rule))
        print(f"written: {args.out}")


if __name__ == "__main__":
    main()
