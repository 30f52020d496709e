"""How much of NAS-Bench-201 × HW-NAS-Bench's true Pareto front can 500 evaluations find?

The league's goal asks the best strategy for >= 50% of the true-front cells at 500
evaluations. This script measures what stands in the way, on the same problems and with the
same scoring as `hwnas bench` (hwnas.league.metrics):

1. Duplicates. Many NB201 cells compute the same network: an edge whose result never reaches
   the cell output changes nothing, one whose source gets no input adds at most a constant
   (its BatchNorm's shift). Cells with the same effective edges form a class; the benchmark
   trained every cell separately, so the accuracies inside a class differ by training noise.
   A true-front cell whose class has many members is on the front because its noise was
   lucky, which no model of the architecture can predict.
2. Near-ties. How many other cells lie within a small additive epsilon of the true front
   (normalised as the league normalises): the cells a method must tell apart from it.
3. A strong-surrogate reference. An adaptive search given a surrogate fitted on 80% of the
   whole table (12,500 true results, 25x the budget; out-of-fold predictions, so no cell's
   own result is used to predict it): each step evaluates the 10 unseen cells whose
   predictions would move the evaluated front furthest (signed additive epsilon). No real
   strategy has such a model, so its score is a generous reference, not a proof of a bound.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/front_ceiling.py   # about 3 min
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.analysis.pareto import non_dominated_mask, to_min  # noqa: E402
from hwnas.league.metrics import run_metrics  # noqa: E402
from hwnas.league.runner import prepare  # noqa: E402
from hwnas.spaces.nb201 import effective_choices  # noqa: E402
from hwnas.strategies.surrogate import OneHot  # noqa: E402

DEFAULT_BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv"
PROBLEMS = {"a": "accuracy:cifar10,latency:pixel3", "b": "accuracy:cifar100,latency:raspi4",
            "c": "accuracy:cifar10,latency:raspi4,latency:fpga"}
EPSILONS = (0.001, 0.005)


def duplicate_classes(archs) -> tuple[list[tuple], dict]:
    keys = [tuple(effective_choices(a).values()) for a in archs]
    members = defaultdict(list)
    for row, key in enumerate(keys):
        members[key].append(row)
    return keys, members


def signed_epsilon(P: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Additive epsilon of each min-form point against front A: > 0 dominated by that much,
    <= 0 not dominated (the more negative, the further it would push the front)."""
    return np.min(P[:, None, :] - A[None, :, :], axis=2).max(axis=1)


def out_of_fold(X: np.ndarray, Y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingRegressor

    pred = np.zeros_like(Y)
    order = np.random.default_rng(seed).permutation(len(X))
    for part in np.array_split(order, folds):
        train = np.setdiff1d(order, part)
        for j in range(Y.shape[1]):
            model = HistGradientBoostingRegressor(max_iter=500, random_state=seed)
            pred[part, j] = model.fit(X[train], Y[train, j]).predict(X[part])
    return pred


def adaptive_run(F_min: np.ndarray, P_min: np.ndarray, seed: int, budget: int,
                 n_initial: int = 20, batch: int = 10) -> list[int]:
    """Random start, then batches chosen by predicted signed epsilon vs the evaluated front."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(F_min), size=n_initial, replace=False).tolist()
    unseen = np.ones(len(F_min), dtype=bool)
    unseen[rows] = False
    while len(rows) < budget:
        seen = F_min[rows]
        lo, span = seen.min(axis=0), np.ptp(seen, axis=0)
        span[span == 0] = 1.0
        front = seen[non_dominated_mask(seen, ["min"] * seen.shape[1])]
        cand = np.flatnonzero(unseen)
        score = signed_epsilon((P_min[cand] - lo) / span, (front - lo) / span)
        pick = cand[np.argsort(score, kind="stable")[: min(batch, budget - len(rows))]]
        rows += pick.tolist()
        unseen[pick] = False
    return rows


def analyse(key: str, args) -> str:
    problem, _, _ = prepare(args.benchmark, PROBLEMS[key], methods="random")
    truth, table = problem.truth, problem.table
    archs = [table.arch_of(r) for r in range(table.n_rows)]
    keys, members = duplicate_classes(archs)
    F = truth.F
    feasible = np.isfinite(F).all(axis=1)
    front = truth.rows.tolist()
    acc = F[:, 0]
    sizes = [len(members[keys[r]]) for r in front]
    in_classes = sum(s > 1 for s in sizes)
    points = 100.0 if problem.objectives[0].name.startswith("accuracy") else 1.0
    spread = [points * np.ptp(acc[members[keys[r]]]) for r in front
              if len(members[keys[r]]) > 1]

    Z = truth.normaliser.forward(to_min(np.where(feasible[:, None], F, 0.0),
                                        truth.directions))
    eps = signed_epsilon(Z, Z[front])
    off = feasible.copy()
    off[front] = False
    near = {e: int(np.sum(off & (eps <= e))) for e in EPSILONS}
    ties = int(np.sum(off & (eps <= 0)))  # weakly dominated: equal to a front cell somewhere

    F_min = to_min(np.where(feasible[:, None], F, np.nanmax(np.abs(F)) * 10), truth.directions)
    # the strategies' encoding: raw labels plus which edges run and which are trained
    P_min = out_of_fold(OneHot(problem.space)(archs), F_min)
    mae = np.abs(P_min - F_min)[feasible].mean(axis=0)
    runs = [run_metrics(truth, adaptive_run(F_min, P_min, s, args.budget), args.budget)
            for s in range(args.seeds)]
    hv = np.array([r["hv_ratio"] for r in runs])
    found = np.array([r["found_share"] for r in runs])

    names = [o.name for o in problem.objectives]
    errors = ", ".join(f"{n} {m:.3g}" for n, m in zip(names, mae, strict=True))
    duplicates = (
        f"- Duplicates: {len(members)} distinct effective cells among {len(archs)}. "
        f"{in_classes} of the {len(front)} true-front cells share their effective cell with "
        f"other cells (class sizes {sorted(set(sizes) - {1})}); {names[0]} spread inside "
        f"those classes, training noise only: median {np.median(spread):.2f}, max "
        f"{np.max(spread):.2f} (percentage points for accuracy)."
        if spread else "- Duplicates: none on the front.")
    return "\n".join([
        f"### ({key}) {', '.join(names)}: true front {len(front)} of {int(feasible.sum())} "
        "cells",
        "",
        duplicates,
        f"- Near-ties: {near[EPSILONS[0]]} cells off the front lie within additive epsilon "
        f"{EPSILONS[0]} of it (normalised objectives), {near[EPSILONS[1]]} within "
        f"{EPSILONS[1]} ({ties} of them tie a front cell in one objective).",
        f"- Strong-surrogate reference ({args.seeds} seeds, {args.budget} evaluations; "
        f"out-of-fold mean absolute error {errors}): HV ratio {hv.mean():.4f} ± "
        f"{hv.std():.4f}, true front found {100 * found.mean():.1f}% ± "
        f"{100 * found.std():.1f}%.",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--problems", default="abc", help="subset of 'abc'")
    args = parser.parse_args()
    print("## How much of the true front can 500 evaluations find? "
          "(`benchmarks/front_ceiling.py`)\n")
    for key in args.problems:
        print(analyse(key, args), flush=True)


if __name__ == "__main__":
    main()
