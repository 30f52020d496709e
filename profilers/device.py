"""Device fingerprint and slug, plus the GPU facts both CUDA runtimes report.

Standard library and numpy only, like the rest of the package's core.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from typing import Any

import numpy as np


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _cpu_model() -> str:
    info = _read("/proc/cpuinfo") or ""
    # x86 names the CPU in "model name"; many ARM boards only give "Model" or "Hardware".
    for key in ("model name", "Model", "Hardware"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", info, flags=re.MULTILINE)
        if match:
            return match.group(1).strip()
    if sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True, text=True, timeout=5, check=True,
            ).stdout.strip()
            if out:
                return out
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def device_fingerprint() -> dict[str, Any]:
    """What the host is: enough to tell two devices' tables apart. Backends add runtimes."""
    fp: dict[str, Any] = {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.system(),
        "os_release": platform.release(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    if hasattr(os, "sched_getaffinity"):
        # A container may see every host core but be pinned to a few.
        fp["usable_cores"] = len(os.sched_getaffinity(0))
    max_khz = _read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if max_khz and max_khz.isdigit():
        fp["cpu_max_mhz"] = int(max_khz) // 1000
    governor = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    if governor:
        fp["cpu_governor"] = governor
    return fp


def device_slug(fp: dict[str, Any]) -> str:
    """Short, stable folder name for a device, e.g. ``intel-xeon-platinum-8370c-2c``.

    A fingerprint with a ``gpu`` names the GPU (the CPU hardly matters to GPU latency); else the
    CPU model plus the logical core count.
    """
    if fp.get("gpu"):
        text, suffix = str(fp["gpu"]), ""
    else:
        text = str(fp.get("cpu") or fp.get("machine") or "unknown")
        suffix = f"-{fp['logical_cores']}c" if fp.get("logical_cores") else ""
    text = re.sub(r"\((r|tm|c)\)", " ", text, flags=re.IGNORECASE)
    text = re.sub(r"@.*$", " ", text)  # the nominal clock says little and varies by listing
    text = re.sub(r"\b(cpu|processor|\d+-core)\b", " ", text, flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].rstrip("-")
    return (slug or "unknown") + suffix



def visible_gpu_id(cuda_index: int = 0) -> str:
    """The id nvidia-smi knows CUDA device ``cuda_index`` by.

    CUDA renumbers the devices listed in CUDA_VISIBLE_DEVICES from 0, nvidia-smi does not; its
    entries (indices or UUIDs) are both accepted by ``nvidia-smi --id``.
    """
    visible = [e.strip() for e in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    visible = [e for e in visible if e]
    return visible[cuda_index] if cuda_index < len(visible) else str(cuda_index)


def nvidia_gpu_info(gpu_id: str = "0") -> dict[str, Any]:
    """GPU name, driver and max SM clock from nvidia-smi; {} where it cannot be read."""
    fields = ("name", "driver_version", "clocks.max.sm", "memory.total")
    keys = ("gpu", "gpu_driver", "gpu_max_sm_clock_mhz", "gpu_memory_mib")
    info: dict[str, Any] = {}
    exe = shutil.which("nvidia-smi")
    if exe:
        try:
            out = subprocess.run(
                [exe, f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits",
                 f"--id={gpu_id}"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        values = [v.strip() for v in out.splitlines()[0].split(",")] if out else []
        for key, value in zip(keys, values, strict=False):
            if value and "N/A" not in value and "Not Supported" not in value:
                info[key] = int(value) if value.isdigit() else value
    if "gpu_driver" not in info:
        # Without nvidia-smi (slim containers) the kernel module still states its version.
        text = _read("/proc/driver/nvidia/version") or ""
        match = re.search(r"Kernel Module\s+(?:for \S+\s+)?([\d.]+)", text)
        if match:
            info["gpu_driver"] = match.group(1)
    return info
