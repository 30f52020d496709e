"""The int8 file of `hwnas export --int8`: the proven fp32 file quantized (hwnas.nn.quantize)
with the run's table's settings, calibrated on images of the dataset's training split, and
scored through onnxruntime on the same held-out images as the fp32 file.

A table's ops are calibrated on seeded random inputs: timing does not depend on the values.
A shipped file's accuracy does: the activation scales come from the calibration inputs, and
random normal inputs are not the images the network sees. So the file is calibrated on
training images (never the held-out ones it is scored on), stratified by class and seeded,
and its settings say so (`calibration_data` "train-images", how many, which seed).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hwnas.nn.quantize import QuantSettings, quantize_onnx

CALIBRATION_IMAGES = 200  # a few hundred images settle MinMax ranges; more cost seconds only
CALIBRATION_SEED = 0
CALIBRATION_BATCH = 50  # images per calibration run (the file's batch axis is dynamic)
# int8 below fp32 by more than this on the same images is said in a warning (not a failure:
# quantization may cost accuracy, and the user decides whether the speed is worth it)
ACCURACY_DROP_WARNING = 0.02


@dataclass(frozen=True)
class Int8Plan:
    """What `export_arch` needs to add the int8 file: `settings` it is quantized with
    (calibrated on `calibration`, arrays of training images), `timing_settings` the
    re-timing backend quantizes its reference op with (the table's: as the table timed it),
    `compared`: the table is int8, so its prediction is of this file and is compared with its
    re-timing; `why`: what asked for it (--int8, or the run's int8 table)."""

    settings: QuantSettings
    calibration: tuple
    timing_settings: QuantSettings
    compared: bool
    why: str


def export_settings(base: QuantSettings, train_images: int) -> QuantSettings:
    """`base` (the table's settings, or INT8), calibrated on training images instead."""
    return dataclasses.replace(base, calibration_data="train-images",
                               calibration_samples=min(CALIBRATION_IMAGES, train_images),
                               calibration_seed=CALIBRATION_SEED)


def calibration_images(train_x, train_y, settings: QuantSettings) -> tuple:
    """`settings.calibration_samples` images of the training split (normalised, at the
    export's resolution), in class proportions, chosen by `settings.calibration_seed`; in
    batches of CALIBRATION_BATCH."""
    from hwnas.data import stratified_split

    labels = train_y.detach().cpu().numpy()
    chosen, _ = stratified_split(labels, min(settings.calibration_samples, len(labels)),
                                 seed=settings.calibration_seed)
    x = train_x[chosen].detach().cpu().numpy().astype(np.float32)
    return tuple(x[s:s + CALIBRATION_BATCH] for s in range(0, len(x), CALIBRATION_BATCH))


def quantize_file(fp32_bytes: bytes, plan: Int8Plan) -> bytes:
    """The fp32 file (metadata and dynamic batch axis kept) in QDQ int8, with a line of
    metadata saying how it was quantized."""
    import json

    from hwnas.nn.onnx_io import with_metadata

    data = quantize_onnx(fp32_bytes, plan.settings, list(plan.calibration))
    return with_metadata(data, {"hwnas.quantization": json.dumps(plan.settings.to_dict(),
                                                                 sort_keys=True)})


def int8_accuracy(fp32_bytes: bytes, int8_bytes: bytes, evaluation) -> dict:
    """Both files through onnxruntime on the same held-out images: their accuracies and the
    share of images where they predict the same class."""
    from hwnas.nn.onnx_accuracy import onnx_predictions

    x = evaluation.x.detach().cpu().numpy().astype(np.float32)
    y = evaluation.y.detach().cpu().numpy()
    fp32, int8 = onnx_predictions(fp32_bytes, x), onnx_predictions(int8_bytes, x)
    return {"split": evaluation.split, "images": len(y), "int8": float(np.mean(int8 == y)),
            "fp32": float(np.mean(fp32 == y)), "agreement": float(np.mean(int8 == fp32))}


def int8_warnings(int8: dict | None) -> list[str]:
    """A line when the int8 file loses more than ACCURACY_DROP_WARNING on the held-out split."""
    accuracy = (int8 or {}).get("onnx_accuracy")
    if not accuracy or accuracy["fp32"] - accuracy["int8"] <= ACCURACY_DROP_WARNING:
        return []
    return [f"the int8 file scores {accuracy['int8']:.4f} on the {accuracy['images']} held-out "
            f"{accuracy['split']} images, {100 * (accuracy['fp32'] - accuracy['int8']):.1f} "
            f"points below the fp32 file's {accuracy['fp32']:.4f}: int8 costs this network "
            "accuracy; ship the fp32 file where that matters"]
