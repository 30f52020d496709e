"""Export a network to ONNX and prove it: onnx.checker, onnxruntime parity, the file's own
accuracy on held-out images, measured latency."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hwnas.arch import Arch
from hwnas.errors import BadInputError, HwnasRuntimeError
from hwnas.fileio import atomic_write_bytes
from hwnas.nn.onnx_io import module_to_onnx, with_metadata
from hwnas.spaces.base import SearchSpace

PARITY_TOLERANCE = 1e-4
PARITY_INPUTS = 4


@dataclass(frozen=True)
class ExportReport:
    arch_key: str
    arch: str
    onnx_path: str
    weights: str  # what the weights are (hwnas.api.candidate.DeployWeights.describe)
    max_abs_diff: float
    tolerance: float
    measured_backend: str
    measured_ms: dict  # Measurement.to_dict(): p0/p10/p50/p90/mean/std/n
    predicted_ms: float | None
    table_backend: str | None
    # re-timed in passes next to the table's reference workload (hwnas.tables.retime): "ms" is
    # the median at the table's reference speed, what the prediction is compared with
    at_table_speed: dict | None = None
    input_shape: tuple = ()  # ("batch", C, H, W): the file's input, batch axis dynamic
    # the file's own accuracy through onnxruntime on held-out images (AccuracyCheck.to_dict),
    # None where the run's dataset cannot score the network
    onnx_accuracy: dict | None = None
    metadata: dict = field(default_factory=dict)  # what the file's metadata_props hold
    # the accuracies a user compares, each saying what it is (filled by hwnas.api.export)
    accuracies: dict | None = None
    stat: str = "p50"  # the statistic predicted and compared (the table's)
    # the int8 file beside this one (`--int8`, or a run whose table is int8): its path,
    # quantization settings, accuracy, measured latency (hwnas.tables.export_int8)
    int8: dict | None = None
    # which file the prediction is of and compared with: the table's dtype ("int8" when the
    # run's table is int8, its re-timing then in int8["at_table_speed"])
    compared: str = "fp32"

    @property
    def compared_timing(self) -> tuple[dict, dict | None]:
        """The measurement and the careful re-timing of the file the prediction is of."""
        if self.compared == "int8" and self.int8 is not None:
            return self.int8["measured_ms"], self.int8["at_table_speed"]
        return self.measured_ms, self.at_table_speed

    @property
    def compared_ms(self) -> float:
        """The measured latency the prediction is compared with, in the same statistic."""
        measured, careful = self.compared_timing
        if careful:
            return careful["ms"]
        return measured.get(self.stat, measured["p50"])

    @property
    def prediction_error(self) -> float | None:
        """(predicted - measured) / measured, when there is a prediction."""
        if self.predicted_ms is None:
            return None
        return (self.predicted_ms - self.compared_ms) / self.compared_ms

    def to_dict(self) -> dict:
        return {**asdict(self), "prediction_error": self.prediction_error}


@dataclass(frozen=True)
class Evaluation:
    """Held-out images (torch tensors at the export's resolution) the file is scored on, and
    the accuracy hwnas reports for the weights (None: nothing claimed)."""

    x: object
    y: object
    claimed: float | None
    split: str = "test"


def export_arch(space: SearchSpace, arch: Arch, out: str | Path, *, state_dict: dict | None,
                weights: str, predicted_ms: float | None = None,
                table_backend: str | None = None, backend: str = "ort-cpu",
                threads: int | None = None, retime=None, evaluation: Evaluation | None = None,
                metadata: dict[str, str] | None = None, stat: str = "p50",
                int8=None) -> ExportReport:
    """Write `arch` (with `state_dict`, or randomly initialised) to `out` as ONNX with a
    dynamic batch axis and `metadata`, after proving it: onnx.checker, parity with PyTorch on
    random inputs, and (with `evaluation`) its own accuracy through onnxruntime on held-out
    images against the accuracy claimed for the weights. Nothing is written when a check fails.

    `retime(profiler, model_bytes, input_shape) -> dict | None`: the written model timed
    again the careful way (hwnas.tables.retime) on the re-timing backend, or None where that
    cannot be done; the caller's, as only it knows the table. `stat`: the latency statistic
    the prediction is in, and so the one measured to compare with it.

    `int8` (hwnas.tables.export_int8.Int8Plan): the proven file is also quantized, scored on
    the same held-out images and written beside it as `<name>.int8.onnx` (before either is
    written, so a failure writes neither), then measured on the same backend in int8; where
    the plan is `compared`, `retime` re-times the int8 file, not the fp32 one."""
    import onnx

    from hwnas.nn.onnx_accuracy import check_accuracy

    profiler = _onnx_profiler(backend, threads, stat)  # a wrong backend is refused before any write
    int8_profiler = None if int8 is None else _onnx_profiler(
        backend, threads, stat, dtype="int8", quantization=int8.timing_settings)
    if state_dict is not None:
        refuse_non_finite(state_dict, f"the weights of {arch.key}")
    model = space.build(arch)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    else:
        _estimate_batchnorm_statistics(model, (8, *space.input_shape))
    model.eval()
    shape = (1, *space.input_shape)
    data = with_metadata(module_to_onnx(model, shape, dynamic_batch=True), metadata or {})
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    diff = _parity(model, data, shape)
    if not diff <= PARITY_TOLERANCE:
        raise HwnasRuntimeError(f"onnxruntime output differs from PyTorch by {diff:.3g} "
                                f"(> {PARITY_TOLERANCE:g}); the ONNX file was not written")
    accuracy = None
    if evaluation is not None:
        accuracy = check_accuracy(data, model, evaluation.x, evaluation.y,
                                  claimed=evaluation.claimed, split=evaluation.split).to_dict()
    quantized, int8_scores = None, None
    if int8 is not None:
        from hwnas.tables.export_int8 import int8_accuracy, quantize_file

        quantized = quantize_file(data, int8)
        int8_scores = None if evaluation is None else int8_accuracy(data, quantized, evaluation)
    path = atomic_write_bytes(out, data)
    int8_path = None if quantized is None else atomic_write_bytes(int8_path_for(path), quantized)
    # the backend adds the batch dimension
    measured = profiler.measure(data, shape[1:]).to_dict()
    compared = "int8" if int8 is not None and int8.compared else "fp32"
    careful = retime(profiler, data, shape[1:]) if retime and compared == "fp32" else None
    int8_report = None
    if int8 is not None:
        int8_report = {
            "onnx_path": str(int8_path), "why": int8.why,
            "quantization": int8.settings.to_dict(), "onnx_accuracy": int8_scores,
            "measured_backend": backend, "measured_dtype": "int8",
            "measured_ms": int8_profiler.measure(quantized, shape[1:]).to_dict(),
            "at_table_speed": (retime(int8_profiler, quantized, shape[1:])
                               if retime and compared == "int8" else None),
            "bytes": len(quantized), "fp32_bytes": len(data)}
    return ExportReport(arch.key, str(arch), str(path), weights, diff, PARITY_TOLERANCE,
                        backend, measured, predicted_ms, table_backend, careful,
                        ("batch", *space.input_shape), accuracy, dict(metadata or {}),
                        stat=stat, int8=int8_report, compared=compared)


def int8_path_for(out: Path) -> Path:
    """Where the int8 file goes: beside the fp32 one, `model.onnx` -> `model.int8.onnx`."""
    return out.with_suffix(".int8.onnx")


def remove_stale_int8(out: Path) -> str | None:
    """After an fp32-only export to `out`: an int8 file beside it from an earlier export is of
    another network (or other weights), and shipping the pair would deploy that one. Removed
    when its metadata says hwnas quantized it; left, with a warning, when it is not hwnas's."""
    import onnx

    stale = int8_path_for(out)
    if not stale.is_file():
        return None
    try:
        props = {p.key for p in onnx.load(str(stale), load_external_data=False).metadata_props}
    except Exception:  # noqa: BLE001 - not an ONNX file hwnas can read: not ours to remove
        props = set()
    if "hwnas.quantization" in props:
        stale.unlink()
        return (f"removed {stale}: an earlier export's int8 file, not of this network (this "
                "export wrote none; add --int8 for one)")
    return (f"{stale} is beside the exported file but was not written by this export; it is "
            "not of this network")


def _estimate_batchnorm_statistics(model, shape: tuple[int, ...]) -> None:
    """An untrained network gets BN statistics of its own activations on random inputs: with
    the defaults its eval-mode output would not depend on its input, and parity would prove
    nothing (seen on nb201: two inputs gave outputs 2e-8 apart)."""
    import torch

    from hwnas.nn.batchnorm import recalibrate_batchnorm

    gen = torch.Generator().manual_seed(0)
    recalibrate_batchnorm(model, (torch.randn(*shape, generator=gen) for _ in range(4)))


def refuse_non_finite(state_dict: dict, what: str, hint: str = "") -> None:
    """One-line BadInputError when a state_dict holds NaN or inf: such a network outputs NaN,
    and exporting it would prove nothing."""
    from hwnas.nn.train import non_finite_tensors

    bad = non_finite_tensors(state_dict)
    if bad:
        shown = ", ".join(bad[:3]) + (f" (+{len(bad) - 3} more)" if len(bad) > 3 else "")
        raise BadInputError(f"{what} hold NaN or inf values in {len(bad)} tensor(s): {shown}; "
                            f"refusing to export a network that outputs NaN{hint}")


def _parity(model, onnx_bytes: bytes, shape: tuple[int, ...]) -> float:
    """Largest |onnxruntime - PyTorch| over several random inputs. An output holding NaN or
    inf is a failure, never a difference of 0: `max(0.0, nan)` is 0.0, which once reported
    perfect parity for a model whose every output was NaN."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(0)
    worst = 0.0
    for _ in range(PARITY_INPUTS):
        x = torch.randn(*shape, generator=gen)
        with torch.inference_mode():
            expected = model(x).numpy()
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        if not (np.isfinite(expected).all() and np.isfinite(got).all()):
            raise HwnasRuntimeError("the network outputs NaN or inf (PyTorch: "
                                    f"{_count_bad(expected)}, onnxruntime: {_count_bad(got)} "
                                    "values); parity cannot hold and the ONNX file was not "
                                    "written")
        worst = max(worst, float(np.max(np.abs(got - expected))))
    return worst


def _count_bad(a: np.ndarray) -> str:
    return f"{int((~np.isfinite(a)).sum())} of {a.size}"


def _onnx_profiler(backend: str, threads: int | None, stat: str, dtype: str = "fp32",
                   quantization=None):
    from hwnas.tables.profile import make_backend

    profiler = make_backend(backend, threads=threads, stat=stat, dtype=dtype,
                            quantization=quantization)
    if profiler.input_format != "onnx":
        raise BadInputError(f"backend {backend!r} runs PyTorch modules, not the exported ONNX "
                            "file; re-time with ort-cpu, ort-cuda or ort-tensorrt")
    return profiler
