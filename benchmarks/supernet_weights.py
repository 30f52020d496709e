"""Entangled or separate supernet weights: which single-path supernet learns, and ranks?

Trains the `proxyless` supernet (digits at 16x16, width 0.5) with one uniformly drawn path per
minibatch (SPOS's and the `shared` estimator's training; ProxylessNAS's before α moves) under
each weight mode of hwnas.oneshot.weight_options, with the same recipe and data order:
SGD with Nesterov momentum 0.9, lr 0.05 cosine-decayed over the N steps, weight decay 5e-4,
label smoothing 0.1, batch 64, shuffled epochs of the training split, one thread.

At each checkpoint it reports:
- the training loss (running mean, decay 0.9);
- the held-out accuracy of a fixed probe network (mb_k3_e3 at every layer) with the
  supernet's weights, BatchNorm re-estimated as the `shared` estimator does (4 training
  minibatches, the same for every network);
- Kendall τ between the inherited-weight accuracy (the same way) and the accuracy the
  `scratch` estimator gives at `--preset fast` (2 epochs, 768 images at 16x16; longer or on
  more images with --reference-epochs and --reference-images; the mean over several seeds
  with --reference-seeds) over
  `--networks` random architectures. The scratch accuracies are cached in `--cache`, so a rerun
  only trains supernets. `--ceiling` also gives τ between scratch at two seeds: how well the
  reference ranks itself (`--modes ""` for that alone).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/supernet_weights.py --steps 400

Prints a markdown table for BENCHMARKS.md and writes every number to `--out` (JSON).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = {"separate": ("separate", False), "entangled": ("entangled", False),
         "entangled+kt": ("entangled", True)}
SCRATCH_FAST = {"epochs": 2, "resolution": 16, "train_subset": 768}  # scratch's --preset fast
BN_BATCHES, CALIBRATION_SEED = 4, 2  # the `shared` estimator's defaults


def make_space(args, num_classes: int):
    from hwnas.registry import SPACES

    return SPACES.get("proxyless")(resolution=args.resolution, width_mult=args.width_mult,
                                   num_classes=num_classes)


def networks(space, n: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    out, seen = [], set()
    while len(out) < n:
        arch = space.sample(rng)
        if arch.key not in seen:
            seen.add(arch.key)
            out.append(arch)
    return out


def reference_options(args) -> dict:
    """The scratch estimator's settings for the reference: --preset fast, or longer training
    on more images (--reference-epochs, --reference-images; 0 images = the whole split)."""
    out = dict(SCRATCH_FAST)
    if args.reference_epochs:
        out["epochs"] = args.reference_epochs
    if args.reference_images is not None:
        out["train_subset"] = args.reference_images or None
    return out


def scratch_accuracies(space, archs, args, seed: int) -> list[float]:
    """The `scratch` estimator's accuracy of each network (`reference_options`) with `seed`, cached
    on disk (keyed by the settings and the architecture)."""
    from hwnas.estimators.scratch import ScratchEstimator

    cache_path = Path(args.cache)
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    reference = reference_options(args)
    settings = json.dumps({"space": space.config(), "seed": seed, **reference}, sort_keys=True)
    table = cache.setdefault(settings, {})
    estimator = ScratchEstimator(space, "digits", seed=seed, threads=1, **reference)
    out = []
    for i, arch in enumerate(archs):
        if arch.key not in table:
            start = time.perf_counter()
            table[arch.key] = estimator.estimate(arch).accuracy
            cache_path.write_text(json.dumps(cache))
            print(f"scratch {i + 1}/{len(archs)}: {table[arch.key]:.3f} "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
        out.append(table[arch.key])
    return out


def print_reliability(per_seed: list[list[float]]) -> None:
    """How well the reference ranks itself: Kendall τ between every two seeds, and between the
    means of the first and the second half of the seeds."""
    import itertools

    from scipy.stats import kendalltau

    def tau(a, b) -> float:
        return float(kendalltau(a, b).statistic)

    def mean(rows):
        return [sum(v) / len(v) for v in zip(*rows, strict=True)]

    pairs = [tau(a, b) for a, b in itertools.combinations(per_seed, 2)]
    half = len(per_seed) // 2
    print(f"\nreference over {len(per_seed)} seeds: Kendall τ between two seeds "
          f"{sum(pairs) / len(pairs):.3f} on average ({min(pairs):.3f}-{max(pairs):.3f}); "
          f"between the means of seeds 1-{half} and {half + 1}-{len(per_seed)}: "
          f"{tau(mean(per_seed[:half]), mean(per_seed[half:])):.3f}", flush=True)


def run(mode: str, args, data, archs, scratch) -> list[dict]:
    import torch
    import torch.nn.functional as F
    from scipy.stats import kendalltau

    from hwnas.nn import train as nt
    from hwnas.oneshot.single_path import calibration_batches, inherited_accuracy
    from hwnas.oneshot.supernet import Supernet

    weights, transform = MODES[mode]
    space = make_space(args, data.num_classes)
    torch.manual_seed(args.seed)
    supernet = Supernet(space, weights=weights, kernel_transform=transform)
    config = nt.TrainConfig(1, args.batch, args.lr, 5e-4, 0.1)
    optimizer = nt.sgd(supernet.weight_parameters(), config)
    generator = torch.Generator().manual_seed(args.seed)
    sizes = [len(p.options) for p in supernet.positions]
    probe = supernet.arch_of([p.options.index("mb_k3_e3") for p in supernet.positions])
    x, y = data.train_x, data.train_y
    calib = calibration_batches(x, args.batch, BN_BATCHES, CALIBRATION_SEED)
    parts = list(nt.batches(len(y), args.batch))
    rows, running, step, start, train_seconds = [], None, 0, time.perf_counter(), 0.0
    while step < args.steps:
        order = torch.randperm(len(y), generator=generator)
        for part in parts:
            if step == args.steps:
                break
            tick = time.perf_counter()
            nt.set_lr(optimizer, nt.cosine_lr(args.lr, step, args.steps))
            path = [int(torch.randint(k, (1,), generator=generator)) for k in sizes]
            supernet.set_paths([[j] for j in path])
            supernet.train()
            idx = order[part]
            loss = F.cross_entropy(supernet(x[idx]), y[idx], label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            train_seconds += time.perf_counter() - tick
            step += 1
            value = float(loss.detach())
            running = value if running is None else 0.9 * running + 0.1 * value
            if step in args.checkpoints or step == args.steps:
                acc = inherited_accuracy(supernet, probe, calib, data.val_x, data.val_y)
                inherited = [inherited_accuracy(supernet, a, calib, data.val_x, data.val_y)
                             for a in archs]
                tau = float(kendalltau(inherited, scratch).statistic)
                rows.append({"step": step, "loss": running, "probe_acc": acc, "tau": tau,
                             "inherited": inherited, "train_s_per_step": train_seconds / step,
                             "seconds": time.perf_counter() - start})
                print(f"{mode} step {step}: loss {running:.3f} probe acc {acc:.3f} tau "
                      f"{tau:.3f} (mean inherited {sum(inherited) / len(inherited):.3f})",
                      flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--checkpoints", type=lambda s: {int(v) for v in s.split(",")},
                        default={50, 100, 200, 400})
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--width-mult", type=float, default=0.5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--cache", default="/tmp/hwnas_supernet_weights_scratch.json")
    parser.add_argument("--out", default="/tmp/hwnas_supernet_weights.json")
    parser.add_argument("--reference-epochs", type=int, default=None,
                        help="the scratch reference's epochs (default: --preset fast's 2)")
    parser.add_argument("--reference-images", type=int, default=None,
                        help="the scratch reference's training images (default: --preset "
                             "fast's 768; 0: the whole training split)")
    parser.add_argument("--reference-seeds", type=int, default=1,
                        help="the reference is the mean accuracy over this many seeds (seed, "
                             "seed+1, ...); with 2 or more, how well it ranks itself is "
                             "printed")
    parser.add_argument("--ceiling", action="store_true",
                        help="also τ between scratch at seed and seed+1: how well the scratch "
                             "reference ranks itself, the most any estimator can reach")
    args = parser.parse_args()

    import torch

    from hwnas.data import load_dataset

    torch.set_num_threads(1)
    data = load_dataset("digits", args.resolution)
    space = make_space(args, data.num_classes)
    archs = networks(space, args.networks, args.seed)
    start = time.perf_counter()
    per_seed = [scratch_accuracies(space, archs, args, args.seed + k)
                for k in range(args.reference_seeds)]
    scratch = [sum(values) / len(values) for values in zip(*per_seed, strict=True)]
    scratch_seconds = time.perf_counter() - start
    if args.reference_seeds > 1:
        print_reliability(per_seed)
    if args.ceiling:
        from scipy.stats import kendalltau

        again = scratch_accuracies(space, archs, args, args.seed + 1)
        print(f"\nscratch {reference_options(args)}, seed {args.seed} against seed "
              f"{args.seed + 1} over the same {len(archs)} networks: Kendall τ "
              f"{float(kendalltau(scratch, again).statistic):.3f} (accuracies "
              f"{min(scratch + again):.3f}-{max(scratch + again):.3f})", flush=True)
    results = {m: run(m, args, data, archs, scratch) for m in args.modes.split(",") if m}
    if not results:
        return
    Path(args.out).write_text(json.dumps({"args": {k: (sorted(v) if isinstance(v, set) else v)
                                                   for k, v in vars(args).items()},
                                          "scratch": scratch, "results": results}))
    steps = [r["step"] for r in next(iter(results.values()))]
    print(f"\nMachine: {platform.machine()}, Python {platform.python_version()}, torch "
          f"{torch.__version__}; one thread. proxyless at resolution {args.resolution}, width "
          f"{args.width_mult}, batch {args.batch}, lr {args.lr} (cosine over {args.steps} "
          f"steps), seed {args.seed}; τ over {len(archs)} random networks against scratch "
          f"{reference_options(args)}, mean of {args.reference_seeds} seed(s) "
          f"(mean {sum(scratch) / len(scratch):.3f}, min {min(scratch):.3f}, "
          f"max {max(scratch):.3f}; {scratch_seconds:.0f} s, 0 when cached).\n")
    print("| weights | " + " | ".join(f"step {s}" for s in steps) + " | s/step |")
    print("|---|" + "---|" * (len(steps) + 1))
    for mode, rows in results.items():
        cells = " | ".join(f"{r['loss']:.2f} / {r['probe_acc']:.2f} / {r['tau']:.2f}"
                           for r in rows)
        print(f"| {mode} | {cells} | {rows[-1]['train_s_per_step']:.2f} |")
    print("\n(cells: running training loss / held-out accuracy of the mb_k3_e3 probe network "
          "/ Kendall τ of inherited against scratch accuracy; s/step: training steps only)")


if __name__ == "__main__":
    main()
