"""Device latency profilers, importable without hwnas.

Needs only numpy plus the runtime of the backend in use (torch or onnxruntime), each imported
lazily inside the backend's methods, so this package can run alone on a remote device.
Importing it registers every backend; ``get_backend(name)`` returns the class.
"""

from . import ort, torch_cpu, torch_cuda  # noqa: F401  (imported to register the backends)
from .base import BACKENDS, Backend, BackendUnavailable, get_backend, register_backend
from .device import device_fingerprint, device_slug
from .measurement import Measurement
from .timing import TimingConfig, collect_samples, time_callable

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendUnavailable",
    "Measurement",
    "TimingConfig",
    "collect_samples",
    "device_fingerprint",
    "device_slug",
    "get_backend",
    "register_backend",
    "time_callable",
]
