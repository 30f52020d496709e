"""How long one measurement should last on a shared machine: the timing loop's `min_time_s`
compared with itself, interleaved so that both settings meet the same machine.

The timing loop (`profilers/timing.py`) stops once its statistic moves by less than 2% between
two rounds of 10 calls. For the minimum that happens as soon as a round finds no new low, so
a 4 ms network is measured in about 20 calls, 0.08 s, and a burst of another tenant lasting
longer than that covers the whole measurement. `min_time_s` keeps a measurement going at
least that long (within its time budget).

`--networks` random networks of the space (seeded), built once each; in every one of `--reps`
repetitions each network is measured once with every `--min-times` setting, the settings in a
shuffled order, so that a slow minute of the machine falls on all of them alike. Per setting:
every network's spread over repetitions (max/min - 1), the share of measurements within +-10%
of their network's median, and the same share for the median of three repetitions (what a
table's three passes keep), and the seconds spent measuring.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/measurement_length.py
        [--space proxyless] [--backend torch-cpu] [--networks 6] [--reps 12]
        [--min-times 0,0.5] [--stat p0] [--seed 0]

Prints a markdown block for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def within(v: np.ndarray) -> float:
    """Share of the entries of `v` (repetitions × networks) within +-10% of their column's
    median."""
    med = np.median(v, 0)
    return float(np.mean(np.abs(v - med) <= 0.1 * med))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="proxyless")
    parser.add_argument("--backend", default="torch-cpu")
    parser.add_argument("--networks", type=int, default=6)
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--min-times", default="0,0.5")
    parser.add_argument("--stat", default="p0")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    from hwnas.api.common import build_space
    from hwnas.tables.profile import make_backend
    from profilers.timing import TimingConfig

    settings = [float(v) for v in args.min_times.split(",")]
    space = build_space(args.space)
    backends = [make_backend(args.backend, threads=1, stat=args.stat,
                             timing=TimingConfig(min_time_s=s)) for s in settings]
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.networks)]

    def model(arch):  # built once, exported once: the same instance every repetition
        torch.manual_seed(0)
        module = space.build(arch).eval()
        if backends[0].input_format == "onnx":
            from hwnas.nn.onnx_io import module_to_onnx
            return module_to_onnx(module, (1, *space.input_shape), "fp32")
        return module

    models = [model(a) for a in archs]
    times = np.zeros((len(settings), args.reps, len(models)))
    seconds = np.zeros(len(settings))
    start = time.time()
    for r in range(args.reps):
        for j, m in enumerate(models):
            for k in rng.permutation(len(settings)):
                t0 = time.perf_counter()
                times[k, r, j] = backends[k].measure(m, space.input_shape).value(args.stat)
                seconds[k] += time.perf_counter() - t0
    print(f"**{args.space} on {args.backend}** (one thread, {args.stat}; {args.networks} "
          f"networks × {args.reps} repetitions, seed {args.seed}, settings interleaved; "
          f"networks {np.median(times):.2f} ms median; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(start))}, "
          f"{time.time() - start:.0f} s; {platform.processor() or platform.machine()})\n")
    print("| min_time_s | spread per network (max/min − 1) | median spread | within ±10% of "
          "the network's median | median of 3 repetitions within ±10% | s per measurement |")
    print("|---|---|---|---|---|---|")
    n3 = args.reps // 3 * 3
    for k, s in enumerate(settings):
        v = times[k]
        spread = v.max(0) / v.min(0) - 1
        med3 = np.median(v[:n3].reshape(n3 // 3, 3, -1), axis=1)
        cells = ", ".join(f"{100 * x:.0f}%" for x in spread)
        print(f"| {s:g} | {cells} | {100 * np.median(spread):.0f}% | {100 * within(v):.0f}% | "
              f"{100 * within(med3):.0f}% | {seconds[k] / v.size:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
