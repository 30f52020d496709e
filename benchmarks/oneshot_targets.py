"""`--target-ms` held on the device: ProxylessNAS with three latency targets spread over the
space's range (its cheapest and dearest networks' table latency at 20%, 45% and 70%); each
derived architecture is exported with `hwnas export` and timed on ort-cpu, and its measured
latency is compared with the table's prediction and with the target. `hwnas export` times the
network once and then in three passes next to the table's reference workload (its default
`--rounds`); the comparison uses the latter (ms at the table's speed), and both are printed.

    .venv/bin/python benchmarks/oneshot_targets.py [--table T.json] [--width-mult 0.5]
        [--out runs/oneshot-targets] [--latency-stat p10]

Without --table it profiles the space on ort-cpu (one thread; the statistic chosen by the
profile's measurement of the machine) and calibrates the table on 30 networks, as `hwnas demo`
does; a table given must be this machine's. Every latency is in the table's statistic. Goal
(one-shot issue): measured within ±10% of the prediction and at most 1.1·T for every target.
Prints a markdown block for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FRACTIONS = (0.2, 0.45, 0.7)
ESTIMATOR = {"epochs": 2, "resolution": 16, "train_subset": 768, "threads": 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=None, help="reuse a calibrated table")
    parser.add_argument("--width-mult", type=float, default=0.5)
    parser.add_argument("--out", default="runs/oneshot-targets")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--latency-stat", default=None,
                        help="the table's statistic (default: chosen by the profile's probe)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from hwnas import api
    from hwnas.latency.table import LatencyTable
    from hwnas.oneshot.expected_cost import ExpectedCost
    from hwnas.searching.config import SearchConfig
    from hwnas.spaces.proxyless import ProxylessSpace

    space_config = {"width_mult": args.width_mult, "num_classes": 10}
    if args.table is None:
        table = api.profile("proxyless", {"width_mult": args.width_mult}, "ort-cpu", threads=1,
                            out=Path(args.out) / "table.json", force=True,  # a fresh one
                            latency_stat=args.latency_stat)
        api.calibrate_table(table, samples=30)
        args.table = str(table.path)
    loaded = LatencyTable.load(args.table)
    stat = loaded.stat
    cost = ExpectedCost(ProxylessSpace(**space_config), loaded)
    low, high = cost.range()
    targets = [round(low + f * (high - low), 4) for f in FRACTIONS]
    sweep = "target_ms=" + ",".join(f"{t:g}" for t in targets)
    config = SearchConfig(table=args.table, space_config=space_config, strategy="proxyless",
                          strategy_options={"sweep": sweep, "epochs": args.epochs,
                                            "warmup_epochs": 2, "resolution": 16,
                                            "train_subset": 768, "threads": 1},
                          estimator_options=dict(ESTIMATOR), run_dir=args.out,
                          keep_weights="all")
    run = api.search(config)
    print(f"Command: `.venv/bin/python benchmarks/oneshot_targets.py --table {args.table} "
          f"--width-mult {args.width_mult} --epochs {args.epochs}`; table range "
          f"{low:.3f}–{high:.3f} ms; ort-cpu, threads as the table; every latency in the "
          f"table's statistic, {stat}.\n")
    print(f"| target T (ms) | argmax (ms) | derived: table (ms) | measured once, {stat} (ms) | "
          "passes, raw (ms) | at the table's speed (ms) | prediction error | measured / T | "
          "machine vs table | positions changed |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ok = True
    for record in run.history():
        info = record["proposal"]
        target = info["setting"]["target_ms"]
        # untrained on purpose: the latency is the network's, whatever its weights' values
        report, _warnings = api.export(run.path, arch_key=record["arch_key"],
                                       out=Path(args.out) / "exports" /
                                       f"t{target:g}.onnx", untrained=True)
        once, careful = report.measured_ms[stat], report.at_table_speed or {}
        measured = report.compared_ms
        raw = f"{median(careful['raw_ms']):.3f}" if careful else "-"
        speed = f"{100 * careful['speed_change']:+.1f}%" if careful else "-"
        argmax_ms = cost.of_arch(_arch(info["argmax"]))
        err = report.prediction_error
        ok &= abs(err) <= 0.10 and measured <= 1.1 * target
        print(f"| {target:g} | {argmax_ms:.3f} | {report.predicted_ms:.3f} | {once:.3f} | "
              f"{raw} | {measured:.3f} | {100 * err:+.1f}% | {measured / target:.2f} | "
              f"{speed} | {len(info['changed_for_target'])} |")
    print(f"\nGoal (±10% and ≤ 1.1·T for every target): {'met' if ok else 'NOT met'}.")
    return 0


def _arch(values: dict):
    from hwnas.arch import Arch

    return Arch("proxyless", values)


if __name__ == "__main__":
    sys.exit(main())
