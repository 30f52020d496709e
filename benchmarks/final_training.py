"""How far a user may trust the search's proxy accuracy: proxy vs final-trained vs exported
ONNX accuracy on digits.

A `--preset fast` search (random sampling; the proxy trains 2 epochs on 768 images at 16x16)
of the proxyless space at `--resolution` (default 32, the space's default) and width 0.5,
against this machine's ort-cpu table of that space. Then every candidate that succeeded (at
least 8 for a meaningful τ) is trained with `hwnas train --preset P` at the space's resolution
and scored on the held-out test split, and the members of the front are exported with
`hwnas export`, whose file is scored through onnxruntime on the same split.

Prints Kendall τ between the proxy's accuracy (validation split, proxy resolution) and the
final accuracy (test split), and between the proxy's and the final network's validation
accuracy (the same images), and a markdown table for BENCHMARKS.md.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/final_training.py [--budget 10] [--seed 1]
        [--preset paper] [--resolution 32] [--jobs 2] [--out runs/final-training]

`--jobs 2` trains two networks at once (one thread each). Resumes: a finished search and
finished trainings are kept; an interrupted training resumes from its checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def train_one(run_dir: str, key: str, preset: str) -> dict:
    os.environ["OMP_NUM_THREADS"] = "1"
    from hwnas.api import train as job

    start = time.perf_counter()
    result = job.train(run_dir, arch_key=key, preset=preset)
    return {**result, "wall": time.perf_counter() - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/final-training")
    parser.add_argument("--budget", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--preset", default="paper", choices=("paper", "fast"))
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from scipy.stats import kendalltau

    from hwnas import api
    from hwnas.api.presets import preset_values
    from hwnas.core.failure import is_failed
    from hwnas.registry import ESTIMATORS
    from hwnas.runs import RunDir
    from hwnas.searching.config import SearchConfig

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    space_config = {"width_mult": 0.5, "resolution": args.resolution}
    table_path = out / "table.json"
    if not table_path.is_file():
        table = api.profile("proxyless", space_config, "ort-cpu", threads=1, out=table_path)
        api.calibrate_table(table, samples=30)
    run_dir = out / "search"
    estimator = {**preset_values(ESTIMATORS.get("scratch"), "fast"), "threads": 1}
    search_wall = None
    if not (run_dir / "pareto.json").is_file():
        config = SearchConfig(table=str(table_path), space_config=dict(space_config),
                              strategy="random", estimator_options=dict(estimator),
                              seed=args.seed, run_dir=str(run_dir), budget=args.budget,
                              keep_weights="none")
        start = time.perf_counter()
        api.search(config, resume=run_dir if (run_dir / "config.json").is_file() else None)
        search_wall = time.perf_counter() - start
    run = RunDir(run_dir)
    records = {r["arch_key"]: r for r in run.history() if not is_failed(r["result"])}
    keys = list(records)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for result in pool.map(train_one, [str(run_dir)] * len(keys), keys,
                               [args.preset] * len(keys)):
            print(f"{result['arch_key']}: test {result['test_accuracy']:.4f} "
                  f"({result['state']}, {result['wall']:.0f} s)", file=sys.stderr, flush=True)
    finals = {k: train_one(str(run_dir), k, args.preset) for k in keys}  # all "done" now
    front_keys = [m["arch_key"] for m in json.loads((run_dir / "pareto.json").read_text())
                  ["front"]]
    exports = {}  # every trained network, not only the front's: more files proven
    for key in keys:
        report, _ = api.export(run_dir, arch_key=key, out=out / "exports" / f"{key}.onnx")
        exports[key] = report.accuracies["onnx"]["accuracy"]

    proxy = [records[k]["result"]["accuracy"] for k in keys]
    final_test = [finals[k]["test_accuracy"] for k in keys]
    final_val = [finals[k]["val_accuracy"] for k in keys]
    tau_test, p_test = kendalltau(proxy, final_test)
    tau_val, p_val = kendalltau(proxy, final_val)
    n_test = finals[keys[0]]["test_size"]
    spread = max(final_test) - min(final_test)
    p = sum(final_test) / len(final_test)
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; one thread per training.")
    print(f"Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/final_training.py --budget "
          f"{args.budget} --seed {args.seed} --preset {args.preset} --resolution "
          f"{args.resolution} --jobs {args.jobs}`; proxy: scratch {estimator}; final: "
          f"`hwnas train --preset {args.preset}` at {args.resolution}x{args.resolution}"
          + (f"; search {search_wall:.0f} s" if search_wall else "") + ".\n")
    print(f"Kendall τ over {len(keys)} networks: proxy (val, 16x16) vs final (test) "
          f"**{tau_test:.3f}** (p={p_test:.3f}); proxy vs final (val, same images) "
          f"**{tau_val:.3f}** (p={p_val:.3f}).\n")
    print(f"Final test accuracies span {100 * spread:.1f} points ({round(spread * n_test)} of "
          f"{n_test} images); one binomial standard error at {p:.3f} is "
          f"{100 * (p * (1 - p) / n_test) ** 0.5:.1f} points. Largest |ONNX - final| "
          f"{100 * max(abs(exports[k] - finals[k]['test_accuracy']) for k in keys):.2f} points."
          "\n")
    print("| network | latency_ms (table) | proxy acc (val, 16x16) | final acc (test) | "
          "final acc (val) | ONNX acc (test, onnxruntime) | training time (s, its epochs) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k in sorted(keys, key=lambda k: records[k]["result"]["latency_ms"]):
        onnx = f"{exports[k]:.4f}" if k in exports else ""
        mark = " (front)" if k in front_keys else ""
        print(f"| {k}{mark} | {records[k]['result']['latency_ms']:.3f} | "
              f"{records[k]['result']['accuracy']:.4f} | {finals[k]['test_accuracy']:.4f} | "
              f"{finals[k]['val_accuracy']:.4f} | {onnx} | {finals[k]['seconds']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
