"""Where a mobo run spends its evaluations when a device cost has many ties, and how much of
its EHVI sits on cost levels it has already searched. Prints a markdown table with the machine
and the command; also the leave-one-problem-out table of `--loo` (family league outputs).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mobo_ties.py \\
        --objectives accuracy:cifar100,latency:fpga --seeds 1 \\
        --setting ehvi_over=observed --setting ehvi_over=latent --setting ehvi_over=tied
    .venv/bin/python benchmarks/mobo_ties.py --loo current=/tmp/mobo-fam-mobo \\
        --loo latent=/tmp/mobo-latent --loo tied=/tmp/mobo-tied

Diagnosis. A run is mobo's own ask/tell loop over the benchmark table (one evaluation per ask,
as the league runs it; the problems here have every cost known, so nothing is ruled out).
A cost level is one distinct value of the problem's device cost. Per run: the HV ratio; the
evaluations on the 4 cheapest levels; how many evaluations went to a level that had 10 or
more evaluations before it ("repeat-level"); the slowest cost evaluated and the true front's
slowest; the true front's cells found. At evaluations 100, 250 and 400: the share of the
step's total EHVI held by candidates on levels with 10 or more results told, under the run's
own setting and, for `ehvi_over=observed`, recomputed on the same candidates with the latent
variance alone (the fitted noise taken out): how much of that mass is the noise term's.

LOO. For each problem of the union of the settings' outputs, the setting with the better
mean HV ratio over the other problems is the one scored on it; the table gives every
setting's mean over seeds, the pick and its score.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv"
CHECKPOINTS = (100, 250, 400)
SEARCHED = 10  # a level with this many results told counts as searched


def parse_setting(text: str) -> dict:
    out = {}
    for pair in filter(None, text.split(",")):
        key, _, value = pair.partition("=")
        out[key] = value
    return out


def run(problem, options: dict, seed: int, budget: int) -> dict:
    """One instrumented run: the rows evaluated and the EHVI shares at the checkpoints."""
    import hwnas.strategies.mobo as mobo_mod
    from hwnas.league.metrics import hv_trajectory
    from hwnas.league.runner import ProblemEvaluator
    from hwnas.registry import STRATEGIES

    costs = ProblemEvaluator(problem, {}).cost_model()
    strategy = STRATEGIES.get("mobo")(problem.space, problem.objectives, seed=seed,
                                      costs=costs, **options)
    cost_col = strategy.exact[0]
    table = problem.table
    rows: list[int] = []
    shares: dict[int, tuple[float, float]] = {}
    original = mobo_mod.expected_hvi

    def recording(mu, sd, front, ref):
        gain = original(mu, sd, front, ref)
        if len(rows) in CHECKPOINTS and len(rows) not in shares:
            Y = strategy._targets()
            lo, hi = strategy._range(Y, None)  # the results; then every known cost, as
            lo[strategy.exact] = np.minimum(lo[strategy.exact], strategy._exact_lo)  # _propose
            hi[strategy.exact] = np.maximum(hi[strategy.exact], strategy._exact_hi)
            span = np.where(hi > lo, hi - lo, 1.0)
            Z = (Y - lo) / span
            told = np.round(Z[:, cost_col], 9)
            levels, counts = np.unique(told, return_counts=True)
            seen = dict(zip(levels.tolist(), counts.tolist(), strict=True))
            k = np.array([seen.get(v, 0) for v in np.round(mu[:, cost_col], 9).tolist()])
            searched = k >= SEARCHED
            noise = strategy._observation_noise(Z)
            share = float(gain[searched].sum() / max(gain.sum(), 1e-300))
            share_lat = float("nan")  # the noise term taken out: only where it is whole
            if strategy.options["ehvi_over"] == "observed":
                sd_lat = np.sqrt(np.maximum(sd ** 2 - noise[None, :], 0.0))
                gain_lat = original(mu, sd_lat, front, ref)
                share_lat = float(gain_lat[searched].sum() / max(gain_lat.sum(), 1e-300))
            shares[len(rows)] = (share, share_lat)
        return gain

    mobo_mod.expected_hvi = recording
    start = time.perf_counter()
    try:
        while len(rows) < budget:
            arch = strategy.ask(1)[0]
            row = int(table.row_of(arch))
            rows.append(row)
            strategy.tell([arch], [problem.result(row)])
    finally:
        mobo_mod.expected_hvi = original
    wall = time.perf_counter() - start
    hv = hv_trajectory(problem.truth, rows)
    cost = problem.truth.F[:, cost_col]
    levels = np.unique(cost[np.isfinite(cost)])
    level_of = np.searchsorted(levels, cost[rows])
    before = np.zeros(len(levels), dtype=int)
    repeat = 0
    for i, lv in enumerate(level_of):
        repeat += int(i >= strategy.options["n_init"] and before[lv] >= SEARCHED)
        before[lv] += 1
    front = set(problem.truth.rows.tolist())
    return {"hv": float(hv[-1]), "wall_s": wall, "cheap4": int((level_of < 4).sum()),
            "levels": int(len(set(level_of.tolist()))), "n_levels": int(len(levels)),
            "repeat": repeat, "max_cost": float(cost[rows].max()),
            "front_max_cost": float(cost[problem.truth.rows].max()),
            "found": len(front & set(rows)), "front": len(front), "shares": shares}


def diagnose(args) -> None:
    from hwnas.league.runner import prepare

    problem, _, _ = prepare(args.benchmark, args.objectives, methods="mobo")
    print(f"Problem `{args.objectives}`, budget {args.budget}; levels searched: "
          f">= {SEARCHED} results told.\n")
    head = ["setting", "seed", "HV ratio", "evals on 4 cheapest levels", "repeat-level evals",
            "levels evaluated", "slowest evaluated / front's", "front found", "s/run",
            *(f"EHVI share on searched levels @{c} (latent only)" for c in CHECKPOINTS)]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for setting in args.setting:
        for seed in args.seeds:
            r = run(problem, parse_setting(setting), seed, args.budget)
            sh = [f"{r['shares'][c][0]:.2f} ({r['shares'][c][1]:.2f})" if c in r["shares"]
                  else "" for c in CHECKPOINTS]
            print(f"| {setting} | {seed} | {r['hv']:.4f} | {r['cheap4']} | {r['repeat']} | "
                  f"{r['levels']} of {r['n_levels']} | {r['max_cost']:.3g} / "
                  f"{r['front_max_cost']:.3g} | {r['found']} of {r['front']} | "
                  f"{r['wall_s']:.1f} | " + " | ".join(sh) + " |", flush=True)


def loo(args) -> None:
    settings = dict(s.split("=", 1) for s in args.loo)
    per: dict[str, dict[str, tuple[float, float]]] = {}
    for name, folder in settings.items():
        for path in sorted(Path(folder).glob("*/results.json")):
            slug = path.parent.name
            if "fpga-energy" in slug:  # 7 x latency:fpga: a duplicate problem
                continue
            m = json.loads(path.read_text())["methods"]["mobo"]
            per.setdefault(slug, {})[name] = (m["hv_ratio"]["mean"], m["wall_s"]["mean"])
    slugs = [s for s in per if len(per[s]) == len(settings)]
    names = list(settings)
    head = ["problem", *(f"{n} HV (s/run)" for n in names), "LOO pick", "LOO score"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    picked = []
    for slug in slugs:
        others = [s for s in slugs if s != slug]
        means = {n: np.mean([per[s][n][0] for s in others]) for n in names}
        pick = max(names, key=lambda n: (means[n], n == names[0]))  # ties: the first
        picked.append(per[slug][pick][0])
        cells = [f"{per[slug][n][0]:.4f} ({per[slug][n][1]:.0f})" for n in names]
        print(f"| {slug} | " + " | ".join(cells) + f" | {pick} | {per[slug][pick][0]:.4f} |")
    means = [f"{np.mean([per[s][n][0] for s in slugs]):.4f}" for n in names]
    print(f"| mean ({len(slugs)}) | " + " | ".join(means) + f" | | {np.mean(picked):.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", type=Path, default=BENCHMARK)
    parser.add_argument("--objectives", default="accuracy:cifar100,latency:fpga")
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1])
    parser.add_argument("--setting", action="append", default=[],
                        help="mobo options K=V,K=V (repeatable; none: the defaults)")
    parser.add_argument("--loo", action="append", default=[], metavar="NAME=FOLDER",
                        help="a family league output of one mobo setting (repeatable)")
    args = parser.parse_args()
    print(f"Machine: {platform.platform()}, {platform.processor() or 'cpu'}. Command: "
          f"`OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mobo_ties.py "
          f"{shlex.join(sys.argv[1:])}` ({dt.date.today().isoformat()}).\n")
    if args.loo:
        loo(args)
        return
    args.setting = args.setting or [""]
    diagnose(args)


if __name__ == "__main__":
    main()
