"""torch-cuda: eager PyTorch on an NVIDIA GPU, fp32 or fp16. torch is imported lazily.

Timing uses CUDA events rather than ``time_callable`` with ``torch.cuda.synchronize`` as
``sync``: a host clock around a synchronize adds the host's wake-up after the sync (several
microseconds) to every sample. A latency table sums one sample per op, while a real network
synchronises once, so that constant would be counted once per op. Events time the stream
itself. The start event is recorded before the op is launched, so host launch overhead that
keeps the GPU waiting is still counted, as it is in a real forward pass.
"""

from __future__ import annotations

import copy
from typing import Any

from . import memory
from .base import Backend, register_backend
from .device import nvidia_gpu_info, visible_gpu_id
from .measurement import Measurement
from .timing import collect_samples


@register_backend("torch-cuda")
class TorchCUDA(Backend):
    """Eager PyTorch on an NVIDIA GPU, fp32 or fp16."""

    input_format = "torch"
    device_kind = "cuda"
    supported_dtypes = ("fp32", "fp16")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import torch
        except ImportError:
            return f"{cls.name}: torch is not installed"
        if not torch.cuda.is_available():
            built = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU only"
            return (
                f"{cls.name}: torch.cuda.is_available() is False "
                f"(torch {torch.__version__}, built for {built})"
            )
        return None

    @classmethod
    def memory_unavailable_reason(cls) -> str | None:
        return None  # torch's caching allocator keeps its own peak

    @classmethod
    def energy_gpu_id(cls) -> str:
        import torch

        return visible_gpu_id(torch.cuda.current_device())

    def runtime_info(self) -> dict[str, Any]:
        import torch

        index = torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        info: dict[str, Any] = nvidia_gpu_info(visible_gpu_id(index))
        info.update(
            gpu=props.name,  # torch's name wins: it is the device actually used
            gpu_capability=f"{props.major}.{props.minor}",
            gpu_sm_count=props.multi_processor_count,
            gpu_memory_mib=props.total_memory // 2**20,
            torch=torch.__version__,
            cuda_runtime=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
        )
        return info

    def measure(self, model: Any, input_shape: tuple[int, ...]) -> Measurement:
        self.check_available()
        import torch

        shape = self.full_shape(input_shape)
        dtype = torch.float16 if self.dtype == "fp16" else torch.float32
        device = torch.device("cuda", torch.cuda.current_device())
        # Module.to()/.half() convert in place: measure a copy so the caller's module stays on
        # the CPU in its own precision.
        net = copy.deepcopy(model).to(device=device, dtype=dtype).eval()
        generator = torch.Generator(device=device).manual_seed(0)
        x = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)

        def sample() -> float:
            start.record()
            net(x)
            end.record()
            end.synchronize()
            return start.elapsed_time(end)  # already milliseconds

        previous_benchmark = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = True
        try:
            with torch.inference_mode():
                # cuDNN autotunes on the first call with a new shape; that call is never timed.
                net(x)
                torch.cuda.synchronize(device)
                m = collect_samples(sample, self.timing)

                def run() -> None:
                    net(x)
                    torch.cuda.synchronize(device)

                # The input is cloned inside the measured call so the peak counts it too.
                return self.with_costs(m, lambda: {
                    "peak_mem_mb": memory.cuda_peak_growth_mb(lambda: net(x.clone()), device),
                    "weights_mb": memory.module_mb(net)}, run)
        finally:
            torch.backends.cudnn.benchmark = previous_benchmark
