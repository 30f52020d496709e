"""Turn OpSignatures into models the profilers measure, and measurements into a table."""

from __future__ import annotations

from pathlib import Path

from hwnas.errors import BackendUnavailableError, BadInputError
from hwnas.latency.columns import entry_from_measurement
from hwnas.latency.table import LatencyTable
from hwnas.nn.onnx_io import module_to_onnx
from hwnas.ops import OpSignature
from hwnas.registry import PROFILERS
from hwnas.spaces.base import SearchSpace
from profilers import BackendUnavailable


def make_backend(name: str, *, threads: int | None = None, batch: int = 1, dtype: str = "fp32",
                 timing=None, memory: bool = False, energy: bool = False):
    """A ready profiler backend, or one clear line on why it cannot run here."""
    cls = PROFILERS.get(name)
    reason = cls.unavailable_reason()
    if reason is not None:
        raise BackendUnavailableError(reason)
    try:
        return cls(threads=threads, batch=batch, dtype=dtype, timing=timing,
                   measure_memory=memory, measure_energy=energy)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    except BackendUnavailable as exc:  # --memory/--energy on a device that cannot measure it
        raise BackendUnavailableError(str(exc)) from None


def measure_module(backend, module, sample_shape: tuple[int, ...]):
    """Measure one torch module on a backend, exporting it to ONNX when the backend needs it."""
    module = module.eval()
    if backend.input_format == "onnx":
        model = module_to_onnx(module, (backend.batch, *sample_shape), backend.dtype)
    else:
        model = module
    return backend.measure(model, sample_shape)


DEFAULT_PASSES = 3


def profile_ops(space: SearchSpace, sigs: list[OpSignature], backend_name: str, *,
                threads: int | None = None, batch: int = 1, dtype: str = "fp32",
                timing=None, progress=None, table: LatencyTable | None = None,
                memory: bool = False, energy: bool = False,
                passes: int = DEFAULT_PASSES) -> LatencyTable:
    """Measure every op in `passes` sweeps and keep, per op, the sweep with the median p50.

    One sweep is not enough on a shared machine: an op timed while the process or the host is
    in a slow state (allocator, caches, a neighbour) can read 30-50% off, and every network
    containing it inherits the error. Sweeping all ops several times spreads such states
    across ops instead of concentrating them in one entry. With `memory`/`energy` entries also
    get peak_mem_mb/energy_mj (hwnas.latency.columns), from the kept sweep.
    """
    if passes < 1:
        raise BadInputError(f"The 'passes' parameter must be >= 1. Got {passes} instead.")
    backend = make_backend(backend_name, threads=threads, batch=batch, dtype=dtype, timing=timing,
                           memory=memory, energy=energy)
    if table is None:
        table = LatencyTable(backend=backend_name, device=backend.fingerprint(), batch=batch,
                             dtype=dtype, threads=threads,
                             space={"name": space.name, "config": space.config()})
    import torch

    sweeps: dict[str, list] = {sig.key: [] for sig in sigs}
    for sweep in range(passes):
        for i, sig in enumerate(sigs):
            torch.manual_seed(0)  # same weights for the same op, run to run
            m = measure_module(backend, space.build_op(sig), (sig.cin, sig.h, sig.w))
            sweeps[sig.key].append(m)
            if progress:
                progress({"event": "op", "index": sweep * len(sigs) + i,
                          "total": passes * len(sigs), "key": sig.key, "p50": m.p50})
    for key, measurements in sweeps.items():
        kept = sorted(measurements, key=lambda m: m.p50)[(len(measurements) - 1) // 2]
        table.entries[key] = {**entry_from_measurement(kept), "passes": len(measurements)}
    return table


def default_table_path(tables_dir: str | Path, table: LatencyTable) -> Path:
    """latency_tables/<device-slug>/<space>-<backend>-b<batch>-<dtype>[-<config>].json"""
    from profilers import device_slug

    space = table.space.get("name", "ops")
    config = table.space.get("config", {})
    suffix = "".join(f"-{k[0]}{v:g}" if isinstance(v, float) else f"-{k[0]}{v}"
                     for k, v in sorted(config.items()))
    name = f"{space}-{table.backend}-b{table.batch}-{table.dtype}{suffix}.json"
    return Path(tables_dir) / device_slug(table.device) / name
