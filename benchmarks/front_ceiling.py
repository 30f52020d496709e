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

Over the family (hwnas.league.family), as the league poses it, at any budget: device
costs known before evaluation (`--known-costs`: the reference reads them exactly, predicts
only accuracy, and never proposes a row missing a cost), and a second, stronger reference
(`--predictor class-mean`): a cell's accuracy predicted by the mean of the other cells that
compute the same network (its class, item 1) where it has any, which is what an architecture
can tell about its accuracy at best; only the training noise of the cell itself is unknown.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/front_ceiling.py --budget 100 \\
        --problems two --known-costs --predictor oof,class-mean --compare F100
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


def class_mean(keys: list[tuple], members: dict, acc: np.ndarray,
               fallback: np.ndarray) -> np.ndarray:
    """Each cell's accuracy predicted by the mean of its class-mates (not itself: its own
    training noise stays unknown); a cell alone in its class gets `fallback`."""
    pred = fallback.copy()
    for rows in members.values():
        if len(rows) < 2:
            continue
        values = acc[rows]
        ok = np.isfinite(values)
        total, count = values[ok].sum(), ok.sum()
        for row, value, finite in zip(rows, values, ok, strict=True):
            n = count - finite
            if n:
                pred[row] = (total - (value if finite else 0.0)) / n
    return pred


def adaptive_run(F_min: np.ndarray, P_min: np.ndarray, seed: int, budget: int,
                 n_initial: int = 20, batch: int = 10,
                 allowed: np.ndarray | None = None) -> list[int]:
    """Random start, then batches chosen by predicted signed epsilon vs the evaluated front;
    only `allowed` rows are ever proposed (default: every row)."""
    rng = np.random.default_rng(seed)
    allowed = np.ones(len(F_min), dtype=bool) if allowed is None else allowed
    rows = rng.choice(np.flatnonzero(allowed), size=n_initial, replace=False).tolist()
    unseen = allowed.copy()
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


_OOF_CACHE: dict[str, np.ndarray] = {}  # per accuracy objective name


def predicted_accuracy(problem, archs, kind: str, keys, members) -> np.ndarray:
    """Out-of-fold accuracy predictions from the table's whole accuracy column (a row missing
    a device cost still has its accuracy; cached per column: the problems of one dataset
    share them), or the class-mean oracle over it."""
    name = problem.objectives[0].name
    acc = np.asarray(problem.table.objective_values(name), dtype=float)
    if name not in _OOF_CACHE:
        filled = np.where(np.isfinite(acc), acc, np.nanmin(acc))
        _OOF_CACHE[name] = out_of_fold(OneHot(problem.space)(archs), filled[:, None])[:, 0]
    oof = _OOF_CACHE[name]
    return oof if kind == "oof" else class_mean(keys, members, acc, oof)


def family_row(family_problem, args, compare: dict) -> str:
    """One problem of the family at the league's terms: costs known, rows missing one never
    proposed; one reference run per predictor and seed."""
    problem, _, _ = prepare(args.benchmark, family_problem.objectives_text, methods="random")
    truth, table = problem.truth, problem.table
    archs = [table.arch_of(r) for r in range(table.n_rows)]
    keys, members = duplicate_classes(archs)
    F = truth.F
    feasible = np.isfinite(F).all(axis=1)
    costs_known = np.isfinite(F[:, 1:]).all(axis=1)
    F_min = to_min(np.where(feasible[:, None], F, np.nanmax(np.abs(F)) * 10), truth.directions)
    n_initial, batch = min(20, args.budget // 10), min(10, max(1, args.budget // 20))
    cells = []
    for kind in args.predictor.split(","):
        P_min = F_min.copy()
        acc = predicted_accuracy(problem, archs, kind, keys, members)
        P_min[:, 0] = to_min(acc[:, None], truth.directions[:1])[:, 0]
        hv = [run_metrics(truth, adaptive_run(F_min, P_min, s, args.budget, n_initial, batch,
                                              costs_known), args.budget)["hv_ratio"]
              for s in range(args.seeds)]
        cells.append(f"{np.mean(hv):.4f} ± {np.std(hv):.4f} (worst {np.min(hv):.4f})")
    slug = family_problem.slug
    theirs = compare.get(slug)
    acc_range = np.ptp(F[truth.rows, 0]) * 100
    return (f"| {slug} | {len(truth.rows)} | {int(feasible.sum())} | {acc_range:.2f} | "
            + " | ".join(cells)
            + ((" | n/a |" if theirs is None else f" | {theirs:.4f} |") if compare else " |"))


def read_compare(folder: Path | None, method: str) -> dict:
    """method's mean HV ratio per problem slug from a family league folder."""
    import json

    if folder is None:
        return {}
    out = {}
    for results in sorted(folder.glob("*/results.json")):
        methods = json.loads(results.read_text())["methods"]
        if method in methods:
            out[results.parent.name] = methods[method]["hv_ratio"]["mean"]
    return out


def main() -> None:
    from hwnas.api.family import family_of
    from hwnas.league.family import MULTI, TWO

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--problems", default="abc",
                        help="subset of 'abc', or a family group: 'two' or 'multi'")
    parser.add_argument("--known-costs", action="store_true",
                        help="family problems: costs read exactly, accuracy predicted")
    parser.add_argument("--predictor", default="oof", help="oof and/or class-mean, comma-sep")
    parser.add_argument("--compare", type=Path, help="a family league folder")
    parser.add_argument("--compare-method", default="mobo")
    args = parser.parse_args()
    if args.problems in ("two", "multi"):
        if not args.known_costs:
            parser.error("family problems are posed as the league poses them: give "
                         "--known-costs")
        group = {"two": TWO, "multi": MULTI}[args.problems]
        compare = read_compare(args.compare, args.compare_method)
        kinds = args.predictor.split(",")
        if not set(kinds) <= {"oof", "class-mean"}:
            parser.error(f"--predictor {args.predictor!r}: give oof, class-mean or both, "
                         "comma-separated")
        print(f"## A strong-surrogate reference at {args.budget} evaluations over the family "
              "(`benchmarks/front_ceiling.py`)\n")
        print("| problem | true front | rows with every cost | front's accuracy range "
              "(points) | " + " | ".join(f"reference, {k}" for k in kinds)
              + (f" | {args.compare_method} |" if compare else " |"))
        print("|---" * (4 + len(kinds) + bool(compare)) + "|")
        for problem in family_of(args.benchmark):
            if problem.group == group:
                print(family_row(problem, args, compare), flush=True)
        return
    print("## How much of the true front can 500 evaluations find? "
          "(`benchmarks/front_ceiling.py`)\n")
    for key in args.problems:
        print(analyse(key, args), flush=True)


if __name__ == "__main__":
    main()
