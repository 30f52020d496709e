"""What a backend times for a torch module: the module, its ONNX export, or that export
quantized to int8 with the settings the backend (and its table) carry.

Ops (hwnas.tables.profile), reference workloads (hwnas.tables.reference) and whole networks
(hwnas.tables.validate, calibrate) all pass through `backend_model`, so an int8 table and the
networks it is calibrated and validated on are quantized by one function with one set of
settings (hwnas.nn.quantize).
"""

from __future__ import annotations

from hwnas.errors import BadInputError
from hwnas.latency.table import LatencyTable
from hwnas.nn.onnx_io import module_to_onnx
from hwnas.nn.quantize import INT8, QuantSettings, quantize_onnx, random_calibration


def table_quantization(table: LatencyTable) -> QuantSettings | None:
    """The settings an int8 table's models were quantized with (None for other dtypes): what
    every later measurement for it (fill, calibrate, validate) quantizes with again."""
    if table.dtype != "int8":
        return None
    where = f"latency table {table.path}" if table.path else "latency table"
    settings = QuantSettings.from_dict(table.quantization, f"{where}: 'quantization'")
    if settings.calibration_data != INT8.calibration_data:
        # "train-images" is what an exported file is calibrated on; every model a table
        # times is calibrated on random inputs (backend_model), which its header must say
        raise BadInputError(f"{where}: 'quantization': calibration_data "
                            f"{settings.calibration_data!r:.40} is not what a table's models "
                            f"are calibrated on; allowed: {INT8.calibration_data}")
    return settings


def quantization_record(backend) -> dict | None:
    """What a new table stores about its quantization: the backend's settings as data."""
    if backend.dtype != "int8":
        return None
    return (getattr(backend, "quantization", None) or INT8).to_dict()


def backend_model(backend, module, sample_shape: tuple[int, ...]):
    """What `backend.measure` takes for an eval-mode torch module: the module itself, or
    ONNX bytes, quantized (hwnas.nn.quantize) when the backend times int8. Ops, reference
    workloads and whole networks all pass here, so a table and the networks it is checked
    on are quantized alike."""
    if backend.input_format != "onnx":
        return module
    shape = (backend.batch, *sample_shape)
    if backend.dtype != "int8":
        return module_to_onnx(module, shape, backend.dtype)
    settings = getattr(backend, "quantization", None) or INT8
    return quantize_onnx(module_to_onnx(module, shape, "fp32"), settings,
                         random_calibration(shape, settings))


def quantization_note(table: LatencyTable) -> str | None:
    """For an int8 table's calibration or validation report: how its whole networks were
    quantized (no code path that times them has the dataset's images at hand)."""
    settings = table_quantization(table)
    if settings is None:
        return None
    return (f"int8 networks quantized as the table's ops were ({settings.format}, "
            f"per-channel {settings.weight_type} weights, {settings.activation_type} "
            f"activations), calibrated on {settings.calibration_samples} seeded "
            f"{settings.calibration_data} inputs of the input shape, not on images")
