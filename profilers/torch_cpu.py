"""torch-cpu: eager PyTorch on the host CPU. torch is imported only inside methods."""

from __future__ import annotations

import importlib.util
from typing import Any

from . import cpu_stability, memory
from .base import Backend, register_backend
from .measurement import Measurement
from .timing import time_callable


@register_backend("torch-cpu")
class TorchCPU(Backend):
    """Eager PyTorch on the host CPU, fp32."""

    input_format = "torch"
    device_kind = "cpu"
    supported_dtypes = ("fp32",)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        # find_spec instead of import: `python -m profilers info` stays fast, and torch-cpu
        # needs nothing beyond torch itself.
        if importlib.util.find_spec("torch") is None:
            return f"{cls.name}: torch is not installed"
        return None

    @classmethod
    def memory_unavailable_reason(cls) -> str | None:
        return memory.cpu_unavailable_reason()

    def runtime_info(self) -> dict[str, Any]:
        import torch

        info: dict[str, Any] = {"torch": torch.__version__}
        if self.threads is None:
            info["torch_default_threads"] = torch.get_num_threads()
        return info

    def measure(self, model: Any, input_shape: tuple[int, ...]) -> Measurement:
        self.check_available()
        import torch

        shape = self.full_shape(input_shape)
        # Random, not zeros: some kernels shortcut on zeros and denormal-free data is typical.
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(shape, generator=generator, dtype=torch.float32)
        was_training = model.training
        previous_threads = torch.get_num_threads()
        cpu_stability.fix_malloc_thresholds()
        try:
            if self.threads is not None:
                torch.set_num_threads(self.threads)
            model.eval()
            with torch.inference_mode(), cpu_stability.pinned_to_one_core(self.threads):
                m = time_callable(lambda: model(x), config=self.timing)
                # The input is cloned inside the measured call so the peak counts it too.
                return self.with_costs(m, lambda: {
                    "peak_mem_mb": memory.cpu_peak_growth_mb(lambda: model(x.clone())),
                    "weights_mb": memory.module_mb(model)}, lambda: model(x))
        finally:
            # The caller's process and module are left as they were found.
            torch.set_num_threads(previous_threads)
            model.train(was_training)
