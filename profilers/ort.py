"""ort-cpu, ort-cuda, ort-tensorrt: ONNX Runtime with one execution provider (EP) each.

They take ONNX model bytes. onnxruntime is imported only inside methods, and the `onnx`
package is not needed at all (the probe model below is stored as bytes), so a device needs
just numpy and onnxruntime.

GPU EPs use plain ``session.run`` with inputs and outputs on the host: each timed call includes
the host-to-device copy of the input and the copy of the output back. For the small tensors of
a single op that is microseconds, but a latency table pays it per op where a whole network pays
it once, so GPU tables from these backends lean high. io_binding with device-resident buffers
would remove it; it is not used because no machine this is tested on has a GPU build of ORT
that runs, and an untested path is worse than a documented bias.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from . import memory
from .base import Backend, BackendUnavailable, register_backend
from .device import nvidia_gpu_info, visible_gpu_id
from .measurement import Measurement
from .timing import time_callable

_CPU = "CPUExecutionProvider"

# y = Relu(x), x and y float[1, 8], opset 13, IR 7. Made with onnx.helper (make_node,
# make_graph "probe", make_model with producer_name ""); tests rebuild it and compare bytes.
PROBE_MODEL = (
    b'\x08\x07\x12\x00:?\n\x0c\n\x01x\x12\x01y"\x04Relu\x12\x05probeZ\x13\n\x01x\x12\x0e\n'
    b"\x0c\x08\x01\x12\x08\n\x02\x08\x01\n\x02\x08\x08b\x13\n\x01y\x12\x0e\n\x0c\x08\x01\x12"
    b"\x08\n\x02\x08\x01\n\x02\x08\x08B\x04\n\x00\x10\r"
)


@contextlib.contextmanager
def _captured_output(log: list[str]) -> Iterator[None]:
    """Keep what ORT prints while an EP is probed, at the file-descriptor level.

    A missing CUDA library makes ORT's C++ logger write to fd 2 and its Python wrapper print
    to stdout; neither belongs on a user's terminal, but the text names the real cause.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as tmp, contextlib.redirect_stdout(io.StringIO()) as py_out:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            tmp.seek(0)
            log.append(tmp.read().decode(errors="replace") + py_out.getvalue())


def _cause(text: str) -> str:
    """The most telling line of ORT's log, e.g. which shared library failed to load."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # colour codes
    for pattern in (r"with error: ([^\n]+)", r"(Failed to create \w+)", r"EP Error:? ([^\n]+)"):
        match = re.search(pattern, text)
        if match:
            return match.group(1).strip()[:200]
    return "no log; the GPU or its libraries are not usable"


@functools.cache
def _probe(provider: str, name: str) -> str | None:
    """None if ``provider`` really runs here, else one line why not. Cached per process.

    onnxruntime-gpu lists its CUDA and TensorRT EPs even on a machine without a GPU, and a
    session asked for them silently falls back to CPU, so only running a tiny model and
    reading back the providers the session actually got tells the truth.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        return f"{name}: onnxruntime is not installed"
    available = ort.get_available_providers()
    if provider not in available:
        return f"{name}: {provider} is not available here (providers: {', '.join(available)})"
    if provider == _CPU:
        return None
    log: list[str] = []
    x = np.linspace(-1.0, 1.0, 8, dtype=np.float32).reshape(1, 8)
    try:
        with _captured_output(log):
            if hasattr(ort, "preload_dlls"):
                # CUDA/cuDNN from the nvidia-* wheels are not on the loader path unless torch
                # happened to load them first; this makes the EP independent of import order.
                ort.preload_dlls()
            options = ort.SessionOptions()
            options.log_severity_level = 3
            session = ort.InferenceSession(PROBE_MODEL, options, providers=[provider, _CPU])
            used = session.get_providers()
            y = session.run(None, {"x": x})[0] if used[0] == provider else None
    except Exception as exc:  # any failure at all means the EP cannot be used here
        return f"{name}: a {provider} session failed ({str(exc).strip().splitlines()[0][:200]})"
    if y is None:
        return (
            f"{name}: {provider} is listed but the session fell back to {used[0]} "
            f"({_cause(log[0] if log else '')})"
        )
    if not np.allclose(y, np.maximum(x, 0.0)):
        return f"{name}: {provider} ran the probe model but returned wrong values"
    return None


class OrtBackend(Backend):
    """Shared by the ORT backends; a subclass only names its EP and that EP's options."""

    input_format = "onnx"
    provider: ClassVar[str] = _CPU

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return _probe(cls.provider, cls.name)

    def provider_options(self) -> dict[str, str]:
        return {}

    def accepts_input_type(self, onnx_type: str) -> bool:
        """Whether a model input of this ONNX type fits ``self.dtype`` (an int8 model is
        quantized in QDQ form: it takes float and quantizes inside, like a deployed one)."""
        return onnx_type == ("tensor(float16)" if self.dtype == "fp16" else "tensor(float)")

    def runtime_info(self) -> dict[str, Any]:
        import onnxruntime as ort

        return {"onnxruntime": ort.__version__, "ort_provider": self.provider}

    def measure(self, model: Any, input_shape: tuple[int, ...]) -> Measurement:
        self.check_available()
        if not isinstance(model, (bytes, bytearray)):
            raise ValueError(
                f"The 'model' of {self.name} must be ONNX model bytes. "
                f"Got {type(model).__name__} instead."
            )
        session = self._session(bytes(model))
        feed = {session.get_inputs()[0].name: self._input_array(session, input_shape)}
        # The first run is never timed: TensorRT builds its engine here, CUDA picks kernels.
        session.run(None, feed)
        m = time_callable(lambda: session.run(None, feed), config=self.timing)
        return self.with_costs(m, lambda: self._peak_memory(bytes(model), feed),
                               lambda: session.run(None, feed))

    def _peak_memory(self, model_bytes: bytes, feed: dict[str, np.ndarray]) -> dict[str, Any]:
        """Peak RSS growth of one run, in a session of its own without ORT's CPU arena.

        The arena keeps every buffer it ever allocated, so after the first run the timed session
        allocates nothing and would read ~0 MB. Without it tensors are malloc'ed and freed per
        run, and the peak is that of the run itself. The input is copied inside the measured
        call so the peak counts it too.
        """
        session = self._session(model_bytes, arena=False)
        session.run(None, feed)  # one-off initialisation stays out of the peak
        name, array = next(iter(feed.items()))
        return {"peak_mem_mb": memory.cpu_peak_growth_mb(
            lambda: session.run(None, {name: array.copy()}))}

    def _session(self, model_bytes: bytes, arena: bool = True) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.enable_cpu_mem_arena = arena
        options.intra_op_num_threads = self.threads or 0  # 0: ORT's default, one per core
        # One op at a time: per-op timings then add up the way a sequential network runs.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        providers: list[Any] = [(self.provider, self.provider_options())]
        if self.provider != _CPU:
            providers.append(_CPU)  # for the odd node the EP has no kernel for
        session = ort.InferenceSession(model_bytes, options, providers=providers)
        if session.get_providers()[0] != self.provider:
            raise BackendUnavailable(
                f"{self.name}: the session fell back to {session.get_providers()[0]}"
            )
        return session

    def _input_array(self, session: Any, input_shape: tuple[int, ...]) -> np.ndarray:
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(
                f"{self.name} measures models with exactly one input. "
                f"Got {len(inputs)}: {[i.name for i in inputs]}."
            )
        spec = inputs[0]
        shape = self.full_shape(input_shape)
        fits = len(spec.shape) == len(shape) and all(
            not isinstance(d, int) or d == s for d, s in zip(spec.shape, shape, strict=True)
        )
        if not fits:
            raise ValueError(
                f"The ONNX model's input {spec.name!r} has shape {spec.shape}; "
                f"(batch, *input_shape) = {shape} does not fit it."
            )
        if not self.accepts_input_type(spec.type):
            raise ValueError(
                f"{self.name} with dtype {self.dtype!r} cannot feed the model's input "
                f"{spec.name!r} of type {spec.type}."
            )
        np_dtype = np.float16 if spec.type == "tensor(float16)" else np.float32
        # Random, not zeros: some kernels shortcut on zeros.
        return np.random.default_rng(0).standard_normal(shape, dtype=np.float32).astype(np_dtype)


class _OrtGpuBackend(OrtBackend):
    device_kind = "cuda"
    supported_dtypes = ("fp32", "fp16")

    @classmethod
    def memory_unavailable_reason(cls) -> str | None:
        return (f"memory: {cls.name} cannot report a peak (onnxruntime exposes no statistics "
                "of its CUDA allocator); measure GPU memory with torch-cuda")

    def runtime_info(self) -> dict[str, Any]:
        info = nvidia_gpu_info(visible_gpu_id(0))
        info.update(super().runtime_info())
        try:
            from onnxruntime.capi import build_and_package_info

            info["cuda_runtime"] = getattr(build_and_package_info, "cuda_version", None)
        except ImportError:
            pass
        return info


@register_backend("ort-cpu")
class OrtCPU(OrtBackend):
    """ONNX Runtime on the host CPU (CPUExecutionProvider), fp32 or int8.

    int8 needs a model quantized statically in QDQ form (float input and output), as
    ``hwnas profile --dtype int8`` makes them (hwnas.nn.quantize); ORT fuses the
    QuantizeLinear/DequantizeLinear pairs into its int8 kernels.
    """

    device_kind = "cpu"
    supported_dtypes = ("fp32", "int8")
    provider = _CPU

    @classmethod
    def memory_unavailable_reason(cls) -> str | None:
        return memory.cpu_unavailable_reason()


@register_backend("ort-cuda")
class OrtCUDA(_OrtGpuBackend):
    """ONNX Runtime on an NVIDIA GPU (CUDAExecutionProvider), fp32 or fp16.

    fp16 needs a model exported in half precision (float16 input).
    """

    provider = "CUDAExecutionProvider"

    def provider_options(self) -> dict[str, str]:
        # EXHAUSTIVE is cuDNN's benchmark mode, the same choice as torch-cuda's cudnn.benchmark;
        # the search happens in the untimed first run.
        return {"device_id": "0", "cudnn_conv_algo_search": "EXHAUSTIVE"}


@register_backend("ort-tensorrt")
class OrtTensorRT(_OrtGpuBackend):
    """ONNX Runtime on an NVIDIA GPU through TensorRT (TensorrtExecutionProvider).

    fp16 lets TensorRT choose half-precision kernels; the model may take float or float16.
    """

    provider = "TensorrtExecutionProvider"

    def provider_options(self) -> dict[str, str]:
        return {
            "device_id": "0",
            "trt_fp16_enable": "True" if self.dtype == "fp16" else "False",
            # A cached engine from another model or shape must never be timed by mistake.
            "trt_engine_cache_enable": "False",
        }

    def accepts_input_type(self, onnx_type: str) -> bool:
        if self.dtype == "fp16":
            return onnx_type in ("tensor(float)", "tensor(float16)")
        return super().accepts_input_type(onnx_type)
