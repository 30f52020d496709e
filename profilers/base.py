"""The backend contract and the backend registry.

Everything here needs only the standard library and numpy, so the package can be copied to a
remote or edge device and run there. Backends import their runtime (torch, onnxruntime)
lazily inside methods; hwnas is never imported: dependencies point one way.
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
from collections.abc import Callable
from typing import Any, ClassVar

from .device import device_fingerprint, visible_gpu_id
from .measurement import Measurement, _bad, _is_int
from .timing import TimingConfig


class BackendUnavailable(RuntimeError):
    """A backend cannot run on this machine; the message is one line saying why."""


BACKENDS: dict[str, type[Backend]] = {}


def register_backend(name: str) -> Callable[[type[Backend]], type[Backend]]:
    """Class decorator: register a backend under ``name`` (the name it is asked for by)."""

    def decorate(cls: type[Backend]) -> type[Backend]:
        if name in BACKENDS and BACKENDS[name] is not cls:
            raise ValueError(f"Backend name {name!r} is already taken by {BACKENDS[name]}.")
        cls.name = name
        BACKENDS[name] = cls
        return cls

    return decorate


def get_backend(name: str) -> type[Backend]:
    """The backend class registered as ``name``; ValueError names the valid ones."""
    if name in BACKENDS:
        return BACKENDS[name]
    close = difflib.get_close_matches(str(name), list(BACKENDS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"Unknown backend {name!r}. Valid backends: {', '.join(sorted(BACKENDS))}.{hint}"
    )


class Backend(abc.ABC):
    """Measures one model on one device/runtime. Knows nothing of search spaces.

    ``measure(model, input_shape)``: ``input_shape`` is the shape of ONE sample, without the
    batch dimension; the backend feeds ``(batch, *input_shape)``.
    """

    name: ClassVar[str] = ""
    input_format: ClassVar[str] = "torch"  # "torch": an nn.Module; "onnx": ONNX model bytes
    device_kind: ClassVar[str] = "cpu"  # "cpu" or "cuda"
    supported_dtypes: ClassVar[tuple[str, ...]] = ("fp32",)

    def __init__(
        self,
        threads: int | None = None,
        timing: TimingConfig | None = None,
        batch: int = 1,
        dtype: str = "fp32",
        *,
        measure_memory: bool = False,
        measure_energy: bool = False,
    ) -> None:
        kind = type(self).__name__
        if threads is not None and not _is_int(threads):
            raise _bad(kind, "threads", "an int >= 1 or None", threads)
        if not _is_int(batch):
            raise _bad(kind, "batch", "an int >= 1", batch)
        if dtype not in self.supported_dtypes:
            raise _bad(kind, "dtype", f"one of {list(self.supported_dtypes)}", dtype)
        if timing is not None and not isinstance(timing, TimingConfig):
            raise _bad(kind, "timing", "a TimingConfig or None", timing)
        for name, value in (("measure_memory", measure_memory), ("measure_energy", measure_energy)):
            if not isinstance(value, bool):
                raise _bad(kind, name, "a bool", value)
        self.threads = None if threads is None else int(threads)
        self.timing = timing or TimingConfig()
        self.batch = int(batch)
        self.dtype = dtype
        self.measure_memory = measure_memory
        self.measure_energy = measure_energy
        self._energy_counter: Any = None
        self._check_costs_available()

    @classmethod
    @abc.abstractmethod
    def unavailable_reason(cls) -> str | None:
        """None when this backend can run here, else one line saying why not."""

    @classmethod
    def check_available(cls) -> None:
        reason = cls.unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(reason)

    @abc.abstractmethod
    def measure(self, model: Any, input_shape: tuple[int, ...]) -> Measurement:
        """Warm up, repeat until stable and return the latency statistics in ms (and the
        opted-in costs in ``extra``, see :meth:`with_costs`)."""

    # -- opt-in cost columns: memory and energy ---------------------------------------------
    @classmethod
    def memory_unavailable_reason(cls) -> str | None:
        """None when ``measure_memory`` works here, else one line why not."""
        return f"memory: {cls.name} cannot report the peak memory of a model"

    @classmethod
    def energy_unavailable_reason(cls) -> str | None:
        """None when ``measure_energy`` works here, else one line why not."""
        from .energy import unavailable_reason

        return unavailable_reason(cls.device_kind, cls.energy_gpu_id())

    @classmethod
    def energy_gpu_id(cls) -> str:
        """The GPU whose energy counter is read, as nvidia-smi names it (CUDA device 0)."""
        return visible_gpu_id(0)

    def _check_costs_available(self) -> None:
        # Asked-for columns the device cannot give fail here, in one line, before a single op
        # is measured, rather than as a table that lacks them after an hour of profiling. A
        # backend that cannot run at all says so itself, in measure().
        if not (self.measure_memory or self.measure_energy) or self.unavailable_reason():
            return
        for asked, reason in ((self.measure_memory, self.memory_unavailable_reason),
                              (self.measure_energy, self.energy_unavailable_reason)):
            if asked and (why := reason()) is not None:
                raise BackendUnavailable(f"{self.name}: {why}")

    def with_costs(self, m: Measurement, peak_memory: Callable[[], dict[str, Any]],
                   run: Callable[[], Any]) -> Measurement:
        """``m`` plus the opted-in costs, measured after the timing loop so they never perturb
        it. ``peak_memory()`` returns ``{"peak_mem_mb": ..., ...}``; ``run()`` is one complete
        (synchronised) inference, repeated for the energy window."""
        if not (self.measure_memory or self.measure_energy):
            return m
        extra = dict(m.extra)
        if self.measure_memory:
            extra.update(peak_memory())
        if self.measure_energy:
            from .energy import energy_per_call, open_counter

            if self._energy_counter is None:
                self._energy_counter = open_counter(self.device_kind, self.energy_gpu_id())
            extra.update(energy_per_call(run, self._energy_counter))
        return dataclasses.replace(m, extra=extra)

    def runtime_info(self) -> dict[str, Any]:
        """Versions of the runtime (and the GPU, for CUDA backends) this backend uses."""
        return {}

    def fingerprint(self) -> dict[str, Any]:
        """The device, this backend's runtime and settings: the "device" of a latency table."""
        self.check_available()
        fp = device_fingerprint()
        fp.update(self.runtime_info())
        fp.update(backend=self.name, threads=self.threads, dtype=self.dtype, batch=self.batch)
        return fp

    def full_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(batch, *input_shape)``, after checking the per-sample shape is positive ints."""
        shape = tuple(input_shape)
        if not shape or not all(_is_int(d) for d in shape):
            raise _bad(type(self).__name__, "input_shape",
                       "a non-empty tuple of ints >= 1 (one sample, no batch dimension)",
                       input_shape)
        return (self.batch, *(int(d) for d in shape))
