"""Does a network's speed depend on the instance it is built as, and would several builds per
measurement make whole-network times repeat?

On torch-cpu the validation re-measures 30 networks minutes later and ranks them against
itself at Kendall τ 0.5–0.7 (BENCHMARKS.md, "Latency that repeats"), though each measurement
lasts at least 0.5 s. Each measurement there builds the network afresh (`space.build`, the
same seeded weights), so a speed that belongs to the instance (where its tensors landed in
memory, what oneDNN chose for it) enters every pass. This script separates the two: per
network, in each of two sessions a few minutes apart, `--builds` fresh instances measured once
each and the first instance measured a second time, all in a shuffled order; then between the
sessions, τ and the share within ±10% for: one build, the median of the builds, their
minimum; and within a session, the spread between builds against the spread between two
measurements of one instance.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/instance_variance.py
        [--space proxyless] [--backend torch-cpu] [--networks 30] [--builds 3] [--seed 0]

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


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Kendall τ, share of `a` within ±10% of `b`) between two sessions' values."""
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic), float(np.mean(np.abs(a - b) <= 0.1 * b))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="proxyless")
    parser.add_argument("--backend", default="torch-cpu")
    parser.add_argument("--networks", type=int, default=30)
    parser.add_argument("--builds", type=int, default=3)
    parser.add_argument("--stat", default="p10")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    from hwnas.api.common import build_space
    from hwnas.tables.profile import make_backend

    space = build_space(args.space)
    backend = make_backend(args.backend, threads=1, stat=args.stat)
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.networks)]

    def build(arch):
        torch.manual_seed(0)  # the same weights in every instance, as validation builds them
        module = space.build(arch).eval()
        if backend.input_format == "onnx":
            from hwnas.nn.onnx_io import module_to_onnx
            return module_to_onnx(module, (1, *space.input_shape), "fp32")
        return module

    start = time.time()
    # sessions × (builds + 1) × networks; column `builds` is the first instance measured again
    times = np.zeros((2, args.builds + 1, args.networks))
    for s in range(2):
        jobs = [(j, b) for j in range(args.networks) for b in range(args.builds)]
        first: dict[int, object] = {}
        for i in rng.permutation(len(jobs)):
            j, b = jobs[i]
            model = build(archs[j])
            if b == 0:
                first[j] = model
            times[s, b, j] = backend.measure(model, space.input_shape).value(args.stat)
        for j in rng.permutation(args.networks):  # the first instance, once more
            times[s, args.builds, j] = backend.measure(first[j], space.input_shape) \
                .value(args.stat)
        first.clear()
    builds = times[:, :args.builds]
    print(f"**{args.space} on {args.backend}** (one thread, {args.stat}; {args.networks} "
          f"networks × {args.builds} builds × 2 sessions, seed {args.seed}; networks "
          f"{np.median(builds):.2f} ms median; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(start))}, "
          f"{time.time() - start:.0f} s; {platform.processor() or platform.machine()})\n")
    between_builds = builds.max(1) / builds.min(1) - 1
    same_instance = np.abs(times[:, args.builds] / times[:, 0] - 1)
    print(f"Within a session: builds of one network differ by "
          f"{100 * np.median(between_builds):.1f}% (median over networks of max/min − 1; "
          f"90th percentile "
          f"{100 * np.percentile(between_builds, 90):.1f}%); one instance measured twice differs "
          f"by {100 * np.median(same_instance):.1f}% (90th percentile "
          f"{100 * np.percentile(same_instance, 90):.1f}%).\n")
    print("| between sessions | Kendall τ | within ±10% |")
    print("|---|---|---|")
    for name, per_session in (("one build", builds[:, 0]),
                              (f"median of {args.builds} builds", np.median(builds, 1)),
                              (f"minimum of {args.builds} builds", builds.min(1)),
                              ("one instance, minimum of 2 measurements",
                               np.minimum(times[:, 0], times[:, args.builds]))):
        tau, w = agreement(per_session[1], per_session[0])
        print(f"| {name} | {tau:.2f} | {100 * w:.0f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
