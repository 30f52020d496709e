"""Single-Path NAS on digits: a λ sweep through `hwnas search`, and per setting what the
thresholds did: the derived network, its table latency, how far the thresholds moved from
their start, how many layers' decisions changed from the largest network the search starts
from, and the derived network's accuracy by the run's estimator.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/single_path_nas.py [--out runs/spnas]
        [--sweep lambda=0,0.02,0.2] [--table TABLE] [--extra --strategy-opt epochs=8 ...]

The table defaults to this machine's committed ort-cpu table of the proxyless space at its
defaults (32x32, width 1.0, 10 classes); `--preset fast` trains each setting's supernet on 768
digits at 16x16 for 4 epochs (1 of them warm-up) and scores the derived network with the
`scratch` estimator's fast setting (2 epochs on the same images). Prints a markdown block.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = "latency_tables/amd-epyc-2c/proxyless-ort-cpu-b1-fp32-i3-n10-r32-w1.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/spnas")
    parser.add_argument("--sweep", default="lambda=0,0.02,0.2")
    parser.add_argument("--table", default=TABLE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="more `hwnas search` arguments, after everything else")
    args = parser.parse_args()
    run_dir = Path(args.out)
    command = ["hwnas", "search", "--space", "proxyless", "--dataset", "digits", "--table",
               args.table, "--method", "single_path_nas", "--sweep", args.sweep,
               "--preset", "fast", "--seed", str(args.seed), "--run-dir", str(run_dir),
               *args.extra]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), *command[1:]], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
        return done.returncode
    sys.path.insert(0, str(ROOT))
    from hwnas.arch import Arch
    from hwnas.spaces.proxyless import ProxylessSpace

    space = ProxylessSpace()
    records = [json.loads(line) for line in (run_dir / "history.jsonl").read_text()
               .splitlines()]
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
          f"(shared), Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; wall {wall:.0f} s.")
    print(f"Command: `OMP_NUM_THREADS=1 {' '.join(command)}`\n")
    print("| λ | derived (kernel·expansion per layer, '-' skipped) | table ms | layers "
          "changed | max \\|Δt\\| | mean Δt k / e / skip | held-out acc. per epoch | "
          "estimator acc. | supernet s |")
    print("|---|---|---:|---:|---:|---|---|---:|---:|")
    for k, rec in enumerate(records):
        proposal = rec["proposal"]
        folder = run_dir / "strategy" / f"setting-{k:02d}"
        epochs = json.loads((folder / "trajectory.json").read_text())["epochs"]
        start_t = json.loads((folder / "trajectory.json").read_text())["options"][
            "threshold_init"]
        last = epochs[-1]["thresholds"]
        moves = {"k": [], "e": [], "skip": []}
        for values in last.values():
            for name, value in values.items():  # e3 exists only where a layer can be skipped
                moves["skip" if name == "e3" else name[0]].append(value - start_t)
        every = [v for vs in moves.values() for v in vs]
        mean = " / ".join(f"{sum(v) / len(v):+.3f}" if v else "-" for v in moves.values())
        arch = Arch.from_dict(rec["arch"])
        largest = sum(1 for v in arch.values.values() if v != "mb_k7_e6")
        accs = " ".join(f"{e['argmax_val_acc']:.2f}" for e in epochs)
        print(f"| {proposal['setting']['lambda']:g} | {space.compact(arch)} | "
              f"{proposal['table_cost']:.3f} | {largest} | {max(map(abs, every)):.3f} | "
              f"{mean} | {accs} | {rec['result']['accuracy']:.4f} | "
              f"{proposal['supernet_seconds']:.0f} |")
    print("\nlayers changed: layers whose derived option is not mb_k7_e6 (every threshold "
          "starts at 0, below every norm: the largest network, every layer kept). Δt: each "
          "threshold's final value minus its start, by kind (kernel rings k5/k7, the second "
          "channel group e6, the first group e3 where the layer can be skipped). Held-out "
          "accuracy: the decided network with the supernet's weights (BatchNorm re-estimated) "
          "on the supernet's held-out 20%, per epoch.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
