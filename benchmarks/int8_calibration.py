"""int8 accuracy of an exported network by what its activations are calibrated on: seeded
random-normal inputs (what a latency table's int8 models use: timing does not depend on the
values) against images of the training split (what `hwnas export --int8` uses), scored through
onnxruntime on the same held-out test images as the fp32 file.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/int8_calibration.py RUN/model.onnx \\
        [--dataset digits] [--resolution 32]

MODEL is the fp32 file `hwnas export` wrote (its resolution: the export's). Prints one line
per calibration setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="the fp32 ONNX file hwnas export wrote")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--resolution", type=int, default=32)
    args = parser.parse_args()

    import numpy as np

    from hwnas.data import load_dataset
    from hwnas.nn.onnx_accuracy import onnx_predictions
    from hwnas.nn.quantize import INT8, quantize_onnx, random_calibration
    from hwnas.tables.export_int8 import calibration_images, export_settings

    fp32 = args.model.read_bytes()
    data = load_dataset(args.dataset, args.resolution)
    x, y = data.test_x.numpy(), data.test_y.numpy()

    def accuracy(model: bytes) -> float:
        return float(np.mean(onnx_predictions(model, x) == y))

    shape = (1, *x.shape[1:])
    print(f"fp32: {accuracy(fp32):.4f} on {len(y)} held-out images")
    for n in (4, 200):
        s = dataclasses.replace(INT8, calibration_samples=n)
        print(f"int8, {n} random-normal inputs: "
              f"{accuracy(quantize_onnx(fp32, s, random_calibration(shape, s))):.4f}")
    for seed, n in ((0, 200), (1, 200), (0, 20)):
        s = dataclasses.replace(export_settings(INT8, len(data.train_y)), calibration_seed=seed,
                                calibration_samples=n)
        images = list(calibration_images(data.train_x, data.train_y, s))
        print(f"int8, {n} training images (seed {seed}): "
              f"{accuracy(quantize_onnx(fp32, s, images)):.4f}")


if __name__ == "__main__":
    main()
