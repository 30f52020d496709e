"""Quality of benchmark runs against the true Pareto front of a tabular benchmark, and the
league report (markdown table, HV-vs-evaluations plot) built from them.

Every indicator uses the TRUE front's normalisation: min-max with the true front's ideal and
nadir, reference point 1.1 in every normalised objective (hwnas.analysis.pareto's convention). So a
method's hypervolume ratio is HV(its evaluated points) / HV(true front) on one fixed scale,
and 1.0 means it found points dominating as much as the whole front does.

Under hard limits (`--constraint`) the true front is the feasible one: rows past a limit are
NaN in `TrueFront.F` (hwnas.league.runner.BenchProblem), so they are neither on it nor in any
run's front, and the normalisation is the feasible front's own. The limit is not the reference
point: every feasible row is weakly dominated by a member of the feasible front, so 1.0 is
still the most a run scores, reached when it found that front.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwnas.analysis.pareto import Normaliser, hypervolume, igd, non_dominated_mask, to_min

HV_TARGETS = (0.95, 0.99)


@dataclass(frozen=True)
class TrueFront:
    """The reference everything is scored against, built from every available table row."""

    F: np.ndarray  # (n_rows, n_obj) user units; NaN rows are infeasible
    directions: tuple[str, ...]
    rows: np.ndarray  # indices of the true-front rows
    normaliser: Normaliser
    hv: float
    # Per row, the id of the network it computes (rows of one class are the same network:
    # hwnas.spaces.base.SearchSpace.network_key); None: every row is its own network.
    classes: np.ndarray | None = None

    @classmethod
    def of(cls, F: np.ndarray, directions: Sequence[str],
           classes: np.ndarray | None = None) -> TrueFront:
        feasible = np.flatnonzero(np.isfinite(F).all(axis=1))
        if feasible.size == 0:
            raise ValueError("no table row has every objective; there is no front")
        front = feasible[non_dominated_mask(F[feasible], directions)]
        norm = Normaliser.from_points(to_min(F[front], directions))
        hv = hypervolume(F[front], directions, normaliser=norm).value
        return cls(F, tuple(directions), front, norm, hv, classes)

    def ratio(self, F_points: np.ndarray) -> float:
        if len(F_points) == 0:
            return 0.0
        return hypervolume(F_points, self.directions, normaliser=self.normaliser).value / self.hv

    def igd(self, F_points: np.ndarray) -> float:
        return igd(F_points, self.F[self.rows], self.directions, normaliser=self.normaliser)


def _dominated_or_equal(z: np.ndarray, front: np.ndarray) -> bool:
    """Whether min-form point z adds nothing to the front (some member is at least as good)."""
    return bool(len(front)) and bool(np.any(np.all(front <= z, axis=1)))


def hv_trajectory(truth: TrueFront, rows: Sequence[int]) -> np.ndarray:
    """HV ratio after each evaluation (index i = after i+1 evaluations).

    The HV is recomputed only when a point enters the running front: most evaluations of a
    long run change nothing, which keeps a per-evaluation curve cheap.
    """
    signs = np.where(np.array(truth.directions) == "max", -1.0, 1.0)
    front_rows: list[int] = []
    front_min = np.empty((0, len(signs)))
    current, out = 0.0, np.zeros(len(rows))
    for i, row in enumerate(rows):
        f = truth.F[row]
        if np.isfinite(f).all():
            z = f * signs
            if not _dominated_or_equal(z, front_min):
                keep = ~np.all(z <= front_min, axis=1)  # members the new point dominates go
                front_rows = [r for r, k in zip(front_rows, keep, strict=True) if k] + [row]
                front_min = np.vstack([front_min[keep], z])
                current = truth.ratio(truth.F[front_rows])
        out[i] = current
    return out


def checkpoints(budget: int, every: int) -> list[int]:
    """Evaluation counts at which curves are sampled: every `every`, and always the last."""
    points = list(range(every, budget + 1, every)) if every > 0 else []
    if not points or points[-1] != budget:
        points.append(budget)
    return points


def evals_to(hv: np.ndarray, target: float) -> int | None:
    """Evaluations needed to reach `target` HV ratio (1-based), None if never reached."""
    hit = np.flatnonzero(hv >= target - 1e-12)
    return int(hit[0]) + 1 if hit.size else None


def run_metrics(truth: TrueFront, rows: Sequence[int], every: int,
                budget: int | None = None) -> dict:
    """Curves at checkpoints and final numbers for one run (one method, one seed).

    `rows` are the run's evaluations only (proposals ruled out by a hard limit are not among
    them), so evaluations-to-X% count evaluations. `budget`: the curve's length; a run that
    stopped short of it (a strategy proposing little but what a limit rules out,
    hwnas.searching.loop) keeps its last values to the end, so every seed's curve has the
    same checkpoints."""
    rows = [int(r) for r in rows]
    hv = hv_trajectory(truth, rows)
    front_set = set(truth.rows.tolist())
    feasible = np.isfinite(truth.F).all(axis=1)
    curve = {"evals": [], "hv_ratio": [], "igd": [], "found": [], "unique": []}
    for at in checkpoints(len(rows) if budget is None else budget, every):
        n = min(at, len(rows))
        seen = set(rows[:n])
        points = truth.F[[r for r in sorted(seen) if feasible[r]]]
        curve["evals"].append(at)
        curve["hv_ratio"].append(float(hv[n - 1]) if n else 0.0)
        curve["igd"].append(truth.igd(points) if len(points) else float("inf"))
        curve["found"].append(len(seen & front_set) / len(front_set))
        curve["unique"].append(len(seen))
    return {
        "curve": curve,
        "hv_ratio": curve["hv_ratio"][-1], "igd": curve["igd"][-1],
        "found_share": curve["found"][-1], "found_count": len(set(rows) & front_set),
        "found_networks": _networks_found(truth, set(rows)),
        "unique_evals": curve["unique"][-1], "evaluations": len(rows),
        "infeasible_evals": int(sum(not feasible[r] for r in rows)),
        **{f"evals_to_{round(t * 100)}": evals_to(hv, t) for t in HV_TARGETS},
    }


def _networks_found(truth: TrueFront, seen: set[int]) -> float:
    """Share of the true front's distinct networks found: a front cell counts as found when
    any cell computing the same network was evaluated (NB201 trained such cells separately,
    so which of them lands on the front is training noise no strategy can predict)."""
    if truth.classes is None:
        return len(seen & set(truth.rows.tolist())) / len(truth.rows)
    front = {int(truth.classes[r]) for r in truth.rows}
    hit = {int(truth.classes[r]) for r in seen} & front
    return len(hit) / len(front)


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample std (ddof=1; 0 for one seed); None when any value is non-finite."""
    a = np.asarray(values, dtype=float)
    if a.size == 0 or not np.isfinite(a).all():
        return None, None
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def aggregate(per_seed: list[dict]) -> dict:
    """Mean ± std over seeds of the curves and of the final numbers of one method."""
    curves = [r["curve"] for r in per_seed]
    summary: dict = {"curve": {"evals": curves[0]["evals"]}}
    for key in ("hv_ratio", "igd", "found", "unique"):
        stats = [_mean_std(col) for col in zip(*(c[key] for c in curves), strict=True)]
        summary["curve"][f"{key}_mean"] = [m for m, _ in stats]
        summary["curve"][f"{key}_std"] = [s for _, s in stats]
    # Runs under hard limits also say what the limits did (hwnas.league.runner.bench)
    limited = "ruled_out" in per_seed[0]
    limits = ("ruled_out", "discarded", "evaluations") if limited else ()
    # proposals of rows missing a device cost, ruled out unevaluated (where the runner
    # records them): the other half of what infeasible rows cost a run
    missing = ("ruled_out_missing",) if "ruled_out_missing" in per_seed[0] else ()
    for key in ("hv_ratio", "igd", "found_share", "found_count", "found_networks",
                "unique_evals", "infeasible_evals", "wall_s", *limits, *missing):
        mean, std = _mean_std([r[key] for r in per_seed])
        summary[key] = {"mean": mean, "std": std}
    if limited:
        summary["stopped"] = sum(1 for r in per_seed if r.get("stopped"))
    for t in HV_TARGETS:
        key = f"evals_to_{round(t * 100)}"
        hits = [r[key] for r in per_seed if r[key] is not None]
        summary[key] = {"mean": float(np.mean(hits)) if hits else None,
                        "reached": len(hits), "of": len(per_seed)}
    return summary


def versus(per_seed: list[dict], baseline: list[dict]) -> dict:
    """Final HV ratio against a baseline's: difference of means and a one-sided Mann-Whitney
    U p-value (is this method's ratio stochastically larger?), over seeds."""
    from scipy.stats import mannwhitneyu

    a = [r["hv_ratio"] for r in per_seed]
    b = [r["hv_ratio"] for r in baseline]
    p = float(mannwhitneyu(a, b, alternative="greater").pvalue) if len(a) > 1 else None
    return {"delta": float(np.mean(a) - np.mean(b)), "p_greater": p}


# ---------------------------------------------------------------- the league report


def _pm(stat: dict, digits: int, scale: float = 1.0, suffix: str = "") -> str:
    if stat["mean"] is None:
        return "n/a"
    return f"{stat['mean'] * scale:.{digits}f} ± {stat['std'] * scale:.{digits}f}{suffix}"


def _evals_to(stat: dict) -> str:
    mean = "—" if stat["mean"] is None else f"{stat['mean']:.0f}"
    return f"{mean} ({stat['reached']}/{stat['of']})"


def _ruled_out(entry: dict) -> str:
    """Proposals the loop ruled out per run, and the seeds it stopped short of the budget."""
    stat = entry["ruled_out"]
    stopped = entry.get("stopped") or 0
    return _pm(stat, 1) + (f" (stopped {stopped}/{len(entry['per_seed'])})" if stopped else "")


def _infeasible(entry: dict) -> str:
    """Evaluations per run spent on rows that score nothing, and, where any, the proposals of
    rows missing a device cost that the loop ruled out unevaluated (results written before
    every league recorded them say n/a)."""
    stat = entry.get("infeasible_evals")
    text = "n/a" if stat is None else _pm(stat, 1)
    missing = (entry.get("ruled_out_missing") or {}).get("mean")
    return text + (f" (+{missing:.1f} ruled out)" if missing else "")


def _vs(entry: dict) -> str:
    vs = entry.get("vs_random")
    if vs is None:
        return "baseline" if entry.get("is_baseline") else "n/a"
    p = "" if vs["p_greater"] is None else f", p={vs['p_greater']:.3f}"
    return f"{vs['delta']:+.4f}{p}"


def smallest_p(seeds: int) -> float:
    """The smallest p-value a one-sided Mann-Whitney U test can give with `seeds` runs per
    method (every run of one method above every run of the other): 1 / C(2n, n)."""
    import math

    return 1.0 / math.comb(2 * seeds, seeds)


def random_comparison(results: dict, alpha: float = 0.05) -> str:
    """One sentence on which methods beat random search, or why that cannot be told."""
    if not any("vs_random" in m for m in results["methods"].values()):
        return ""
    random = BASELINE_NAME[bool(results.get("constraints"))]
    seeds = int(results["seeds"])
    if smallest_p(seeds) >= alpha:
        return (f"Which methods beat {random} cannot be told with {seeds} seed(s) per "
                "method: a "
                f"one-sided Mann-Whitney test's smallest p is then {smallest_p(seeds):.3f} "
                f"(needs < {alpha}); run --seeds 4 or more.")
    behind = not_beating_random(results, alpha)
    if behind:
        return (f"Not better than {random} (ΔHV ≤ 0 or one-sided Mann-Whitney p ≥ {alpha}): "
                + ", ".join(behind) + ".")
    return (f"Every method other than {random} beats it (ΔHV > 0, one-sided Mann-Whitney "
            f"p < {alpha}).")


def not_beating_random(results: dict, alpha: float = 0.05) -> list[str]:
    """Methods whose final HV ratio is not larger than random's (mean, and one-sided U test)."""
    out = []
    for name in results["league"]:
        vs = results["methods"][name].get("vs_random")
        if vs is not None and (vs["delta"] <= 0 or vs["p_greater"] is None
                               or vs["p_greater"] >= alpha):
            out.append(name)
    return out


def league_rows(results: dict) -> list[list[str]]:
    size = results["true_front"]["size"]
    limited = bool(results.get("constraints"))
    rows = []
    for rank, name in enumerate(results["league"], 1):
        m = results["methods"][name]
        limits = [_ruled_out(m), _pm(m["discarded"], 1)] if limited else []
        rows.append([str(rank), name, _pm(m["hv_ratio"], 4),
                     f"{_pm(m['found_share'], 1, 100, '%')} ({m['found_count']['mean']:.1f}"
                     f"/{size})", _pm(m["found_networks"], 1, 100, "%"),
                     _pm(m["igd"], 4), _evals_to(m["evals_to_95"]), _evals_to(m["evals_to_99"]),
                     f"{m['unique_evals']['mean']:.0f}", _infeasible(m), *limits, _vs(m),
                     f"{m['wall_s']['mean']:.2f}"])
    return rows


LEAGUE_HEADER = ["#", "method", "HV ratio", "true front found", "front networks found", "IGD",
                 "evals to 95% HV", "evals to 99% HV", "unique evals", "infeasible evals/run",
                 "vs random (ΔHV, p)", "wall s/run"]
# With hard limits: the proposals each run's loop ruled out on a known cost (not evaluations)
# and the draws its strategy rejected before proposing, and the baseline named for what it is.
LIMITS_HEADER = ["proposals ruled out/run", "draws discarded/run"]
BASELINE_NAME = {False: "random", True: "random with rejection"}


def league_header(results: dict) -> list[str]:
    """LEAGUE_HEADER, with the limits' columns when the league ran under constraints."""
    if not results.get("constraints"):
        return list(LEAGUE_HEADER)
    return [*LEAGUE_HEADER[:-2], *LIMITS_HEADER, "vs random with rejection (ΔHV, p)",
            LEAGUE_HEADER[-1]]


def scoring_notes(results: dict) -> str:
    return ("HV ratio: hypervolume of the evaluated points / that of the true front, both "
            "min-max normalised with the true front's ideal and nadir, reference point 1.1. "
            "IGD in the same normalised space. Evals to X% HV: mean over the seeds that got "
            f"there (seeds reaching it / seeds). Budget: {results['repeats_policy']}. "
            f"Infeasible: {results['infeasible_policy']}. Infeasible evals/run: the "
            "evaluations spent on rows missing an objective (and, under hard limits, on rows "
            "past a limit known only after evaluation); \"+N ruled out\": proposals of rows "
            "missing a device cost, ruled out unevaluated. vs random: one-sided Mann-Whitney U "
            "over seeds on the final HV ratio."
            + (f" Hard limits ({', '.join(results['constraints'])}): "
               f"{results['constraints_policy']}." if results.get("constraints") else ""))


def league_markdown(results: dict, notes: bool = True) -> str:
    """The league table (sorted by final HV ratio), with the rules it was scored under."""
    objs = ", ".join(f"{o['name']} ({o['direction']})" for o in results["objectives"])
    tf = results["true_front"]
    header = league_header(results)
    if results.get("constraints"):  # what the front is of, and where each limit came from
        origin = results.get("constraint_notes") or {}
        limits = "; ".join(f"{c}" + (f" ({origin[c]})" if c in origin else "")
                           for c in results["constraints"])
        within = (f"hard limits: {limits}; true feasible front: {tf['size']} of "
                  f"{tf['rows_available']} available rows within the limits")
    else:
        within = f"true front: {tf['size']} of {tf['rows_available']} available rows"
    lines = [f"**{objs}** — budget {results['budget']} evaluations × {results['seeds']} seeds; "
             f"{within} ({tf['rows_total']} in the table). Mean ± std over seeds.", "",
             "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in league_rows(results)]
    lines += ["", random_comparison(results)]
    if notes:
        lines += ["", scoring_notes(results)]
    return "\n".join(lines) + "\n"


def plot_hv(results: dict, path) -> None:
    """`hv_ratio_figure` written to `path` (atomically)."""
    from hwnas.analysis.plots import _save_atomic

    _save_atomic(hv_ratio_figure(results), Path(path))


def hv_ratio_figure(results: dict):
    """HV ratio vs evaluations, one line per method (its fixed colour and marker, as in every
    hwnas plot) with a ±std band. Methods reach 0.9+ quickly, where a linear axis from 0 to 1
    shows one line: the left panel is zoomed to where they differ (from the lowest mean at a
    tenth of the budget up to 1), and the right panel shows the gap 1 - ratio on a log scale,
    where methods close to 1 can still be told apart."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from hwnas.analysis.figure_text import fit_width
    from hwnas.analysis.plots import method_style

    fig = Figure(figsize=(11, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    floor = 1.0
    for name in results["league"]:
        c = results["methods"][name]["curve"]
        x = np.asarray(c["evals"])
        mean, std = np.asarray(c["hv_ratio_mean"]), np.asarray(c["hv_ratio_std"])
        style = method_style(name)
        marks = {"marker": style.marker, "markevery": max(1, len(x) // 8), "markersize": 5}
        left.plot(x, mean, color=style.color, label=name, **marks)
        left.fill_between(x, mean - std, mean + std, color=style.color, alpha=0.15,
                          linewidth=0)
        early = mean[x >= 0.1 * x.max()] if len(x) else mean
        floor = min(floor, float(early[0]) if len(early) else 1.0)
        gap = np.clip(1 - mean, 1e-6, None)
        right.plot(x, gap, color=style.color, label=name, **marks)
        right.fill_between(x, np.clip(gap - std, 1e-6, None), gap + std, color=style.color,
                           alpha=0.15, linewidth=0)
    objs = " × ".join(o["name"] for o in results["objectives"])
    left.set(xlabel="evaluations", ylabel="HV ratio (of the true front; zoomed from a "
                                          "tenth of the budget)", title=objs,
             ylim=(max(0.0, floor - 0.05 * (1 - floor + 1e-3)), 1.0 + 0.02 * (1 - floor)))
    right.set(xlabel="evaluations", ylabel="1 − HV ratio (gap to the true front, log)",
              yscale="log", title=f"{results['seeds']} seeds, mean ± std")
    for ax in (left, right):
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(loc="best", fontsize="small")
    # the left y label is longer than the panel is high: on two lines, not clipped
    fit_width(fig, left.yaxis.label, right.yaxis.label, left.title, right.title)
    fig.tight_layout()
    return fig
