"""Does the bounded calibration cost accuracy, and does it stop impossible predictions?

Offline, no timing; deterministic (every draw is seeded), a few minutes on one core.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/calibration_bounds.py

Two fits of the affine calibration `intercept + sum over ops (scale[type] * entry + per_op)`:

- **unbounded**: the fit as it was before commit dc34604 (`old_fit` below, reimplemented from
  `git show dc34604^:hwnas/latency/calibration.py`): scipy's lsq_linear on relative error,
  intercept and per-op term free, scales >= 0;
- **bounded**: hwnas.latency.calibration.fit as it is now: intercept >= 0, scales >= 0, and no
  network of the space predicted below its floor (a share of its plain sum fitted on the
  measurements, hwnas.latency.floor), enforced by cutting planes.

Part 1, the committed tables that store the measurements their calibration was fitted on
(`calibration.fitted_on.measured_ms`, the reference-normalised medians; the proxyless tables
store only the networks' keys, and their validation reports hold other, held-out networks, so
they are left out). The calibration networks are drawn again from the stored seed as
`hwnas tables calibrate` drew them (their keys are checked against the stored ones). For each
fit: the 5-fold cross-validated share within +-10%, Kendall tau and MAPE of the affine part
(the folds of hwnas.tables.calibration_choice: KFold, shuffled, random_state = the
calibration's seed, every fold fitted with the op types of all 60 networks; and the range of
the share over fold assignments random_state 0-9), the coefficients fitted on all of them, and
on 1,000 random networks of the space how many are predicted at or below zero and how many
below their floor (the bounded fit's share, fitted on all 60); and the lowest prediction and
the lowest prediction - floor over the whole space (per position for proxyless/fbnet, all
15,625 cells for nb201: hwnas.latency.floor.SpaceNetworks).

Part 2, synthetic measurements on each space's committed ort-cpu table (real entries), the
generator of tests/unit/test_floor.py with a scale:

    truth(network) = 0.05 ms + scale * sum over its ops of max(0, entry - c),
    c = 0.9 x the table's smallest entry (the call overhead an op timed alone pays and a
    whole network does not), scale = 1.0 (--scale);
    measured = truth * exp(N(0, 0.25)) (25% log-normal noise, one draw per network).

10, 24 and 60 fitting networks x seeds 0, 1, 2, drawn two ways: "random" (as the test:
rng = default_rng(seed), the networks by `space.sample(rng)`, then the noise from the same
rng) and "calibrate's" (as `hwnas tables calibrate --seed SEED` draws them: two thirds
random, one third walked towards the space's cheap and dear ends on the plain sum; noise from
default_rng(seed)). Both fits on the same measurements; counted on the same 1,000 random
networks as part 1: predictions at or below zero, below the floor (the bounded fit's fitted
share), the whole space's lowest prediction, and MAPE, median error and share within +-10%
against the noise-free truth.

The 1,000 networks of a space: `space.sample(default_rng(123))` 1,000 times (repeats
allowed), as tests/unit/test_floor.py draws them.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# benchmarks/ is this script's folder: the calibration networks are redrawn as there
from residual_choice import calibration_archs  # noqa: E402

TABLES = ROOT / "latency_tables"
SYNTHETIC = {"proxyless": "amd-epyc-2c/proxyless-ort-cpu-b1-fp32-i3-n10-r32-w1.json",
             "nb201": "amd-epyc-2c/nb201-ort-cpu-b1-fp32-C16-N5-i3-n10-r32.json",
             "fbnet": "amd-epyc-2c/fbnet-ort-cpu-b1-fp32-n100-scifar100.json"}
HELD_OUT, HELD_OUT_SEED = 1000, 123
SIZES, SEEDS = (10, 24, 60), (0, 1, 2)
FOLD_SEEDS = range(10)  # other fold assignments, for the spread of the cross-validated share
NOISE, OFFSET_MS, OVERHEAD_SHARE = 0.25, 0.05, 0.9


def old_fit(networks, measured_ms, entries, stat="p50", types=None) -> dict:
    """hwnas.latency.calibration.fit before commit dc34604, verbatim but for `types` (default:
    the op types the networks run, as it was; a cross-validation fold passes those of every
    network, as the bounded fit's folds do)."""
    from scipy.optimize import lsq_linear

    from hwnas.latency.calibration import KIND, design_row

    types = sorted(types or {sig.op for sigs in networks for sig in sigs})
    X = np.array([design_row(sigs, entries, types, stat) for sigs in networks])
    y = np.asarray(measured_ms, float)
    constant = [j for j in range(len(types)) if np.ptp(X[:, 2 + j]) <= 1e-12 * (1 + X[0, 2 + j])]
    free = [j for j in range(len(types)) if j not in constant]
    target = y - X[:, [2 + j for j in constant]].sum(axis=1)
    A = X[:, [0, 1] + [2 + j for j in free]]
    lower = np.r_[-np.inf, -np.inf, np.zeros(len(free))]
    sol = lsq_linear(A / y[:, None], target / y, bounds=(lower, np.full(len(lower), np.inf)))
    scales = dict.fromkeys((types[j] for j in constant), 1.0)
    scales.update({types[j]: float(s) for j, s in zip(free, sol.x[2:], strict=True)})
    return {"kind": KIND, "stat": stat, "intercept_ms": float(sol.x[0]),
            "per_op_ms": float(sol.x[1]), "scales": dict(sorted(scales.items())),
            "fitted_on": {"networks": len(y)}}


def vector(coef: dict, types: list[str]) -> np.ndarray:
    """The coefficients in design-row order: [intercept, per_op, scale per type]."""
    return np.array([coef["intercept_ms"], coef["per_op_ms"],
                     *(coef["scales"][t] for t in types)])


class Space:
    """A space, its table's entries, its op types and its 1,000 held-out networks as design
    rows (calibration.design_row), so a fit's predictions are one matrix product."""

    def __init__(self, table):
        from hwnas.latency.calibration import design_row
        from hwnas.tables.validate import table_space

        self.table, self.space = table, table_space(table)
        self.entries = table.entries
        self.types = sorted({s.op for s in self.space.all_ops()})
        rng = np.random.default_rng(HELD_OUT_SEED)
        nets = [self.space.ops(self.space.sample(rng)) for _ in range(HELD_OUT)]
        self.rows = np.array([design_row(n, self.entries, self.types, "p50") for n in nets])
        self.plain = self.rows[:, 2:].sum(axis=1)
        self._networks = None

    def networks(self):
        from hwnas.latency.floor import SpaceNetworks

        if self._networks is None:
            self._networks = SpaceNetworks(self.space, self.entries, self.types)
        return self._networks

    def impossible(self, coef: dict, share: float) -> dict:
        """On the 1,000: predictions <= 0, below share x plain sum; over the whole space: the
        lowest prediction and the lowest prediction - floor (ms)."""
        v = vector(coef, self.types)
        pred = self.rows @ v
        lowest = self.networks().closest(v, 0.0)
        margin = self.networks().closest(v, share)
        return {"at_or_below_zero": int(np.sum(pred <= 0)),
                "below_floor": int(np.sum(pred < share * self.plain)),
                "space_min_ms": lowest[1], "space_min_margin_ms": margin[1],
                "predicted": pred}


# --- part 1: the committed tables ---------------------------------------------------------

def stored_tables() -> list[Path]:
    """Committed tables whose calibration stores the measurements it was fitted on."""
    out = []
    for path in sorted(TABLES.glob("*/*.json")):
        if path.name.endswith(".validation.json"):
            continue
        fitted = (json.loads(path.read_text()).get("calibration") or {}).get("fitted_on", {})
        measured = fitted.get("measured_ms") or []
        if measured and len(measured) == len(fitted.get("arch_keys", [])):
            out.append(path)
    return out


def cross_validated(networks, y, entries, space, types, seed):
    """Each network's affine prediction by the folds that held it out, for both fits."""
    from sklearn.model_selection import KFold

    from hwnas.latency import calibration
    from hwnas.tables.calibration_choice import FOLDS

    out = {"unbounded": np.zeros(len(y)), "bounded": np.zeros(len(y))}
    for train, test in KFold(n_splits=FOLDS, shuffle=True, random_state=seed).split(y):
        nets = [networks[i] for i in train]
        fits = {"unbounded": old_fit(nets, y[train], entries, types=types),
                "bounded": calibration.fit_unchecked(nets, y[train], entries, space=space,
                                                     types=types)}
        for name, coef in fits.items():
            for i in test:
                out[name][i] = calibration.apply(coef, networks[i], entries, "p50")
    return out


def real_table(path: Path) -> dict:
    from hwnas.latency import calibration
    from hwnas.latency.table import LatencyTable
    from hwnas.tables.validate import accuracy_metrics

    table = LatencyTable.load(path)
    s = Space(table)
    stored = table.calibration
    fitted = stored["fitted_on"]
    archs = calibration_archs(table, s.space, fitted)
    networks = [s.space.ops(a) for a in archs]
    y = np.asarray(fitted["measured_ms"], float)
    types = sorted({sig.op for sigs in networks for sig in sigs})
    fits = {"unbounded": old_fit(networks, y, s.entries, types=types),
            "bounded": calibration.fit(networks, y, s.entries, space=s.space)}
    share = fits["bounded"]["floor_share"]
    cv = cross_validated(networks, y, s.entries, s.space, types, fitted["seed"])
    spread = {"unbounded": [], "bounded": []}
    for fold_seed in FOLD_SEEDS:
        other = cross_validated(networks, y, s.entries, s.space, types, fold_seed)
        for name, predicted in other.items():
            spread[name].append(accuracy_metrics(predicted, y)["within_10"])
    result = {"table": path.name, "space": s.space.name, "backend": table.backend,
              "networks": len(y), "share": share,
              "ops": (int(s.rows[:, 1].min()), int(s.rows[:, 1].max())),
              "reproduces": max(abs(fits["unbounded"]["intercept_ms"] - stored["intercept_ms"]),
                                abs(fits["unbounded"]["per_op_ms"] - stored["per_op_ms"]),
                                *(abs(fits["unbounded"]["scales"][t] - stored["scales"][t])
                                  for t in types)),
              "min_ratio": float(np.min(y / np.array([sum(s.entries[g.key]["p50"] for g in n)
                                                      for n in networks]))),
              "fits": {}}
    for name, coef in fits.items():
        m = accuracy_metrics(cv[name], y)
        result["fits"][name] = {"coef": coef, "cv_within_10": m["within_10"],
                                "cv_tau": m["kendall_tau"], "cv_mape": m["mape"],
                                "cv_spread": (min(spread[name]), max(spread[name])),
                                **s.impossible(coef, share)}
    a, b = (result["fits"][k]["predicted"] for k in ("unbounded", "bounded"))
    result["max_rel_diff"] = float(np.max(np.abs(b - a) / np.abs(a)))
    return result


# --- part 2: synthetic measurements -------------------------------------------------------

class Synthetic:
    """One space's synthetic measurements (the module's docstring) and both fits on them."""

    def __init__(self, s: Space, scale: float):
        self.s, self.scale = s, scale
        self.overhead = OVERHEAD_SHARE * min(e["p50"] for e in s.entries.values())
        rng = np.random.default_rng(HELD_OUT_SEED)  # the held-out networks again, for truth
        self.held_truth = np.array([self.truth(s.space.ops(s.space.sample(rng)))
                                    for _ in range(HELD_OUT)])

    def truth(self, sigs) -> float:
        return OFFSET_MS + self.scale * sum(max(0.0, self.s.entries[g.key]["p50"]
                                                - self.overhead) for g in sigs)

    def draw(self, how: str, n: int, seed: int):
        """(networks, measured) for one fitting set."""
        space = self.s.space
        if how == "random":
            rng = np.random.default_rng(seed)
            nets = [space.ops(space.sample(rng)) for _ in range(n)]
        else:
            from hwnas.tables.spanning import spanning_archs
            from hwnas.tables.validate import sample_archs

            plain = lambda a: sum(self.s.entries[g.key]["p50"] for g in space.ops(a))  # noqa: E731
            archs = sample_archs(space, n - n // 3, seed)
            archs += spanning_archs(space, plain, n // 3, seed, exclude={a.key for a in archs})
            if len(archs) < n:
                archs += sample_archs(space, n - len(archs), seed + 1,
                                      exclude={a.key for a in archs})
            nets = [space.ops(a) for a in archs]
            rng = np.random.default_rng(seed)
        truth = np.array([self.truth(sigs) for sigs in nets])
        return nets, truth * np.exp(rng.normal(0.0, NOISE, len(nets)))

    def run(self, how: str, n: int, seed: int) -> dict:
        from hwnas.latency import calibration

        nets, measured = self.draw(how, n, seed)
        bounded = calibration.fit(nets, measured, self.s.entries, space=self.s.space,
                                  types=self.s.types)
        share = bounded["floor_share"]
        out = {"share": share, "cuts": bounded["floor_constraints"]}
        for name, coef in (("unbounded", old_fit(nets, measured, self.s.entries,
                                                 types=self.s.types)),
                           ("bounded", bounded)):
            r = self.s.impossible(coef, share)
            rel = (r.pop("predicted") - self.held_truth) / self.held_truth
            out[name] = {**r, "within_10_truth": float(np.mean(np.abs(rel) <= 0.10)),
                         "mape_truth": float(np.mean(np.abs(rel))),
                         "median_error_truth": float(np.median(rel)),
                         "per_op_ms": coef["per_op_ms"], "intercept_ms": coef["intercept_ms"]}
        return out


# --- output -------------------------------------------------------------------------------

def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import scipy

    return (f"{cpu}, {platform.system()} {platform.release()} ({platform.machine()}), Python "
            f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}")


def coef_text(coef: dict, types: list[str]) -> str:
    scales = ", ".join(f"{t} {coef['scales'][t]:.3f}" for t in types)
    return (f"intercept {coef['intercept_ms']:+.4f}, per op {coef['per_op_ms']:+.4f}; "
            f"scales: {scales}")


def print_real(results: list[dict]) -> None:
    print("### Part 1: the committed tables, refitted on their stored calibration measurements\n")
    print("| table | fit | CV within ±10% | (fold seeds 0-9) | CV Kendall τ | CV MAPE | of 1,000: "
          "≤ 0 / below floor | space: lowest prediction (ms) / lowest prediction − floor (ms) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        for name in ("unbounded", "bounded"):
            f = r["fits"][name]
            lo, hi = f["cv_spread"]
            print(f"| {r['space']} {r['backend']} | {name} | {100 * f['cv_within_10']:.0f}% | "
                  f"{100 * lo:.0f}-{100 * hi:.0f}% | {f['cv_tau']:.3f} | "
                  f"{100 * f['cv_mape']:.1f}% | {f['at_or_below_zero']} / "
                  f"{f['below_floor']} | {f['space_min_ms']:.4f} / "
                  f"{f['space_min_margin_ms']:+.4f} |")
    print("\nCoefficients fitted on all the calibration networks (ms; scales of the op types "
          "that vary, the others pinned at 1):\n")
    print("| table | networks | floor share (lowest measured/plain ratio) | fit | coefficients "
          "| cuts |")
    print("|---|---|---|---|---|---|")
    for r in results:
        for name in ("unbounded", "bounded"):
            coef = r["fits"][name]["coef"]
            free = [t for t, v in coef["scales"].items() if v != 1.0]
            cuts = coef.get("floor_constraints", "-")
            print(f"| {r['space']} {r['backend']} | {r['networks']} | {r['share']:.3f} "
                  f"({r['min_ratio']:.3f}) | {name} | {coef_text(coef, free)} | {cuts} |")
    print("\n| table | ops per network | unbounded refit = committed coefficients (max abs "
          "difference) | bounded vs unbounded on the 1,000: max relative difference |")
    print("|---|---|---|---|")
    for r in results:
        lo, hi = r["ops"]
        ops = f"{lo}" if lo == hi else f"{lo}-{hi}"
        print(f"| {r['space']} {r['backend']} | {ops} | {r['reproduces']:.1e} | "
              f"{r['max_rel_diff']:.1e} |")
    for r in results:
        lo, hi = r["ops"]
        if lo == hi:
            both = ", ".join(
                f"{name} {f['coef']['intercept_ms'] + lo * f['coef']['per_op_ms']:+.4f}"
                for name, f in r["fits"].items())
            print(f"\n{r['space']} {r['backend']}: every network runs {lo} ops, so only intercept "
                  f"+ {lo} x per op is determined (ms): {both}.")


def print_synthetic(rows: list[dict], scale: float, overheads: dict) -> None:
    print(f"\n### Part 2: synthetic measurements (scale {scale}, 25% log-normal noise)\n")
    print("Per-op call overhead c (0.9 x smallest entry of the ort-cpu table): "
          + ", ".join(f"{k} {v:.4f} ms" for k, v in overheads.items()) + ".")
    print("Each cell: seeds 0 / 1 / 2. \"Space's lowest\": the lowest prediction (ms) of any "
          "network of the space, found as the bounded fit finds it.\n")
    print("| space | draw | networks | unbounded: of 1,000 ≤ 0 | below floor | space's lowest "
          "| bounded: of 1,000 ≤ 0 | below floor | space's lowest | cuts |")
    print("|---|---|---|---|---|---|---|---|---|---|")

    def cell(runs, key, fmt="{}"):
        return " / ".join(fmt.format(key(r)) for r in runs)

    for row in rows:
        runs = row["runs"]
        counts = []
        for name in ("unbounded", "bounded"):
            counts += [cell(runs, lambda r, n=name: r[n]["at_or_below_zero"]),
                       cell(runs, lambda r, n=name: r[n]["below_floor"]),
                       cell(runs, lambda r, n=name: r[n]["space_min_ms"], "{:.3f}")]
        print(f"| {row['space']} | {row['draw']} | {row['n']} | " + " | ".join(counts)
              + f" | {cell(runs, lambda r: r['cuts'])} |")
    runs = [r for row in rows for r in row["runs"]]

    def total(name, key):
        return sum(r[name][key] for r in runs)

    print(f"\nOver all {len(runs)} fits x 1,000 networks: unbounded "
          f"{total('unbounded', 'at_or_below_zero')} predictions at or below zero and "
          f"{total('unbounded', 'below_floor')} below the floor, bounded "
          f"{total('bounded', 'at_or_below_zero')} and {total('bounded', 'below_floor')}.")
    print("\nFits that predict some network of the whole space at or below zero / below its "
          "floor:\n")
    print("| draw | fits | unbounded | bounded |")
    print("|---|---|---|---|")
    for how in ("random", "calibrate's"):
        some = [r for row in rows if row["draw"] == how for r in row["runs"]]
        cells = [f"{sum(r[n]['space_min_ms'] <= 0 for r in some)} / "
                 f"{sum(r[n]['space_min_margin_ms'] < 0 for r in some)}"
                 for n in ("unbounded", "bounded")]
        print(f"| {how} | {len(some)} | {cells[0]} | {cells[1]} |")
    print("\nThe same fits against the noise-free truth on the 1,000 networks (unbounded -> "
          "bounded, per seed):\n")
    print("| space | draw | networks | MAPE vs truth | median error vs truth "
          "| within ±10% of truth |")
    print("|---|---|---|---|---|---|")

    def pair(runs, key, fmt):
        return " / ".join(f"{fmt.format(100 * r['unbounded'][key])} -> "
                          f"{fmt.format(100 * r['bounded'][key])}" for r in runs)

    for row in rows:
        print(f"| {row['space']} | {row['draw']} | {row['n']} | "
              f"{pair(row['runs'], 'mape_truth', '{:.1f}%')} | "
              f"{pair(row['runs'], 'median_error_truth', '{:+.1f}%')} | "
              f"{pair(row['runs'], 'within_10_truth', '{:.0f}%')} |")
    mape = {n: float(np.mean([r[n]["mape_truth"] for r in runs])) for n in ("unbounded", "bounded")}
    w10 = {n: float(np.mean([r[n]["within_10_truth"] for r in runs]))
           for n in ("unbounded", "bounded")}
    def count(sign, space=None):  # fits where the bounded MAPE is higher (+1) / lower (-1)
        return sum(1 for row in rows if space in (None, row["space"]) for r in row["runs"]
                   if sign * (r["bounded"]["mape_truth"] - r["unbounded"]["mape_truth"]) > 1e-9)

    def per_space(sign):
        return ", ".join(f"{name} {count(sign, name)}" for name in SYNTHETIC)

    worse, better = count(1), count(-1)
    print(f"\nMean over the {len(runs)} fits: MAPE vs truth {100 * mape['unbounded']:.1f}% "
          f"unbounded, {100 * mape['bounded']:.1f}% bounded; within ±10% "
          f"{100 * w10['unbounded']:.1f}% and {100 * w10['bounded']:.1f}%. The bounded fit's MAPE "
          f"is higher in {worse} fits ({per_space(1)}), lower in {better} ({per_space(-1)}), the "
          f"same in {len(runs) - worse - better}. (Least squares on relative error under "
          f"log-normal noise of sigma {NOISE} shrinks predictions by about exp(-1.5 sigma^2) = "
          f"{np.exp(-1.5 * NOISE ** 2):.3f}, in both fits.)")


def main() -> None:
    from hwnas.latency.table import LatencyTable

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="synthetic truth's scale of the op terms (default 1.0)")
    args = parser.parse_args()
    start = time.perf_counter()
    results = [real_table(p) for p in stored_tables()]
    print(f"part 1: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    rows, overheads = [], {}
    for name, rel in SYNTHETIC.items():
        syn = Synthetic(Space(LatencyTable.load(TABLES / rel)), args.scale)
        overheads[name] = syn.overhead
        for how in ("random", "calibrate's"):
            for n in SIZES:
                rows.append({"space": name, "draw": how, "n": n,
                             "runs": [syn.run(how, n, seed) for seed in SEEDS]})
        print(f"part 2 {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    command = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/calibration_bounds.py"
    if args.scale != 1.0:
        command += f" --scale {args.scale}"
    print("```")
    print(f"Machine: {machine()}")
    print(f"Command: {command}")
    print("```\n")
    print_real(results)
    print_synthetic(rows, args.scale, overheads)


if __name__ == "__main__":
    main()
