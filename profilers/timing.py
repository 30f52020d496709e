"""The shared timing loop: warm up, repeat in rounds until the median is stable or a budget
ends, reject preemption outliers, summarise in milliseconds.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .measurement import LATENCY_STATS, Measurement, _bad, _is_int


@dataclass(frozen=True)
class TimingConfig:
    """How long and how often to repeat a measurement.

    Repetitions are taken in rounds of ``min_repeats`` calls. After each round the statistic
    ``stat`` (the one the table predicts in: p0, p10, p50 or p90) of all samples so far is
    compared with the previous round's; the loop stops once it moved by less than ``rel_tol``,
    or when ``time_budget_s`` or ``max_repeats`` is reached. ``min_repeats`` samples are always
    taken, even past the budget, so a slow model still gets statistics. Watching the statistic
    that is kept, not always the median, is what makes a low quantile come from enough
    repetitions: p10 of one round of 10 is its minimum, and it is compared with the next.

    ``min_time_s`` is the least time a measurement spans before its statistic may be called
    stable (capped by ``time_budget_s``; ``max_repeats`` still ends it). Without it, the
    minimum of a 4 ms network is "stable" after two rounds, about 0.08 s, and on a shared
    machine a neighbour's burst lasting longer than that slows the whole measurement: measured
    interleaved on this project's 2-core VM (`benchmarks/measurement_length.py`, BENCHMARKS.md),
    a network's p0 strayed 16-38% between repeated measurements with no floor and 3-16% with
    0.5 s, on torch-cpu and ort-cpu.
    """

    warmup_s: float = 0.05
    min_warmup_iters: int = 5
    min_repeats: int = 10
    max_repeats: int = 200
    time_budget_s: float = 0.5
    rel_tol: float = 0.02
    outlier_mads: float = 5.0
    stat: str = "p50"
    min_time_s: float = 0.5

    def __post_init__(self) -> None:
        if self.stat not in LATENCY_STATS:
            raise _bad("TimingConfig", "stat", f"one of {', '.join(LATENCY_STATS)}", self.stat)
        for name in ("warmup_s", "time_budget_s", "rel_tol", "outlier_mads", "min_time_s"):
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
        # from every sample: the outlier cut only removes the top, never the fastest
        p0=float(raw.min()),
        p10=float(np.percentile(raw, 10)),
    )


def statistic(samples, stat: str) -> float:
    """One of LATENCY_STATS of raw samples (p0 is the minimum)."""
    q = {"p0": 0, "p10": 10, "p50": 50, "p90": 90}[stat]
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q))


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
    started = time.perf_counter_ns()
    deadline = started + int(cfg.time_budget_s * 1e9)
    earliest = started + int(min(cfg.min_time_s, cfg.time_budget_s) * 1e9)
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
            current = statistic(samples, cfg.stat)
            if (previous is not None and abs(current - previous) <= cfg.rel_tol * previous
                    and time.perf_counter_ns() >= earliest):
                stable = True
                break
            if over_budget:
                break
            previous = current
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


