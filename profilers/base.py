"""Timing loop, measurements, device fingerprint and the backend contract.

Everything here needs only the standard library and numpy, so the package can be copied to a
remote or edge device and run there. Backends import their runtime (torch, onnxruntime)
lazily inside methods; hwnas is never imported: dependencies point one way.
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .device import device_fingerprint, device_slug, visible_gpu_id

__all__ = [
    "BACKENDS",
    "COST_COLUMNS",
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

_STAT_FIELDS = ("p50", "p90", "mean", "std")
# Costs a backend measures on request (measure_memory/measure_energy), kept in `extra`.
COST_COLUMNS = ("peak_mem_mb", "energy_mj")


def _is_int(value: Any, minimum: int = 1) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


def _is_cost(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def _bad(owner: str, name: str, must: str, value: Any) -> ValueError:
    """scikit-learn's one error template for a bad parameter."""
    return ValueError(f"The '{name}' parameter of {owner} must be {must}. Got {value!r} instead.")


@dataclass(frozen=True)
class Measurement:
    """Latency statistics of one measured model. Units are always milliseconds."""

    p50: float
    p90: float
    mean: float
    std: float
    n: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in _STAT_FIELDS}
        out["n"] = self.n
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    def table_entry(self) -> dict[str, Any]:
        """A latency-table entry: the statistics, each measured cost column at the top level,
        and the rest of ``extra``. A cost that was not measured is absent, never 0."""
        out = self.to_dict()
        extra = out.pop("extra", {})
        for column in COST_COLUMNS:
            value = extra.pop(column, None)
            if _is_cost(value):
                out[column] = float(value)
        if extra:
            out["extra"] = extra
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        missing = [k for k in (*_STAT_FIELDS, "n") if k not in data]
        if missing:
            raise ValueError(f"A measurement needs the keys {missing}. Got {sorted(data)} instead.")
        stats = {k: float(data[k]) for k in _STAT_FIELDS}
        bad = {k: v for k, v in stats.items() if not math.isfinite(v) or v < 0}
        if bad:
            raise ValueError(f"Measurement statistics must be finite and >= 0 ms. Got {bad}.")
        if not _is_int(data["n"]):
            raise _bad("Measurement", "n", "an int >= 1", data["n"])
        return cls(n=int(data["n"]), extra=dict(data.get("extra") or {}), **stats)


@dataclass(frozen=True)
class TimingConfig:
    """How long and how often to repeat a measurement.

    Repetitions are taken in rounds of ``min_repeats`` calls. After each round the median of all
    samples so far is compared with the previous round's; the loop stops once it moved by less
    than ``rel_tol``, or when ``time_budget_s`` or ``max_repeats`` is reached. ``min_repeats``
    samples are always taken, even past the budget, so a slow model still gets statistics.
    """

    warmup_s: float = 0.05
    min_warmup_iters: int = 5
    min_repeats: int = 10
    max_repeats: int = 200
    time_budget_s: float = 0.5
    rel_tol: float = 0.02
    outlier_mads: float = 5.0

    def __post_init__(self) -> None:
        for name in ("warmup_s", "time_budget_s", "rel_tol", "outlier_mads"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise _bad("TimingConfig", name, "a finite number >= 0", value)
        for name in ("min_warmup_iters", "min_repeats", "max_repeats"):
            if not _is_int(getattr(self, name)):
                raise _bad("TimingConfig", name, "an int >= 1", getattr(self, name))
        if self.min_repeats > self.max_repeats:
            raise _bad("TimingConfig", "min_repeats", f"<= max_repeats ({self.max_repeats})",
                       self.min_repeats)


def _reject_outliers(samples: np.ndarray, n_mads: float) -> np.ndarray:
    """Drop samples above median + n_mads * MAD.

    On a noisy shared machine the OS preempts the process now and then (other tenants,
    interrupts, page faults); such a sample is many times the true latency and would inflate the
    mean, std and p90. Only the upper side is cut because preemption only ever adds time. MAD,
    unlike std, is not itself inflated by the spikes it is meant to find. For Gaussian noise
    5 MAD is about 3.4 sigma, so genuine samples are essentially never dropped.
    """
    med = float(np.median(samples))
    mad = float(np.median(np.abs(samples - med)))
    # When over half the samples are identical (a steady op, a coarse clock) MAD is 0 and the
    # cut would land on the median itself, dropping ordinary samples: floor it at 2% of median.
    scale = max(mad, 0.02 * med)
    # Spikes are rare by definition: the cut never falls below the 95th percentile, so a real
    # second mode of the latency (a periodic slow path seen in >5% of calls) is kept whole.
    cut = max(med + n_mads * scale, float(np.percentile(samples, 95)))
    return samples[samples <= cut]


def _summarise(samples_ms: list[float], config: TimingConfig, stable: bool) -> Measurement:
    raw = np.asarray(samples_ms, dtype=np.float64)
    if not np.all(np.isfinite(raw)) or np.any(raw < 0):
        raise ValueError("A timing sample was negative or not finite; the clock is unusable.")
    kept = _reject_outliers(raw, config.outlier_mads)
    return Measurement(
        p50=float(np.median(kept)),
        p90=float(np.percentile(kept, 90)),
        mean=float(kept.mean()),
        std=float(kept.std(ddof=1)) if kept.size > 1 else 0.0,
        n=int(kept.size),
        extra={"rejected": int(raw.size - kept.size), "stable": stable},
    )


def _warm_up(sample: Callable[[], float], config: TimingConfig) -> None:
    end = time.perf_counter_ns() + int(config.warmup_s * 1e9)
    done = 0
    while done < config.min_warmup_iters or time.perf_counter_ns() < end:
        sample()
        done += 1


def collect_samples(
    sample: Callable[[], float], config: TimingConfig | None = None
) -> Measurement:
    """The shared repeat-until-stable loop. ``sample()`` runs the model once and returns ms.

    Backends whose clock is not the host's (CUDA events) pass their own ``sample``; everyone
    else goes through :func:`time_callable`.
    """
    cfg = config or TimingConfig()
    _warm_up(sample, cfg)
    samples: list[float] = []
    previous: float | None = None
    stable = False
    deadline = time.perf_counter_ns() + int(cfg.time_budget_s * 1e9)
    # A collection pause inside a timed call is noise, not the model's latency (timeit does
    # the same); garbage is collected between measurements instead.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while len(samples) < cfg.max_repeats:
            for _ in range(min(cfg.min_repeats, cfg.max_repeats - len(samples))):
                samples.append(sample())
                over_budget = time.perf_counter_ns() > deadline
                if over_budget and len(samples) >= cfg.min_repeats:
                    break
            median = float(np.median(samples))
            if previous is not None and abs(median - previous) <= cfg.rel_tol * previous:
                stable = True
                break
            if over_budget:
                break
            previous = median
    finally:
        if gc_was_enabled:
            gc.enable()
    return _summarise(samples, cfg, stable)


def time_callable(
    fn: Callable[[], Any],
    sync: Callable[[], Any] | None = None,
    config: TimingConfig | None = None,
) -> Measurement:
    """Time ``fn()`` on the host clock; ``sync()`` runs after each call, before the clock is read.

    One call per sample: the models measured here take microseconds at least, far above the
    ~100 ns cost of reading perf_counter_ns, so batching calls per sample would buy nothing.
    """
    clock = time.perf_counter_ns
    if sync is None:

        def sample() -> float:
            start = clock()
            fn()
            return (clock() - start) / 1e6

    else:

        def sample() -> float:
            start = clock()
            fn()
            sync()
            return (clock() - start) / 1e6

    return collect_samples(sample, config)


# --------------------------------------------------------------------------- backends


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
