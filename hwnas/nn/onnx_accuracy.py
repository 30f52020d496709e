"""The exported file's own accuracy, computed through onnxruntime on held-out images.

Parity with PyTorch on random inputs proves the graph computes what the module computes; it
cannot tell whether the module is the one that was measured. Weights trained at 16x16 and
exported at 32x32 pass parity and score at chance on the images the file will see (it predicted
"1" for 358 of 359 digits). So the file is run, as a user would run it, on the held-out test
split at its own input resolution, and its accuracy must match what hwnas reports for those
weights within `TOLERANCE`, or the export fails and nothing is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hwnas.errors import HwnasRuntimeError

TOLERANCE = 0.02  # 2 points: the export's own accuracy against the one hwnas reports
BATCH = 256  # images per onnxruntime call (the file has a dynamic batch axis)


@dataclass(frozen=True)
class AccuracyCheck:
    """`onnx`: the file's accuracy through onnxruntime; `torch`: the same weights in PyTorch
    on the same images; `claimed`: what hwnas reports for the weights (None: nothing is
    claimed, e.g. an untrained network); `agreement`: share of images where both predict the
    same class."""

    split: str
    images: int
    onnx: float
    torch: float
    agreement: float
    claimed: float | None
    tolerance: float = TOLERANCE

    def to_dict(self) -> dict:
        return asdict(self)


def onnx_predictions(onnx_bytes: bytes, x: np.ndarray, batch: int = BATCH) -> np.ndarray:
    """Top-1 class of every image of `x` (N, C, H, W float32) through onnxruntime's CPU
    provider."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # predictions do not depend on it; the machine is shared
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = [np.argmax(session.run(None, {name: x[s:s + batch]})[0], axis=1)
           for s in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def check_accuracy(onnx_bytes: bytes, model, x, y, *, claimed: float | None,
                   split: str = "test") -> AccuracyCheck:
    """Run the file on (x, y) (torch tensors) and compare with `model` and with `claimed`;
    HwnasRuntimeError when the file's accuracy is more than TOLERANCE off `claimed` (or, with
    nothing claimed, off the module's own accuracy on the same images)."""
    import torch

    images = x.detach().cpu().numpy().astype(np.float32)
    labels = y.detach().cpu().numpy()
    got = onnx_predictions(onnx_bytes, images)
    model.eval()
    with torch.inference_mode():
        expected = np.concatenate([model(x[s:s + BATCH]).argmax(1).cpu().numpy()
                                   for s in range(0, len(x), BATCH)])
    check = AccuracyCheck(split, len(labels), float(np.mean(got == labels)),
                          float(np.mean(expected == labels)), float(np.mean(got == expected)),
                          claimed)
    against = claimed if claimed is not None else check.torch
    if abs(check.onnx - against) > TOLERANCE:
        what = "hwnas reports for these weights" if claimed is not None else \
            "the same weights reach in PyTorch"
        raise HwnasRuntimeError(
            f"the exported file scores {check.onnx:.4f} on the {len(labels)} held-out {split} "
            f"images through onnxruntime, but {what} {against:.4f} (more than "
            f"{100 * TOLERANCE:.0f} points apart; the two agree on {100 * check.agreement:.1f}% "
            "of the images); the ONNX file was not written")
    return check
