"""The family's summary: each strategy over many problems of one benchmark (`hwnas bench
--family`), from each problem's league results (results.json, hwnas.league.runner.bench).

Per problem, a strategy's number is its mean HV ratio over seeds; its rank there is by that
number among the strategies run (1 = best, ties share the mean of their places). Over a group
of problems (two-objective, or the multi-objective sample), per strategy:

* mean HV ratio over the problems, and the worst problem (its slug and value);
* mean rank;
* problems it beats random search on: ΔHV > 0 and one-sided Mann-Whitney p < 0.05 over seeds
  (hwnas.league.metrics.versus, the league's own test), of the problems where it was tested;
* infeasible evaluations per run (rows missing an objective), the proposals of rows missing a
  device cost ruled out unevaluated (where the league records them) and wall seconds per run,
  each a mean over the problems of the mean over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.league.family import MULTI, TWO, FamilyProblem
from hwnas.league.metrics import BASELINE_NAME, smallest_p

ALPHA = 0.05
GROUPS = (TWO, MULTI)
SUMMARY_HEADER = ["#", "method", "mean HV ratio", "worst problem (HV ratio)", "mean rank",
                  "beats random on", "infeasible evals/run", "wall s/run"]


def beats_random(entry: dict, alpha: float = ALPHA) -> bool | None:
    """Whether a method's league entry beats random (None: not tested, e.g. random itself)."""
    vs = entry.get("vs_random")
    if vs is None:
        return None
    return bool(vs["delta"] > 0 and vs["p_greater"] is not None and vs["p_greater"] < alpha)


def _ranks(values: Sequence[float]) -> list[float]:
    """1 = largest; tied values share the mean of their places."""
    from scipy.stats import rankdata

    return [float(r) for r in rankdata([-v for v in values], method="average")]


def problem_entry(problem: FamilyProblem, results: dict, *, reused: bool = False) -> dict:
    """One problem's line of the family: per method, the numbers the summary is made of."""
    methods = results["methods"]
    names = list(methods)
    hv = [float(methods[m]["hv_ratio"]["mean"]) for m in names]
    tf = results["true_front"]
    return {
        "slug": problem.slug, "objectives": list(problem.objectives), "group": problem.group,
        "reused": reused, "results": (results.get("outputs") or {}).get("results"),
        "true_front": tf["size"], "rows_available": tf["rows_available"],
        "methods": {m: {"hv_ratio": v, "rank": r, "beats_random": beats_random(methods[m]),
                        "infeasible_evals": methods[m]["infeasible_evals"]["mean"],
                        "ruled_out_missing": _stat(methods[m], "ruled_out_missing"),
                        "wall_s": methods[m]["wall_s"]["mean"]}
                    for m, v, r in zip(names, hv, _ranks(hv), strict=True)},
    }


def _stat(entry: dict, key: str) -> float | None:
    """A mean over seeds the league may not record (None then)."""
    return (entry.get(key) or {}).get("mean")


def summarise(entries: Sequence[dict]) -> dict:
    """Per group that has problems: its slugs, each method's summary and their order (by mean
    rank, then mean HV ratio)."""
    out = {}
    for group in GROUPS:
        rows = [e for e in entries if e["group"] == group]
        if rows:
            out[group] = _group(rows)
    return out


def _group(entries: Sequence[dict]) -> dict:
    methods = list(entries[0]["methods"])
    summary = {}
    for m in methods:
        per = [(e["slug"], e["methods"][m]) for e in entries]
        hv = [v["hv_ratio"] for _, v in per]
        worst = int(np.argmin(hv))  # the first of equal worst ones, in the family's order
        tested = [v["beats_random"] for _, v in per if v["beats_random"] is not None]
        summary[m] = {
            "hv_ratio": float(np.mean(hv)),
            "worst": {"slug": per[worst][0], "hv_ratio": hv[worst]},
            "mean_rank": float(np.mean([v["rank"] for _, v in per])),
            "beats_random": ({"count": sum(tested), "of": len(tested)} if tested else None),
            "infeasible_evals": _mean([v["infeasible_evals"] for _, v in per]),
            "ruled_out_missing": _mean([v.get("ruled_out_missing") for _, v in per]),
            "wall_s": _mean([v["wall_s"] for _, v in per]),
        }
    order = sorted(methods, key=lambda m: (summary[m]["mean_rank"], -summary[m]["hv_ratio"], m))
    return {"problems": [e["slug"] for e in entries], "methods": summary, "order": order}


def _mean(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))


# ---------------------------------------------------------------- text


def summary_rows(group: dict, baseline: str = "random") -> list[list[str]]:
    rows = []
    for i, name in enumerate(group["order"], 1):
        s = group["methods"][name]
        beats = s["beats_random"]
        vs = (f"{beats['count']}/{beats['of']}" if beats is not None
              else "baseline" if name == baseline else "n/a")
        rows.append([str(i), name, f"{s['hv_ratio']:.4f}",
                     f"{s['worst']['slug']} ({s['worst']['hv_ratio']:.4f})",
                     f"{s['mean_rank']:.2f}", vs, _infeasible(s),
                     _num(s["wall_s"], 2)])
    return rows


def _infeasible(s: dict) -> str:
    missing = s.get("ruled_out_missing")
    return _num(s["infeasible_evals"], 1) + (f" (+{missing:.1f} ruled out)" if missing else "")


def _num(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def group_title(group: str, summary: dict) -> str:
    n = len(summary["problems"])
    what = ("accuracy × one device cost" if group == TWO
            else "accuracy × 2 or 3 device costs, a seeded sample")
    return f"{group.capitalize()} problems ({n}; {what})"


def per_problem_rows(entries: Sequence[dict], order: Sequence[str]) -> list[list[str]]:
    """Per problem: its true front's size and each method's mean HV ratio (its rank)."""
    return [[e["slug"], str(e["true_front"]),
             *(f"{e['methods'][m]['hv_ratio']:.4f} ({e['methods'][m]['rank']:g})"
               for m in order)] for e in entries]


def random_note(seeds: int) -> str:
    """What "beats random on" can say with this many seeds."""
    if smallest_p(seeds) >= ALPHA:
        return (f"With {seeds} seed(s) per method no problem can show a method beating "
                f"{BASELINE_NAME[False]} (a one-sided Mann-Whitney test's smallest p is then "
                f"{smallest_p(seeds):.3f}, needs < {ALPHA}): run 4 seeds or more.")
    return (f"Beats random on: problems where the method's ΔHV over random > 0 and a one-sided "
            f"Mann-Whitney U test over seeds gives p < {ALPHA}.")


def family_markdown(family: dict) -> str:
    """family.md: per group, the summary table, then each problem's HV ratios and ranks."""
    entries = family["problems"]
    lines = [f"**Family of `{family['benchmark_name']}`** — budget {family['budget']} "
             f"evaluations × {family['seeds']} seeds per method and problem; "
             f"{len(entries)} of the family's {family['family_size']} problems. "
             "Per problem, a method's HV ratio is its mean over seeds and its rank is by it "
             "(1 = best, ties share the mean place); the summary's numbers are means over the "
             "group's problems.", ""]
    for group, summary in family["summary"].items():
        lines += [f"#### {group_title(group, summary)}", "",
                  *_md_table(SUMMARY_HEADER, summary_rows(summary)), ""]
        order = summary["order"]
        lines += [*_md_table(["problem", "true front", *order],
                             per_problem_rows([e for e in entries if e["group"] == group],
                                              order)), ""]
    lines += [random_note(int(family["seeds"])),
              "Infeasible evals/run: evaluations spent on rows missing an objective (they "
              "score nothing); \"+N ruled out\": proposals of rows missing a device cost, "
              "ruled out unevaluated where the league rules them out. Wall s/run: one run's "
              "time, mean over seeds, then over problems."]
    return "\n".join(lines) + "\n"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]
