"""PNAS against random search on every two-objective problem of the NB201 × HW-NAS-Bench family.

The family: accuracy on CIFAR-10, CIFAR-100 or ImageNet16-120 × latency on the Raspberry Pi 4,
Pixel 3, Eyeriss, FPGA, edge GPU or edge TPU, or FPGA energy (21 problems). Each runs
`hwnas bench`'s API with `--methods random,pnas` (or `--methods`), `--budget` evaluations ×
`--seeds` seeds, and prints one markdown row per problem: each method's HV ratio (mean ± std
over seeds), PNAS's difference from random and the one-sided Mann-Whitney p-value that PNAS is
better (hwnas.league.metrics.versus), and PNAS's seconds per run. `--pnas-opt KEY=VALUE` runs
PNAS with other options (to compare a variant on the same seeds).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pnas_family.py --budget 500 --seeds 5
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnas.league.runner import bench, prepare  # noqa: E402

DEFAULT_BENCHMARK = ROOT.parent / "shared" / "benchmarks" / "nb201_hw" / "nb201_hw.csv"
DATASETS = ("cifar10", "cifar100", "imagenet16")
COSTS = ("latency:raspi4", "latency:pixel3", "latency:eyeriss", "latency:fpga",
         "latency:edgegpu", "latency:edgetpu", "energy:fpga")
FAMILY = [f"accuracy:{d},{c}" for d, c in itertools.product(DATASETS, COSTS)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default=str(DEFAULT_BENCHMARK))
    parser.add_argument("--problems", nargs="+", default=FAMILY,
                        help="objectives of each problem (default: the 21 of the family)")
    parser.add_argument("--methods", default="random,pnas")
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--pnas-opt", action="append", default=[],
                        help="KEY=VALUE option of pnas (repeatable)")
    args = parser.parse_args()
    methods = args.methods.split(",")
    opts = [f"pnas:{kv}" for kv in args.pnas_opt] if "pnas" in methods else []
    print(f"| problem | {' | '.join(methods)} | pnas − random (p) | pnas s/run |")
    print(f"|---|{'---|' * len(methods)}---|---|")
    losses = 0
    for objectives in args.problems:
        problem, names, options = prepare(args.benchmark, objectives, methods=methods,
                                          strategy_opts=opts)
        results = bench(problem, names, args.seeds, args.budget, options=options)
        ms = results["methods"]
        hv = " | ".join(f"{ms[m]['hv_ratio']['mean']:.4f} ± {ms[m]['hv_ratio']['std']:.4f}"
                        for m in methods)
        vs = ms.get("pnas", {}).get("vs_random")
        delta = f"{vs['delta']:+.4f} (p={vs['p_greater']:.3f})" if vs else "—"
        losses += bool(vs) and vs["delta"] < 0
        wall = ms["pnas"]["wall_s"]["mean"] if "pnas" in ms else float("nan")
        print(f"| {objectives} | {hv} | {delta} | {wall:.2f} |", flush=True)
    print(f"\nproblems where pnas's mean HV ratio is below random's: {losses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
