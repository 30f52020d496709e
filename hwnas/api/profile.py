"""`profile()`: measure every distinct op of a space into a latency table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hwnas.api.common import Progress, build_space, check_latency_stat, validation_path
from hwnas.fileio import check_output

if TYPE_CHECKING:  # numpy and the profilers load when a profile is taken, not at import
    from hwnas.latency.table import LatencyTable


def profile(space: str = "proxyless", space_config: dict | None = None, backend: str = "ort-cpu",
            *, threads: int | None = None, batch: int = 1, dtype: str = "fp32",
            out: str | Path | None = None, tables_dir: str | Path = "latency_tables",
            progress: Progress = None, memory: bool = False,
            energy: bool = False, ray_resource: str | None = None,
            ray_address: str = "", force: bool = False,
            latency_stat: str | None = None) -> LatencyTable:
    """Measure every distinct op of the space once and write a LatencyTable (optionally with
    peak-memory and energy columns, where the device can measure them).

    A table that exists at the destination (`out`, or the default path under `tables_dir`)
    is refused before any op is measured: runs, exports and validation reports name a table
    by its path and content, and silently replacing it made a calibrated table's validation
    describe a table that was gone. `force` replaces it on purpose, and removes the
    validation report and plot beside it.

    With `ray_resource`, the measuring runs as a Ray task on the node that carries that custom
    resource (hwnas.distributed.placement), on the cluster at `ray_address` (default: the Ray
    of this process, else the one `ray start` runs here); the table is written here. Op by op
    progress is not reported from there.

    Before the ops, the machine's repeatability is measured (hwnas.tables.repeatability): a
    machine that does not repeat its medians gets a table in the low statistic that repeated
    best and, on a CPU backend, one thread, unless `latency_stat` / `threads` say otherwise;
    the table records the probe and the choice (`table.machine`, its "line" says it)."""
    from hwnas.tables.profile import check_dtype, make_backend

    check_latency_stat(latency_stat)
    space_obj = build_space(space, space_config)
    check_dtype(backend, dtype)  # here too, before a Ray node is asked for anything
    check_table_destination(out, tables_dir)
    if ray_resource is not None:
        from hwnas.distributed.placement import run_on_resource
        from hwnas.latency.table import LatencyTable

        device = None if out else run_on_resource(
            device_fingerprint, backend, threads, batch, dtype, memory, energy,
            resource=ray_resource, address=ray_address)
        dest = _destination(out, tables_dir, space_obj, backend, threads, batch, dtype, device)
        refuse_existing(dest, force)
        raw = run_on_resource(measure_table, space, space_config, backend, threads, batch,
                              dtype, memory, energy, latency_stat, resource=ray_resource,
                              address=ray_address)
        table = LatencyTable.from_dict(raw)
    else:
        made = make_backend(backend, threads=threads, batch=batch, dtype=dtype, memory=memory,
                            energy=energy)
        dest = _destination(out, tables_dir, space_obj, backend, threads, batch, dtype,
                            None if out else made.fingerprint())
        refuse_existing(dest, force)
        table = profile_here(space_obj, backend, made, threads=threads, stat=latency_stat,
                             batch=batch, dtype=dtype, progress=progress, memory=memory,
                             energy=energy)
    table.save(dest)
    if force:  # what validated the table replaced is not of this one
        report = validation_path(dest)
        for stale in (report, report.with_suffix(".png")):
            stale.unlink(missing_ok=True)
    return table


def _destination(out, tables_dir, space_obj, backend, threads, batch, dtype,
                 device: dict | None) -> Path:
    """`out`, or the default path of a table of this space, backend and device."""
    if out:
        return Path(out)
    from hwnas.latency.table import LatencyTable
    from hwnas.tables.profile import default_table_path

    header = LatencyTable(backend=backend, device=device or {}, batch=batch, dtype=dtype,
                          threads=threads,
                          space={"name": space_obj.name, "config": space_obj.config()})
    return default_table_path(tables_dir, header)


def refuse_existing(dest: Path, force: bool) -> None:
    """One line, before any op is measured, when a table would be overwritten."""
    from hwnas.errors import BadInputError

    if dest.exists() and not force:
        raise BadInputError(f"latency table {dest} already exists and `hwnas profile` does not "
                            "overwrite a table: pass -o NEW.json to write another, or --force "
                            "to replace it (its validation report beside it is removed)")


def device_fingerprint(backend: str, threads: int | None, batch: int, dtype: str,
                       memory: bool, energy: bool) -> dict:
    """The device a table of this backend would be measured on (run where it runs: on a Ray
    node, the default table path is named after that node's device)."""
    from hwnas.tables.profile import make_backend

    return make_backend(backend, threads=threads, batch=batch, dtype=dtype, memory=memory,
                        energy=energy).fingerprint()


def measure_table(space: str, space_config: dict | None, backend: str, threads: int | None,
                  batch: int, dtype: str, memory: bool, energy: bool,
                  latency_stat: str | None = None) -> dict:
    """The measuring half of `profile`, where it runs (a Ray worker on the device's node):
    plain arguments in, the table as plain data out (written by the caller)."""
    from hwnas.tables.profile import make_backend

    space_obj = build_space(space, space_config)
    made = make_backend(backend, threads=threads, batch=batch, dtype=dtype, memory=memory,
                        energy=energy)
    return profile_here(space_obj, backend, made, threads=threads, stat=latency_stat,
                        batch=batch, dtype=dtype, memory=memory, energy=energy).to_dict()


def profile_here(space_obj, backend_name: str, made, *, threads: int | None,
                 stat: str | None, batch: int, dtype: str, memory: bool, energy: bool,
                 progress: Progress = None) -> LatencyTable:
    """Measure how this machine repeats itself, choose the statistic and threads from it
    (what the caller gave stands), then profile every op of the space with them. `made`: the
    backend as asked (remade when the choice differs)."""
    from hwnas.tables import repeatability
    from hwnas.tables.profile import make_backend, profile_ops

    sigs = space_obj.all_ops()
    cpu = made.device_kind == "cpu"
    probe = repeatability.measure(made, space_obj, sigs)
    again = None
    others = probe["others_cores"]
    if repeatability.needs_one_thread(probe["spread"], threads, cpu, others):
        # the low statistic that repeats best, at the one thread the table will use
        made = make_backend(backend_name, threads=1, batch=batch, dtype=dtype, memory=memory,
                            energy=energy)
        again = repeatability.measure(made, space_obj, sigs, repeatability.PROBE_S / 2)
    choice = repeatability.choose(probe["spread"], stat=stat, threads=threads, cpu=cpu,
                                  at_one_thread=again and again["spread"], others_cores=others)
    if progress:
        progress({"event": "machine", "line": choice["line"]})
    if choice["threads"] != made.threads or choice["stat"] != made.timing.stat:
        made = make_backend(backend_name, threads=choice["threads"], batch=batch, dtype=dtype,
                            memory=memory, energy=energy, stat=choice["stat"])
    return profile_ops(space_obj, sigs, backend_name, threads=choice["threads"], batch=batch,
                       dtype=dtype, progress=progress, memory=memory, energy=energy,
                       backend=made, stat=choice["stat"],
                       machine=repeatability.record(probe, choice, again))


def check_table_destination(out: str | Path | None, tables_dir: str | Path) -> None:
    """Where a measured table goes, checked before the first op is timed: `out`, or a folder
    of `tables_dir` named after the device (known only once the backend runs)."""
    if out:
        check_output(out, "--out", suffixes=(".json",))
    else:
        check_output(tables_dir, "--out", folder=True, default=True)


def profile_bundle(space: str, space_config: dict | None, out: str | Path, *, batch: int = 1,
                   dtype: str = "fp32", progress: Progress = None) -> dict:
    """Write the space's distinct ops as ONNX files with a manifest, to be measured on a device
    that has only numpy and onnxruntime (`python -m profilers measure`); returns the manifest."""
    from hwnas.tables.bundle import export_bundle

    build_space(space, space_config)  # a bad space option first, as `profile` answers it
    check_output(out, "--bundle")  # before every op is exported
    return export_bundle(space, space_config or {}, out, batch=batch, dtype=dtype,
                         progress=progress)
