"""Does pinning a single-threaded onnxruntime measurement to one core steady it?

The same exported network measured 1.158 ms once and 0.722 / 0.687 ms seconds later in one
`hwnas export` (BENCHMARKS.md, run D): two speeds about 1.5x apart. The torch-cpu backend pins
single-threaded measurements to one core (profilers/cpu_stability.py: scheduler migrations
made its medians bimodal); ort-cpu did not. This measures one ONNX model `--repeats` times in
each of three modes, interleaved (a fresh session per measurement, as the backend does):
the scheduler's choice of core, pinned to the last core, pinned to core 0; and reports, per
mode, the median of the p50s, their spread (p90/p10 of the p50s, max/min) and the cores the
unpinned runs ended on.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ort_pinning.py MODEL.onnx [--repeats 20]

Without a model it exports the proxyless space's default network at width 0.5 (16x16 input
would be too quick; 32x32 as the tables use).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cpu_now() -> int:
    """The core this process last ran on (/proc/self/stat, field 39)."""
    try:
        return int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[36])
    except (OSError, IndexError, ValueError):
        return -1


def _model(path: str | None) -> tuple[bytes, tuple[int, ...]]:
    if path:
        import onnx

        m = onnx.load(path)
        dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
        return Path(path).read_bytes(), tuple(dims[1:])
    from hwnas.nn.onnx_io import module_to_onnx
    from hwnas.spaces.proxyless import ProxylessSpace

    space = ProxylessSpace(width_mult=0.5)
    model = space.build(space.default_arch()).eval()
    return module_to_onnx(model, (1, *space.input_shape)), space.input_shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    from profilers.ort import OrtCPU

    data, shape = _model(args.model)
    backend = OrtCPU(threads=1)
    cores = sorted(os.sched_getaffinity(0))
    modes = {"scheduler's choice": None, f"pinned to core {cores[-1]}": {cores[-1]},
             f"pinned to core {cores[0]}": {cores[0]}}
    p50s: dict[str, list[float]] = {m: [] for m in modes}
    ended_on: list[int] = []
    for _ in range(args.repeats):
        for mode, pin in modes.items():
            before = os.sched_getaffinity(0)
            if pin:
                os.sched_setaffinity(0, pin)
            try:
                p50s[mode].append(backend.measure(data, shape).p50)
                if not pin:
                    ended_on.append(_cpu_now())
            finally:
                os.sched_setaffinity(0, before)
    print(f"model: {args.model or 'proxyless default, width 0.5'}; {args.repeats} measurements "
          "per mode, interleaved; ort-cpu, one thread, a fresh session each\n")
    print("| mode | median p50 (ms) | p90/p10 of the p50s | max/min | slow (> 1.25 x median) |")
    print("|---|---:|---:|---:|---:|")
    for mode, v in p50s.items():
        a = np.asarray(v)
        med = float(np.median(a))
        print(f"| {mode} | {med:.3f} | {np.quantile(a, 0.9) / np.quantile(a, 0.1):.2f} | "
              f"{a.max() / a.min():.2f} | {int((a > 1.25 * med).sum())}/{len(a)} |")
    from collections import Counter

    print(f"\nunpinned runs ended on cores: {dict(sorted(Counter(ended_on).items()))}")


if __name__ == "__main__":
    main()
