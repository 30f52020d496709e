"""Energy per inference from the hardware's cumulative energy counters, in millijoules.

- NVIDIA GPU: NVML's total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``: mJ since
  the driver was loaded, Volta or newer). pynvml comes from the nvidia-ml-py package in the
  optional ``gpu`` extra and is imported only when asked for.
- CPU: RAPL package energy from Linux powercap (``/sys/class/powercap/intel-rapl:N/energy_uj``,
  microjoules, wrapping to 0 past ``max_energy_range_uj``), summed over packages.

Both counters advance in steps every ~10-100 ms, far longer than one op takes, so the op is
run back to back over a window of at least a second and the energy is divided by the calls.
The window starts and ends on a counter step (the op keeps running while we wait for one),
which keeps the quantisation error to a fraction of one step.

What is counted is the whole GPU board or CPU package while the op runs, idle draw and other
tenants included: that share is real cost per inference, and summing ops over a network
charges it for the network's run time, as a measurement of the network would. Where neither
counter can be read the reason is one line and no number is made up.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import BackendUnavailable

POWERCAP = "/sys/class/powercap"
MIN_WINDOW_S = 1.0
TICK_WAIT_S = 0.5  # RAPL steps every ~1 ms, NVML every 20-100 ms: a step always comes sooner


# --------------------------------------------------------------------------- RAPL


def rapl_delta_uj(previous: int, current: int, max_range_uj: int) -> int:
    """Energy between two reads of a RAPL counter that wraps to 0 past ``max_range_uj``.

    A package at 100 W wraps a typical 262 kJ range every ~45 min, so at most one wrap can
    fall between reads a second apart; a smaller current value means exactly one.
    """
    if current >= previous:
        return current - previous
    return max_range_uj - previous + current


@dataclass(frozen=True)
class RaplZone:
    name: str
    read_uj: Callable[[], int]
    max_range_uj: int


class RaplCounter:
    """Cumulative, wrap-corrected energy of some RAPL zones, in mJ since construction."""

    source = "rapl"

    def __init__(self, zones: list[RaplZone]) -> None:
        if not zones:
            raise ValueError("A RaplCounter needs at least one zone.")
        self.zones = list(zones)
        self._last = [zone.read_uj() for zone in self.zones]
        self._total_uj = 0

    def read_mj(self) -> float:
        for i, zone in enumerate(self.zones):
            now = zone.read_uj()
            self._total_uj += rapl_delta_uj(self._last[i], now, zone.max_range_uj)
            self._last[i] = now
        return self._total_uj / 1000.0


def _read_int(path: str) -> int:
    with open(path, encoding="ascii") as handle:
        return int(handle.read().strip())


def _package_dirs(root: str) -> list[str]:
    """``intel-rapl:N`` zones named ``package-N``. Their ``intel-rapl:N:M`` subzones (cores,
    uncore, dram) lie inside the package or beside it and a ``psys`` zone contains it, so
    adding any of them would count energy twice or mix domains."""
    dirs = []
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        if re.fullmatch(r"intel-rapl:\d+", entry):
            try:
                with open(os.path.join(path, "name"), encoding="ascii") as handle:
                    if handle.read().strip().startswith("package"):
                        dirs.append(path)
            except OSError:
                continue
    return dirs


def rapl_zones(root: str = POWERCAP) -> list[RaplZone]:
    """The package zones under ``root``; OSError where they cannot be read."""
    zones = []
    for path in _package_dirs(root):
        energy = os.path.join(path, "energy_uj")
        _read_int(energy)  # fail now, at setup, on a root-only file
        zones.append(RaplZone(os.path.basename(path), lambda p=energy: _read_int(p),
                              _read_int(os.path.join(path, "max_energy_range_uj"))))
    return zones


def rapl_unavailable_reason(root: str = POWERCAP) -> str | None:
    if not os.path.isdir(root):
        return (f"energy: RAPL is not exposed here ({root} does not exist); CPU energy needs "
                "Linux powercap (intel_rapl)")
    try:
        zones = rapl_zones(root)
    except PermissionError as exc:
        return (f"energy: {exc.filename} is not readable by this user (RAPL is root-only since "
                "Linux 5.10); run as root or make energy_uj readable")
    except (OSError, ValueError) as exc:
        return f"energy: RAPL cannot be read under {root} ({exc})"
    if not zones:
        return f"energy: {root} has no RAPL package zone (intel-rapl:N named package-N)"
    return None


# --------------------------------------------------------------------------- NVML


class NvmlCounter:
    """NVML's total-energy counter of one GPU, in mJ (64-bit: it never wraps in practice).

    ``gpu_id`` is what nvidia-smi calls the GPU: an index or a UUID (see
    :func:`profilers.device.visible_gpu_id`).
    """

    source = "nvml"

    def __init__(self, gpu_id: str = "0") -> None:
        import pynvml

        pynvml.nvmlInit()
        self._nvml = pynvml
        if gpu_id.isdigit():
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(int(gpu_id))
        else:
            self._handle = pynvml.nvmlDeviceGetHandleByUUID(gpu_id)

    def read_mj(self) -> float:
        return float(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))


def nvml_unavailable_reason(gpu_id: str = "0") -> str | None:
    try:
        import pynvml
    except ImportError:
        return ("energy: pynvml is not installed; GPU energy needs NVML "
                "(pip install 'hwnas[gpu]', which adds nvidia-ml-py)")
    try:
        NvmlCounter(gpu_id).read_mj()
    except pynvml.NVMLError as exc:
        return (f"energy: NVML cannot read GPU {gpu_id}'s total energy counter ({exc}); it "
                "needs an NVIDIA driver and a Volta or newer GPU")
    return None


# --------------------------------------------------------------------------- measuring


def unavailable_reason(device_kind: str, gpu_id: str = "0") -> str | None:
    """None when energy can be measured for ``device_kind`` ("cpu"/"cuda"), else one line."""
    if device_kind == "cuda":
        return nvml_unavailable_reason(gpu_id)
    if device_kind == "cpu":
        return rapl_unavailable_reason()
    return f"energy: no energy counter is known for device kind {device_kind!r}"


def open_counter(device_kind: str, gpu_id: str = "0") -> Any:
    """The counter for ``device_kind``; BackendUnavailable (one line) where there is none."""
    reason = unavailable_reason(device_kind, gpu_id)
    if reason is not None:
        raise BackendUnavailable(reason)
    return NvmlCounter(gpu_id) if device_kind == "cuda" else RaplCounter(rapl_zones())


def _run_until_step(run: Callable[[], Any], counter: Any, wait_s: float,
                    clock: Callable[[], float]) -> tuple[float, int]:
    """Run until the counter steps (or ``wait_s`` passes): (its value then, calls made)."""
    first = counter.read_mj()
    start, calls = clock(), 0
    while True:
        run()
        calls += 1
        now = counter.read_mj()
        if now != first or clock() - start > wait_s:
            return now, calls


def energy_per_call(run: Callable[[], Any], counter: Any, *, min_window_s: float | None = None,
                    tick_wait_s: float = TICK_WAIT_S,
                    clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Energy of one ``run()`` in mJ, over a window of at least ``min_window_s`` (default
    :data:`MIN_WINDOW_S`). ``run`` must finish its work before returning (synchronise a GPU
    inside it); ``counter.read_mj()`` is cumulative energy, ``counter.source`` its name.
    """
    if min_window_s is None:
        min_window_s = MIN_WINDOW_S
    run()  # first-call effects (allocations, kernel selection) stay out of the window
    start_mj, _ = _run_until_step(run, counter, tick_wait_s, clock)
    start, calls = clock(), 0
    while clock() - start < min_window_s:
        run()
        calls += 1
    end_mj, more = _run_until_step(run, counter, tick_wait_s, clock)
    calls += more
    window = clock() - start
    energy = end_mj - start_mj
    if energy <= 0:
        raise BackendUnavailable(f"energy: the {counter.source} counter did not advance in "
                                 f"{window:.2f} s of {calls} calls; it cannot time this device")
    return {"energy_mj": energy / calls, "energy_calls": calls, "energy_window_s": window,
            "energy_source": counter.source}
