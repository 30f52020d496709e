"""Turn OpSignatures into models the profilers measure, and measurements into a table."""

from __future__ import annotations

from pathlib import Path

from hwnas.errors import BackendUnavailableError, BadInputError
from hwnas.latency.columns import entry_from_measurement
from hwnas.latency.table import LatencyTable
from hwnas.nn.quantize import INT8, QuantSettings
from hwnas.ops import OpSignature
from hwnas.registry import PROFILERS
from hwnas.spaces.base import SearchSpace
from hwnas.tables.backend_model import backend_model, quantization_record, table_quantization
from profilers import BackendUnavailable


def make_backend(name: str, *, threads: int | None = None, batch: int = 1, dtype: str = "fp32",
                 timing=None, memory: bool = False, energy: bool = False,
                 stat: str | None = None, quantization: QuantSettings | None = None):
    """A ready profiler backend, or one clear line on why it cannot run here. `stat`: the
    latency statistic its timing loop repeats until stable (the table's). `quantization`:
    how an int8 backend's models are quantized (default `INT8`; a table's own settings when
    it is re-measured), kept on the backend as `.quantization` (None for other dtypes)."""
    cls = PROFILERS.get(name)
    check_dtype(name, dtype)
    if stat is not None:
        import dataclasses

        from profilers.timing import TimingConfig

        timing = dataclasses.replace(timing or TimingConfig(), stat=stat)
    reason = cls.unavailable_reason()
    if reason is not None:
        raise BackendUnavailableError(reason)
    try:
        backend = cls(threads=threads, batch=batch, dtype=dtype, timing=timing,
                      measure_memory=memory, measure_energy=energy)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    except BackendUnavailable as exc:  # --memory/--energy on a device that cannot measure it
        raise BackendUnavailableError(str(exc)) from None
    backend.quantization = (quantization or INT8) if dtype == "int8" else None
    return backend


def backend_for_table(table: LatencyTable, **options):
    """`make_backend` under the conditions `table` was measured in (backend, threads, batch,
    dtype, statistic and, for an int8 table, its own quantization settings): what every
    re-measurement for a table (fill, validate, calibrate, a speed check) times with.
    `options`: make_backend's others (timing, memory, energy)."""
    return make_backend(table.backend, threads=table.threads, batch=table.batch,
                        dtype=table.dtype, stat=table.stat,
                        quantization=table_quantization(table), **options)


def check_dtype(backend: str, dtype: str) -> None:
    """One line naming the backends that have `dtype` when `backend` has not."""
    cls = PROFILERS.get(backend)
    if dtype in cls.supported_dtypes:
        return
    having = sorted(n for n in PROFILERS.names() if dtype in PROFILERS.get(n).supported_dtypes)
    raise BadInputError(f"backend {backend!r} has no {dtype} path (it has "
                        f"{', '.join(cls.supported_dtypes)}); {dtype} runs on: "
                        f"{', '.join(having) or 'no backend'}")


def measure_module(backend, module, sample_shape: tuple[int, ...]):
    """Measure one torch module on a backend, exporting it to ONNX when the backend needs it."""
    return backend.measure(backend_model(backend, module.eval(), sample_shape), sample_shape)


DEFAULT_PASSES = 3
REFERENCE_EVERY = 4  # ops measured between two measurements of the reference workload


def profile_ops(space: SearchSpace, sigs: list[OpSignature], backend_name: str, *,
                threads: int | None = None, batch: int = 1, dtype: str = "fp32",
                timing=None, progress=None, table: LatencyTable | None = None,
                memory: bool = False, energy: bool = False,
                passes: int = DEFAULT_PASSES, reference: bool = True,
                backend=None, stat: str = "p50", machine: dict | None = None) -> LatencyTable:
    """Measure every op in `passes` sweeps and keep, per op, the sweep with the median of
    `stat`, the statistic the table predicts in (every entry also keeps the others).

    One sweep is not enough on a shared machine: an op timed while the process or the host is
    in a slow state (allocator, caches, a neighbour) can read 30-50% off, and every network
    containing it inherits the error. Sweeping all ops several times spreads such states
    across ops instead of concentrating them in one entry. With `memory`/`energy` entries also
    get peak_mem_mb/energy_mj (hwnas.latency.columns), from the kept sweep.

    With `reference` (a new table only), a reference workload is timed every
    `REFERENCE_EVERY` ops and each op's statistics are scaled to the reference's median speed
    over the whole run (hwnas.latency.drift): the table's entries are "ms at the speed the
    reference had", stored with the reference, and the machine slowing down halfway through
    no longer inflates half of the entries. Each entry keeps its raw p50 and local reference
    time in `extra`. `backend`: an already made backend (tests pass a fake one). The
    reference is read in `stat` too. `machine`: how the machine repeated itself before the
    profile (hwnas.tables.repeatability), stored in a new table.
    """
    if passes < 1:
        raise BadInputError(f"The 'passes' parameter must be >= 1. Got {passes} instead.")
    stat = table.stat if table is not None else stat  # filling a table: its own
    if backend is None:
        backend = make_backend(backend_name, threads=threads, batch=batch, dtype=dtype,
                               timing=timing, memory=memory, energy=energy, stat=stat,
                               quantization=table_quantization(table) if table else None)
    new = table is None
    if table is None:
        table = LatencyTable(backend=backend_name, device=backend.fingerprint(), batch=batch,
                             dtype=dtype, threads=threads, stat=stat, machine=machine,
                             space={"name": space.name, "config": space.config()},
                             quantization=quantization_record(backend))
    # Filling a table keeps its speed: its new entries are scaled to its stored reference.
    use_reference = bool(sigs) and reference and (new or table.reference is not None)
    clock = _reference_clock(backend, space, sigs, table) if use_reference else None
    import torch

    sweeps: dict[str, list] = {sig.key: [] for sig in sigs}
    order: list[tuple[str, object]] = []
    for sweep in range(passes):
        for i, sig in enumerate(sigs):
            if clock is not None and i % REFERENCE_EVERY == 0:
                clock.tick()

            def one(sig=sig):
                torch.manual_seed(0)  # same weights for the same op, run to run
                return measure_module(backend, space.build_op(sig), (sig.cin, sig.h, sig.w))

            m = clock.item(one) if clock is not None else one()
            sweeps[sig.key].append(m)
            order.append((sig.key, m))
            if progress:
                progress({"event": "op", "index": sweep * len(sigs) + i,
                          "total": passes * len(sigs), "key": sig.key, "p50": m.p50,
                          "stat": stat, "ms": m.value(stat)})
    if clock is not None:
        clock.tick()
        sweeps = _normalised(sweeps, order, clock, table, new)
    for key, measurements in sweeps.items():
        kept = sorted(measurements, key=lambda m: m.value(stat))[(len(measurements) - 1) // 2]
        table.entries[key] = {**entry_from_measurement(kept), "passes": len(measurements)}
    return table


def _reference_clock(backend, space, sigs, table):
    from hwnas.tables.reference import ReferenceClock, choose_reference, reference_sig

    sig = reference_sig(table) or choose_reference(backend, space, sigs)
    return ReferenceClock(backend, space, sig, stat=table.stat)


def _normalised(sweeps: dict, order: list, clock, table: LatencyTable, new: bool) -> dict:
    """Each measurement scaled by (speed the table is expressed in) / (reference next to it)."""
    import dataclasses

    from hwnas.tables.reference import reference_record

    if new:
        table.reference = reference_record(clock.sig, clock.median_ms(), "profile",
                                           clock.drift(), stat=table.stat)
    # entries are at the speed of the profile (a calibration re-anchors predictions, not them)
    target = float(table.reference.get("profiled_ms", table.reference["ms"]))
    scaled: dict[str, list] = {key: [] for key in sweeps}
    for (key, m), local in zip(order, clock.local(), strict=True):
        f = target / local
        low = {k: getattr(m, k) * f for k in ("p0", "p10") if getattr(m, k) is not None}
        scaled[key].append(dataclasses.replace(
            m, p50=m.p50 * f, p90=m.p90 * f, mean=m.mean * f, std=m.std * f, **low,
            extra={**m.extra, "raw_p50": m.p50, f"raw_{table.stat}": m.value(table.stat),
                   "ref_ms": float(local)}))
    return scaled


def default_table_path(tables_dir: str | Path, table: LatencyTable) -> Path:
    """latency_tables/<device-slug>/<space>-<backend>-b<batch>-<dtype>[-<config>].json"""
    from profilers import device_slug

    space = table.space.get("name", "ops")
    config = table.space.get("config", {})
    suffix = "".join(f"-{k[0]}{v:g}" if isinstance(v, float) else f"-{k[0]}{v}"
                     for k, v in sorted(config.items()))
    name = f"{space}-{table.backend}-b{table.batch}-{table.dtype}{suffix}.json"
    return Path(tables_dir) / device_slug(table.device) / name
