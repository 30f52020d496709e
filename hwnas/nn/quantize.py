"""fp32 ONNX -> int8 ONNX, one way for every int8 model hwnas times (ops and whole networks).

A latency table's int8 entries and the int8 whole networks its calibration and validation time
must be quantized alike, or the table predicts networks that never run. So the settings are
data (`QuantSettings`), stored in the table's header, and `quantize_onnx` is the only place a
model is quantized. What onnxruntime leaves in fp32 (an op with no int8 kernel, e.g. a
Softmax or a pooling it does not quantize) stays as `quantize_static` leaves it: a table
times the network a user would ship, not a hand-picked one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hwnas.errors import BadInputError

# What each setting may be, as data: the values are onnxruntime.quantization's names.
FORMATS = ("QDQ",)  # QuantizeLinear/DequantizeLinear pairs, what ORT's optimizer fuses
TYPES = ("int8", "uint8")
METHODS = ("MinMax", "Entropy", "Percentile")
# "random-normal": seeded standard-normal inputs (tables: timing does not depend on the
# values); "train-images": images of the dataset's training split, stratified by class and
# seeded (`hwnas export --int8`: accuracy depends on the scales, so they come from what the
# network will see; hwnas.tables.export_int8)
CALIBRATION_DATA = ("random-normal", "train-images")


@dataclass(frozen=True)
class QuantSettings:
    """How a model is quantized; `to_dict()` is what a table stores in its header."""

    format: str = "QDQ"
    per_channel: bool = True  # one weight scale per output channel: what keeps int8 accurate
    weight_type: str = "int8"
    # uint8 activations against int8 weights (U8S8): the pairing ORT's x86 int8 GEMM (MLAS)
    # multiplies natively (vpmaddubsw / VNNI vpdpbusd take unsigned x signed), so it is what a
    # CPU deployment picks for speed; S8S8 is converted or emulated there.
    activation_type: str = "uint8"
    calibrate_method: str = "MinMax"
    # What calibration reads. Timing does not depend on the values: the scales change, the
    # kernels ORT chooses do not, so seeded random inputs of the model's input shape serve
    # for ops and for whole networks alike (no code path that times a table has the
    # dataset's images at hand). An exported int8 file is calibrated on training images
    # instead ("train-images"), and these three fields then say how many and which seed.
    calibration_data: str = "random-normal"
    calibration_samples: int = 4
    calibration_seed: int = 0
    # ORT's pre-processing (shape inference, constant folding) first, as its docs ask: the
    # exporter leaves some biases as Constant nodes, and quantize_static then leaves that
    # Conv in fp32 between DequantizeLinear/QuantizeLinear (a depthwise conv of an MBConv on
    # ORT 1.31), where after it every Conv of the block fuses into a QLinearConv.
    preprocess: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw, where: str = "quantization settings") -> QuantSettings:
        """Settings read back from a table, refused in one line when a value is not one this
        hwnas can quantize with (a network quantized otherwise would not be the table's)."""
        if not isinstance(raw, dict):
            raise BadInputError(f"{where} must be an object; got {raw!r:.60}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise BadInputError(f"{where} has unknown fields {unknown}; known: "
                                f"{', '.join(sorted(names))}")
        settings = cls(**raw)
        for name, allowed in (("format", FORMATS), ("weight_type", TYPES),
                              ("activation_type", TYPES), ("calibrate_method", METHODS),
                              ("calibration_data", CALIBRATION_DATA)):
            if getattr(settings, name) not in allowed:
                raise BadInputError(f"{where}: {name} {getattr(settings, name)!r:.40} is not "
                                    f"allowed; allowed: {', '.join(allowed)}")
        for name in ("per_channel", "preprocess"):
            if not isinstance(getattr(settings, name), bool):
                raise BadInputError(f"{where}: {name} must be true or false")
        for name in ("calibration_samples", "calibration_seed"):
            value = getattr(settings, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0 \
                    or (name == "calibration_samples" and value < 1):
                raise BadInputError(f"{where}: {name} must be an int >= "
                                    f"{1 if name == 'calibration_samples' else 0}; got {value!r}")
        return settings


INT8 = QuantSettings()  # what `--dtype int8` quantizes with


def random_calibration(shape: tuple[int, ...], settings: QuantSettings) -> list:
    """`settings.calibration_samples` seeded standard-normal arrays of `shape` (batch
    included), the same for the same shape run to run."""
    import numpy as np

    rng = np.random.default_rng(settings.calibration_seed)
    return [rng.standard_normal(shape, dtype=np.float32)
            for _ in range(settings.calibration_samples)]


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def quantize_onnx(model_bytes: bytes, settings: QuantSettings, calibration_inputs: list) -> bytes:
    """The fp32 ONNX model (one input) quantized statically with `settings`, its activation
    ranges read from `calibration_inputs` (arrays of the input's shape)."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx.load_from_string(model_bytes)
    input_name = model.graph.input[0].name
    types = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter([{input_name: x} for x in calibration_inputs])

        def get_next(self):
            return next(self._feeds, None)

    # quantize_static reads and writes paths; its calibration writes a helper model beside
    # them, so all of it lives in one temporary folder. Its advice (run pre-processing,
    # which `preprocess` does) goes to Python's root logger and the pre-processing session's
    # to ORT's default logger: neither belongs on a user's terminal, as in every session
    # hwnas makes (profilers.ort: log_severity_level 3).
    ort.set_default_logger_severity(3)
    with tempfile.TemporaryDirectory(prefix="hwnas-quant-") as tmp, _quiet_root_logger():
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(model_bytes)
        if settings.preprocess:
            pre = Path(tmp) / "pre.onnx"
            quant_pre_process(str(src), str(pre))
            src = pre
        quantize_static(str(src), str(dst), Reader(),
                        quant_format=getattr(QuantFormat, settings.format),
                        per_channel=settings.per_channel,
                        weight_type=types[settings.weight_type],
                        activation_type=types[settings.activation_type],
                        calibrate_method=getattr(CalibrationMethod, settings.calibrate_method))
        return dst.read_bytes()
