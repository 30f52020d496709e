"""Peak memory and time of one training step of each one-shot method against training the
derived child alone: same space, same data, same batch.

Each measurement runs in a fresh process (`--one KIND`): the supernet (or child) is built, two
warm-up steps run (optimiser state, autograd's first allocations), then the kernel's resident
high-water mark is reset (/proc/self/clear_refs) and `--steps` steps are timed; the peak is the
high-water mark above the resident size before the measured steps. glibc returns allocations
of 64 KiB and more to the kernel when freed (MALLOC_MMAP_THRESHOLD_), so the resident size
follows tensors, not the allocator's cache. CPU only here; the GPU issue measures the same on
CUDA with the allocator's own peak.

    .venv/bin/python benchmarks/oneshot_steps.py [--resolution 16] [--batch 32]

Prints a markdown table for BENCHMARKS.md. Goal (one-shot issue): ProxylessNAS's weight step
at most 1.5x the child's peak memory; DARTS's step shown growing with the number of candidates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# kind -> (strategy, options, which step); "child" trains the derived network alone
KINDS = {
    "child": (None, {}, "weight"),
    "proxyless-weight": ("proxyless", {"mode": "two"}, "weight"),
    "proxyless-arch-two": ("proxyless", {"mode": "two"}, "arch"),
    "proxyless-arch-full": ("proxyless", {"mode": "full"}, "arch"),
    "darts-weight": ("darts", {}, "weight"),
    "darts-arch-1st": ("darts", {"order": 1}, "arch"),
    "darts-arch-2nd": ("darts", {"order": 2}, "arch"),
    "snas-step": ("snas", {}, "weight"),
    "fbnet-weight": ("fbnet", {}, "weight"),
}
CANDIDATE_COUNTS = (2, 4, 7)  # DARTS weight step with the first k candidates of each position


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(kind: str, resolution: int, batch: int, steps: int, candidates: int | None) -> dict:
    import torch

    from hwnas.data import load_dataset
    from hwnas.nn import train as nt
    from hwnas.oneshot.expected_cost import ExpectedCost
    from hwnas.oneshot.supernet import Supernet
    from hwnas.registry import STRATEGIES
    from hwnas.spaces.proxyless import ProxylessSpace

    torch.set_num_threads(1)
    torch.manual_seed(0)
    space = ProxylessSpace(resolution=resolution, num_classes=10)
    data = load_dataset("digits", resolution)
    gen = torch.Generator().manual_seed(0)
    xs = [data.train_x[i * batch:(i + 1) * batch] for i in range(steps + 3)]
    ys = [data.train_y[i * batch:(i + 1) * batch] for i in range(steps + 3)]
    strategy, options, step_kind = KINDS[kind]
    recipe = nt.TrainConfig(1, batch, 0.05, 5e-4)
    if strategy is None:
        # the heaviest child of the space: every layer mb_k7_e6 (an upper bound of any path)
        arch = space.decode([len(opts) - 2 if "zero" in opts else len(opts) - 1
                             for _, opts in space.choices()])
        model = space.build(arch)
        optimizer = nt.sgd(model.parameters(), recipe)

        def prepare(i):
            pass

        def step(i):
            loss = torch.nn.functional.cross_entropy(model(xs[i]), ys[i])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    else:
        supernet = Supernet(space)
        if candidates is not None:
            _keep_candidates(supernet, candidates)
        table = _table(space)
        cost = ExpectedCost(space, table) if candidates is None else None
        target = None if cost is None else sum(cost.range()) / 2
        cls = STRATEGIES.get(strategy)
        resolved = cls.resolve_options(options)
        method = cls.method_class()(supernet, nt.sgd(supernet.weight_parameters(), recipe),
                                    cost, target, float(resolved["lambda"]), resolved, gen)
        method.start_epoch(1, 10)

        def prepare(i):  # untimed: the arch step's own cost is what is measured
            if step_kind == "arch":
                method.weight_step(xs[i], ys[i])  # second order unrolls on this batch

        def step(i):
            if step_kind == "weight":
                method.weight_step(xs[i], ys[i])
            else:
                method.arch_step(xs[i + 1], ys[i + 1])
    for i in range(2):
        prepare(i)
        step(i)
    times, peak = [], 0
    for i in range(2, steps + 2):
        prepare(i)
        Path("/proc/self/clear_refs").write_text("5")  # the high-water mark := resident now
        before = rss_kib("VmRSS")
        start = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - start)
        peak = max(peak, rss_kib("VmHWM") - before)
    return {"kind": kind, "candidates": candidates, "peak_mib": peak / 1024,
            "step_ms": 1000 * statistics.median(times)}


def _keep_candidates(supernet, k: int) -> None:
    """Cut every mixed op (and α) to its first k candidates: DARTS's memory against k."""
    import torch

    for p, ops in enumerate(supernet.mixed):
        for op in ops:
            op.candidates = torch.nn.ModuleList(list(op.candidates)[:k])
        supernet.alphas[p] = torch.nn.Parameter(torch.zeros(min(k, len(supernet.alphas[p]))))


def _table(space):
    """Every op priced by its FLOPs (only E[lat]'s shape matters for a step's cost)."""
    from hwnas.latency.table import LatencyTable

    entries = {}
    for sig in space.all_ops():
        ms = 1e-3 * (sig.cin * sig.cout * sig.h * sig.w * max(sig.kernel, 1) ** 2) ** 0.5
        entries[sig.key] = {"p50": ms, "p90": ms, "mean": ms, "std": 0.0}
    return LatencyTable(backend="ort-cpu", device={"cpu": "bench"}, entries=entries)


def run_one(kind: str, args, candidates: int | None = None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "65536",
           "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, __file__, "--one", kind, "--resolution", str(args.resolution),
            "--batch", str(args.batch), "--steps", str(args.steps)]
    if candidates is not None:
        argv += ["--candidates", str(candidates)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--candidates", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.resolution, args.batch, args.steps,
                                 args.candidates)))
        return 0
    rows = [run_one(kind, args) for kind in KINDS]
    child = rows[0]["peak_mib"]
    print(f"Machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}; 1 thread.")
    print(f"Command: `.venv/bin/python benchmarks/oneshot_steps.py --resolution "
          f"{args.resolution} --batch {args.batch} --steps {args.steps}` "
          f"(proxyless space, digits at {args.resolution}x{args.resolution}, batch "
          f"{args.batch}; median of {args.steps} steps, peak above the resident size before "
          "them)\n")
    print("| step | peak memory (MiB) | × child | step time (ms) |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['peak_mib']:.1f} | {r['peak_mib'] / child:.2f} | "
              f"{r['step_ms']:.0f} |")
    print("\nDARTS weight step against the number of candidates per position:\n")
    print("| candidates | peak memory (MiB) | step time (ms) |")
    print("|---:|---:|---:|")
    for k in CANDIDATE_COUNTS:
        r = run_one("darts-weight", args, k)
        print(f"| {k} | {r['peak_mib']:.1f} | {r['step_ms']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
