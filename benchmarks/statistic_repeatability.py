"""Which statistic of a network's repeated timings repeats on a shared machine: the minimum, p10,
the median or the mean, measured with hwnas's own profiler.

`--networks` random networks of the space (seeded), each exported to ONNX once and timed by
the backend (`--reps` consecutive calls after its warm-up: the protocol tables use) in each of
`--passes` passes, the order shuffled per pass. For each statistic of a network's timings:
the share of networks whose value in one pass is within ±10% of another pass's, and Kendall
τ between passes, for every pair of passes. `--neighbour steady` keeps a second process busy
for the whole run (a pure-Python loop: one core's worth of load); `--neighbour bursty` runs
one that comes and goes, as other tenants do: two-threaded matrix products for 0.2-2 s, then
idle for 0.2-2 s (seeded), so it competes for the measured core too.

`--order round-robin` (ort backends) times the networks the other way the issue describes:
in each pass, every network once per round in a shuffled order, `--reps` rounds (after five
untimed runs each), instead of `--reps` consecutive calls per network; the process pinned to
one core as the profiler pins a one-thread measurement.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/statistic_repeatability.py
        [--neighbour steady|bursty] [--order consecutive|round-robin]
        [--networks 30] [--reps 40] [--passes 3] [--backend ort-cpu] [--threads 1] [--seed 0]

Prints a markdown block for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATISTICS = ("p0", "p10", "p50", "mean")
NEIGHBOURS = {
    "steady": "while True: pass",
    "bursty": ("import random, time\nimport numpy as np\nrandom.seed(0)\n"
               "a = np.random.default_rng(0).random((400, 400))\nwhile True:\n"
               "    end = time.time() + random.uniform(0.2, 2.0)\n"
               "    while time.time() < end:\n        a @ a\n"
               "    time.sleep(random.uniform(0.2, 2.0))\n"),
}
NAMES = {"p0": "minimum (p0)", "p10": "p10", "p50": "median (what tables use now)",
         "mean": "mean"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=30)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--space", default="proxyless")
    parser.add_argument("--backend", default="ort-cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--neighbour", choices=tuple(NEIGHBOURS), default=None)
    parser.add_argument("--order", choices=("consecutive", "round-robin"),
                        default="consecutive")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import torch
    from scipy.stats import kendalltau

    from hwnas.nn.onnx_io import module_to_onnx
    from hwnas.registry import SPACES
    from hwnas.tables.profile import make_backend
    from profilers.timing import TimingConfig

    space = SPACES.get(args.space)()
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.networks)]
    timing = TimingConfig(min_repeats=args.reps, max_repeats=args.reps, time_budget_s=60.0)
    backend = make_backend(args.backend, threads=args.threads, timing=timing)
    models = []
    for arch in archs:
        torch.manual_seed(0)
        module = space.build(arch).eval()
        models.append(module_to_onnx(module, (1, *space.input_shape)) if
                      backend.input_format == "onnx" else module)
    neighbour = None
    if args.neighbour:
        env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
        neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOURS[args.neighbour]],
                                     env=env)
    start = time.perf_counter()
    try:
        values = {s: np.zeros((args.passes, args.networks)) for s in STATISTICS}
        for p in range(args.passes):
            if args.order == "round-robin":
                times = round_robin(backend, models, space.input_shape, args.reps,
                                    np.random.default_rng(args.seed + 1 + p))
                for s, q in (("p0", 0), ("p10", 10), ("p50", 50)):
                    values[s][p] = np.percentile(times, q, axis=0)
                values["mean"][p] = times.mean(axis=0)
            for i in (np.random.default_rng(args.seed + 1 + p).permutation(args.networks)
                      if args.order == "consecutive" else []):
                m = backend.measure(models[i], space.input_shape)
                for s in STATISTICS:
                    values[s][p, i] = getattr(m, s)
            print(f"pass {p + 1}/{args.passes} done at {time.perf_counter() - start:.0f} s",
                  file=sys.stderr, flush=True)
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    pairs = list(itertools.combinations(range(args.passes), 2))
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M')}.")
    flag = f" --neighbour {args.neighbour}" if args.neighbour else ""
    print(f"Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/statistic_repeatability.py"
          f"{flag} --networks {args.networks} --reps "
          f"{args.reps} --passes {args.passes} --backend {args.backend} --threads "
          f"{args.threads} --seed {args.seed} --order {args.order}` ({args.space}, default "
          "options; "
          f"{time.perf_counter() - start:.0f} s of timing).\n")
    header = " | ".join(f"passes {a + 1}-{b + 1}" for a, b in pairs)
    print(f"| statistic | within ±10%: {header} | τ: {header} | median shift between passes |")
    print("|---|" + "---:|" * (2 * len(pairs) + 1))
    for s in STATISTICS:
        v = values[s]
        within = [float(np.mean(np.abs(v[a] / v[b] - 1) <= 0.10)) for a, b in pairs]
        taus = [float(kendalltau(v[a], v[b])[0]) for a, b in pairs]
        shift = [float(np.median(v[b] / v[a]) - 1) for a, b in pairs]
        print(f"| {NAMES[s]} | " + " | ".join(f"{100 * w:.0f}%" for w in within) + " | "
              + " | ".join(f"{t:.2f}" for t in taus) + " | "
              + ", ".join(f"{100 * x:+.0f}%" for x in shift) + " |")
    return 0


def round_robin(backend, models, shape, rounds: int, rng) -> np.ndarray:
    """[rounds, networks] ms: each network once per round, in a new shuffled order each
    round, on one core (ort sessions made once, five untimed runs each)."""
    from profilers.cpu_stability import pinned_to_one_core

    sessions = [backend._session(bytes(m)) for m in models]
    feeds = [{s.get_inputs()[0].name: backend._input_array(s, shape)} for s in sessions]
    out = np.zeros((rounds, len(models)))
    with pinned_to_one_core(backend.threads):
        for session, feed in zip(sessions, feeds, strict=True):
            for _ in range(5):
                session.run(None, feed)
        for r in range(rounds):
            for i in rng.permutation(len(models)):
                start = time.perf_counter_ns()
                sessions[i].run(None, feeds[i])
                out[r, i] = (time.perf_counter_ns() - start) / 1e6
    return out


if __name__ == "__main__":
    sys.exit(main())
