"""Would a whole network as the reference workload follow the machine better than one op?

Tables divide every network's time by a reference workload timed next to it (one op of the
space, `hwnas/tables/reference.py`). On torch-cpu a validation once read every network 16%
slow because the networks sped up and the op did not; this measures whether a whole network
of the space, timed in its place, would have followed.

`--networks` random networks of the space (seeded) are each timed `--reps` times, one
measurement each (the backend's own timing loop, the statistic `--stat`); before and after
every sweep over them, the op reference (chosen as `hwnas profile` chooses it) and a network
reference (another random network, built once) are timed too. For each of raw times, times
divided by the op reference and times divided by the network reference: every network's
spread over repetitions (max/min - 1) and the share of its measurements within +-10% of its
median. A reference that follows the machine makes the divided times repeat better than raw.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reference_following.py
        [--space proxyless] [--backend torch-cpu] [--networks 5] [--reps 8] [--stat p0]
        [--min-time SECONDS]

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="proxyless")
    parser.add_argument("--backend", default="torch-cpu")
    parser.add_argument("--networks", type=int, default=5)
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--stat", default="p0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-time", type=float, default=None,
                        help="TimingConfig.min_time_s: the least time a measurement spans "
                             "before its statistic may be taken as stable")
    args = parser.parse_args(argv)

    import torch

    from hwnas.api.common import build_space
    from hwnas.tables.profile import make_backend
    from hwnas.tables.reference import build_model, choose_reference

    space = build_space(args.space)
    timing = None
    if args.min_time is not None:
        from profilers.timing import TimingConfig
        timing = TimingConfig(min_time_s=args.min_time)
    backend = make_backend(args.backend, threads=1, stat=args.stat, timing=timing)
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.networks + 1)]
    sigs = sorted({s.key: s for a in archs for s in space.ops(a)}.values(), key=lambda s: s.key)
    sig = choose_reference(backend, space, sigs)
    op_model, op_shape = build_model(backend, space, sig), (sig.cin, sig.h, sig.w)

    def model(arch):  # built once, exported once: the same instance every repetition
        torch.manual_seed(0)
        module = space.build(arch).eval()
        if backend.input_format == "onnx":
            from hwnas.nn.onnx_io import module_to_onnx
            return module_to_onnx(module, (backend.batch, *space.input_shape), backend.dtype)
        return module

    net_model, models = model(archs[0]), [model(a) for a in archs[1:]]

    def t(m, shape):
        return backend.measure(m, shape).value(args.stat)

    raw, op_ref, net_ref = [], [], []
    start = time.time()
    for _ in range(args.reps):
        before = (t(op_model, op_shape), t(net_model, space.input_shape))
        raw.append([t(m, space.input_shape) for m in models])
        after = (t(op_model, op_shape), t(net_model, space.input_shape))
        op_ref.append((before[0] + after[0]) / 2)
        net_ref.append((before[1] + after[1]) / 2)
    raw_a = np.asarray(raw)
    series = {"raw": raw_a, "÷ op reference": raw_a / np.asarray(op_ref)[:, None],
              "÷ network reference": raw_a / np.asarray(net_ref)[:, None]}
    floor = f"; min_time_s {args.min_time:g}" if args.min_time is not None else ""
    print(f"**{args.space} on {args.backend}** (one thread, {args.stat}; {args.networks} "
          f"networks × {args.reps} repetitions{floor}; op reference {sig.key}, "
          f"{np.median(op_ref):.3f} ms; network reference {np.median(net_ref):.2f} ms; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(start))}, "
          f"{time.time() - start:.0f} s; {platform.processor() or platform.machine()})\n")
    print("| times | spread per network (max/min − 1) | median spread | "
          "within ±10% of the network's median |")
    print("|---|---|---|---|")
    for name, v in series.items():
        spread = v.max(0) / v.min(0) - 1
        med = np.median(v, 0)
        within = float(np.mean(np.abs(v - med) <= 0.1 * med))
        cells = ", ".join(f"{100 * s:.0f}%" for s in spread)
        print(f"| {name} | {cells} | {100 * np.median(spread):.0f}% | {100 * within:.0f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
