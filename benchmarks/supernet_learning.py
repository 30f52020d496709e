"""How fast does a single-path supernet learn, against one network trained alone?

ProxylessNAS's weight steps run one path drawn from p (uniform before α moves), SPOS's and
ENAS's one path too. This trains the `proxyless` supernet's weights on digits with the same SGD
recipe and batches under four path policies and logs the training loss (a running mean) and
the accuracy, on the held-out images, of a fixed probe network taken out of the supernet with
its BatchNorm statistics re-estimated:

- `fixed`: always the same path (mb_k3_e3 everywhere): a plain network, the reference;
- `uniform`: a path drawn uniformly at every step (ProxylessNAS's warm-up, SPOS);
- `uniform-shortcut-layers`: uniform only at the layers with an identity shortcut (every layer
  of a stage but the first), the first layer of each stage fixed;
- `uniform-stage-entries`: uniform only at the first layer of each stage (no shortcut; six
  MBConv candidates each, with separate weights), the others fixed.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/supernet_learning.py --steps 600

Prints a markdown table of loss and probe accuracy at checkpoints for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POLICIES = ("fixed", "uniform", "uniform-shortcut-layers", "uniform-stage-entries")


def run(policy: str, args) -> list[dict]:
    import torch
    import torch.nn.functional as F

    from hwnas.data import load_dataset
    from hwnas.nn import train as nt
    from hwnas.oneshot.supernet import Supernet
    from hwnas.registry import SPACES

    torch.set_num_threads(1)
    data = load_dataset("digits", args.resolution)
    space = SPACES.get("proxyless")(resolution=args.resolution, width_mult=args.width_mult,
                                    num_classes=data.num_classes)
    torch.manual_seed(args.seed)
    supernet = Supernet(space)
    optimizer = nt.sgd(supernet.weight_parameters(),
                       nt.TrainConfig(1, args.batch, args.lr, 4e-5))
    generator = torch.Generator().manual_seed(args.seed)
    sizes = [len(p.options) for p in supernet.positions]
    # a layer with `zero` among its options has an identity shortcut (same shape in and out)
    shortcut = ["zero" in p.options for p in supernet.positions]
    probe = [0] * len(sizes)  # mb_k3_e3 at every layer
    x, y = data.train_x, data.train_y
    rows, running, start = [], None, time.perf_counter()
    for step in range(1, args.steps + 1):
        nt.set_lr(optimizer, nt.cosine_lr(args.lr, step - 1, args.steps))
        idx = torch.randint(0, len(y), (args.batch,), generator=generator)
        draw = [int(torch.randint(0, k, (1,), generator=generator)) for k in sizes]
        path = [d if _random_here(policy, s) else 0 for d, s in zip(draw, shortcut, strict=True)]
        supernet.set_paths([[j] for j in path])
        supernet.train()
        loss = F.cross_entropy(supernet(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        running = value if running is None else 0.9 * running + 0.1 * value
        if step in args.checkpoints or step == args.steps:
            child = supernet.child(supernet.arch_of(probe))
            nt.recalibrate_bn(child, x, args.batch)
            acc = nt.evaluate_accuracy(child, data.val_x, data.val_y)
            rows.append({"step": step, "loss": running, "probe_acc": acc,
                         "seconds": time.perf_counter() - start})
            print(f"{policy} step {step}: loss {running:.3f} probe acc {acc:.3f}", flush=True)
    return rows


def _random_here(policy: str, has_shortcut: bool) -> bool:
    return {"fixed": False, "uniform": True, "uniform-shortcut-layers": has_shortcut,
            "uniform-stage-entries": not has_shortcut}[policy]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--checkpoints", type=lambda s: {int(v) for v in s.split(",")},
                        default={25, 50, 100, 200, 400})
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--width-mult", type=float, default=0.5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policies", default=",".join(POLICIES))
    args = parser.parse_args()
    results = {p: run(p, args) for p in args.policies.split(",")}
    steps = [r["step"] for r in next(iter(results.values()))]
    print(f"\nMachine: {platform.machine()}, Python {platform.python_version()}; one thread. "
          f"proxyless at resolution {args.resolution}, width {args.width_mult}, batch "
          f"{args.batch}, lr {args.lr} (cosine over {args.steps} steps), seed {args.seed}.\n")
    print("| policy | " + " | ".join(f"step {s}" for s in steps) + " | s/step |")
    print("|---|" + "---|" * (len(steps) + 1))
    for policy, rows in results.items():
        cells = " | ".join(f"{r['loss']:.2f} / {r['probe_acc']:.2f}" for r in rows)
        print(f"| {policy} | {cells} | {rows[-1]['seconds'] / rows[-1]['step']:.2f} |")
    print("\n(cells: running training loss / held-out accuracy of the mb_k3_e3 probe network "
          "with the supernet's weights)")


if __name__ == "__main__":
    main()
